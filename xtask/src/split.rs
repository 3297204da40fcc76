//! Splits the SPA's release wasm into the first load and one module per lazily loaded page.
//!
//! The web UI marks each page after the first load as a `wasm_split` split point
//! (`crates/web-ui/src/routes/lazy.rs`, feature `split`): a call through a wasm import that
//! nothing provides yet. `wasm-split-cli` reads the linked wasm (with its relocations, hence
//! `--emit-relocs`) and writes:
//! ```text
//! web_ui.wasm               sign-in, search and everything they share (wasm-bindgen runs on it)
//! split_dt_page_<page>.wasm one page's own code
//! chunk_<n>.wasm            code several pages share, and no page of the first load
//! __wasm_split.js           the loader: fetches a page's modules on its first call
//! ```
//! The loader links each module against the main module's memory, table and exports, which it
//! takes from wasm-bindgen's glue (`initSync`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx;

/// The pinned tool (crates.io `wasm_split_cli_support`, binary `wasm-split-cli`): its loader and
/// module format must match the `wasm_split_helpers` runtime that Leptos links (0.2.x). 0.2.4 is
/// the first that knows wasm-bindgen 0.2.128's `__wbindgen_describe_generic_import`: with 0.2.2,
/// a closure or string cast made only in a page module is left unrewritten by wasm-bindgen and
/// traps ("function signature mismatch") when the page calls it.
pub const VERSION: &str = "0.2.4";
const CRATE: &str = "wasm_split_cli_support";
const BIN: &str = "wasm-split-cli";

/// The loader's file name; wasm-bindgen's glue imports it by this name.
pub const LOADER: &str = "__wasm_split.js";

/// The tool's path once installed (`~/.cargo/bin`, or wherever `cargo install` puts binaries).
fn tool() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin").join(BIN))
        .unwrap_or_else(|| PathBuf::from(BIN))
}

/// Installs `wasm-split-cli` at [`VERSION`] unless `cargo install --list` shows it.
pub fn ensure_tool() -> Result<(), String> {
    let listed = Command::new("cargo")
        .args(["install", "--list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if listed.contains(&format!("{CRATE} v{VERSION}:")) && tool().exists() {
        return Ok(());
    }
    eprintln!("{BIN} {VERSION} needed; installing it (about 1.5 minutes)");
    ctx::run(Command::new("cargo").args([
        "install",
        CRATE,
        "--version",
        VERSION,
        "--features",
        "build-binary",
        "--locked",
    ]))
}

/// What [`split`] wrote.
#[derive(Debug)]
pub struct Split {
    /// The main module, for wasm-bindgen.
    pub main: PathBuf,
    /// The page and shared modules (`split_*.wasm`, `chunk_*.wasm`), in `out`.
    pub modules: Vec<PathBuf>,
}

/// Splits `wasm` into `raw` (the tool's own output, kept for the size report) and copies the
/// loader, which imports its main module from `./{glue_name}.js`, and the page modules into `out`.
pub fn split(wasm: &Path, raw: &Path, out: &Path, glue_name: &str) -> Result<Split, String> {
    match fs::remove_dir_all(raw) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot clear {}: {e}", raw.display())),
    }
    fs::create_dir_all(raw).map_err(|e| format!("cannot create {}: {e}", raw.display()))?;
    fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    ctx::run(
        Command::new(tool())
            .args(["--target", "web", "--out-name", glue_name])
            .arg(wasm)
            .arg(raw),
    )?;

    let loader = raw.join(LOADER);
    let text = fs::read_to_string(&loader)
        .map_err(|e| format!("{BIN} wrote no readable {}: {e}", loader.display()))?;
    check_loader(&text, glue_name)?;
    fs::write(out.join(LOADER), text)
        .map_err(|e| format!("cannot write {}: {e}", out.join(LOADER).display()))?;

    let mut modules = Vec::new();
    let entries = fs::read_dir(raw).map_err(|e| format!("cannot read {}: {e}", raw.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", raw.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".wasm") && (name.starts_with("split_") || name.starts_with("chunk_")) {
            let to = out.join(&name);
            fs::copy(entry.path(), &to)
                .map_err(|e| format!("cannot copy {name} to {}: {e}", to.display()))?;
            modules.push(to);
        }
    }
    modules.sort();
    if !modules.iter().any(|m| {
        m.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("split_"))
    }) {
        return Err(format!(
            "{BIN} found no split point in {}: was it built with the web UI's `split` feature \
             and `--emit-relocs`?",
            wasm.display()
        ));
    }
    let main = raw.join(format!("{glue_name}.wasm"));
    if !main.exists() {
        return Err(format!("{BIN} wrote no {}", main.display()));
    }
    Ok(Split { main, modules })
}

/// The loader must take `initSync` from our glue; a tool that names it otherwise (another
/// version) would ship a loader importing a file that is not there.
fn check_loader(text: &str, glue_name: &str) -> Result<(), String> {
    let import = format!(r#"import {{ initSync }} from "./{glue_name}.js";"#);
    if text.lines().any(|line| line.trim() == import) {
        Ok(())
    } else {
        Err(format!(
            "{BIN}'s loader does not import its main module as `{import}`; update \
             xtask/src/split.rs for the {BIN} in use (pinned: {VERSION})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loader_must_import_our_glue() {
        let ok = "import { initSync } from \"./web_ui.js\";\nlet sharedImports = undefined;\n";
        assert_eq!(check_loader(ok, "web_ui"), Ok(()));
        for wrong in [
            "import { initSync } from \"./main.js\";\n",
            "// import { initSync } from \"./web_ui.js\";\n",
            "",
        ] {
            let err = check_loader(wrong, "web_ui").unwrap_err();
            assert!(err.contains("./web_ui.js"), "{err}");
        }
    }
}
