//! `cargo xtask dist --config FILE [--base-path /some/path/] [--site DIR] --out DIR`: the
//! production bundle of the web UI for an organisation's own hosting (docs/deploy.md).
//!
//! The site configuration is checked with core's [`SiteConfig::parse`] before anything is built
//! or written; every field error is printed and the command fails. Then the site
//! (`target/site`, see [`site::build`]) is turned into:
//! ```text
//! DIR/public/                       the folder to publish (a web root)
//!     {basePath}index.html          no-cache; <meta name="defender-tags-base">, hashed URLs
//!     {basePath}config.json         no-cache; the checked configuration
//!     {basePath}app.<hash>.css …    every other asset, content-hashed: cached immutably
//!     {basePath}pkg/web_ui.<hash>.js, pkg/web_ui_bg.<hash>.wasm
//!     staticwebapp.config.json      Azure Static Web Apps
//!     _headers, _redirects          Netlify / Cloudflare Pages
//! DIR/nginx.conf                    an nginx server block serving DIR/public
//! ```
//! The demo-only `embed/` examples are left out. The Content-Security-Policy comes from the
//! configuration ([`SiteConfig::content_security_policy`]); the hosting files send it as a
//! header, which is the only way `frame-ancestors` takes effect.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use defender_tags_core::SiteConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ctx::Ctx;
use crate::site;

/// Hex digits of the SHA-256 prefix in hashed names (48 bits: collisions are not a concern for
/// one site's handful of files, and the names stay readable).
const HASH_HEX: usize = 12;
/// Extensions that are content-hashed and cached immutably. Anything else in the site is an
/// error, so the hosting rules below never miss a file type.
const HASHED_EXTENSIONS: [&str; 4] = ["css", "js", "svg", "wasm"];
/// `Cache-Control` of hashed assets and of the files that must be revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";
/// Files of the site that never ship in a bundle (demo-only examples).
const LEFT_OUT: [&str; 1] = ["embed"];

const USAGE: &str =
    "usage: cargo xtask dist --config FILE [--base-path /some/path/] [--site DIR] --out DIR
  --config FILE      the site configuration (config.json; schema in docs/deploy.md)
  --base-path PATH   host under PATH (overrides basePath in the configuration)
  --site DIR         bundle an already built site instead of building target/site
  --out DIR          where to write the bundle (a new or empty folder, or an earlier bundle)";

#[derive(Debug)]
struct Options {
    config: PathBuf,
    base_path: Option<String>,
    site: Option<PathBuf>,
    out: PathBuf,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut config = None;
        let mut base_path = None;
        let mut site = None;
        let mut out = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--config" => config = Some(PathBuf::from(value("--config")?)),
                "--base-path" => base_path = Some(value("--base-path")?),
                "--site" => site = Some(PathBuf::from(value("--site")?)),
                "--out" => out = Some(PathBuf::from(value("--out")?)),
                "--help" | "-h" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown dist option `{other}`\n{USAGE}")),
            }
        }
        Ok(Self {
            config: config.ok_or_else(|| format!("--config is required\n{USAGE}"))?,
            base_path,
            site,
            out: out.ok_or_else(|| format!("--out is required\n{USAGE}"))?,
        })
    }
}

pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    let opts = Options::parse(args)?;
    // Everything that can be wrong with the input is found before anything is built or written.
    let checked = check_config(&opts.config, opts.base_path.as_deref())?;
    let out = absolute(&opts.out)?;
    check_out_dir(&out)?;
    let site = match &opts.site {
        Some(dir) => dir.clone(),
        None => {
            // Like `demo`: a fresh machine gets the build tools, not a "run xtask tools" hint.
            crate::tools::ensure_wasm_target()?;
            crate::tools::ensure_wasm_bindgen(ctx)?;
            crate::tools::ensure_npm(ctx)?;
            site::build(ctx, site::Profile::Release)?
        }
    };
    write_bundle(&site, &checked, &out)?;
    eprintln!(
        "dist: {} (base path {}; publish {}/public)",
        out.display(),
        checked.config.base_path,
        out.display()
    );
    Ok(())
}

