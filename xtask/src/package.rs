//! Builds the embeddable npm package (`target/pkg`). Owned by the wasm-client work (issue #4).
//!
//! Layout:
//! ```text
//! target/pkg/
//!   package.json          exports: bundlers (ESM), browsers without a bundler (`./web`), Node
//!   bundler/…             wasm-bindgen --target bundler
//!   web/…                 wasm-bindgen --target web (init() / initSync())
//!   node/…                wasm-bindgen --target nodejs (CommonJS, loads the .wasm from disk;
//!                         its declarations renamed .d.cts to match)
//!   full/bundler/, full/web/, full/node/   the client plus rules files and advanced hunting
//!                         (feature `full`; `./full`, `./full/web`, `./full/node`)
//!   proxy/web/, proxy/node/   the edge proxy (`./proxy/web` for workers, `./proxy` for Node): a
//!                         wasm module of its own (feature `proxy`), so the client's entries
//!                         (feature `js` alone: no proxy, rules or hunting) do not carry it
//!   ui/…                  the embed entry `defender-tags-wasm/ui` (mountTagEditor, mountTagManager):
//!                         the web-ui crate's embed binary, wasm-bindgen --target web
//!   bin/defender-tags-proxy.mjs   the edge proxy as a Node server (`npx defender-tags-proxy`)
//!   worker/index.mjs, worker/wrangler.toml   the edge proxy as a Cloudflare Workers module
//!   README.md
//! ```
//! Each module's `.wasm` is the same for every target; it is optimised once with npm binaryen@132's
//! `wasm-opt -Oz` (Debian's wasm-opt 108 corrupts the externref table export) and copied.
//! The generated declarations are then compiled against TypeScript consumers (crates/wasm/ts) with
//! `tsc --noEmit`, resolving the package by name under `node10`, `node16`, `nodenext` and `bundler`
//! module resolution (`exports` for the last two, `typesVersions` for node10). `shapes.ts` is one
//! of them: real Rust values the package sends, rendered by crates/wasm/src/ts_shapes.rs, so a
//! hand-written shape cannot drift from Rust.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx::{self, CLIENT_PACKAGE, Ctx, FULL_PACKAGE, PROXY_PACKAGE, WASM_TARGET};
use crate::site;

const NAME: &str = "defender_tags";
/// The full client's module name (`full/bundler/`, `full/web/`, `full/node/`).
const FULL_NAME: &str = "defender_tags_full";
/// The edge proxy's module name (`proxy/web/`, `proxy/node/`).
const PROXY_NAME: &str = "defender_tags_proxy";
const TOOLS_DIR: &str = "crates/wasm";
const SHIPPED_DIR: &str = "crates/wasm/npm";

/// Builds the package and returns its folder.
pub fn run(ctx: &Ctx) -> Result<PathBuf, String> {
    let out = ctx.target.join("pkg");
    build(ctx, &out)?;
    site::embed_ui(ctx, site::Profile::Release, &out.join("ui"), true)?;
    check_types(ctx, &out)?;
    embed_demo(ctx, &out)?;
    report_sizes(&out)?;
    Ok(out)
}

/// `target/pkg-embed/`: `www/embed/index.html` plus the package's web build in `pkg/`, ready to be served
/// by `defender-tags-emulator --static target/pkg-embed` (same origin as the emulated API).
fn embed_demo(ctx: &Ctx, out: &Path) -> Result<(), String> {
    let demo = ctx.target.join("pkg-embed");
    if demo.exists() {
        fs::remove_dir_all(&demo).map_err(|e| format!("cannot clear {}: {e}", demo.display()))?;
    }
    // Only the package example: the other pages in www/embed mount the web UI (site build).
    fs::create_dir_all(&demo).map_err(|e| format!("cannot create {}: {e}", demo.display()))?;
    // The bare-client example: the page and its (CSP-required) script and style files.
    for file in ["index.html", "portal.js", "portal.css"] {
        let page = ctx.root.join("www").join("embed").join(file);
        fs::copy(&page, demo.join(file))
            .map_err(|e| format!("cannot copy {}: {e}", page.display()))?;
    }
    site::copy_dir(&out.join("web"), &demo.join("pkg"))
}

