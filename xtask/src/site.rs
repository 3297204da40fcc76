//! Builds the web site (`target/site`): the Leptos SPA's wasm + glue, `www/` and the MSAL bundle.
//! Owned by the web-UI work (issue #5); `cargo xtask build`, `demo` and `test` call [`build`].
//!
//! Layout of the result (the emulator serves it with `--static target/site`):
//! ```text
//! index.html app.css auth.js boot.js favicon.svg   from www/ (www/embed/ too, if present)
//! msal-browser.min.js                              www/node_modules/@azure/msal-browser/lib/
//! pkg/web_ui.js pkg/web_ui_bg.wasm                 wasm-bindgen --target web of the web-ui binary
//!                                                  (in release: of its main module, see split.rs)
//! pkg/__wasm_split.js pkg/split_*.wasm pkg/chunk_*.wasm
//!                                                  release only: the pages that load on first use
//! ui/defender_tags_ui.js ui/defender_tags_ui_bg.wasm   the embed build (mount functions only)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx::{self, CLIENT_PACKAGE, Ctx, SPA_PACKAGE, WASM_TARGET};

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

/// The web-ui crate's binary (`src/main.rs` mounts the app; wasm-bindgen makes `main` the start
/// function, so `boot.js` only has to call `init()`).
const WEB_UI_WASM: &str = "defender-tags-web-ui.wasm";

/// wasm-bindgen's name for the SPA's glue and main wasm (`pkg/web_ui.js`, `pkg/web_ui_bg.wasm`).
const WEB_UI_NAME: &str = "web_ui";

/// Where the release build keeps `wasm-split-cli`'s own output.
fn split_dir(ctx: &Ctx) -> PathBuf {
    ctx.target
        .join(WASM_TARGET)
        .join(Profile::Release.dir())
        .join("web-ui-split")
}

/// The release build's main module after wasm-bindgen and before wasm-opt (symbol names kept):
/// the first load's wasm, from which the size guard makes the named twin of what ships
/// (`xtask/src/size/`).
pub fn main_named_source(ctx: &Ctx) -> PathBuf {
    split_dir(ctx).join(format!("{WEB_UI_NAME}_bg.wasm"))
}

/// The web-ui crate's embed binary (`src/embed_main.rs`): the same library, a `main` that mounts
/// nothing, so the link keeps only what `mountTagManager` / `mountTagEditor` reach. Linked in the
/// same cargo run as the app (its only extra cost is its own LTO link).
const EMBED_WASM: &str = "defender-tags-web-ui-embed.wasm";

/// The embed build's file stem, in the site's `ui/` and the npm package's `ui/`.
pub const UI_NAME: &str = "defender_tags_ui";

/// Leptos' `erase_components` cfg: every component and reactive `{move || …}` child becomes an
/// `AnyView` / shared closure instead of its own deeply nested static view type, so tachys and
/// reactive_graph are monomorphised far fewer times (about a tenth less wasm, measured; the views
/// behave the same, at the cost of a vtable call and an allocation per reactive child). Passed as
/// target rustflags on the wasm artefact builds only ([`wasm_cargo`]): leptos reads it both as a
/// `--cfg` and, through a `cfg(erase_components)` target dependency, to turn on leptos_macro's
/// erasing code generation. The client package has no Leptos; it gets the same flags so that the
/// dependencies both share (serde, defender-tags-core and, in release builds, std) compile once. An explicit `RUSTFLAGS` would
/// override this (the site still works, only larger).
const DEV_RUSTFLAGS: &str =
    r#"target.wasm32-unknown-unknown.rustflags=["--cfg","erase_components"]"#;

/// [`DEV_RUSTFLAGS`] plus the immediate-abort panic strategy, for the release builds: a panic
/// traps at once, without a message, so the panic machinery, its formatting and every panic's
/// source location stay out of the wasm (std is rebuilt with it by `-Zbuild-std`).
const RELEASE_RUSTFLAGS: &str = r#"target.wasm32-unknown-unknown.rustflags=["--cfg","erase_components","-Zunstable-options","-Cpanic=immediate-abort"]"#;

