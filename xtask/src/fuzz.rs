//! Fuzzing of defender-tags-core with cargo-fuzz (issue #7). The targets live in `fuzz/`, their
//! own workspace (nightly, own Cargo.lock); seeds in `fuzz/seeds/<target>`.
//!
//! `smoke` (run by `cargo xtask test`): a few seconds per target. `long` (run by `cargo xtask
//! bench`): at least [`LONG_RUNS`] executions per target, counts read from libFuzzer's output.
//! The growing corpus and any crash inputs go under `target/` so a run never dirties the tree.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ctx::{self, Ctx};
use crate::nightly::{self, NIGHTLY};

/// Every fuzz target (`fuzz/Cargo.toml` `[[bin]]`s).
pub const TARGETS: [&str; 5] = [
    "odata_text",
    "odata_ast",
    "ids_and_tags",
    "import_list",
    "decode_response",
];

/// Seconds per target in the test command.
const SMOKE_SECS: u32 = 5;
/// Executions per target in the benchmark.
pub const LONG_RUNS: u64 = 1_000_000;
/// Safety cap for one long run (a slow target still ends).
const LONG_MAX_SECS: u32 = 600;

/// A short bounded run of every target; fails on any crash, with the input's path.
pub fn smoke(ctx: &Ctx) -> Result<(), String> {
    ensure_cargo_fuzz()?;
    build(ctx)?;
    for target in TARGETS {
        let out = run_target(ctx, target, &[format!("-max_total_time={SMOKE_SECS}")])?;
        eprintln!(
            "fuzz {target}: {} executions in {SMOKE_SECS} s, no crash",
            out
        );
    }
    Ok(())
}

/// At least [`LONG_RUNS`] executions of every target; returns `(target, executions)`.
pub fn long(ctx: &Ctx) -> Result<Vec<(String, u64)>, String> {
    ensure_cargo_fuzz()?;
    build(ctx)?;
    let mut counts = Vec::new();
    for target in TARGETS {
        let runs = run_target(
            ctx,
            target,
            &[
                format!("-runs={LONG_RUNS}"),
                format!("-max_total_time={LONG_MAX_SECS}"),
            ],
        )?;
        eprintln!("fuzz {target}: {runs} executions, no crash");
        counts.push((target.to_owned(), runs));
    }
    Ok(counts)
}

/// Installs the pinned nightly and cargo-fuzz when missing.
fn ensure_cargo_fuzz() -> Result<(), String> {
    nightly::ensure("fuzzing")?;
    if nightly::probe(&["fuzz", "--version"]) {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing; installing it (a few minutes)");
    let mut install = Command::new("cargo");
    install
        .arg(format!("+{NIGHTLY}"))
        .args(["install", "cargo-fuzz", "--version", CARGO_FUZZ])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO");
    ctx::run(&mut install)
}

/// The cargo-fuzz release the fuzz step was written against.
const CARGO_FUZZ: &str = "0.13.2";

/// Options shared by `build` and `run`: no sanitizer (core forbids `unsafe`, so ASan would only
/// slow the runs down) but debug assertions on, so overflows and broken invariants panic.
const BUILD_FLAGS: [&str; 5] = ["--fuzz-dir", "fuzz", "--sanitizer", "none", "-a"];

fn build(ctx: &Ctx) -> Result<(), String> {
    ctx::run(
        nightly::cargo(ctx)
            .args(["fuzz", "build"])
            .args(BUILD_FLAGS),
    )
}

fn dir(path: PathBuf) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(path)
}

/// Runs one target with `extra` libFuzzer flags; returns its executions, or the crash.
fn run_target(ctx: &Ctx, target: &str, extra: &[String]) -> Result<u64, String> {
    // libFuzzer writes new inputs into the first corpus folder only; the seeds stay read-only.
    let corpus = dir(ctx.target.join("fuzz-corpus").join(target))?;
    let artifacts = dir(ctx.target.join("fuzz-artifacts").join(target))?;
    let seeds = ctx.root.join("fuzz").join("seeds").join(target);
    let mut cmd = nightly::cargo(ctx);
    cmd.args(["fuzz", "run"])
        .args(BUILD_FLAGS)
        .arg(target)
        .arg(&corpus);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--")
        .args(extra)
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=2048"])
        .arg(format!("-max_len={}", max_len(target)));
    let shown = ctx::describe(&cmd);
    eprintln!("$ {shown}");
    let output = cmd
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let log_file = artifacts.join("last-run.log");
    let _ = std::fs::write(&log_file, log.as_bytes());
    if !output.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "fuzz target {target} failed ({}){}\n{}\nfull log: {}",
            output.status,
            crash_input(&log)
                .map(|p| format!("; crashing input: {}", p.display()))
                .unwrap_or_default(),
            tail.join("\n"),
            log_file.display()
        ));
    }
    executions(&log).ok_or_else(|| {
        format!(
            "could not read the execution count from libFuzzer's output ({})",
            log_file.display()
        )
    })
}

/// Longest input per target: long enough for every construct the target exercises, short
/// enough that each reaches a million executions in minutes on two cores. The importer is the
/// slow one: it builds a CSV reader per line (~34 µs each, natively), so 128 bytes (a header
/// and a couple of rows, quoting, BOMs, every column layout) keeps it near 2,000 runs/s.
fn max_len(target: &str) -> u32 {
    match target {
        "import_list" => 128,
        // 256 bytes of choices already build filters 8 levels deep with dozens of leaves.
        "odata_ast" => 256,
        "ids_and_tags" => 1024,
        "odata_text" => 4096,
        _ => 8192,
    }
}

/// The executions of a finished libFuzzer run: `stat::number_of_executed_units: N`, else the
/// `Done N runs in T second(s)` line.
pub fn executions(log: &str) -> Option<u64> {
    let stat = log.lines().find_map(|l| {
        l.trim()
            .strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    stat.or_else(|| {
        log.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("Done ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
    })
}

/// The path libFuzzer wrote a crashing input to (`Test unit written to PATH`).
fn crash_input(log: &str) -> Option<&Path> {
    log.lines().find_map(|l| {
        l.split_once("Test unit written to ")
            .map(|(_, p)| Path::new(p.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::{crash_input, executions};

    #[test]
    fn reads_execution_counts() {
        let log = "#1048576\tpulse  cov: 10\nDone 1000000 runs in 12 second(s)\n\
                   stat::number_of_executed_units: 1000001\nstat::peak_rss_mb: 40\n";
        assert_eq!(executions(log), Some(1_000_001));
        assert_eq!(executions("Done 42 runs in 1 second(s)"), Some(42));
        assert_eq!(executions("INFO: Seed: 1\n"), None);
    }

    #[test]
    fn finds_the_crash_input() {
        let log = "==1== ERROR: libFuzzer: deadly signal\n\
                   artifact_prefix='x/'; Test unit written to /t/crash-abc\n";
        assert_eq!(
            crash_input(log).map(|p| p.display().to_string()),
            Some("/t/crash-abc".into())
        );
        assert_eq!(crash_input("fine"), None);
    }
}
