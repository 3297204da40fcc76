//! The size budget (`cargo xtask size`, and the size step of `cargo xtask test`).
//!
//! Two artefacts are guarded, measured the way BENCHMARKS.md measures them (gzip -9 per file,
//! summed): the embeddable package's web build (`target/pkg/web`: wasm + JS glue) and the SPA's
//! first load (`target/site`: the files `index.html` references and the modules its scripts
//! import statically, MSAL.js excluded).
//!
//! Each has a goal and a budget in [`BUDGET_FILE`]. The guard fails when an artefact is larger
//! than its budget plus [`TOLERANCE`]. While a goal is not met the budget is a ratchet: today's
//! size rounded up a little, lowered as the artefact shrinks, so growth fails now rather than
//! after the goal is reached; once an artefact is at or under its goal, its budget is the goal.
//!
//! What is big is shown from the cargo artefacts before wasm-bindgen and wasm-opt: the shipped
//! wasm has no name section, the cargo one keeps Rust symbol names. Its figures are
//! pre-optimisation code bytes (body size per function, data segments), not gzip bytes: they say
//! where the bytes come from, not what ships.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx::{Ctx, WASM_TARGET};

/// The checked-in budget (goal and current budget per artefact, and the rule in words).
pub const BUDGET_FILE: &str = "xtask/size-budget.json";
/// The budget file's per-artefact snapshot of [`by_crate`] (see [`Budget::crates_at_budget`]).
const CRATES_AT_BUDGET: &str = "crates_at_budget";
/// How far above its budget an artefact may grow before the guard fails (issue #14: 5%).
pub const TOLERANCE: f64 = 0.05;
/// Lines in each top list.
const TOP: usize = 20;
/// Crates listed by name in the per-crate breakdown; the rest are summed in one line.
const CRATES_SHOWN: usize = 25;
const KIB: f64 = 1024.0;

/// Why the guard could not measure, read the budget or analyse a wasm file.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run `gzip -9 -c {path}`: {source}")]
    GzipStart {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`gzip -9 -c {path}` failed ({status})")]
    Gzip { path: PathBuf, status: String },
    #[error("{file}: not valid JSON: {source}")]
    BudgetJson {
        file: String,
        source: serde_json::Error,
    },
    #[error("{file}: {what}")]
    Budget { file: String, what: String },
    #[error("{path} references `{reference}`, which is not in the site ({resolved})")]
    MissingReference {
        path: PathBuf,
        reference: String,
        resolved: PathBuf,
    },
    #[error("{path}: {message}")]
    Html { path: PathBuf, message: String },
    #[error("{path}: not a wasm module this guard can read: {message}")]
    Wasm { path: PathBuf, message: String },
}

impl SizeError {
    fn read(path: &Path, source: std::io::Error) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

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

    /// Its key in [`BUDGET_FILE`].
    pub fn key(self) -> &'static str {
        match self {
            Artefact::Package => "package",
            Artefact::SpaFirstLoad => "spa-first-load",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Artefact::Package => "embeddable package (web: wasm + glue)",
            Artefact::SpaFirstLoad => "SPA first load without MSAL.js",
        }
    }

    /// The cargo artefact before wasm-bindgen and wasm-opt (symbol names kept).
    pub fn cargo_wasm(self, ctx: &Ctx) -> PathBuf {
        let name = match self {
            Artefact::Package => "defender_tags_wasm.wasm",
            Artefact::SpaFirstLoad => "defender-tags-web-ui.wasm",
        };
        ctx.target.join(WASM_TARGET).join("wasm-release").join(name)
    }

    /// The files that ship, as (label, path).
    pub fn files(self, ctx: &Ctx) -> Result<Vec<(String, PathBuf)>, SizeError> {
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
pub struct FileSize {
    pub label: String,
    pub raw: u64,
    pub gzip: u64,
}

/// An artefact's files and their gzip -9 total.
#[derive(Debug, Clone)]
pub struct Measured {
    pub artefact: Artefact,
    pub files: Vec<FileSize>,
}

impl Measured {
    pub fn gzip(&self) -> u64 {
        self.files.iter().map(|f| f.gzip).sum()
    }
}

pub fn measure(ctx: &Ctx, artefact: Artefact) -> Result<Measured, SizeError> {
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
            for next in js_static_references(&text) {
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
/// `new URL('x', import.meta.url)` (how wasm-bindgen's `--target web` glue finds its wasm).
/// Bare specifiers (`"leptos"`) would need an import map and are not files here.
fn js_static_references(js: &str) -> Vec<String> {
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
            {
                out.push(value.to_owned());
            }
        }
    }
    out
}

/// Goal and budget of one artefact, in KiB of gzip -9.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub goal_kib: f64,
    pub budget_kib: f64,
    /// Bytes per crate of the cargo wasm when the budget was last set (`cargo xtask size
    /// --ratchet`): what a failure compares against to say what grew.
    pub crates_at_budget: Option<BTreeMap<String, u64>>,
}