/// A configuration that passed [`SiteConfig::parse`], with the text to ship as `config.json`.
#[derive(Debug)]
pub struct Checked {
    pub config: SiteConfig,
    pub text: String,
}

/// Reads and validates the configuration; `base_path` replaces its `basePath`. The error lists
/// every field problem, one per line.
pub fn check_config(path: &Path, base_path: Option<&str>) -> Result<Checked, String> {
    let original = fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration {}: {e}", path.display()))?;
    let text = match (base_path, serde_json::from_str::<Value>(&original)) {
        (Some(base), Ok(Value::Object(mut obj))) => {
            obj.insert("basePath".to_owned(), Value::String(base.to_owned()));
            let mut text = serde_json::to_string_pretty(&Value::Object(obj))
                .map_err(|e| format!("cannot write the configuration: {e}"))?;
            text.push('\n');
            text
        }
        // Not an object: the parser below reports what it is.
        _ => original,
    };
    match SiteConfig::parse(&text) {
        Ok(config) => Ok(Checked { config, text }),
        Err(errors) => {
            let mut message = format!(
                "{} is not a valid site configuration; nothing was written:",
                path.display()
            );
            for e in &errors {
                message.push_str("\n  ");
                message.push_str(&e.to_string());
                if e.field == "basePath" && base_path.is_some() {
                    message.push_str(" (given with --base-path)");
                }
            }
            Err(message)
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .map_err(|e| format!("cannot read the current directory: {e}"))
}

/// nginx.conf names the folder in a quoted string, where `$` would still start a variable.
fn check_out_name(out: &Path) -> Result<(), String> {
    if out
        .to_string_lossy()
        .chars()
        .any(|c| matches!(c, '"' | '$' | '\\') || c.is_control())
    {
        return Err(format!(
            "--out {} contains a character nginx.conf cannot name (\", $, \\ or a control \
             character); choose another folder",
            out.display()
        ));
    }
    Ok(())
}

/// `out` must be new, empty, or an earlier bundle (which is replaced): never someone's folder.
fn check_out_dir(out: &Path) -> Result<(), String> {
    check_out_name(out)?;
    let Ok(mut entries) = fs::read_dir(out) else {
        if out.exists() {
            return Err(format!("--out {} is not a folder", out.display()));
        }
        return Ok(());
    };
    let is_empty = entries.next().is_none();
    let earlier_bundle = out.join("nginx.conf").is_file() && out.join("public").is_dir();
    if is_empty || earlier_bundle {
        Ok(())
    } else {
        Err(format!(
            "--out {} is not empty and not an earlier bundle; choose a new or empty folder",
            out.display()
        ))
    }
}

/// Writes the bundle into a staging folder beside `out` and moves it into place at the end, so
/// a failure leaves no half-written bundle.
pub fn write_bundle(site: &Path, checked: &Checked, out: &Path) -> Result<(), String> {
    let config = &checked.config;
    let base = config.base_path.as_str();
    let files = read_site(site)?;
    let assets = hash_assets(&files, base)?;
    let index = files
        .get("index.html")
        .ok_or_else(|| format!("{} has no index.html", site.display()))?;
    let index =
        String::from_utf8(index.clone()).map_err(|_| "index.html is not UTF-8 text".to_owned())?;
    let index = production_index(&index, config, &assets)?;

    check_out_name(out)?;
    let parent = out
        .parent()
        .ok_or_else(|| format!("--out {} has no parent folder", out.display()))?;
    fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let name = out
        .file_name()
        .ok_or_else(|| format!("--out {} has no folder name", out.display()))?
        .to_string_lossy();
    let stage = parent.join(format!(".{name}.staging-{}", std::process::id()));
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(|e| format!("cannot clear {}: {e}", stage.display()))?;
    }
    let result = (|| {
        let public = stage.join("public");
        let app = public.join(base.trim_start_matches('/'));
        write(&app.join("index.html"), index.as_bytes())?;
        write(&app.join("config.json"), checked.text.as_bytes())?;
        for asset in assets.values() {
            write(&app.join(&asset.hashed), &asset.bytes)?;
        }
        let headers = Headers::new(config, &assets);
        write(
            &stage.join("nginx.conf"),
            headers.nginx(&out.join("public")).as_bytes(),
        )?;
        write(
            &public.join("staticwebapp.config.json"),
            headers.static_web_app()?.as_bytes(),
        )?;
        write(&public.join("_headers"), headers.netlify().as_bytes())?;
        write(&public.join("_redirects"), headers.redirects().as_bytes())?;
        match fs::remove_dir_all(out) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot replace {}: {e}", out.display())),
        }
        fs::rename(&stage, out)
            .map_err(|e| format!("cannot move {} to {}: {e}", stage.display(), out.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&stage);
    }
    result
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Every file of the site by its `/`-separated relative path, without [`LEFT_OUT`].
fn read_site(site: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), String> {
        let entries =
            fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if prefix.is_empty() && LEFT_OUT.contains(&name.as_str()) {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &format!("{rel}/"), out)?;
            } else {
                let bytes =
                    fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                out.insert(rel, bytes);
            }
        }
        Ok(())
    }
    let mut files = BTreeMap::new();
    walk(site, "", &mut files)?;
    for needed in [
        "index.html",
        "boot.js",
        "pkg/web_ui.js",
        "pkg/web_ui_bg.wasm",
    ] {
        if !files.contains_key(needed) {
            return Err(format!(
                "{} has no {needed}: build the site first (`cargo xtask build`)",
                site.display()
            ));
        }
    }
    Ok(files)
}

