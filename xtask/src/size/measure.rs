//! What ships and what it weighs: the guarded artefacts, the files each is made of, and their
//! gzip -9 sizes. The SPA's first load is found by following the built page's references the way
//! the browser does, so a file added to the page is guarded without editing a list.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::SizeError;
use crate::ctx::Ctx;

/// A guarded artefact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artefact {
    /// `target/pkg/web`: `defender_tags_bg.wasm` + `defender_tags.js`.
    Package,
    /// `target/site`: what the first page load requests, MSAL.js excluded.
    SpaFirstLoad,
}

impl Artefact {
    pub const ALL: [Artefact; 2] = [Artefact::Package, Artefact::SpaFirstLoad];

    /// Its key in [`BUDGET_FILE`](super::BUDGET_FILE).
    pub(super) fn key(self) -> &'static str {
        match self {
            Artefact::Package => "package",
            Artefact::SpaFirstLoad => "spa-first-load",
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Artefact::Package => "embeddable package (web: wasm + glue)",
            Artefact::SpaFirstLoad => "SPA first load without MSAL.js",
        }
    }

    /// The build's copy of the shipped module after wasm-bindgen and before wasm-opt (symbol
    /// names kept).
    fn named_source(self, ctx: &Ctx) -> PathBuf {
        match self {
            // The client entry's own copy: the other entries bind the same cargo file name.
            Artefact::Package => crate::package::client_named_source(ctx),
            // The split's main module: the first load's wasm (the pages that load on first use
            // are not in it).
            Artefact::SpaFirstLoad => crate::site::main_named_source(ctx),
        }
    }

    /// The shipped module's named twin: [`Self::named_source`] through the same wasm-opt run as
    /// what ships, plus `-g` to keep the name section (the shipped module has none). Its code
    /// differs from the shipped code by a fraction of a percent (0.25% of the client package's
    /// code, measured: `-g` changes a few optimisation choices).
    pub fn named_twin(self, ctx: &Ctx) -> PathBuf {
        self.named_source(ctx).with_extension("names.wasm")
    }

    /// [`Self::named_twin`], made (or remade) when the build's source is newer: about 20 s of
    /// wasm-opt for both artefacts, once per build. A twin without a source is used as it is.
    pub(super) fn ensure_named_twin(self, ctx: &Ctx) -> Result<PathBuf, SizeError> {
        let source = self.named_source(ctx);
        let twin = self.named_twin(ctx);
        let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
        match (modified(&source), modified(&twin)) {
            (Some(made), Some(derived)) if derived >= made => Ok(twin),
            (Some(_), _) => {
                // The wasm-opt that optimised what ships.
                let tool = match self {
                    Artefact::Package => crate::package::wasm_opt_tool(ctx),
                    Artefact::SpaFirstLoad => crate::site::wasm_opt_tool(ctx),
                };
                if !tool.exists() {
                    return Err(SizeError::Optimise {
                        path: twin,
                        message: format!("{} is missing (run `cargo xtask tools`)", tool.display()),
                    });
                }
                crate::site::run_wasm_opt(&tool, &source, &twin, true).map_err(|message| {
                    SizeError::Optimise {
                        path: twin.clone(),
                        message,
                    }
                })?;
                Ok(twin)
            }
            (None, _) => Ok(twin),
        }
    }

    /// The files that ship, as (label, path).
    fn files(self, ctx: &Ctx) -> Result<Vec<(String, PathBuf)>, SizeError> {
        match self {
            Artefact::Package => {
                let web = ctx.target.join("pkg").join("web");
                Ok(["defender_tags_bg.wasm", "defender_tags.js"]
                    .iter()
                    .map(|f| (format!("web/{f}"), web.join(f)))
                    .collect())
            }
            Artefact::SpaFirstLoad => first_load_files(&ctx.site_dir()),
        }
    }
}

/// One measured file.
#[derive(Debug, Clone)]
pub(super) struct FileSize {
    pub(super) label: String,
    pub(super) raw: u64,
    pub(super) gzip: u64,
}

/// An artefact's files and their gzip -9 total.
#[derive(Debug, Clone)]
pub(super) struct Measured {
    pub(super) artefact: Artefact,
    pub(super) files: Vec<FileSize>,
}

impl Measured {
    pub(super) fn gzip(&self) -> u64 {
        self.files.iter().map(|f| f.gzip).sum()
    }
}

pub(super) fn measure(ctx: &Ctx, artefact: Artefact) -> Result<Measured, SizeError> {
    let mut files = Vec::new();
    for (label, path) in artefact.files(ctx)? {
        let raw = fs::metadata(&path)
            .map_err(|e| SizeError::read(&path, e))?
            .len();
        files.push(FileSize {
            label,
            raw,
            gzip: gzip_size(&path)?,
        });
    }
    Ok(Measured { artefact, files })
}

/// gzip -9 of one file, as `xtask/src/package.rs` reports the package (and as the bench's
/// `zlib.gzipSync(level 9)` measures it, give or take gzip's header).
fn gzip_size(path: &Path) -> Result<u64, SizeError> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|source| SizeError::GzipStart {
            path: path.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(SizeError::Gzip {
            path: path.to_path_buf(),
            status: out.status.to_string(),
        });
    }
    Ok(out.stdout.len() as u64)
}