/// One wasm module of the package: the cargo features it is built with, its wasm-bindgen name and
/// the targets it is bound for, as (wasm-bindgen `--target`, folder in the package). The first
/// folder's `.wasm` is optimised and copied to the others (the module is the same for each).
struct Entry {
    cargo: [&'static str; 5],
    name: &'static str,
    targets: &'static [(&'static str, &'static str)],
}

/// The client: what a portal page that embeds the tag editor loads (`.`, `./web`, `./node`):
/// machines, tags, device values, bulk plans and runs.
const CLIENT: Entry = Entry {
    cargo: CLIENT_PACKAGE,
    name: NAME,
    targets: &[("bundler", "bundler"), ("web", "web"), ("nodejs", "node")],
};

/// The client plus rules files and advanced hunting (`./full`, `./full/web`, `./full/node`), for
/// automation and the pages that use them.
const FULL: Entry = Entry {
    cargo: FULL_PACKAGE,
    name: FULL_NAME,
    targets: &[
        ("bundler", "full/bundler"),
        ("web", "full/web"),
        ("nodejs", "full/node"),
    ],
};

/// The edge proxy (`./proxy` for Node, `./proxy/web` for workers): a module of its own, so the
/// client's pages do not download it.
const PROXY: Entry = Entry {
    cargo: PROXY_PACKAGE,
    name: PROXY_NAME,
    targets: &[("web", "proxy/web"), ("nodejs", "proxy/node")],
};

/// Where the package build keeps the client's web module after wasm-bindgen and before wasm-opt
/// (symbol names kept), from which the size guard makes the named twin of what ships
/// (`xtask/src/size/`).
pub fn client_named_source(ctx: &Ctx) -> PathBuf {
    ctx.target.join("pkg-cargo").join(format!("{NAME}_bg.wasm"))
}

fn build(ctx: &Ctx, out: &Path) -> Result<(), String> {
    if out.exists() {
        fs::remove_dir_all(out).map_err(|e| format!("cannot clear {}: {e}", out.display()))?;
    }
    for entry in [&PROXY, &FULL, &CLIENT] {
        build_entry(ctx, out, entry)?;
    }
    // Hand-written entries shipped beside the generated builds (crates/wasm/npm/<dir>).
    for dir in ["bin", "worker"] {
        site::copy_dir(&ctx.root.join(SHIPPED_DIR).join(dir), &out.join(dir))?;
    }
    write_package_json(ctx, out)?;
    fs::write(out.join("README.md"), README).map_err(|e| format!("cannot write README: {e}"))?;
    Ok(())
}

fn build_entry(ctx: &Ctx, out: &Path, entry: &Entry) -> Result<(), String> {
    ctx::run(
        site::wasm_cargo(ctx, site::Profile::Release)?
            .args([
                "build",
                "--target",
                WASM_TARGET,
                "--profile",
                "wasm-release",
            ])
            .args(entry.cargo),
    )?;
    let input = ctx
        .target
        .join(WASM_TARGET)
        .join("wasm-release")
        .join("defender_tags_wasm.wasm");
    if !input.exists() {
        return Err(format!("{} was not built", input.display()));
    }
    for (target, dir) in entry.targets {
        ctx::run(
            Command::new("wasm-bindgen")
                .args([
                    "--target",
                    target,
                    "--out-name",
                    entry.name,
                    "--weak-refs",
                    "--out-dir",
                ])
                .arg(out.join(dir))
                .arg(&input),
        )?;
        if *target == "nodejs" {
            rename_node_glue(&out.join(dir), entry.name)?;
        }
    }
    if entry.name == NAME {
        let bound = out.join("web").join(format!("{NAME}_bg.wasm"));
        let keep = client_named_source(ctx);
        if let Some(dir) = keep.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        fs::copy(&bound, &keep).map_err(|e| format!("cannot copy {}: {e}", bound.display()))?;
    }
    optimise(ctx, out, entry)
}

/// The nodejs glue is CommonJS; in a `"type": "module"` package it needs the `.cjs` extension,
/// and its declarations `.d.cts`, or node16/nodenext type-check it as ESM.
fn rename_node_glue(dir: &Path, name: &str) -> Result<(), String> {
    for (from, to) in [("js", "cjs"), ("d.ts", "d.cts")] {
        fs::rename(
            dir.join(format!("{name}.{from}")),
            dir.join(format!("{name}.{to}")),
        )
        .map_err(|e| format!("cannot rename {}/{name}.{from}: {e}", dir.display()))?;
    }
    Ok(())
}

/// The package build's wasm-opt (npm binaryen in [`TOOLS_DIR`]).
pub fn wasm_opt_tool(ctx: &Ctx) -> PathBuf {
    ctx.node_bin(TOOLS_DIR).join("wasm-opt")
}

fn optimise(ctx: &Ctx, out: &Path, entry: &Entry) -> Result<(), String> {
    let wasm_opt = wasm_opt_tool(ctx);
    if !wasm_opt.exists() {
        return Err(format!(
            "{} is missing: run `npm ci` in {TOOLS_DIR} (cargo xtask tools does)",
            wasm_opt.display()
        ));
    }
    let file = format!("{}_bg.wasm", entry.name);
    let Some(((_, first_dir), others)) = entry.targets.split_first() else {
        return Ok(());
    };
    let first = out.join(first_dir).join(&file);
    let optimised = out
        .join(first_dir)
        .join(format!("{}_bg.opt.wasm", entry.name));
    site::run_wasm_opt(&wasm_opt, &first, &optimised, false)?;
    fs::rename(&optimised, &first)
        .map_err(|e| format!("cannot replace {}: {e}", first.display()))?;
    for (_, dir) in others {
        fs::copy(&first, out.join(dir).join(&file))
            .map_err(|e| format!("cannot copy the optimised wasm into {dir}: {e}"))?;
    }
    Ok(())
}

fn workspace_version(ctx: &Ctx) -> Result<String, String> {
    let manifest = fs::read_to_string(ctx.root.join("Cargo.toml"))
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[workspace.package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .ok_or_else(|| "no version in [workspace.package]".to_owned())
}

fn write_package_json(ctx: &Ctx, out: &Path) -> Result<(), String> {
    let version = workspace_version(ctx)?;
    let json = format!(
        r#"{{
  "name": "defender-tags-wasm",
  "version": "{version}",
  "description": "Find Microsoft Defender for Endpoint machines and add or remove their tags, from any page or edge runtime (WebAssembly).",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "sideEffects": ["./bundler/{NAME}.js", "./bundler/{NAME}_bg.js", "./full/bundler/{FULL}.js", "./full/bundler/{FULL}_bg.js"],
  "types": "./bundler/{NAME}.d.ts",
  "typesVersions": {{
    "*": {{
      "web": ["./web/{NAME}.d.ts"],
      "node": ["./node/{NAME}.d.cts"],
      "full": ["./full/bundler/{FULL}.d.ts"],
      "full/web": ["./full/web/{FULL}.d.ts"],
      "full/node": ["./full/node/{FULL}.d.cts"],
      "proxy": ["./proxy/node/{PROXY}.d.cts"],
      "proxy/web": ["./proxy/web/{PROXY}.d.ts"],
      "ui": ["./ui/{UI}.d.ts"]
    }}
  }},
  "bin": {{
    "defender-tags-proxy": "./bin/defender-tags-proxy.mjs"
  }},
  "exports": {{
    ".": {{
      "types": "./bundler/{NAME}.d.ts",
      "node": "./node/{NAME}.cjs",
      "default": "./bundler/{NAME}.js"
    }},
    "./web": {{
      "types": "./web/{NAME}.d.ts",
      "default": "./web/{NAME}.js"
    }},
    "./node": {{
      "types": "./node/{NAME}.d.cts",
      "default": "./node/{NAME}.cjs"
    }},
    "./full": {{
      "types": "./full/bundler/{FULL}.d.ts",
      "node": "./full/node/{FULL}.cjs",
      "default": "./full/bundler/{FULL}.js"
    }},
    "./full/web": {{
      "types": "./full/web/{FULL}.d.ts",
      "default": "./full/web/{FULL}.js"
    }},
    "./full/node": {{
      "types": "./full/node/{FULL}.d.cts",
      "default": "./full/node/{FULL}.cjs"
    }},
    "./proxy": {{
      "types": "./proxy/node/{PROXY}.d.cts",
      "default": "./proxy/node/{PROXY}.cjs"
    }},
    "./proxy/web": {{
      "types": "./proxy/web/{PROXY}.d.ts",
      "default": "./proxy/web/{PROXY}.js"
    }},
    "./ui": {{
      "types": "./ui/{UI}.d.ts",
      "default": "./ui/{UI}.js"
    }},
    "./web/{NAME}_bg.wasm": "./web/{NAME}_bg.wasm",
    "./full/web/{FULL}_bg.wasm": "./full/web/{FULL}_bg.wasm",
    "./proxy/web/{PROXY}_bg.wasm": "./proxy/web/{PROXY}_bg.wasm",
    "./ui/{UI}_bg.wasm": "./ui/{UI}_bg.wasm",
    "./worker": "./worker/index.mjs"
  }},
  "engines": {{
    "node": ">=20"
  }},
  "files": ["bundler", "web", "node", "full", "proxy", "ui", "bin", "worker", "README.md"]
}}
"#,
        UI = site::UI_NAME,
        PROXY = PROXY_NAME,
        FULL = FULL_NAME,
    );
    fs::write(out.join("package.json"), json).map_err(|e| format!("cannot write package.json: {e}"))
}

