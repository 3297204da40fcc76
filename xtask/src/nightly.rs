//! The pinned nightly toolchain the fuzz step builds with (cargo-fuzz). docs/toolchain.md records
//! what building the SPA's std with it measured, and why the SPA stays on stable.

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