/// A content-hashed asset.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Path under the base, e.g. `pkg/web_ui.0123456789ab.js`.
    pub hashed: String,
    /// Content, references already rewritten.
    pub bytes: Vec<u8>,
}

/// `dir/name.ext` -> `dir/name.<hash of bytes>.ext`.
fn hashed_name(rel: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hash: String = digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(HASH_HEX)
        .collect();
    match rel.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{rel}.{hash}"),
    }
}

fn extension(rel: &str) -> &str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.rsplit_once('.').map_or("", |(_, ext)| ext)
}

fn dir_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The quoted spellings by which `from` (a site file) can refer to `to`: relative to its folder
/// (`"./pkg/web_ui.js"`, `'web_ui_bg.wasm'`) or from the site root (`"/app.css"`).
fn reference_forms(from: &str, to: &str) -> Vec<String> {
    let mut paths = vec![format!("/{to}")];
    let from_dir = dir_of(from);
    let relative = if from_dir.is_empty() {
        Some(to)
    } else {
        to.strip_prefix(&format!("{from_dir}/"))
    };
    if let Some(rel) = relative {
        paths.push(rel.to_owned());
        paths.push(format!("./{rel}"));
    }
    paths
        .iter()
        .flat_map(|p| [format!("\"{p}\""), format!("'{p}'")])
        .collect()
}

/// Replaces every reference of `text` (a file at `from`) to another asset with the asset's
/// absolute hashed URL under `base`.
fn rewrite_references(
    text: &str,
    from: &str,
    hashed: &BTreeMap<String, Asset>,
    base: &str,
) -> String {
    let mut text = text.to_owned();
    for (to, asset) in hashed {
        if to == from {
            continue;
        }
        for form in reference_forms(from, to) {
            let quote = &form[..1];
            let url = format!("{quote}{base}{}{quote}", asset.hashed);
            text = replace_urls(&text, &form, &url);
        }
    }
    text
}

