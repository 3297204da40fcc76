//! Builds the web site (`target/site`): the Leptos SPA's wasm + glue, `www/` and the MSAL bundle.
//! Owned by the web-UI work (issue #5); `cargo xtask build`, `demo` and `test` call [`build`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx::{self, Ctx, WASM_PACKAGES, WASM_TARGET};

/// Which cargo profile the wasm is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Fast to build, large: for iterating on the UI.
    #[allow(dead_code, reason = "used by `cargo xtask demo --dev`")]
    Dev,
    /// `wasm-release` (opt-level z, LTO) plus wasm-opt: what ships and what the tests drive.
    Release,
}

impl Profile {
    fn cargo_args(self) -> &'static [&'static str] {
        match self {
            Profile::Dev => &[],
            Profile::Release => &["--profile", "wasm-release"],
        }
    }
    fn dir(self) -> &'static str {
        match self {
            Profile::Dev => "debug",
            Profile::Release => "wasm-release",
        }
    }
}

pub fn build(ctx: &Ctx, profile: Profile) -> Result<PathBuf, String> {
    ctx::run(
        ctx.cargo()
            .args(["build", "--target", WASM_TARGET])
            .args(WASM_PACKAGES)
            .args(profile.cargo_args()),
    )?;
    let wasm = ctx
        .target
        .join(WASM_TARGET)
        .join(profile.dir())
        .join("defender_tags_web_ui.wasm");
    let site = ctx.site_dir();
    if site.exists() {
        fs::remove_dir_all(&site).map_err(|e| format!("cannot clear {}: {e}", site.display()))?;
    }
    let pkg = site.join("pkg");
    ctx::run(
        Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                "web_ui",
                "--out-dir",
            ])
            .arg(&pkg)
            .arg(&wasm),
    )?;
    if profile == Profile::Release {
        wasm_opt(ctx, &pkg.join("web_ui_bg.wasm"))?;
    }
    copy_dir(&ctx.root.join("www"), &site)?;
    Ok(site)
}

/// Shrinks a wasm file in place with npm's binaryen (never Debian's wasm-opt 108: its output
/// crashes at start-up, see ../shared/docs/toolchain.md).
pub fn wasm_opt(ctx: &Ctx, wasm: &Path) -> Result<(), String> {
    let tool = ctx.node_bin("www").join("wasm-opt");
    if !tool.exists() {
        return Err(format!(
            "{} is missing: run `cargo xtask tools`",
            tool.display()
        ));
    }
    ctx::run(
        Command::new(tool)
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
            ])
            .arg(wasm)
            .arg("-o")
            .arg(wasm),
    )
}

/// Copies `from` into `to`, leaving out npm's folders and manifests.
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries = fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let name = entry.file_name();
        if matches!(
            name.to_str(),
            Some("node_modules" | "package.json" | "package-lock.json")
        ) {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            fs::copy(&src, &dst)
                .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}