/// std's `optimize_for_size` feature: smaller variants of its sorts (a merge sort in place of
/// driftsort and ipnsort, whose monomorphised copies are about 37 KB of the SPA's first load),
/// of integer formatting and of float parsing: the SPA's first load 468.1 → 456.1 KiB gzip, the
/// package 162.6 → 160.1 KB of wasm gzip, and in browser benches run back to back without and
/// with it no search slowdown beyond this machine's noise (docs/toolchain.md).
const STD_FEATURES: &str = "-Zbuild-std-features=optimize_for_size";

/// The standard library's crates keep the speed they have prebuilt when `-Zbuild-std` rebuilds
/// them with the `wasm-release` profile (`opt-level = "z"` for our code): at "z" the search page's
/// per-keystroke p95 went from 11.1 to 16.0 ms in one bench run (likely std's string and slice
/// routines, the allocator and memcmp in that loop; not profiled), at 3 they cost the package about 3.5 KB gzip more than at "z"
/// (docs/toolchain.md). Given on the command line, not in Cargo.toml: stable cargo warns on every
/// run about a profile override that names no package of the workspace.
const STD_AT_SPEED: [&str; 8] = [
    "--config",
    "profile.wasm-release.package.core.opt-level=3",
    "--config",
    "profile.wasm-release.package.alloc.opt-level=3",
    "--config",
    "profile.wasm-release.package.std.opt-level=3",
    "--config",
    "profile.wasm-release.package.compiler_builtins.opt-level=3",
];

/// `cargo` with the global flags of a wasm artefact build in `profile` (the caller adds the
/// subcommand and the rest). Release builds run on the pinned nightly and rebuild std
/// (`-Zbuild-std`) with [`RELEASE_RUSTFLAGS`] and [`STD_AT_SPEED`]: about a tenth off the package
/// and the SPA (docs/toolchain.md). Dev builds stay on stable std, panic messages included, for
/// debugging (`cargo xtask demo --dev`).
pub fn wasm_cargo(ctx: &Ctx, profile: Profile) -> Result<Command, String> {
    Ok(match profile {
        Profile::Dev => {
            let mut cargo = ctx.cargo();
            cargo.args(["--config", DEV_RUSTFLAGS]);
            cargo
        }
        Profile::Release => {
            crate::nightly::ensure_rust_src("the release build of the wasm artefacts")?;
            let mut cargo = crate::nightly::cargo(ctx);
            cargo
                .args(["-Zbuild-std=std,panic_abort", STD_FEATURES])
                .args(["--config", RELEASE_RUSTFLAGS])
                .args(STD_AT_SPEED);
            cargo
        }
    })
}

/// MSAL's browser (UMD) bundle inside `www/node_modules`, installed by `npm ci` in `www/`.
const MSAL_BUNDLE: &str = "node_modules/@azure/msal-browser/lib/msal-browser.min.js";