/// The module settings the consumers are compiled under: (name, `module`, `moduleResolution`).
const RESOLUTIONS: [(&str, &str, &str); 4] = [
    ("node10", "es2022", "node10"),
    ("node16", "node16", "node16"),
    ("nodenext", "nodenext", "nodenext"),
    ("bundler", "es2022", "bundler"),
];

/// Compiles the consumers in `crates/wasm/ts` against the package as a portal would install it
/// (`node_modules/defender-tags-wasm` linked to `out`), once per entry of [`RESOLUTIONS`], and
/// checks the public declarations for `any`.
fn check_types(ctx: &Ctx, out: &Path) -> Result<(), String> {
    let tsc = ctx.node_bin(TOOLS_DIR).join("tsc");
    let sources = ctx.root.join(TOOLS_DIR).join("ts");
    let check_root = ctx.target.join("pkg-typecheck");
    if check_root.exists() {
        fs::remove_dir_all(&check_root)
            .map_err(|e| format!("cannot clear {}: {e}", check_root.display()))?;
    }
    for (name, module, resolution) in RESOLUTIONS {
        let dir = check_root.join(name);
        let modules = dir.join("node_modules");
        fs::create_dir_all(&modules)
            .map_err(|e| format!("cannot create {}: {e}", modules.display()))?;
        link_dir(out, &modules.join("defender-tags-wasm"))?;
        // ESM consumers (node16 reads "type" to decide; the others ignore it).
        fs::write(
            dir.join("package.json"),
            r#"{ "type": "module", "private": true }"#,
        )
        .map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
        let mut files = Vec::new();
        for consumer in [
            "consumer.ts",
            "consumer-proxy.ts",
            "consumer-ui.ts",
            "shapes.ts",
        ] {
            let text = fs::read_to_string(sources.join(consumer))
                .map_err(|e| format!("cannot read {consumer}: {e}"))?;
            fs::write(dir.join(consumer), text)
                .map_err(|e| format!("cannot write {consumer}: {e}"))?;
            files.push(format!("\"{consumer}\""));
        }
        let tsconfig = format!(
            r#"{{
  "compilerOptions": {{
    "strict": true,
    "noEmit": true,
    "target": "es2022",
    "module": "{module}",
    "moduleResolution": "{resolution}",
    "lib": ["es2022", "dom", "esnext.disposable"],
    "skipLibCheck": false,
    "types": []
  }},
  "files": [{files}]
}}
"#,
            files = files.join(", "),
        );
        let config = dir.join("tsconfig.json");
        fs::write(&config, tsconfig)
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        eprintln!("type-checking the consumers with moduleResolution {resolution}");
        ctx::run(Command::new(&tsc).arg("-p").arg(&config))?;
    }
    // No `any` in the public API: the declarations are checked textually as well.
    // Every generated declaration file (each entry's targets; the nodejs ones renamed .d.cts),
    // and the components'.
    let mut declarations: Vec<PathBuf> = [&CLIENT, &FULL, &PROXY]
        .iter()
        .flat_map(|entry| {
            entry.targets.iter().map(|(target, dir)| {
                let ext = if *target == "nodejs" { "d.cts" } else { "d.ts" };
                out.join(dir).join(format!("{}.{ext}", entry.name))
            })
        })
        .collect();
    declarations.push(out.join("ui").join(format!("{}.d.ts", site::UI_NAME)));
    for dts in declarations {
        let text =
            fs::read_to_string(&dts).map_err(|e| format!("cannot read {}: {e}", dts.display()))?;
        // `InitOutput` (web target) lists the raw wasm exports that wasm-bindgen's glue calls;
        // it is not API a portal uses, and wasm-bindgen types its externrefs as `any`.
        // The `IntoUnderlying*` classes are wasm-streams' own (the UI reaches it through
        // gloo-net): its glue calls them, a portal never does.
        let mut in_raw_exports = false;
        let public = text.lines().filter(|l| {
            if l.starts_with("export interface InitOutput")
                || l.starts_with("export class IntoUnderlying")
            {
                in_raw_exports = true;
            } else if in_raw_exports && l.starts_with('}') {
                in_raw_exports = false;
                return false;
            }
            !in_raw_exports
        });
        if let Some(line) = public.into_iter().find(|l| contains_any_type(l)) {
            return Err(format!("{}: public API uses `any`: {line}", dts.display()));
        }
    }
    Ok(())
}