/// Replaces each `form` in `text` with `url`, except where it is an object key (followed by
/// `:`): wasm-bindgen's glue passes the wasm its imports in an object keyed by the module names
/// the wasm itself asks for (`"./__wasm_split.js": import1`), which must stay as they are.
fn replace_urls(text: &str, form: &str, url: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(form) {
        let after = &rest[i + form.len()..];
        out.push_str(&rest[..i]);
        if after.trim_start().starts_with(':') {
            out.push_str(form);
        } else {
            out.push_str(url);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Which other site files a text file refers to.
fn references(text: &str, from: &str, all: &BTreeSet<String>) -> BTreeSet<String> {
    all.iter()
        .filter(|to| *to != from)
        .filter(|to| reference_forms(from, to).iter().any(|f| text.contains(f)))
        .cloned()
        .collect()
}

/// Hashes every asset but `index.html`, leaves first: a file's references are rewritten before
/// its own hash is taken, so changing the wasm changes the glue's name, which changes
/// `boot.js`'s, and a cached old file is never combined with a new one.
///
/// Files that refer to each other in a cycle (the SPA's glue imports its split loader, which
/// imports the glue back: `xtask/src/split.rs`) cannot each be named after content that holds the
/// other's name. They share one hash, of all their contents with their references outside the
/// cycle already rewritten: a change in any of them renames them all, which keeps the guarantee.
pub fn hash_assets(
    files: &BTreeMap<String, Vec<u8>>,
    base: &str,
) -> Result<BTreeMap<String, Asset>, String> {
    let names: BTreeSet<String> = files
        .keys()
        .filter(|k| *k != "index.html")
        .cloned()
        .collect();
    for name in &names {
        if !HASHED_EXTENSIONS.contains(&extension(name)) {
            return Err(format!(
                "the site has {name}, a file type dist does not know how to serve; \
                 teach xtask/src/dist.rs its caching rules (HASHED_EXTENSIONS)"
            ));
        }
    }
    let mut texts = BTreeMap::new();
    let mut deps = BTreeMap::new();
    for name in &names {
        let bytes = &files[name];
        let is_text = matches!(extension(name), "css" | "js" | "svg");
        let refs = match (is_text, std::str::from_utf8(bytes)) {
            (true, Ok(text)) => {
                texts.insert(name.clone(), text.to_owned());
                references(text, name, &names)
            }
            _ => BTreeSet::new(),
        };
        deps.insert(name.clone(), refs);
    }
    let mut done: BTreeMap<String, Asset> = BTreeMap::new();
    while done.len() < names.len() {
        let left: BTreeSet<String> = names
            .iter()
            .filter(|n| !done.contains_key(*n))
            .cloned()
            .collect();
        let group = next_group(&left, &deps)?;
        // Each member's references outside the group, rewritten.
        let outer: Vec<(String, Vec<u8>)> = group
            .iter()
            .map(|name| {
                let bytes = match texts.get(name) {
                    Some(text) => rewrite_references(text, name, &done, base).into_bytes(),
                    None => files[name].clone(),
                };
                (name.clone(), bytes)
            })
            .collect();
        if let [(name, bytes)] = outer.as_slice() {
            let hashed = hashed_name(name, bytes);
            done.insert(
                name.clone(),
                Asset {
                    hashed,
                    bytes: bytes.clone(),
                },
            );
            continue;
        }
        let mut joint = Vec::new();
        for (name, bytes) in &outer {
            joint.extend_from_slice(name.as_bytes());
            joint.push(0);
            joint.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            joint.extend_from_slice(bytes);
        }
        let inner: BTreeMap<String, Asset> = outer
            .iter()
            .map(|(name, _)| {
                let hashed = hashed_name(name, &joint);
                (
                    name.clone(),
                    Asset {
                        hashed,
                        bytes: Vec::new(),
                    },
                )
            })
            .collect();
        for (name, bytes) in outer {
            let bytes = match std::str::from_utf8(&bytes) {
                Ok(text) if texts.contains_key(&name) => {
                    rewrite_references(text, &name, &inner, base).into_bytes()
                }
                _ => bytes,
            };
            let hashed = inner[&name].hashed.clone();
            done.insert(name, Asset { hashed, bytes });
        }
    }
    Ok(done)
}

/// The files to hash next: a file whose references are all hashed, else the smallest set of
/// files that refer to each other in a cycle and otherwise only to hashed files. One of either
/// always exists (the cycles of a graph, contracted, leave a graph without cycles), so the loop
/// in [`hash_assets`] always makes progress.
fn next_group(
    left: &BTreeSet<String>,
    deps: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<String>, String> {
    // Which unhashed files each unhashed file reaches.
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for d in deps[&n].iter().filter(|d| left.contains(*d)) {
                if seen.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = left.iter().map(|n| (n, reach(n))).collect();
    for name in left {
        // Its cycle: itself and whatever it reaches that reaches it back.
        let mut group: Vec<String> = reaches[name]
            .iter()
            .filter(|m| reaches[*m].contains(name))
            .cloned()
            .collect();
        if !group.contains(name) {
            group.push(name.clone());
        }
        // Ready when everything the group reaches is in the group.
        if reaches[name].iter().all(|m| group.contains(m)) {
            group.sort();
            return Ok(group);
        }
    }
    Err(format!(
        "cannot order the site's files for hashing (a bug in xtask/src/dist.rs): {left:?}"
    ))
}

/// `index.html` for production: comments (which describe the dev site) dropped, the static CSP
/// replaced with the configuration's, the base path announced, asset URLs hashed and absolute.
pub fn production_index(
    html: &str,
    config: &SiteConfig,
    assets: &BTreeMap<String, Asset>,
) -> Result<String, String> {
    let base = config.base_path.as_str();
    let mut out = strip_comments(html)?;
    // A <meta> policy may not carry frame-ancestors (browsers ignore it there and log an error);
    // the hosting files send the full policy as a header. The meta copy keeps the page
    // protected on a host that sends no headers at all.
    let meta_csp = config
        .content_security_policy()
        .split("; ")
        .filter(|d| !d.starts_with("frame-ancestors"))
        .collect::<Vec<_>>()
        .join("; ");
    let csp_tag = format!(r#"<meta http-equiv="Content-Security-Policy" content="{meta_csp}">"#);
    let base_tag = format!(r#"<meta name="defender-tags-base" content="{base}">"#);
    let mut head_tags = base_tag;
    match find_tag(&out, r#"<meta http-equiv="Content-Security-Policy""#) {
        Some((start, end)) => out = format!("{}{csp_tag}{}", &out[..start], &out[end..]),
        None => head_tags = format!("{head_tags}\n  {csp_tag}"),
    }
    out = match find_tag(&out, "<meta charset") {
        Some((_, end)) => format!("{}\n  {head_tags}{}", &out[..end], &out[end..]),
        None => return Err("index.html has no <meta charset> tag".to_owned()),
    };
    out = rewrite_references(&out, "index.html", assets, base);
    check_index_urls(&out, base, assets)?;
    Ok(out)
}

/// The span of the first tag starting with `prefix`, through its `>`.
fn find_tag(html: &str, prefix: &str) -> Option<(usize, usize)> {
    let start = html.find(prefix)?;
    let end = start + html[start..].find('>')? + 1;
    Some((start, end))
}

/// `html` without its `<!-- … -->` comments (also the size guard's first-load list: a commented-out
/// script is not loaded).
pub fn strip_comments(html: &str) -> Result<String, String> {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<!--") {
        let end = rest[start..]
            .find("-->")
            .ok_or("index.html has an unclosed <!-- comment")?;
        out.push_str(rest[..start].trim_end_matches([' ', '\t']));
        rest = &rest[start + end + 3..];
        // Drop the line break the comment leaves behind.
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    out.push_str(rest);
    Ok(out)
}

/// Every `src`/`href` of the production page must be a hashed asset under the base: a
/// reference dist did not rewrite would 404 (or, worse, load a stale file).
fn check_index_urls(
    html: &str,
    base: &str,
    assets: &BTreeMap<String, Asset>,
) -> Result<(), String> {
    let known: BTreeSet<String> = assets
        .values()
        .map(|a| format!("{base}{}", a.hashed))
        .collect();
    for attr in [" src=\"", " href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let url = rest.split('"').next().unwrap_or_default();
            if !known.contains(url) {
                return Err(format!(
                    "index.html refers to {url:?}, which is not a file of the bundle"
                ));
            }
        }
    }
    Ok(())
}

/// The response headers of the bundle, written out for each kind of host.
struct Headers<'a> {
    base: &'a str,
    csp: String,
    /// Hashed paths under the base, sorted.
    hashed: Vec<String>,
}

impl<'a> Headers<'a> {
    fn new(config: &'a SiteConfig, assets: &BTreeMap<String, Asset>) -> Self {
        let mut hashed: Vec<String> = assets.values().map(|a| a.hashed.clone()).collect();
        hashed.sort();
        Self {
            base: &config.base_path,
            csp: config.content_security_policy(),
            hashed,
        }
    }

    fn security(&self) -> [(&'static str, &str); 3] {
        [
            ("Content-Security-Policy", &self.csp),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ]
    }

    /// An nginx `server` block for the `http` context. nginx drops a level's `add_header`s as
    /// soon as a nested location adds its own, so every location repeats the security headers.
    fn nginx(&self, root: &Path) -> String {
        let base = self.base;
        let add = |indent: &str, cache: Option<&str>| {
            let mut s = String::new();
            for (name, value) in self.security() {
                s.push_str(&format!("{indent}add_header {name} \"{value}\" always;\n"));
            }
            if let Some(cache) = cache {
                s.push_str(&format!(
                    "{indent}add_header Cache-Control \"{cache}\" always;\n"
                ));
            }
            s
        };
        // Base paths are letters, digits and -._~ (core's check_base_path); only '.' is special
        // in a regular expression.
        let base_re = base.replace('.', "\\.");
        let hash = format!("[0-9a-f]{{{HASH_HEX}}}");
        let mut s = format!(
            "# defender-tags: generated by `cargo xtask dist` from the site configuration.\n\
             # Regenerate it rather than editing: the Content-Security-Policy follows the tenants'\n\
             # sign-in and API origins.\n\
             #\n\
             # A server block for nginx's http {{}} context (e.g. /etc/nginx/conf.d/defender-tags.conf).\n\
             # Set listen/server_name and TLS for your host, and root if you move the public/ folder.\n\
             server {{\n\
             \x20   listen 80;\n\
             \x20   server_name _;\n\
             \x20   root \"{root}\";\n\
             \x20   absolute_redirect off;\n\
             \x20   server_tokens off;\n\
             \x20   gzip on;\n\
             \x20   gzip_vary on;\n\
             \x20   gzip_types application/wasm application/javascript text/css image/svg+xml application/json;\n\
             \n\
             {server_headers}\
             \n\
             \x20   # Other hosts' configuration files are not content.\n\
             \x20   location = /_headers {{ return 404; }}\n\
             \x20   location = /_redirects {{ return 404; }}\n\
             \x20   location = /staticwebapp.config.json {{ return 404; }}\n\n",
            root = root.display(),
            server_headers = add("    ", None),
        );
        if base != "/" {
            let bare = base.trim_end_matches('/');
            // The app's router may write its root route without the trailing slash; a reload of
            // such a URL keeps its query (the search) through the redirect.
            s.push_str(&format!(
                "    location = {bare} {{\n        return 301 {base}$is_args$args;\n    }}\n\n"
            ));
        }
        s.push_str(&format!(
            "    # The app: files as they are, any other path under the base is a route of the\n\
             \x20   # single-page app and gets index.html. Both revalidate on every load.\n\
             \x20   location ^~ {base} {{\n\
             {headers}\
             \x20       try_files $uri {base}index.html;\n\
             \n\
             \x20       location = {base}config.json {{\n\
             {config_headers}\
             \x20           try_files $uri =404;\n\
             \x20       }}\n\
             \n\
             \x20       # Content-hashed names never change content: cache them for good, and never\n\
             \x20       # answer a missing one with index.html.\n\
             \x20       location ~ \"^{base_re}.*\\.{hash}\\.wasm$\" {{\n\
             \x20           types {{ application/wasm wasm; }}\n\
             \x20           default_type application/wasm;\n\
             {immutable}\
             \x20           try_files $uri =404;\n\
             \x20       }}\n\
             \x20       location ~ \"^{base_re}.*\\.{hash}\\.(css|js|svg)$\" {{\n\
             {immutable}\
             \x20           try_files $uri =404;\n\
             \x20       }}\n\
             \x20   }}\n",
            headers = add("        ", Some(NO_CACHE)),
            config_headers = add("            ", Some(NO_CACHE)),
            immutable = add("            ", Some(IMMUTABLE)),
        ));
        if base != "/" {
            s.push_str("\n    # Nothing is served outside the base path.\n    location / {\n        return 404;\n    }\n");
        }
        s.push_str("}\n");
        s
    }

    /// Azure Static Web Apps' `staticwebapp.config.json`. Its routes take a wildcard only at the
    /// end, so each hashed file gets an exact route.
    fn static_web_app(&self) -> Result<String, String> {
        let base = self.base;
        let mut routes = vec![
            json!({"route": format!("{base}index.html"), "headers": {"Cache-Control": NO_CACHE}}),
            json!({"route": base, "headers": {"Cache-Control": NO_CACHE}}),
            json!({"route": format!("{base}config.json"), "headers": {"Cache-Control": NO_CACHE}}),
        ];
        for file in &self.hashed {
            routes.push(json!({
                "route": format!("{base}{file}"),
                "headers": {"Cache-Control": IMMUTABLE},
            }));
        }
        let global: serde_json::Map<String, Value> = self
            .security()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        let mut exclude = vec![format!("{base}config.json")];
        exclude.extend(self.hashed.iter().map(|f| format!("{base}{f}")));
        let doc = json!({
            "navigationFallback": {
                "rewrite": format!("{base}index.html"),
                "exclude": exclude,
            },
            "globalHeaders": global,
            "mimeTypes": {".wasm": "application/wasm", ".json": "application/json"},
            "routes": routes,
        });
        let mut text = serde_json::to_string_pretty(&doc)
            .map_err(|e| format!("cannot write staticwebapp.config.json: {e}"))?;
        text.push('\n');
        Ok(text)
    }

    /// Netlify's and Cloudflare Pages' `_headers`. Both merge every rule matching a path, joining
    /// repeated headers with commas, so Cache-Control is given per file, never by a wildcard.
    fn netlify(&self) -> String {
        let base = self.base;
        let mut s = String::from(
            "# defender-tags: generated by `cargo xtask dist` (Netlify / Cloudflare Pages headers).\n",
        );
        s.push_str(&format!("{base}*\n"));
        for (name, value) in self.security() {
            s.push_str(&format!("  {name}: {value}\n"));
        }
        for path in [
            base.to_owned(),
            format!("{base}index.html"),
            format!("{base}config.json"),
        ] {
            s.push_str(&format!("\n{path}\n  Cache-Control: {NO_CACHE}\n"));
        }
        for file in &self.hashed {
            s.push_str(&format!("\n{base}{file}\n  Cache-Control: {IMMUTABLE}\n"));
            if extension(file) == "wasm" {
                s.push_str("  Content-Type: application/wasm\n");
            }
        }
        s
    }

    /// The single-page-app fallback for Netlify and Cloudflare Pages (existing files win).
    fn redirects(&self) -> String {
        format!(
            "# defender-tags: generated by `cargo xtask dist`. Routes of the app get index.html.\n\
             {base}*  {base}index.html  200\n",
            base = self.base
        )
    }
}

#[cfg(test)]
mod tests;