/// Builds `target/site` and returns its path.
pub fn build(ctx: &Ctx, profile: Profile) -> Result<PathBuf, String> {
    let www = ctx.root.join("www");
    let msal = www.join(MSAL_BUNDLE);
    if !msal.exists() {
        return Err(format!(
            "{} is missing: run `cargo xtask tools` (or `npm ci` in www/)",
            msal.display()
        ));
    }
    let split = profile == Profile::Release;
    let mut cargo = wasm_cargo(ctx, profile)?;
    if split {
        crate::split::ensure_tool()?;
        // `cargo rustc` passes `--emit-relocs` (for the split) to the final link only, so the
        // dependencies' builds do not depend on it and stay cached.
        cargo
            .args(["rustc", "--target", WASM_TARGET])
            .args(SPA_PACKAGE)
            .args(["--bin", WEB_UI_WASM.trim_end_matches(".wasm")])
            .args(["--features", "split"]);
    } else {
        cargo
            .args(["build", "--target", WASM_TARGET])
            .args(SPA_PACKAGE);
    }
    cargo.args(profile.cargo_args());
    if split {
        cargo.args(["--", "-Clink-args=--emit-relocs"]);
    }
    ctx::run(&mut cargo)?;
    let wasm = ctx
        .target
        .join(WASM_TARGET)
        .join(profile.dir())
        .join(WEB_UI_WASM);
    if !wasm.exists() {
        return Err(format!("cargo did not produce {}", wasm.display()));
    }
    // Assemble in a private staging folder and swap it in at the end: a failed build leaves the
    // previous site in place, and builds running side by side (several engineers, CI) do not
    // delete each other's half-written files.
    let site = ctx.site_dir();
    let stage = ctx
        .target
        .join(format!("site.staging-{}", std::process::id()));
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(|e| format!("cannot clear {}: {e}", stage.display()))?;
    }
    let pkg = stage.join("pkg");
    let (main_wasm, modules) = if split {
        let parts = crate::split::split(&wasm, &split_dir(ctx), &pkg, WEB_UI_NAME)?;
        (parts.main, parts.modules)
    } else {
        (wasm, Vec::new())
    };
    let mut bindgen = Command::new(wasm_bindgen());
    bindgen.args(["--target", "web", "--no-typescript"]);
    if split {
        // The loader links each page module against the main module's exports by their linker
        // names (`__wasm_split_shared…`, the table); wasm-bindgen would otherwise drop them.
        bindgen.arg("--keep-lld-exports");
    }
    bindgen
        .args(["--out-name", WEB_UI_NAME, "--out-dir"])
        .arg(&pkg)
        .arg(&main_wasm);
    if profile == Profile::Dev {
        bindgen.arg("--debug");
    }
    ctx::run(&mut bindgen)?;
    if profile == Profile::Release {
        let main_bg = pkg.join(format!("{WEB_UI_NAME}_bg.wasm"));
        let keep = main_named_source(ctx);
        fs::copy(&main_bg, &keep).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                main_bg.display(),
                keep.display()
            )
        })?;
        wasm_opt(ctx, &main_bg)?;
        for module in &modules {
            wasm_opt(ctx, module)?;
        }
    }
    embed_ui(ctx, profile, &stage.join("ui"), false)?;
    copy_dir(&www, &stage)?;
    embed_client(ctx, profile, &stage)?;
    fs::copy(&msal, stage.join("msal-browser.min.js"))
        .map_err(|e| format!("cannot copy {}: {e}", msal.display()))?;
    let size = fs::metadata(pkg.join(format!("{WEB_UI_NAME}_bg.wasm")))
        .map(|m| m.len())
        .unwrap_or(0);
    match fs::remove_dir_all(&site) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot clear {}: {e}", site.display())),
    }
    fs::rename(&stage, &site)
        .map_err(|e| format!("cannot move {} to {}: {e}", stage.display(), site.display()))?;
    eprintln!(
        "site: {} ({WEB_UI_NAME}_bg.wasm {} KiB, {} lazily loaded modules)",
        site.display(),
        size / 1024,
        modules.len()
    );
    Ok(site)
}

/// Builds the embed entry into `out` (`defender_tags_ui.js`, `_bg.wasm`, and with `typescript`
/// the `.d.ts`): wasm-bindgen `--target web` of the embed binary (the web UI with its `embed`
/// feature, which the SPA's build leaves off), plus wasm-opt in release. Handles are weak refs: a handle the
/// host drops frees its few bytes, and the component stays (crates/web-ui/src/embed/lifecycle.rs).
pub fn embed_ui(ctx: &Ctx, profile: Profile, out: &Path, typescript: bool) -> Result<(), String> {
    ctx::run(
        wasm_cargo(ctx, profile)?
            .args(["build", "--target", WASM_TARGET])
            .args(SPA_PACKAGE)
            .args(["--bin", EMBED_WASM.trim_end_matches(".wasm")])
            .args(["--features", "embed"])
            .args(profile.cargo_args()),
    )?;
    let wasm = ctx
        .target
        .join(WASM_TARGET)
        .join(profile.dir())
        .join(EMBED_WASM);
    let mut bindgen = Command::new(wasm_bindgen());
    bindgen.args(["--target", "web", "--weak-refs", "--out-name", UI_NAME]);
    if !typescript {
        bindgen.arg("--no-typescript");
    }
    if profile == Profile::Dev {
        bindgen.arg("--debug");
    }
    ctx::run(bindgen.arg("--out-dir").arg(out).arg(&wasm))?;
    if profile == Profile::Release {
        wasm_opt(ctx, &out.join(format!("{UI_NAME}_bg.wasm")))?;
    }
    Ok(())
}