/// `link` becomes a symbolic link to `target` (as `npm link` or a workspace install makes one).
fn link_dir(target: &Path, link: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link).map_err(|e| {
            format!(
                "cannot link {} to {}: {e}",
                link.display(),
                target.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        site::copy_dir(target, link)
    }
}

/// True for `: any`, `<any>`, `any[]`, `| any` and the like (not for words containing "any").
fn contains_any_type(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    if code.trim_start().starts_with('*') {
        return false;
    }
    code.match_indices("any").any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + 3..].chars().next();
        let ident =
            |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        !ident(before) && !ident(after)
    })
}

fn gzip_size(path: &Path) -> Result<u64, String> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip {} failed ({})", path.display(), out.status));
    }
    Ok(out.stdout.len() as u64)
}

fn report_sizes(out: &Path) -> Result<(), String> {
    let ui = out.join("ui");
    report_entry("package ui entry", &ui, site::UI_NAME)?;
    report_entry(
        "package full entry (client + rules + hunting)",
        &out.join("full").join("web"),
        FULL_NAME,
    )?;
    report_entry(
        "package proxy entry (not loaded by the client)",
        &out.join("proxy").join("web"),
        PROXY_NAME,
    )?;
    let total = report_entry(
        &format!("package: {} (the client, web)", out.display()),
        &out.join("web"),
        NAME,
    )?;
    eprintln!("embeddable total {total:.1} KiB gzip (goal <= 80 KiB)");
    Ok(())
}