/// Reads [`BUDGET_FILE`]'s text: `{"artefacts": {"package": {"goal_kib": …, "budget_kib": …},
/// …}}`, one entry per [`Artefact`], no others (a misspelt key would silently guard nothing).
pub fn parse_budgets(file: &str, text: &str) -> Result<Vec<(Artefact, Budget)>, SizeError> {
    let bad = |what: String| SizeError::Budget {
        file: file.to_owned(),
        what,
    };
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|source| SizeError::BudgetJson {
            file: file.to_owned(),
            source,
        })?;
    let entries = doc
        .get("artefacts")
        .and_then(|a| a.as_object())
        .ok_or_else(|| bad("no `artefacts` object".into()))?;
    for key in entries.keys() {
        if !Artefact::ALL.iter().any(|a| a.key() == key) {
            let known: Vec<&str> = Artefact::ALL.iter().map(|a| a.key()).collect();
            return Err(bad(format!(
                "unknown artefact `{key}` (known: {})",
                known.join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    for artefact in Artefact::ALL {
        let key = artefact.key();
        let entry = entries
            .get(key)
            .ok_or_else(|| bad(format!("no entry for `{key}`")))?;
        let number = |field: &str| -> Result<f64, SizeError> {
            entry
                .get(field)
                .and_then(|v| v.as_f64())
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| bad(format!("`{key}.{field}` must be a positive number of KiB")))
        };
        let crates_at_budget = match entry.get(CRATES_AT_BUDGET) {
            None => None,
            Some(value) => Some(
                value
                    .as_object()
                    .and_then(|map| {
                        map.iter()
                            .map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                            .collect::<Option<BTreeMap<String, u64>>>()
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "`{key}.{CRATES_AT_BUDGET}` must map crate names to byte counts"
                        ))
                    })?,
            ),
        };
        let budget = Budget {
            goal_kib: number("goal_kib")?,
            budget_kib: number("budget_kib")?,
            crates_at_budget,
        };
        if budget.budget_kib < budget.goal_kib {
            return Err(bad(format!(
                "`{key}.budget_kib` ({}) is below its goal ({}): at or under the goal, the budget is the goal",
                budget.budget_kib, budget.goal_kib
            )));
        }
        out.push((artefact, budget));
    }
    Ok(out)
}

pub fn read_budgets(ctx: &Ctx) -> Result<Vec<(Artefact, Budget)>, SizeError> {
    let path = ctx.root.join(BUDGET_FILE);
    let text = fs::read_to_string(&path).map_err(|e| SizeError::read(&path, e))?;
    parse_budgets(BUDGET_FILE, &text)
}

/// One artefact against its budget.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub artefact: Artefact,
    pub gzip: u64,
    pub budget: Budget,
}

impl Verdict {
    pub fn kib(&self) -> f64 {
        self.gzip as f64 / KIB
    }
    /// The most it may weigh: budget × (1 + [`TOLERANCE`]).
    pub fn limit_kib(&self) -> f64 {
        self.budget.budget_kib * (1.0 + TOLERANCE)
    }
    pub fn over(&self) -> bool {
        self.kib() > self.limit_kib()
    }
    /// Why it fails, naming everything needed to judge it; `None` when within its limit.
    pub fn failure(&self) -> Option<String> {
        self.over().then(|| {
            format!(
                "{} ({}) is {:.1} KiB gzip, over its budget of {:.1} KiB + {:.0}% = {:.1} KiB \
                 ({:.2}× the budget; goal {:.1} KiB, {:.2}× the goal)",
                self.artefact.key(),
                self.artefact.title(),
                self.kib(),
                self.budget.budget_kib,
                TOLERANCE * 100.0,
                self.limit_kib(),
                self.kib() / self.budget.budget_kib,
                self.budget.goal_kib,
                self.kib() / self.budget.goal_kib,
            )
        })
    }
    /// A hint to ratchet the budget down, when the artefact is well under it.
    pub fn lower_hint(&self) -> Option<String> {
        let kib = self.kib();
        if self.budget.budget_kib <= self.budget.goal_kib {
            return None;
        }
        if kib <= self.budget.goal_kib {
            return Some(format!(
                "{} is at its goal: set its budget_kib to the goal, {} (`cargo xtask size --ratchet` does)",
                self.artefact.key(),
                self.budget.goal_kib
            ));
        }
        self.lowered_budget().map(|suggested| {
            format!(
                "{} shrank to {:.1} KiB: lower its budget_kib from {} to {} (`cargo xtask size --ratchet` does)",
                self.artefact.key(),
                kib,
                self.budget.budget_kib,
                suggested
            )
        })
    }
}

impl Verdict {
    /// The budget the ratchet moves to, if lower than today's: the goal once the artefact is at
    /// or under it, else [`ratchet_budget`] of its size. Never higher.
    pub fn lowered_budget(&self) -> Option<f64> {
        let kib = self.kib();
        let target = if kib <= self.budget.goal_kib {
            self.budget.goal_kib
        } else {
            ratchet_budget(kib).max(self.budget.goal_kib)
        };
        (target < self.budget.budget_kib).then_some(target)
    }
}

/// A budget for a measured size: rounded up to the next whole KiB plus 1%, so the ratchet
/// leaves room for noise without hiding a real regression behind the 5% tolerance.
pub fn ratchet_budget(kib: f64) -> f64 {
    (kib * 1.01).ceil()
}

/// A wasm item: a function body or a data segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub bytes: u64,
    pub data: bool,
}

/// Function bodies and data segments of a wasm module, with their names.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    pub items: Vec<Item>,
}

impl Breakdown {
    pub fn total(&self) -> u64 {
        self.items.iter().map(|i| i.bytes).sum()
    }
}

