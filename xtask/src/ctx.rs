//! Paths and process helpers shared by every xtask command.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The wasm32 package selection for clippy and the wasm tests: both crates in one run, with the
/// web UI's `embed` module. Not for the shipped artifacts: selected together, cargo unifies the
/// client's default `js` feature into the SPA's build and the SPA carries the whole JS facade
/// (see [`SPA_PACKAGE`]).
pub const WASM_PACKAGES: [&str; 6] = [
    "-p",
    "defender-tags-wasm",
    "-p",
    "defender-tags-web-ui",
    "--features",
    "defender-tags-web-ui/embed",
];
/// The SPA's artifact build: selected alone so `defender-tags-wasm` keeps `js` off (the SPA calls
/// the Rust API). Each selection's dependency builds have their own feature hash, so they stay
/// cached side by side in the target dir; switching only costs the final link.
pub const SPA_PACKAGE: [&str; 2] = ["-p", "defender-tags-web-ui"];
/// An artifact build of `defender-tags-wasm` with exactly one of its features.
const fn wasm_crate_with(feature: &'static str) -> [&'static str; 5] {
    [
        "-p",
        "defender-tags-wasm",
        "--no-default-features",
        "--features",
        feature,
    ]
}
/// The embeddable client's artifact build (npm package, the site's `/embed/` example): the `js`
/// facade alone, without the edge proxy a portal page never runs.
pub const CLIENT_PACKAGE: [&str; 5] = wasm_crate_with("js");
/// The full client's artifact build (the npm package's `full/` entries): the facade plus rules
/// files and advanced hunting.
pub const FULL_PACKAGE: [&str; 5] = wasm_crate_with("full");
/// The edge proxy's artifact build (the npm package's `proxy/` entry): its exports alone.
pub const PROXY_PACKAGE: [&str; 5] = wasm_crate_with("proxy");
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Where the repository and its build outputs are.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Repository root (the folder holding the workspace `Cargo.toml`).
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
    pub target: PathBuf,
}

impl Ctx {
    pub fn discover() -> Result<Self, String> {
        // xtask/ is CARGO_MANIFEST_DIR; its parent is the workspace root. `cargo run` sets it at
        // run time, and that value wins: two checkouts sharing one target dir (CI's cache, a
        // worktree) share one xtask binary, whose compile-time value names the other checkout.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .parent()
            .ok_or("xtask has no parent directory")?
            .to_path_buf();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    root.join(dir)
                }
            }
            _ => root.join("target"),
        };
        Ok(Self { root, target })
    }

    /// A `cargo` command run from the repository root.
    pub fn cargo(&self) -> Command {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&self.root);
        cmd
    }

    /// The built web site (`cargo xtask build`), served by the emulator with `--static`.
    pub fn site_dir(&self) -> PathBuf {
        self.target.join("site")
    }

    /// Folder for screenshots and other test output.
    pub fn test_output(&self) -> PathBuf {
        self.target.join("test-output")
    }

    /// Folder holding the npm-installed tools (binaryen, playwright-core, …) for `dir`.
    pub fn node_bin(&self, dir: &str) -> PathBuf {
        self.root.join(dir).join("node_modules").join(".bin")
    }
}

/// Runs `cmd`, echoing it, and fails with its exit status.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = describe(cmd);
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Whether `program` can be started (looked up on PATH).
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// A named, timed step of a longer command; `Steps::finish` prints the summary table.
#[derive(Debug, Default)]
pub struct Steps {
    done: Vec<(String, f64, Result<(), String>)>,
}

impl Steps {
    pub fn step(&mut self, name: &str, f: impl FnOnce() -> Result<(), String>) -> bool {
        eprintln!("\n==> {name}");
        let start = Instant::now();
        let result = f();
        let secs = start.elapsed().as_secs_f64();
        let ok = result.is_ok();
        if let Err(e) = &result {
            eprintln!("!! {name} failed: {e}");
        }
        self.done.push((name.to_string(), secs, result));
        ok
    }

    pub fn skip(&mut self, name: &str, why: &str) {
        eprintln!("\n==> {name}: skipped ({why})");
    }

    pub fn finish(self) -> Result<(), String> {
        eprintln!("\nsummary:");
        let mut failed = Vec::new();
        for (name, secs, result) in &self.done {
            let mark = if result.is_ok() { "ok  " } else { "FAIL" };
            eprintln!("  {mark} {secs:>7.1}s  {name}");
            if result.is_err() {
                failed.push(name.clone());
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} step(s) failed: {}",
                failed.len(),
                failed.join(", ")
            ))
        }
    }
}