/// Prints one web build's wasm and glue sizes, raw and gzip -9; returns the gzip total in KiB.
fn report_entry(label: &str, dir: &Path, name: &str) -> Result<f64, String> {
    let raw = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wasm = dir.join(format!("{name}_bg.wasm"));
    let glue = dir.join(format!("{name}.js"));
    let (gw, gj) = (gzip_size(&wasm)?, gzip_size(&glue)?);
    let total = (gw + gj) as f64 / 1024.0;
    eprintln!(
        "{label}: wasm {} B ({gw} B gzip), glue {} B ({gj} B gzip); total {total:.1} KiB gzip",
        raw(&wasm),
        raw(&glue),
    );
    Ok(total)
}

const README: &str = r#"# defender-tags-wasm

Find Microsoft Defender for Endpoint machines and add or remove their tags from a web page, a
worker or Node 20, in WebAssembly. Your code supplies the bearer token; the client asks for it on
every request and never stores it.

```js
import init, { DefenderClient } from "defender-tags-wasm/web";
await init();
const client = new DefenderClient({
  baseUrl: "https://api.security.microsoft.com",
  getToken: async ({ scopes, forceRefresh }) => myPortal.token(scopes, forceRefresh),
});
const page = await client.listMachines({ filter: "healthStatus eq 'Active'", top: 100 });
await client.addTag(page.machines[0].id, "Finance");
const plan = client.planBulk("Finance", "Add", page.machines.map(m => ({ id: m.id, tags: m.machineTags })));
const report = await client.runPlan(plan, { onProgress: p => console.log(p), signal });
```