/// Reads a module's code section (each body's size), data section, and "name" section
/// (function and data segment names, demangled).
pub fn analyse(path: &Path, bytes: &[u8]) -> Result<Breakdown, SizeError> {
    use wasmparser::{KnownCustom, Name, Parser, Payload, TypeRef};
    let bad = |e: wasmparser::BinaryReaderError| SizeError::Wasm {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut imported_functions = 0u32;
    let mut bodies: Vec<u64> = Vec::new();
    let mut data: Vec<u64> = Vec::new();
    let mut function_names: BTreeMap<u32, String> = BTreeMap::new();
    let mut data_names: BTreeMap<u32, String> = BTreeMap::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(bad)? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import.map_err(bad)?.ty, TypeRef::Func(_)) {
                        imported_functions += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body.range().len() as u64),
            Payload::DataSection(reader) => {
                for segment in reader {
                    data.push(segment.map_err(bad)?.data.len() as u64);
                }
            }
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(names) = reader.as_known() {
                    for name in names {
                        let (map, target) = match name.map_err(bad)? {
                            Name::Function(map) => (map, &mut function_names),
                            Name::Data(map) => (map, &mut data_names),
                            _ => continue,
                        };
                        for naming in map {
                            let naming = naming.map_err(bad)?;
                            target.insert(naming.index, demangle(naming.name));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut items = Vec::with_capacity(bodies.len() + data.len());
    for (i, bytes) in bodies.into_iter().enumerate() {
        let index = imported_functions + i as u32;
        let name = function_names
            .remove(&index)
            .unwrap_or_else(|| format!("function[{index}]"));
        items.push(Item {
            name,
            bytes,
            data: false,
        });
    }
    for (i, bytes) in data.into_iter().enumerate() {
        let index = i as u32;
        let name = data_names
            .remove(&index)
            .unwrap_or_else(|| format!("data[{index}]"));
        items.push(Item {
            name,
            bytes,
            data: true,
        });
    }
    Ok(Breakdown { items })
}

/// A symbol as Rust writes it, without its hash (`{:#}`); names that are not Rust symbols (or
/// that the linker already demangled) are kept as they are.
fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_owned(),
    }
}

/// [`crate_of`]'s name for the methods of `str`, `char`, integers and slices.
const PRIMITIVE_IMPLS: &str = "core/alloc (primitive types)";

/// The crate a demangled function name belongs to, for the per-crate breakdown.
///
/// - `<T as Trait>::f` and `<T>::f` belong to `T`'s crate (the impl's self type: a
///   `serde::Deserializer` impl in serde_json is serde_json's code). When `T` has no crate of
///   its own (`str`, `[T]`, a generic parameter), the trait's crate.
/// - `core::ptr::drop_in_place<T>` belongs to `T`'s crate: drop glue is generated for the type
///   being dropped, and is a large share of any Rust wasm.
/// - Any other path belongs to its first segment (`serde_json::de::from_str` → serde_json).
/// - `[hash]` disambiguators (v0 mangling) are ignored; `__wbindgen_*` / `__wbg_*` exports are
///   wasm_bindgen's; other unmangled symbols (`memcpy`, `main`, wasm-bindgen's export shims)
///   are listed as such.
/// - `<str>::f` (an inherent method of a primitive type) is the standard library's, core or
///   alloc.
pub fn crate_of(name: &str) -> String {
    let name = strip_disambiguators(name);
    let name = name.trim();
    if name.starts_with("__wbindgen") || name.starts_with("__wbg") {
        return "wasm_bindgen".to_owned();
    }
    if let Some(krate) = qualified_crate(name) {
        return krate;
    }
    if name.starts_with('<') {
        // `<str>::to_lowercase`, `<u64>::_fmt`, `<[T]>::sort`: inherent methods of a primitive
        // type, which the standard library defines in core or alloc (the name does not say which).
        return PRIMITIVE_IMPLS.to_owned();
    }
    if let Some(rest) = name
        .strip_prefix("core::ptr::drop_in_place")
        .map(|r| r.trim_start_matches("::"))
        && let Some(inner) = rest.strip_prefix('<')
        && let Some(krate) = type_crate(inner)
    {
        return krate;
    }
    match first_segment(name) {
        Some(krate) => krate.to_owned(),
        None => "(unmangled symbols)".to_owned(),
    }
}

/// `<Self as Trait>::…` or `<Self>::…` → Self's crate, else Trait's crate.
fn qualified_crate(name: &str) -> Option<String> {
    let inner = name.strip_prefix('<')?;
    let close = matching_close(inner)?;
    let qualified = &inner[..close];
    let (self_ty, trait_path) = match split_top_level_as(qualified) {
        Some((s, t)) => (s, Some(t)),
        None => (qualified, None),
    };
    type_crate(self_ty).or_else(|| trait_path.and_then(type_crate))
}

/// The crate of a type written at the start of `ty`: through references, pointers, `dyn`,
/// slices, arrays and tuples (first element), and nested `<A as B>::Assoc` (A's crate). A
/// single-segment name (`str`, `u8`, a generic `T`) has no crate.
fn type_crate(ty: &str) -> Option<String> {
    let mut t = ty.trim_start();
    loop {
        let before = t;
        for prefix in [
            "&mut ", "&", "*const ", "*mut ", "dyn ", "impl ", "[", "(", "mut ",
        ] {
            if let Some(rest) = t.strip_prefix(prefix) {
                t = rest.trim_start();
            }
        }
        if t == before {
            break;
        }
    }
    if t.starts_with('<') {
        return qualified_crate(t);
    }
    let end = t
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(t.len());
    let path = &t[..end];
    let (krate, rest) = path.split_once("::")?;
    (!krate.is_empty() && !rest.is_empty()).then(|| krate.to_owned())
}

/// The first `::`-separated segment of a plain path, if it is a path at all.
fn first_segment(name: &str) -> Option<&str> {
    let end = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    let head = &name[..end];
    (!head.is_empty() && name[end..].starts_with("::")).then_some(head)
}

/// Index in `s` of the `>` closing the `<` just before `s`.
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            // `->` in a fn pointer type is not a closing bracket.
            '>' if prev == '-' => {}
            '>' if depth == 0 => return Some(i),
            '>' => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    None
}

/// Splits `Self as Trait` at the ` as ` outside any brackets.
fn split_top_level_as(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    let mut prev = b' ';
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if prev == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            b' ' if depth == 0 && s[i..].starts_with(" as ") => {
                return Some((&s[..i], &s[i + 4..]));
            }
            _ => {}
        }
        prev = b;
    }
    None
}

