//! `cargo xtask bench`: the benchmarks of issue #7, written to `BENCHMARKS.md`.
//!
//! Parts (all by default; `--only PART` / `--skip PART` to choose):
//! - `tagging`: bulk tagging with our client vs two naive clients against the release emulator
//!   (`tests/bench/tagging.mjs`);
//! - `browser`: the web UI in headless Chromium with 100k machines: search latency per keystroke,
//!   load time, memory, and the sizes of the package and the SPA (`tests/bench/browser.mjs`),
//!   with where those bytes come from, by crate (`xtask/src/size/`);
//! - `hunting`: the bulk page's hunting source in headless Chromium, from a 50,000-row query to
//!   its preview (`tests/bench/hunting.mjs`);
//! - `soak`: the fault soak (`tests/soak`) at 10k machines;
//! - `fuzz`: every cargo-fuzz target for at least 1M executions.
//!
//! A full run writes `BENCHMARKS.md`; a partial one writes `target/bench-output/BENCHMARKS.partial.md`.
//! Every part writes its own section; a part that fails is reported as failed in the file (and
//! the command fails), never silently left out.

pub mod report;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::ctx::{self, Ctx};
use crate::{emulator, fuzz, package, site, size};

const PARTS: [&str; 5] = ["tagging", "browser", "hunting", "soak", "fuzz"];
const BENCH_DIR: &str = "tests/bench";
const SOAK_DIR: &str = "tests/soak";
/// Machines in the benchmark's fault soak (`cargo xtask test` runs 2,000).
const SOAK_MACHINES: u32 = 10_000;

/// Builds the emulator with the release profile (benchmarks measure the optimised server).
pub fn build_release(ctx: &Ctx) -> Result<PathBuf, String> {
    ctx::run(ctx.cargo().args([
        "build",
        "--release",
        "-p",
        emulator::PACKAGE,
        "--bin",
        emulator::PACKAGE,
    ]))?;
    Ok(ctx.target.join("release").join(emulator::PACKAGE))
}

fn parse_parts(args: &[String]) -> Result<Vec<&'static str>, String> {
    let mut only: Vec<&'static str> = Vec::new();
    let mut skip: Vec<&'static str> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let list = match arg.as_str() {
            "--only" => &mut only,
            "--skip" => &mut skip,
            other => return Err(format!("unknown bench option `{other}`")),
        };
        let name = it
            .next()
            .ok_or_else(|| format!("{arg} needs a part name"))?;
        let part = PARTS
            .iter()
            .find(|p| **p == name.as_str())
            .ok_or_else(|| format!("unknown bench part `{name}` (parts: {})", PARTS.join(", ")))?;
        list.push(part);
    }
    Ok(PARTS
        .iter()
        .copied()
        .filter(|p| only.is_empty() || only.contains(p))
        .filter(|p| !skip.contains(p))
        .collect())
}

pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    let parts = parse_parts(args)?;
    let wants = |p: &str| parts.contains(&p);
    let started = Instant::now();
    let out = ctx.target.join("bench-output");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut sections: Vec<report::Section> = Vec::new();

    // Builds: a failed build fails the parts that need it (reported in the file), not the rest.
    let needs_emulator = wants("tagging") || wants("browser") || wants("hunting") || wants("soak");
    let emulator = needs_emulator.then(|| build_release(ctx));
    let pkg = needs_emulator.then(|| package::run(ctx));
    let site_dir =
        (wants("browser") || wants("hunting")).then(|| site::build(ctx, site::Profile::Release));
    let npm = (wants("tagging") || wants("browser") || wants("hunting"))
        .then(|| ensure_npm(ctx, BENCH_DIR));
    let ready = |needs: &[(&str, Option<Result<(), String>>)]| -> Result<(), String> {
        for (what, r) in needs {
            if let Some(Err(e)) = r {
                return Err(format!("not run: {what} failed: {e}"));
            }
        }
        Ok(())
    };
    let status = |r: &Option<Result<PathBuf, String>>| r.as_ref().map(|r| r.clone().map(drop));
    let env = NodeEnv {
        emulator: emulator.as_ref().and_then(|r| r.as_deref().ok()),
        pkg: pkg.as_ref().and_then(|r| r.as_deref().ok()),
        site: site_dir.as_ref().and_then(|r| r.as_deref().ok()),
        out: &out,
    };
    let builds = [
        ("release emulator build", status(&emulator)),
        ("package build (cargo xtask package)", status(&pkg)),
        ("site build", status(&site_dir)),
        ("npm ci in tests/bench", npm.clone()),
    ];

    if wants("tagging") {
        sections.push(match ready(&builds) {
            Ok(()) => node_part(ctx, "Bulk tagging", "tagging.mjs", "bench-tagging.md", &env),
            Err(e) => report::Section::from_result("Bulk tagging", Err(e), 0.0),
        });
    }
    if wants("browser") {
        let title = "Web UI in the browser";
        sections.push(match ready(&builds) {
            Ok(()) => with_size_by_crate(
                ctx,
                node_part(ctx, title, "browser.mjs", "bench-browser.md", &env),
            ),
            Err(e) => report::Section::from_result(title, Err(e), 0.0),
        });
    }
    if wants("hunting") {
        let title = "Hunting query to preview";
        sections.push(match ready(&builds) {
            Ok(()) => node_part(ctx, title, "hunting.mjs", "bench-hunting.md", &env),
            Err(e) => report::Section::from_result(title, Err(e), 0.0),
        });
    }
    if wants("soak") {
        sections.push(match ready(&builds[..2]) {
            Ok(()) => soak_part(ctx, &env),
            Err(e) => report::Section::from_result("Fault soak", Err(e), 0.0),
        });
    }
    if wants("fuzz") {
        sections.push(fuzz_part(ctx));
    }

    let command = std::iter::once("cargo xtask bench".to_owned())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let text = report::document(&command, &sections, started.elapsed().as_secs_f64());
    // BENCHMARKS.md holds complete runs only: a partial one (`--only`/`--skip`) would silently
    // drop the other parts' figures, so it goes next to the other bench output instead.
    let file = if parts.len() == PARTS.len() {
        ctx.root.join("BENCHMARKS.md")
    } else {
        out.join("BENCHMARKS.partial.md")
    };
    std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    eprintln!("wrote {}", file.display());
    let failed: Vec<&str> = sections
        .iter()
        .filter(|s| s.failed)
        .map(|s| s.title.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("benchmark part(s) failed: {}", failed.join(", ")))
    }
}

struct NodeEnv<'a> {
    emulator: Option<&'a Path>,
    pkg: Option<&'a Path>,
    site: Option<&'a Path>,
    out: &'a Path,
}

impl NodeEnv<'_> {
    fn apply(&self, cmd: &mut Command) {
        if let Some(bin) = self.emulator {
            cmd.env("DT_EMULATOR_BIN", bin);
        }
        if let Some(pkg) = self.pkg {
            cmd.env("DT_PKG_DIR", pkg);
        }
        if let Some(site) = self.site {
            cmd.env("DT_SITE_DIR", site);
        }
        cmd.env("DT_OUTPUT", self.out)
            .env("CHROMIUM", "/usr/bin/chromium");
    }
}

/// Runs `tests/bench/<script>` and takes the Markdown it writes to `<out>/<md>`.
fn node_part(ctx: &Ctx, title: &str, script: &str, md: &str, env: &NodeEnv<'_>) -> report::Section {
    let file = env.out.join(md);
    let _ = std::fs::remove_file(&file);
    let mut cmd = Command::new("node");
    cmd.arg(script).current_dir(ctx.root.join(BENCH_DIR));
    env.apply(&mut cmd);
    let start = Instant::now();
    let result = run_reporting(&mut cmd).and_then(|()| {
        std::fs::read_to_string(&file)
            .map_err(|e| format!("{} was not written: {e}", file.display()))
    });
    report::Section::from_result(title, result, start.elapsed().as_secs_f64())
}

/// The browser part's section with the per-crate size breakdown of the package and the SPA
/// (`size::bench_markdown`, from the named twins of what the builds above produced) appended: the
/// browser part measures the shipped sizes, this says where they come from.
fn with_size_by_crate(ctx: &Ctx, section: report::Section) -> report::Section {
    if section.failed {
        return section;
    }
    match size::bench_markdown(ctx) {
        Ok(md) => report::Section {
            body: format!("{}\n\n{md}", section.body.trim_end()),
            ..section
        },
        Err(e) => report::Section::from_result(
            &section.title,
            Err(format!("size by crate: {e}")),
            section.seconds,
        ),
    }
}