Or `DefenderClient.fromMsal(msalInstance, { account, scopes })`. Failures reject with a
`DefenderError`, a real `Error` (`code` from the `DefenderErrorCode` union, `status`, `retryAfter`,
`machineId`); `isDefenderError(e)` narrows a caught value. `baseUrl` may carry a path when the
edge proxy lives under one (`https://portal.contoso.com/defender/`); every request and next-page
link stays below it. Rate limits (100/min, 1,500/h), Retry-After, retries and a single token
refresh on 401 are handled for you. In a browser every client of the same `baseUrl` (other tabs,
the embedded views) shares one budget through IndexedDB, so together they stay inside it; where
there is no IndexedDB (Node) each client paces itself.

## Entries

| Import | What it holds | Where |
|---|---|---|
| `defender-tags-wasm` (bundlers; Node picks `./node`), `/web`, `/node` | `DefenderClient`: machines, tags, device values, bulk plans and runs | pages that embed the tag editor |
| `defender-tags-wasm/full`, `/full/web`, `/full/node` | the same client plus `runHuntingQuery`, `parseRules`, `planRules`, `huntingQueries` | automation (`examples/rules`), pages that run rules or hunting |
| `defender-tags-wasm/proxy` (Node), `/proxy/web` (workers) | `handleRequest`, `EdgeProxy` | the edge proxy |
| `defender-tags-wasm/ui` | `mountTagEditor`, `mountTagManager` | pages that mount the components |

Each is a WebAssembly module of its own, so a page downloads only what it imports.

## Components: `defender-tags-wasm/ui`

The ready-made tag editor (one machine) and tag manager (bulk change, tag inventory, a machine's
tags, activity), mounted into elements of your page:

```js
import init, { mountTagEditor, mountTagManager } from "defender-tags-wasm/ui";
await init();
const editor = await mountTagEditor(document.getElementById("tags"), { baseUrl, getToken, machineId });
await mountTagManager(document.getElementById("defender"), { baseUrl, getToken });
editor.unmount();
```

`init()` mounts nothing and the components never touch the page's URL. Each renders in an open
shadow root of its element with its own styles (nothing leaks either way; theme it with the
`--dt-*` custom properties) and stays mounted until `unmount()` or until the element is removed
from the page, whether or not you keep the handle. The embedding guide (docs/embedding.md in the
repository) covers the sizes, theming variables, the host page's CSP and token patterns.

## Edge proxy

Microsoft does not document whether the Defender API accepts browser calls from another origin
(CORS); where it refuses them, put this proxy between the page and the API. It forwards only the
five machine/tag endpoints (`GET /api/machines`, `GET /api/machines/{id}`,
`GET /api/machines/findbytag`, `POST /api/machines/{id}/tags`,
`POST /api/machines/AddOrRemoveTagForMultipleMachines`), rebuilt from their parsed values, to the
one configured API host; answers CORS for the exact origins you list; never follows a redirect;
passes back only `Content-Type` and `Retry-After`; and passes the caller's `Authorization` header
through without storing or logging it. Anything else is refused with the API's error envelope
and a stable `code`, without contacting the API: `OriginRefused` (403), `PathRefused` (404, or 400
for encoded or dot segments), `MethodRefused` (405), `Unauthorized` (401, no `Authorization`),
`InvalidRequestBody` (413 over 64 KiB, or 400), `InvalidMachineId` / `QueryRefused` /
`ODataError` / `MissingRequiredParameter` (400); upstream trouble is `UpstreamRedirect` /
`UpstreamUnreachable` (502) or `UpstreamTimeout` (504).

