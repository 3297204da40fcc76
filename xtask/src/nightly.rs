//! The pinned nightly toolchain: the fuzz step builds with it (cargo-fuzz), and so do the release
//! builds of the wasm artefacts (the SPA and the npm package rebuild std with `-Zbuild-std`,
//! `xtask/src/site.rs` `wasm_cargo`; docs/toolchain.md records what that measured).

use std::process::{Command, Stdio};

use crate::ctx::{self, Ctx};

/// Pinned by date so a run next month builds the same way (`rust-toolchain.toml` pins the stable
/// one). xtask installs it when missing.
pub const NIGHTLY: &str = "nightly-2026-05-20";

/// `cargo +NIGHTLY`, without the stable toolchain that `cargo xtask` runs under leaking in.
pub fn cargo(ctx: &Ctx) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{NIGHTLY}"))
        .current_dir(&ctx.root)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    cmd
}

/// Whether `cargo +NIGHTLY args…` succeeds, quietly.
pub fn probe(args: &[&str]) -> bool {
    Command::new("cargo")
        .arg(format!("+{NIGHTLY}"))
        .args(args)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs [`NIGHTLY`] (minimal profile) when missing. `why` names the caller, for the error.
pub fn ensure(why: &str) -> Result<(), String> {
    if !probe(&["--version"]) {
        eprintln!("{NIGHTLY} is missing; installing it (minimal profile)");
        if !ctx::have("rustup") {
            return Err(format!(
                "{why} needs the {NIGHTLY} toolchain and rustup is not on PATH to install it"
            ));
        }
        ctx::run(Command::new("rustup").args([
            "toolchain",
            "install",
            NIGHTLY,
            "--profile",
            "minimal",
        ]))?;
    }
    Ok(())
}

/// [`ensure`] plus the standard library's source, which `-Zbuild-std` compiles.
pub fn ensure_rust_src(why: &str) -> Result<(), String> {
    ensure(why)?;
    if rust_src_present() {
        return Ok(());
    }
    eprintln!("{NIGHTLY} has no rust-src; adding it");
    ctx::run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", NIGHTLY]))
}

/// Whether the nightly's `rust-src` component is installed (its `library/std` folder exists).
fn rust_src_present() -> bool {
    Command::new("rustc")
        .arg(format!("+{NIGHTLY}"))
        .args(["--print", "sysroot"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .is_some_and(|root| {
            std::path::Path::new(&root)
                .join("lib/rustlib/src/rust/library/std/Cargo.toml")
                .exists()
        })
}