/// Removes v0 mangling's crate disambiguators: `serde_json[1a2b3c]::de` → `serde_json::de`.
fn strip_disambiguators(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']');
        let is_hash = close.is_some_and(|c| {
            c > 0
                && after[..c].chars().all(|ch| ch.is_ascii_hexdigit())
                && open > 0
                && rest[..open]
                    .chars()
                    .next_back()
                    .is_some_and(|ch| ch.is_alphanumeric() || ch == '_')
        });
        match (is_hash, close) {
            (true, Some(c)) => {
                out.push_str(&rest[..open]);
                rest = &after[c + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Code bytes per crate, largest first, plus data segments as `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateSize {
    pub krate: String,
    pub bytes: u64,
    pub functions: usize,
}

pub fn by_crate(breakdown: &Breakdown) -> Vec<CrateSize> {
    let mut sums: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for item in &breakdown.items {
        let key = if item.data {
            "data".to_owned()
        } else {
            crate_of(&item.name)
        };
        let entry = sums.entry(key).or_default();
        entry.0 += item.bytes;
        entry.1 += usize::from(!item.data);
    }
    let mut out: Vec<CrateSize> = sums
        .into_iter()
        .map(|(krate, (bytes, functions))| CrateSize {
            krate,
            bytes,
            functions,
        })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.krate.cmp(&b.krate)));
    out
}

/// The largest items, twiggy `top` style.
pub fn top_text(breakdown: &Breakdown, n: usize) -> String {
    let total = breakdown.total().max(1);
    let mut items: Vec<&Item> = breakdown.items.iter().collect();
    items.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    let mut s = String::from("   Bytes │  Share │ Item\n─────────┼────────┼─────────\n");
    for item in items.into_iter().take(n) {
        let _ = writeln!(
            s,
            "{:>8} │ {:>5.2}% │ {}{}",
            item.bytes,
            item.bytes as f64 * 100.0 / total as f64,
            if item.data { "data " } else { "" },
            shorten(&item.name, 140)
        );
    }
    s
}

/// The per-crate breakdown as text.
pub fn crates_text(breakdown: &Breakdown) -> String {
    let total = breakdown.total().max(1);
    let mut s = String::from(
        "   Bytes │  Share │ Functions │ Crate\n─────────┼────────┼───────────┼──────\n",
    );
    for row in condensed(by_crate(breakdown)) {
        let _ = writeln!(
            s,
            "{:>8} │ {:>5.2}% │ {:>9} │ {}",
            row.bytes,
            row.bytes as f64 * 100.0 / total as f64,
            row.functions,
            row.krate
        );
    }
    s
}

/// The per-crate breakdown as a Markdown table (BENCHMARKS.md).
pub fn crates_markdown(breakdown: &Breakdown) -> String {
    let total = breakdown.total().max(1);
    let mut s = String::from("| Crate | Bytes | Share | Functions |\n|---|---:|---:|---:|\n");
    for row in condensed(by_crate(breakdown)) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1}% | {} |",
            row.krate,
            crate::bench::report::group(row.bytes),
            row.bytes as f64 * 100.0 / total as f64,
            crate::bench::report::group(row.functions as u64)
        );
    }
    let _ = writeln!(
        s,
        "| **total** | {} | 100% | |",
        crate::bench::report::group(total)
    );
    s
}

/// The first [`CRATES_SHOWN`] crates, then one line summing the others.
fn condensed(mut rows: Vec<CrateSize>) -> Vec<CrateSize> {
    if rows.len() > CRATES_SHOWN + 1 {
        let rest = rows.split_off(CRATES_SHOWN);
        rows.push(CrateSize {
            krate: format!("({} other crates)", rest.len()),
            bytes: rest.iter().map(|r| r.bytes).sum(),
            functions: rest.iter().map(|r| r.functions).sum(),
        });
    }
    rows
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let mut s: String = name.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// Reads and analyses an artefact's cargo wasm.
pub fn breakdown(ctx: &Ctx, artefact: Artefact) -> Result<(PathBuf, Breakdown), SizeError> {
    let path = artefact.cargo_wasm(ctx);
    let bytes = fs::read(&path).map_err(|e| SizeError::read(&path, e))?;
    let breakdown = analyse(&path, &bytes)?;
    Ok((path, breakdown))
}

/// What is big in one artefact: its top list and per-crate breakdown, as text, and what grew
/// since the budget's snapshot when it has one.
fn explain(ctx: &Ctx, artefact: Artefact, budget: &Budget) -> String {
    match breakdown(ctx, artefact) {
        Ok((path, b)) => {
            let mut s = format!(
                "\n{}: what is big, from {} (the cargo artefact before wasm-bindgen and wasm-opt: \
                 pre-optimisation code bytes and data segments, {} B in all, not gzip bytes)\n\n\
                 largest {TOP} items:\n{}\nby crate:\n{}",
                artefact.key(),
                path.display(),
                b.total(),
                top_text(&b, TOP),
                crates_text(&b)
            );
            if let Some(then) = &budget.crates_at_budget {
                let _ = write!(
                    s,
                    "\nby crate, change since the budget was set ({BUDGET_FILE} `{CRATES_AT_BUDGET}`):\n{}",
                    changes_text(&changes(&by_crate(&b), then))
                );
            }
            s
        }
        Err(e) => format!("\n{}: no breakdown: {e}\n", artefact.key()),
    }
}

/// Per-crate change from `then` to `now`, `(crate, then, now)`, for crates whose size changed:
/// grown first (most first), then shrunk.
pub fn changes(now: &[CrateSize], then: &BTreeMap<String, u64>) -> Vec<(String, u64, u64)> {
    let mut all: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (krate, bytes) in then {
        all.entry(krate).or_default().0 = *bytes;
    }
    for row in now {
        all.entry(&row.krate).or_default().1 = row.bytes;
    }
    let mut out: Vec<(String, u64, u64)> = all
        .into_iter()
        .filter(|(_, (a, b))| a != b)
        .map(|(k, (a, b))| (k.to_owned(), a, b))
        .collect();
    let delta = |(_, a, b): &(String, u64, u64)| *b as i64 - *a as i64;
    out.sort_by(|x, y| delta(y).cmp(&delta(x)).then_with(|| x.0.cmp(&y.0)));
    out
}

fn changes_text(changes: &[(String, u64, u64)]) -> String {
    if changes.is_empty() {
        return "  (no crate changed)\n".to_owned();
    }
    let mut s = String::from(
        "  Change │     Then │      Now │ Crate\n─────────┼──────────┼──────────┼──────\n",
    );
    let total: i64 = changes.iter().map(|(_, a, b)| *b as i64 - *a as i64).sum();
    for (krate, then, now) in changes.iter().take(TOP) {
        let _ = writeln!(
            s,
            "{:>+8} │ {then:>8} │ {now:>8} │ {krate}",
            *now as i64 - *then as i64
        );
    }
    if changes.len() > TOP {
        let _ = writeln!(s, "  … {} more crates changed", changes.len() - TOP);
    }
    let _ = writeln!(s, "{total:>+8} │ in all");
    s
}

/// The table of every guarded artefact against its budget.
fn table(verdicts: &[Verdict], measured: &[Measured]) -> String {
    let mut s = format!(
        "size budget ({BUDGET_FILE}; gzip -9, KiB = 1,024 B; fails above budget + {:.0}%)\n\n\
         {:<16} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7}  result\n",
        TOLERANCE * 100.0,
        "artefact",
        "gzip KiB",
        "budget",
        "limit",
        "goal",
        "×budget",
        "×goal"
    );
    for v in verdicts {
        let _ = writeln!(
            s,
            "{:<16} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>7.2}× {:>6.2}×  {}",
            v.artefact.key(),
            v.kib(),
            v.budget.budget_kib,
            v.limit_kib(),
            v.budget.goal_kib,
            v.kib() / v.budget.budget_kib,
            v.kib() / v.budget.goal_kib,
            if v.over() {
                "OVER BUDGET"
            } else if v.kib() <= v.budget.goal_kib {
                "ok, goal met"
            } else {
                "ok (goal missed)"
            }
        );
    }
    for m in measured {
        let _ = writeln!(s, "\n{} files (raw / gzip -9 bytes):", m.artefact.key());
        for f in &m.files {
            let _ = writeln!(s, "  {:<28} {:>10} {:>10}", f.label, f.raw, f.gzip);
        }
    }
    s
}

/// Measures `artefacts`, prints the table, and explains what is big: for every artefact when
/// `always_explain` (`cargo xtask size`), else for the ones over budget only. Fails naming each
/// artefact over its limit. Reads built files only; builds nothing.
pub fn guard(ctx: &Ctx, artefacts: &[Artefact], always_explain: bool) -> Result<(), String> {
    let budgets = read_budgets(ctx).map_err(|e| e.to_string())?;
    let mut measured = Vec::new();
    for &artefact in artefacts {
        measured.push(measure(ctx, artefact).map_err(|e| {
            format!("{e} (build it first: `cargo xtask package` and `cargo xtask build`)")
        })?);
    }
    let verdicts: Vec<Verdict> = measured
        .iter()
        .filter_map(|m| {
            budgets
                .iter()
                .find(|(a, _)| *a == m.artefact)
                .map(|(_, budget)| Verdict {
                    artefact: m.artefact,
                    gzip: m.gzip(),
                    budget: budget.clone(),
                })
        })
        .collect();
    eprint!("{}", table(&verdicts, &measured));
    let failures = check(&verdicts);
    for v in &verdicts {
        if always_explain || v.over() {
            eprint!("{}", explain(ctx, v.artefact, &v.budget));
        }
        if let Some(hint) = v.lower_hint() {
            eprintln!("\nnote: {hint}");
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// The failure of every verdict over its limit.
pub fn check(verdicts: &[Verdict]) -> Vec<String> {
    verdicts.iter().filter_map(Verdict::failure).collect()
}

/// `cargo xtask size`: the guard on both artefacts, always with the breakdowns.
/// `--markdown` prints BENCHMARKS.md's "Size by crate" tables instead (what the bench appends);
/// `--ratchet` lowers the budgets in [`BUDGET_FILE`] to what the built artefacts allow.
pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    match args {
        [] => guard(ctx, &Artefact::ALL, true),
        [flag] if flag == "--markdown" => {
            print!("{}", bench_markdown(ctx)?);
            Ok(())
        }
        [flag] if flag == "--ratchet" => ratchet(ctx),
        [arg, ..] => Err(format!(
            "unknown size option `{arg}` (options: --markdown, --ratchet)"
        )),
    }
}

/// Lowers each budget the built artefacts allow ([`Verdict::lowered_budget`]) and records the
/// per-crate snapshot with it (also when there is none yet). Never raises a budget: growth is a
/// deliberate edit of the file. Rewrites the file, keeping its other fields.
fn ratchet(ctx: &Ctx) -> Result<(), String> {
    let path = ctx.root.join(BUDGET_FILE);
    let text = fs::read_to_string(&path).map_err(|e| SizeError::read(&path, e).to_string())?;
    let budgets = parse_budgets(BUDGET_FILE, &text).map_err(|e| e.to_string())?;
    let mut doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    for (artefact, budget) in budgets {
        let measured = measure(ctx, artefact).map_err(|e| e.to_string())?;
        let (_, b) = breakdown(ctx, artefact).map_err(|e| e.to_string())?;
        let verdict = Verdict {
            artefact,
            gzip: measured.gzip(),
            budget,
        };
        let entry = doc
            .get_mut("artefacts")
            .and_then(|a| a.get_mut(artefact.key()))
            .and_then(|e| e.as_object_mut())
            .ok_or_else(|| format!("{BUDGET_FILE}: no entry for `{}`", artefact.key()))?;
        let lowered = verdict.lowered_budget();
        if let Some(kib) = lowered {
            eprintln!(
                "{}: {:.1} KiB gzip; budget {} -> {kib} KiB",
                artefact.key(),
                verdict.kib(),
                verdict.budget.budget_kib
            );
            entry.insert("budget_kib".into(), kib_value(kib));
        } else {
            eprintln!(
                "{}: {:.1} KiB gzip; budget stays {} KiB",
                artefact.key(),
                verdict.kib(),
                verdict.budget.budget_kib
            );
        }
        if lowered.is_some() || verdict.budget.crates_at_budget.is_none() {
            let snapshot: serde_json::Map<String, serde_json::Value> = by_crate(&b)
                .into_iter()
                .map(|row| (row.krate, serde_json::Value::from(row.bytes)))
                .collect();
            entry.insert(CRATES_AT_BUDGET.into(), serde_json::Value::Object(snapshot));
        }
    }
    let mut out = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    out.push('\n');
    fs::write(&path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// A KiB figure for the budget file: a whole number when it is one.
fn kib_value(kib: f64) -> serde_json::Value {
    if kib.fract() == 0.0 && kib < u64::MAX as f64 {
        serde_json::Value::from(kib as u64)
    } else {
        serde_json::Value::from(kib)
    }
}

/// BENCHMARKS.md's "Size by crate" subsection for the browser part: one table per artefact.
pub fn bench_markdown(ctx: &Ctx) -> Result<String, String> {
    let mut s = String::from(
        "### Size by crate\n\n\
         Where the bytes come from: each function body of the cargo artefact (before wasm-bindgen \
         and wasm-opt, so these are pre-optimisation bytes, not the gzip bytes above) \
         attributed to a crate by its symbol name (an impl's method to the crate of its self type, \
         drop glue to the dropped type's crate, any other path to its first segment); data \
         segments are `data`. `cargo xtask size` prints the same tables with the largest functions \
         (xtask/src/size.rs).\n",
    );
    for artefact in Artefact::ALL {
        let (path, b) = breakdown(ctx, artefact).map_err(|e| e.to_string())?;
        let file = path
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let _ = write!(
            s,
            "\n**{}**, from `{file}` ({} B):\n\n{}",
            capitalised(artefact.title()),
            crate::bench::report::group(b.total()),
            crates_markdown(&b)
        );
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impl_methods_belong_to_the_self_types_crate() {
        assert_eq!(
            crate_of(
                "<serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::deserialize_str"
            ),
            "serde_json"
        );
        assert_eq!(
            crate_of(
                "<&mut serde_json::ser::Serializer<W,F> as serde_core::ser::Serializer>::serialize_str"
            ),
            "serde_json"
        );
        assert_eq!(
            crate_of("<alloc::vec::Vec<T,A> as core::clone::Clone>::clone"),
            "alloc"
        );
        // v0 inherent impl: `<Type>::method`.
        assert_eq!(
            crate_of("<defender_tags_core::plan::Plan>::apply"),
            "defender_tags_core"
        );
        // Nested qualified self type.
        assert_eq!(
            crate_of(
                "<<leptos::view::View<T> as tachys::view::Render>::State as tachys::view::Mountable>::unmount"
            ),
            "leptos"
        );
    }

    #[test]
    fn types_without_a_crate_fall_back_to_the_trait() {
        assert_eq!(crate_of("<str as core::fmt::Display>::fmt"), "core");
        assert_eq!(crate_of("<&T as core::fmt::Debug>::fmt"), "core");
        assert_eq!(
            crate_of("<[T] as serde_core::ser::Serialize>::serialize"),
            "serde_core"
        );
        assert_eq!(crate_of("<(A,B) as tachys::view::Render>::build"), "tachys");
    }

    #[test]
    fn plain_paths_belong_to_their_first_segment() {
        assert_eq!(crate_of("serde_json::de::from_str"), "serde_json");
        assert_eq!(
            crate_of("defender_tags_core::odata::parse::{{closure}}"),
            "defender_tags_core"
        );
        assert_eq!(crate_of("alloc::raw_vec::RawVec<T,A>::grow_one"), "alloc");
        assert_eq!(
            crate_of("dlmalloc::dlmalloc::Dlmalloc<A>::malloc"),
            "dlmalloc"
        );
    }

    #[test]
    fn drop_glue_belongs_to_the_dropped_type() {
        assert_eq!(
            crate_of("core::ptr::drop_in_place<serde_json::value::Value>"),
            "serde_json"
        );
        assert_eq!(
            crate_of("core::ptr::drop_in_place::<leptos_router::Routes>"),
            "leptos_router"
        );
        // Nothing to attribute it to: core's.
        assert_eq!(crate_of("core::ptr::drop_in_place<u8>"), "core");
    }

    #[test]
    fn disambiguators_and_unmangled_symbols() {
        assert_eq!(
            crate_of(
                "<serde_json[8f3a1c2b]::de::Deserializer<_> as serde_core[12ab]::de::Deserializer>::deserialize_any"
            ),
            "serde_json"
        );
        assert_eq!(crate_of("core[5e1b]::fmt::write"), "core");
        assert_eq!(strip_disambiguators("a[1f]::b<[u8; 4]>"), "a::b<[u8; 4]>");
        assert_eq!(crate_of("__wbindgen_malloc"), "wasm_bindgen");
        assert_eq!(crate_of("__wbg_fetch_1234"), "wasm_bindgen");
        assert_eq!(crate_of("memcpy"), "(unmangled symbols)");
        assert_eq!(crate_of("<str>::to_lowercase"), PRIMITIVE_IMPLS);
        assert_eq!(crate_of("<[T]>::sort_by"), PRIMITIVE_IMPLS);
        // LLVM's `.N` suffix on a duplicated local symbol changes nothing.
        assert_eq!(crate_of("<char>::to_uppercase.409"), PRIMITIVE_IMPLS);
        assert_eq!(
            crate_of("<std::hash::random::DefaultHasher as core::hash::Hasher>::finish.2595"),
            "std"
        );
    }

    #[test]
    fn mangled_names_are_demangled_without_hash() {
        assert_eq!(
            demangle("_ZN10serde_json2de8from_str17h0123456789abcdefE"),
            "serde_json::de::from_str"
        );
        assert_eq!(demangle("memcpy"), "memcpy");
    }

    fn budget(goal: f64, budget: f64) -> Budget {
        Budget {
            goal_kib: goal,
            budget_kib: budget,
            crates_at_budget: None,
        }
    }

    #[test]
    fn over_budget_fails_naming_the_artefact() {
        // 300 KiB against a budget of 250: over 262.5.
        let v = Verdict {
            artefact: Artefact::Package,
            gzip: 300 * 1024,
            budget: budget(80.0, 250.0),
        };
        let failures = check(std::slice::from_ref(&v));
        assert_eq!(failures.len(), 1);
        let f = &failures[0];
        assert!(f.starts_with("package ("), "{f}");
        assert!(f.contains("300.0 KiB gzip"), "{f}");
        assert!(f.contains("262.5 KiB"), "{f}");
        assert!(f.contains("1.20× the budget"), "{f}");
        assert!(f.contains("goal 80.0 KiB, 3.75× the goal"), "{f}");
    }

    #[test]
    fn within_tolerance_passes_and_the_edge_is_exact() {
        let at_limit = Verdict {
            artefact: Artefact::SpaFirstLoad,
            gzip: 210 * 1024, // budget 200 + 5% = 210
            budget: budget(100.0, 200.0),
        };
        assert!(check(std::slice::from_ref(&at_limit)).is_empty());
        let one_byte_more = Verdict {
            gzip: 210 * 1024 + 1,
            ..at_limit
        };
        assert_eq!(check(&[one_byte_more]).len(), 1);
    }

    #[test]
    fn ratchet_hints() {
        let shrunk = Verdict {
            artefact: Artefact::Package,
            gzip: 150 * 1024,
            budget: budget(80.0, 264.0),
        };
        let hint = shrunk.lower_hint().unwrap_or_default();
        assert!(hint.contains("from 264 to 152"), "{hint}");
        let at_goal = Verdict {
            gzip: 79 * 1024,
            ..shrunk.clone()
        };
        assert!(
            at_goal
                .lower_hint()
                .unwrap_or_default()
                .contains("at its goal")
        );
        let budget_is_goal = Verdict {
            budget: budget(80.0, 80.0),
            ..at_goal
        };
        assert_eq!(budget_is_goal.lower_hint(), None);
    }

    #[test]
    fn what_grew_since_the_snapshot() {
        let now = vec![
            CrateSize {
                krate: "serde_json".into(),
                bytes: 1500,
                functions: 3,
            },
            CrateSize {
                krate: "core".into(),
                bytes: 900,
                functions: 2,
            },
            CrateSize {
                krate: "new_dep".into(),
                bytes: 200,
                functions: 1,
            },
            CrateSize {
                krate: "alloc".into(),
                bytes: 50,
                functions: 1,
            },
        ];
        let then: BTreeMap<String, u64> = [
            ("serde_json", 1000),
            ("core", 1000),
            ("gone", 30),
            ("alloc", 50),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let got = changes(&now, &then);
        assert_eq!(
            got,
            vec![
                ("serde_json".to_owned(), 1000, 1500),
                ("new_dep".to_owned(), 0, 200),
                ("gone".to_owned(), 30, 0),
                ("core".to_owned(), 1000, 900),
            ]
        );
        let text = changes_text(&got);
        assert!(
            text.contains("    +500 │     1000 │     1500 │ serde_json"),
            "{text}"
        );
        assert!(text.contains("    +570 │ in all"), "{text}");
        assert_eq!(changes_text(&[]), "  (no crate changed)\n");
    }

    #[test]
    fn the_ratchet_only_goes_down() {
        let v = |kib: u64, goal: f64, budget_kib: f64| Verdict {
            artefact: Artefact::Package,
            gzip: kib * 1024,
            budget: budget(goal, budget_kib),
        };
        assert_eq!(v(150, 80.0, 264.0).lowered_budget(), Some(152.0));
        assert_eq!(v(79, 80.0, 264.0).lowered_budget(), Some(80.0));
        // Grown, or just under the budget's rounding: unchanged.
        assert_eq!(v(300, 80.0, 264.0).lowered_budget(), None);
        assert_eq!(v(262, 80.0, 264.0).lowered_budget(), None);
        assert_eq!(v(70, 80.0, 80.0).lowered_budget(), None);
        assert_eq!(kib_value(152.0), serde_json::json!(152));
        assert_eq!(kib_value(80.5), serde_json::json!(80.5));
    }

    /// The error a budget file is refused with.
    fn refused(text: &str) -> String {
        parse_budgets("b.json", text)
            .map(drop)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn budget_file_is_checked() {
        let ok = r#"{"artefacts": {"package": {"goal_kib": 80, "budget_kib": 270},
            "spa-first-load": {"goal_kib": 300, "budget_kib": 750}}}"#;
        let budgets = parse_budgets("b.json", ok).unwrap_or_default();
        assert_eq!(
            budgets,
            vec![
                (Artefact::Package, budget(80.0, 270.0)),
                (Artefact::SpaFirstLoad, budget(300.0, 750.0))
            ]
        );
        let typo = ok.replace("spa-first-load", "spa");
        let e = refused(&typo);
        assert!(e.contains("unknown artefact `spa`"), "{e}");
        let below_goal = ok.replace("270", "70");
        let e = refused(&below_goal);
        assert!(
            e.contains("`package.budget_kib` (70) is below its goal (80)"),
            "{e}"
        );
        let with_snapshot = ok.replace(
            r#""budget_kib": 270}"#,
            r#""budget_kib": 270, "crates_at_budget": {"serde_json": 1000}}"#,
        );
        let snapshot = parse_budgets("b.json", &with_snapshot)
            .map(|b| b[0].1.crates_at_budget.clone())
            .map_err(|e| e.to_string());
        assert_eq!(
            snapshot,
            Ok(Some(
                [("serde_json".to_owned(), 1000)].into_iter().collect()
            ))
        );
        let bad_snapshot = with_snapshot.replace("1000", "-1");
        let e = refused(&bad_snapshot);
        assert!(
            e.contains("`package.crates_at_budget` must map crate names to byte counts"),
            "{e}"
        );
        let not_a_number = ok.replace("750", "\"750\"");
        let e = refused(&not_a_number);
        assert!(
            e.contains("`spa-first-load.budget_kib` must be a positive number"),
            "{e}"
        );
    }

    #[test]
    fn the_checked_in_budget_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("size-budget.json");
        let text = fs::read_to_string(&path).unwrap_or_default();
        let budgets = parse_budgets(BUDGET_FILE, &text).map_err(|e| e.to_string());
        assert_eq!(budgets.map(|b| b.len()), Ok(Artefact::ALL.len()));
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
            "export { a } from './more.js';\nmodule_or_path = new URL('web_ui_bg.wasm', import.meta.url);\n",
        );
        write("pkg/more.js", "export const a = 1;");
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

    #[test]
    fn analyse_reads_bodies_data_and_names() {
        let m = test_wasm::tiny_module();
        let b = analyse(Path::new("t.wasm"), &m).map_err(|e| e.to_string());
        let items = b.map(|b| b.items);
        assert_eq!(
            items,
            Ok(vec![
                Item {
                    name: "function[1]".into(),
                    bytes: 2,
                    data: false
                },
                Item {
                    name: "serde_json::de::from_str".into(),
                    bytes: 6,
                    data: false
                },
                Item {
                    name: "data[0]".into(),
                    bytes: 5,
                    data: true
                },
            ])
        );
        let garbage = analyse(Path::new("t.wasm"), b"\0asm\x01\0\0\0\x0a\xff");
        assert!(matches!(garbage, Err(SizeError::Wasm { .. })));
    }

    #[test]
    fn by_crate_sums_and_sorts() {
        let item = |name: &str, bytes, data| Item {
            name: name.into(),
            bytes,
            data,
        };
        let b = Breakdown {
            items: vec![
                item("serde_json::de::from_str", 10, false),
                item("<serde_json::Value as core::clone::Clone>::clone", 5, false),
                item("core::fmt::write", 7, false),
                item(".rodata", 30, true),
            ],
        };
        let rows = by_crate(&b);
        let got: Vec<(&str, u64, usize)> = rows
            .iter()
            .map(|r| (r.krate.as_str(), r.bytes, r.functions))
            .collect();
        assert_eq!(
            got,
            vec![("data", 30, 0), ("serde_json", 15, 2), ("core", 7, 1)]
        );
        let md = crates_markdown(&b);
        assert!(md.contains("| serde_json | 15 | 28.8% | 2 |"), "{md}");
        assert!(md.contains("| **total** | 52 | 100% | |"), "{md}");
        let top = top_text(&b, 2);
        assert!(top.contains("data .rodata"), "{top}");
        assert!(!top.contains("core::fmt::write"), "{top}");
    }
}

/// A wasm module for tests, by hand.
#[cfg(test)]
pub mod test_wasm {
    /// One imported function, two bodies (2 and 6 bytes), one 5-byte data segment, and a name
    /// section naming the second body with a mangled Rust symbol (`serde_json::de::from_str`).
    pub fn tiny_module() -> Vec<u8> {
        fn leb(mut n: usize, out: &mut Vec<u8>) {
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
            out.push(id);
            leb(body.len(), out);
            out.extend_from_slice(body);
        }
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        section(1, &[1, 0x60, 0, 0], &mut m); // type 0: [] -> []
        section(2, &[1, 1, b'e', 1, b'f', 0, 0], &mut m); // import e.f: func type 0
        section(3, &[2, 0, 0], &mut m); // two functions of type 0
        section(5, &[1, 0, 1], &mut m); // memory min 1
        // Bodies: `end` (2 bytes with locals count), and nop×4 + end (6 bytes).
        section(10, &[2, 2, 0, 0x0b, 6, 0, 1, 1, 1, 1, 0x0b], &mut m);
        section(11, &[1, 0, 0x41, 0, 0x0b, 5, 1, 2, 3, 4, 5], &mut m); // data: 5 bytes
        let symbol = b"_ZN10serde_json2de8from_str17h0123456789abcdefE";
        let mut names = Vec::new();
        leb(4, &mut names);
        names.extend_from_slice(b"name");
        let mut functions = vec![1u8, 2]; // one naming, index 2 (the import is index 0)
        leb(symbol.len(), &mut functions);
        functions.extend_from_slice(symbol);
        names.push(1); // function names subsection
        leb(functions.len(), &mut names);
        names.extend_from_slice(&functions);
        section(0, &names, &mut m);
        m
    }
}