Next-page links (`@odata.nextLink`) in machine lists are rewritten onto the proxy's origin
(`publicUrl`, else the origin of the request's URL), so a client whose `baseUrl` is the proxy pages
through it; a link the proxy would not forward as it stands becomes the equivalent `$skip` link.

Configuration (`proxy.json` for the Node server; the same keys for `handleRequest`/`EdgeProxy`):

```jsonc
{
  "apiBaseUrl": "https://api.security.microsoft.com", // required; an origin; http only for localhost/127.0.0.1/[::1]
  "allowedOrigins": ["https://portal.contoso.com"],   // required (not for handleRequest); exact origins, as browsers send them
  "listen": { "host": "127.0.0.1", "port": 8787 },     // Node server only; these are the defaults; port 0 = any free port
  "timeoutMs": 30000,                                  // optional upstream timeout, 1 to 300000
  "publicUrl": "https://defender-proxy.contoso.com"   // optional: the proxy's URL as clients see it (may end in the path it is mounted under)
}
```

Every mistake is refused with a message naming the field (`allowedOrigins[1]: "https://x/" is not
written as browsers send it; use "https://x" (lowercase, no path, no default port)`), unknown keys
included, and nothing is listened on or forwarded.

### Node server

```sh
npx defender-tags-proxy --config proxy.json      # or --config=proxy.json; --help prints the usage
```

Plain `node:http`, no other dependency. It prints `LISTENING http://host:port` as its first stdout
line, then one line per request:

```text
2026-12-06T15:00:00.000Z GET /api/machines 200 origin=https://portal.contoso.com
2026-12-06T15:00:01.000Z GET /api/alerts 404 origin=https://portal.contoso.com refused=PathRefused
```

(time, method, path without the query, status, `origin=` the Origin header or `-`, and for a
status of 400 or more `refused=` the answer's error code), never a header value. Exit codes: 2 for
a wrong command line; 1 for an unreadable or invalid configuration (every bad field on stderr, one
per line) or an address it cannot listen on; 0 after `--help` or on SIGINT/SIGTERM. Behind a
TLS-terminating load balancer, set `publicUrl` to the https origin the clients use (the server
itself only sees `http://{Host}`, and clients refuse next-page links on another origin).

### Cloudflare Workers

`defender-tags-wasm/worker` is an ES module worker using the web build, with the `.wasm` imported
as a module. Copy `node_modules/defender-tags-wasm/worker/wrangler.toml` next to your
`package.json`, set its `name` and `[vars]` and run `npx wrangler deploy` (`npx wrangler dev` runs
it locally):

| Variable | Meaning |
|---|---|
| `API_BASE_URL` | the Defender API host (required) |
| `ALLOWED_ORIGINS` | exact origins (required): a list, or a string holding a JSON list or comma-separated origins |
| `PUBLIC_URL` | optional: the proxy's origin as clients reach it (default: the request's) |
| `TIMEOUT_MS` | optional: upstream timeout in milliseconds |

An invalid environment makes every request answer 500 `ProxyMisconfigured` naming each variable
(`API_BASE_URL (apiBaseUrl): ...`), and nothing is forwarded. Answers of 400 and above are logged
with `console.log` as `GET /api/alerts 404 origin=https://portal.contoso.com refused=PathRefused`.

### In your own server

The proxy is its own entry: `require("defender-tags-wasm/proxy")` in Node (ready on import), or
`import { initSync, EdgeProxy } from "defender-tags-wasm/proxy/web"` in a worker (then
`initSync({ module })` with `defender-tags-wasm/proxy/web/defender_tags_proxy_bg.wasm`). The
client's entries do not contain it, and pages that embed the client never download it.

`handleRequest(request, config)` takes a Fetch API `Request` and resolves to a `Response`
(validating `config` on every call: an invalid one answers 500 `ProxyMisconfigured`;
`allowedOrigins` may be left out for server-to-server use); `new EdgeProxy(config, usage?)`
(`usage`: `"handler"`, the default, `"worker"` or `"server"`) validates once, throwing a
`ProxyConfigError` whose `errors` lists every `{ field, message }`, and `proxy.handle(request)`
answers.
"#;

#[cfg(test)]
mod tests {
    use super::contains_any_type;

    #[test]
    fn finds_any_types_but_not_words() {
        assert!(contains_any_type("  foo(x: any): void;"));
        assert!(contains_any_type("  bar(): Promise<any>;"));
        assert!(contains_any_type("  baz: any[];"));
        assert!(!contains_any_type("  company: string;"));
        assert!(!contains_any_type(" * Machines, if any."));
        assert!(!contains_any_type("  anything: unknown; // any"));
    }
}