/// The bare-client embedding example (`www/embed/index.html`) imports the client package's web
/// build from `./pkg/`: the client's cdylib with its `js` facade (its own cargo run, see
/// [`SPA_PACKAGE`]), a wasm-bindgen pass and wasm-opt in release. The demo serves it at `/embed/`.
fn embed_client(ctx: &Ctx, profile: Profile, site: &Path) -> Result<(), String> {
    ctx::run(
        wasm_cargo(ctx, profile)?
            .args(["build", "--target", WASM_TARGET])
            .args(CLIENT_PACKAGE)
            .args(profile.cargo_args()),
    )?;
    let wasm = ctx
        .target
        .join(WASM_TARGET)
        .join(profile.dir())
        .join("defender_tags_wasm.wasm");
    let out = site.join("embed").join("pkg");
    ctx::run(
        Command::new(wasm_bindgen())
            .args([
                "--target",
                "web",
                "--out-name",
                "defender_tags",
                "--out-dir",
            ])
            .arg(&out)
            .arg(&wasm),
    )?;
    if profile == Profile::Release {
        wasm_opt(ctx, &out.join("defender_tags_bg.wasm"))?;
    }
    Ok(())
}

/// `wasm-bindgen` from PATH, else from `~/.cargo/bin` (where `cargo install` puts it).
fn wasm_bindgen() -> PathBuf {
    if ctx::have("wasm-bindgen") {
        return PathBuf::from("wasm-bindgen");
    }
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin").join("wasm-bindgen"))
        .unwrap_or_else(|| PathBuf::from("wasm-bindgen"))
}

/// Shrinks a wasm file in place with npm's binaryen (never Debian's wasm-opt 108: its output
/// crashes at start-up, see docs/toolchain.md). Optional: without it the site works,
/// just larger, so a missing tool is a warning.
pub fn wasm_opt(ctx: &Ctx, wasm: &Path) -> Result<(), String> {
    let tool = wasm_opt_tool(ctx);
    if !tool.exists() {
        eprintln!(
            "warning: {} is missing (run `cargo xtask tools`); the wasm is not size-optimised",
            tool.display()
        );
        return Ok(());
    }
    let keep_names = std::env::var_os("DT_PROFILE_NAMES").is_some();
    run_wasm_opt(&tool, wasm, wasm, keep_names)
}

/// The site build's wasm-opt (npm binaryen in `www/`).
pub fn wasm_opt_tool(ctx: &Ctx) -> PathBuf {
    ctx.node_bin("www").join("wasm-opt")
}

/// wasm-opt's options for every shipped module: size first, and the features rustc 1.95 enables
/// for wasm32-unknown-unknown by default.
const WASM_OPT_ARGS: [&str; 7] = [
    "-Oz",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Runs `tool` (npm binaryen's wasm-opt) on `input` into `output` (they may be one file) with
/// [`WASM_OPT_ARGS`], keeping the name section when `keep_names` (`-g`).
pub fn run_wasm_opt(
    tool: &Path,
    input: &Path,
    output: &Path,
    keep_names: bool,
) -> Result<(), String> {
    ctx::run(
        Command::new(tool)
            .args(WASM_OPT_ARGS)
            .args(keep_names.then_some("-g"))
            .arg(input)
            .arg("-o")
            .arg(output),
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
