//! Installs what the build and the tests need on a fresh machine, and nothing that is there.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::ctx::{self, Ctx};

/// Folders whose `package-lock.json` xtask installs with `npm ci`: these plus every `tests/*`
/// (`examples/rules` for its msal-node, which tests/node runs the script with).
const NPM_DIRS: [&str; 3] = ["www", "crates/wasm", "examples/rules"];

fn npm_dirs(ctx: &Ctx) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = NPM_DIRS.iter().map(|d| ctx.root.join(d)).collect();
    if let Ok(entries) = fs::read_dir(ctx.root.join("tests")) {
        let mut suites: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        suites.sort();
        dirs.extend(suites.into_iter().filter(|p| p.is_dir()));
    }
    dirs
}

pub fn ensure_all(ctx: &Ctx) -> Result<(), String> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen(ctx)?;
    crate::split::ensure_tool()?;
    ensure_chromium()?;
    ensure_nginx()?;
    ensure_npm(ctx)?;
    Ok(())
}

pub fn ensure_wasm_target() -> Result<(), String> {
    // rust-toolchain.toml lists the target, so rustup normally installs it on first use; this
    // covers toolchains installed before the file existed.
    if ctx::have("rustup") {
        ctx::run(Command::new("rustup").args(["target", "add", ctx::WASM_TARGET]))?;
    }
    Ok(())
}

/// The `wasm-bindgen` version pinned in Cargo.lock; the CLI must match it exactly.
pub fn locked_wasm_bindgen_version(ctx: &Ctx) -> Result<String, String> {
    let lock = fs::read_to_string(ctx.root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
        {
            return Ok(v.trim_matches('"').to_string());
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

pub fn ensure_wasm_bindgen(ctx: &Ctx) -> Result<(), String> {
    let want = locked_wasm_bindgen_version(ctx)?;
    let have = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if have == format!("wasm-bindgen {want}") {
        return Ok(());
    }
    eprintln!("wasm-bindgen-cli {want} needed (found `{have}`); installing (about 4 minutes)");
    // No --locked: the registry mirror here lacks one of the CLI's locked dependencies
    // (webpki-roots 1.0.11); the unlocked resolution builds and works.
    ctx::run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &want]))
}

pub fn ensure_chromium() -> Result<(), String> {
    if Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists() {
        return Ok(());
    }
    if !is_root() {
        return Err(
            "Chromium and chromedriver are missing; run as root or install the Debian \
                    packages `chromium` and `chromium-driver`"
                .into(),
        );
    }
    ctx::run(Command::new("apt-get").arg("update"))?;
    ctx::run(
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "chromium",
                "chromium-driver",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Debian's nginx, which the deploy suite (tests/deploy) runs in the foreground as the real
/// server of a `cargo xtask dist` bundle. Installing the package does not leave a server
/// running on machines whose policy-rc.d forbids starting services (containers); elsewhere the
/// distribution's default site may start, which the suite does not use.
pub fn ensure_nginx() -> Result<(), String> {
    if Path::new(NGINX).exists() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "{NGINX} is missing; run as root or install the Debian package `nginx`"
        ));
    }
    ctx::run(Command::new("apt-get").arg("update"))?;
    ctx::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "nginx"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Where Debian installs nginx.
pub const NGINX: &str = "/usr/sbin/nginx";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `npm ci` in each folder with a lockfile, skipped when node_modules already matches it.
pub fn ensure_npm(ctx: &Ctx) -> Result<(), String> {
    for dir in npm_dirs(ctx) {
        let lock = dir.join("package-lock.json");
        let Ok(wanted) = fs::read(&lock) else {
            continue;
        };
        let stamp = dir.join("node_modules").join(".xtask-lock-copy");
        if fs::read(&stamp).is_ok_and(|have| have == wanted) {
            continue;
        }
        ctx::run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )?;
        // A package with no dependencies gets no node_modules from npm; the stamp needs one.
        let _ = fs::create_dir_all(dir.join("node_modules"));
        fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    Ok(())
}