/// Runs `cmd` with its output shown as usual; on failure the error carries the lines that say
/// what failed (node:test's `not ok` and `error:` lines, or the last lines), for BENCHMARKS.md.
fn run_reporting(cmd: &mut Command) -> Result<(), String> {
    let shown = ctx::describe(cmd);
    eprintln!("$ {shown}");
    let output = cmd
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprint!("{text}");
    if output.status.success() {
        return Ok(());
    }
    let wanted: Vec<&str> = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("not ok") || t.starts_with("error:") || t.starts_with("Error")
        })
        .take(20)
        .collect();
    let detail = if wanted.is_empty() {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    } else {
        wanted.join("\n")
    };
    Err(format!("`{shown}` failed ({}):\n{detail}", output.status))
}

fn soak_part(ctx: &Ctx, env: &NodeEnv<'_>) -> report::Section {
    let title = "Fault soak";
    let md = env.out.join(format!("soak-{SOAK_MACHINES}.md"));
    let _ = std::fs::remove_file(&md);
    let mut cmd = Command::new("npm");
    cmd.args(["test", "--silent"])
        .current_dir(ctx.root.join(SOAK_DIR))
        .env("DT_SOAK_MACHINES", SOAK_MACHINES.to_string());
    env.apply(&mut cmd);
    let start = Instant::now();
    let result = run_reporting(&mut cmd).and_then(|()| {
        std::fs::read_to_string(&md)
            .map(|table| report::soak_section(SOAK_MACHINES, &table))
            .map_err(|e| format!("{} was not written: {e}", md.display()))
    });
    report::Section::from_result(title, result, start.elapsed().as_secs_f64())
}

fn fuzz_part(ctx: &Ctx) -> report::Section {
    let start = Instant::now();
    let result = fuzz::smoke(ctx)
        .and_then(|()| fuzz::long(ctx))
        .map(|counts| report::fuzz_section(&counts, fuzz::LONG_RUNS));
    report::Section::from_result("Fuzzing", result, start.elapsed().as_secs_f64())
}

/// `npm ci` in `dir` unless its node_modules already matches the lockfile.
fn ensure_npm(ctx: &Ctx, dir: &str) -> Result<(), String> {
    let dir = ctx.root.join(dir);
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|e| format!("cannot read {}/package-lock.json: {e}", dir.display()))?;
    let stamp = dir.join("node_modules").join(".xtask-lock-copy");
    if std::fs::read(&stamp).is_ok_and(|have| have == lock) {
        return Ok(());
    }
    ctx::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )?;
    std::fs::write(&stamp, lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_section_gains_the_size_by_crate_tables() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-size-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = Ctx {
            root: dir.clone(),
            target: dir.join("target"),
        };
        let ok =
            || report::Section::from_result("Web UI", Ok("## Web UI\n\nfigures\n".into()), 1.0);
        // Without the named twins the part fails, saying why, instead of dropping the tables.
        let missing = with_size_by_crate(&ctx, ok());
        assert!(missing.failed);
        assert!(
            missing.body.contains("size by crate: cannot read"),
            "{}",
            missing.body
        );
        for artefact in size::Artefact::ALL {
            let path = artefact.named_twin(&ctx);
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(&path, size::test_wasm::tiny_module());
        }
        let section = with_size_by_crate(&ctx, ok());
        assert!(!section.failed, "{}", section.body);
        assert!(
            section
                .body
                .starts_with("## Web UI\n\nfigures\n\n### Size by crate\n"),
            "{}",
            section.body
        );
        // 6 of the module's 13 bytes, in both tables.
        assert_eq!(
            section
                .body
                .matches("| serde_json | 6 | 46.2% | 1 |")
                .count(),
            2
        );
        // A failed part stays as it was.
        let failed = with_size_by_crate(
            &ctx,
            report::Section::from_result("Web UI", Err("boom".into()), 1.0),
        );
        assert!(failed.failed && failed.body.contains("boom"));
        assert!(!failed.body.contains("Size by crate"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