/// MSAL's bundle: third-party, loaded by the page but not ours to shrink (BENCHMARKS.md lists
/// it separately).
const MSAL: &str = "msal-browser.min.js";

/// The SPA's first load, derived from the built site: `index.html`, every same-origin file it
/// references with `href`/`src` (styles, icon, scripts) except MSAL, and every module those
/// scripts import statically (`import … from "./x.js"`) with the files wasm-bindgen's glue
/// fetches (`new URL('x_bg.wasm', import.meta.url)`), transitively. Dynamic `import()`s load
/// later, on first use, and are left out. This is the set the browser bench records from the
/// page's own requests (tests/bench/browser.mjs `firstLoadFiles`).
fn first_load_files(site: &Path) -> Result<Vec<(String, PathBuf)>, SizeError> {
    let index = site.join("index.html");
    let html = fs::read_to_string(&index).map_err(|e| SizeError::read(&index, e))?;
    let mut found: Vec<(String, PathBuf)> = vec![("index.html".to_owned(), index.clone())];
    let mut queue: Vec<(PathBuf, String)> = Vec::new();
    let references = html_references(&html).map_err(|message| SizeError::Html {
        path: index.clone(),
        message,
    })?;
    for reference in references {
        if reference.rsplit('/').next() == Some(MSAL) {
            continue;
        }
        queue.push((index.clone(), reference));
    }
    while let Some((from, reference)) = queue.pop() {
        let Some(path) = resolve(site, &from, &reference) else {
            continue;
        };
        if !path.is_file() {
            return Err(SizeError::MissingReference {
                path: from,
                reference,
                resolved: path,
            });
        }
        if found.iter().any(|(_, p)| *p == path) {
            continue;
        }
        let label = path
            .strip_prefix(site)
            .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
        if path.extension().is_some_and(|e| e == "js") {
            let text = fs::read_to_string(&path).map_err(|e| SizeError::read(&path, e))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            for next in js_static_references(&text, name.as_deref().unwrap_or_default()) {
                queue.push((path.clone(), next));
            }
        }
        found.push((label, path));
    }
    found[1..].sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// A same-origin reference resolved inside the site: `/x` from the site's root, `./x` and `x`
/// from the referring file's folder. Other origins, `data:` and fragments are not files of ours.
fn resolve(site: &Path, from: &Path, reference: &str) -> Option<PathBuf> {
    let reference = reference.split(['?', '#']).next().unwrap_or_default();
    if reference.is_empty() || reference.contains("://") || reference.starts_with("data:") {
        return None;
    }
    if reference.starts_with("//") {
        return None;
    }
    let (base, rest) = match reference.strip_prefix('/') {
        Some(rest) => (site.to_path_buf(), rest),
        None => (from.parent().unwrap_or(site).to_path_buf(), reference),
    };
    let mut path = base;
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                path.pop();
            }
            part => path.push(part),
        }
    }
    Some(path)
}

/// The `href="…"` and `src="…"` values of an HTML page, outside comments.
fn html_references(html: &str) -> Result<Vec<String>, String> {
    let text = crate::dist::strip_comments(html)?;
    let mut out = Vec::new();
    for attr in ["href=", "src="] {
        let mut at = 0;
        while let Some(i) = text[at..].find(attr) {
            let start = at + i + attr.len();
            at = start;
            // Only a whole attribute name (`data-src=` is not `src=`).
            let before = text[..start - attr.len()].chars().next_back();
            if !before.is_some_and(char::is_whitespace) {
                continue;
            }
            if let Some(value) = quoted(&text[start..]) {
                out.push(value.to_owned());
            }
        }
    }
    Ok(out)
}

/// The string literal at the start of `s` (`"…"` or `'…'`), without its quotes.
fn quoted(s: &str) -> Option<&str> {
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &s[1..];
    body.find(quote).map(|end| &body[..end])
}

/// Relative files a JS module loads at once: static `import`/`export … from "./x"` and
/// `new URL('x', import.meta.url)` (how wasm-bindgen's `--target web` glue finds its wasm), except
/// in the split loader, whose `new URL`s are the pages' modules, fetched on first use.
/// Bare specifiers (`"leptos"`) would need an import map and are not files here.
fn js_static_references(js: &str, file_name: &str) -> Vec<String> {
    // The split loader (xtask/src/split.rs) fetches the page modules it names only when a page
    // is first visited; only its static imports load at once.
    let fetches_on_demand = file_name == crate::split::LOADER;
    let mut out = Vec::new();
    for line in js.lines() {
        let t = line.trim_start();
        if t.starts_with("//") || t.starts_with('*') {
            continue;
        }
        // `} from "./x.js"` closes a multi-line import list.
        let is_static = t.starts_with("import ")
            || t.starts_with("import{")
            || t.starts_with("export ")
            || (t.starts_with('}') && t.contains(" from "));
        if is_static {
            let spec = t
                .rfind(" from ")
                .map(|i| t[i + 6..].trim_start())
                .or_else(|| t.strip_prefix("import ").map(str::trim_start));
            if let Some(value) = spec.and_then(quoted)
                && (value.starts_with("./") || value.starts_with("../") || value.starts_with('/'))
            {
                out.push(value.to_owned());
            }
        }
        let mut at = 0;
        while let Some(i) = t[at..].find("new URL(") {
            let start = at + i + "new URL(".len();
            at = start;
            if let Some(value) = quoted(t[start..].trim_start())
                && t[start..].contains("import.meta.url")
                && !fetches_on_demand
            {
                out.push(value.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_twin_is_remade_only_when_the_build_is_newer() {
        let dir = std::env::temp_dir().join(format!("xtask-size-twin-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        // No npm folders under this root: remaking a twin must fail, naming wasm-opt.
        let ctx = Ctx {
            root: dir.clone(),
            target: dir.join("target"),
        };
        let a = Artefact::Package;
        let (source, twin) = (a.named_source(&ctx), a.named_twin(&ctx));
        assert_ne!(source, twin);
        assert!(
            twin.to_string_lossy().ends_with("_bg.names.wasm"),
            "{}",
            twin.display()
        );
        let _ = fs::create_dir_all(twin.parent().expect("parent"));

        // Neither built: the twin's path, which the caller then fails to read.
        assert_eq!(a.ensure_named_twin(&ctx).expect("path"), twin);
        // A twin without a source is used as it is.
        fs::write(&twin, b"twin").expect("write");
        assert_eq!(a.ensure_named_twin(&ctx).expect("path"), twin);
        // A build newer than the twin: remade, and here that fails for want of wasm-opt.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&source, b"source").expect("write");
        let err = a
            .ensure_named_twin(&ctx)
            .expect_err("no wasm-opt here")
            .to_string();
        assert!(
            err.contains("wasm-opt") && err.contains("is missing"),
            "{err}"
        );
        // The twin made after the build is current: used without running anything.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&twin, b"newer twin").expect("write");
        assert_eq!(a.ensure_named_twin(&ctx).expect("path"), twin);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn first_load_follows_the_page_and_its_imports() {
        let site = std::env::temp_dir().join(format!("xtask-size-site-{}", std::process::id()));
        let _ = fs::remove_dir_all(&site);
        let write = |rel: &str, text: &str| {
            let p = site.join(rel);
            if let Some(dir) = p.parent() {
                let _ = fs::create_dir_all(dir);
            }
            let _ = fs::write(p, text);
        };
        write(
            "index.html",
            r#"<html><head>
            <!-- <script src="/old.js"></script> -->
            <link rel="icon" href="/favicon.svg"><link rel="stylesheet" href="/app.css">
            <link rel="preconnect" href="https://login.microsoftonline.com">
            <script src="/msal-browser.min.js" defer></script>
            <script type="module" src="/boot.js"></script></head></html>"#,
        );
        write("favicon.svg", "<svg/>");
        write("app.css", "body{}");
        write("msal-browser.min.js", "msal");
        write(
            "boot.js",
            "// import x from \"./commented.js\";\nimport init from \"./pkg/web_ui.js\";\nconst later = () => import(\"./lazy.js\");\n",
        );
        write(
            "pkg/web_ui.js",
            "export { a } from './more.js';\nimport * as import1 from \"./__wasm_split.js\"\nmodule_or_path = new URL('web_ui_bg.wasm', import.meta.url);\n",
        );
        write("pkg/more.js", "export const a = 1;");
        // The split loader is part of the first load; the page modules it names are not.
        write(
            "pkg/__wasm_split.js",
            "import { initSync } from \"./web_ui.js\";\nconst __chunk_7 = makeLoad(() => {\n    const src = fetch(new URL(\"./chunk_7.wasm\", import.meta.url));\n}, []);\nexport const __wasm_split_load_p = wrapAsyncCb(makeLoad(() => {\n    const src = fetch(new URL(\"./split_p.wasm\", import.meta.url));\n}, [__chunk_7]));\n",
        );
        write("pkg/chunk_7.wasm", "\0asm");
        write("pkg/split_p.wasm", "\0asm");
        write("pkg/web_ui_bg.wasm", "\0asm");
        write("lazy.js", "later");
        let files = first_load_files(&site).map_err(|e| e.to_string());
        let labels: Result<Vec<String>, String> =
            files.map(|f| f.into_iter().map(|(label, _)| label).collect());
        assert_eq!(
            labels,
            Ok(vec![
                "index.html".to_owned(),
                "app.css".to_owned(),
                "boot.js".to_owned(),
                "favicon.svg".to_owned(),
                "pkg/__wasm_split.js".to_owned(),
                "pkg/more.js".to_owned(),
                "pkg/web_ui.js".to_owned(),
                "pkg/web_ui_bg.wasm".to_owned(),
            ])
        );
        // A reference to a missing file is an error naming it, not a smaller total.
        let _ = fs::remove_file(site.join("pkg/more.js"));
        let e = first_load_files(&site).map(drop).unwrap_err().to_string();
        assert!(e.contains("`./more.js`"), "{e}");
        let _ = fs::remove_dir_all(&site);
    }
}
