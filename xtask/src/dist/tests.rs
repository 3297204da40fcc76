use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

const CONFIG: &str = r#"{
  "clientId": "0b5b6c1e-1111-4222-8333-944445555666",
  "tenant": "contoso.onmicrosoft.com",
  "frameAncestors": ["https://portal.contoso.com"]
}"#;

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xtask-dist-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A miniature of target/site with the same cross-references as the real one.
fn site(wasm: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let html = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- dev-site notes -->
  <meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self' https://everything">
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/app.css">
  <script type="module" src="/boot.js"></script>
</head>
<body><div id="app"><p>Loading Defender Tags…</p></div></body>
</html>
"#;
    BTreeMap::from([
        ("index.html".to_owned(), html.as_bytes().to_vec()),
        ("app.css".to_owned(), b"body { color: black }".to_vec()),
        ("favicon.svg".to_owned(), b"<svg/>".to_vec()),
        (
            "boot.js".to_owned(),
            br#"import init from "./pkg/web_ui.js"; init();"#.to_vec(),
        ),
        (
            "pkg/web_ui.js".to_owned(),
            b"module_or_path = new URL('web_ui_bg.wasm', import.meta.url);".to_vec(),
        ),
        ("pkg/web_ui_bg.wasm".to_owned(), wasm.to_vec()),
    ])
}

fn checked(base: Option<&str>) -> Checked {
    let dir = TempDir::new();
    let path = dir.0.join("config.json");
    fs::write(&path, CONFIG).unwrap();
    check_config(&path, base).unwrap()
}

#[test]
fn assets_are_hashed_leaves_first_and_references_rewritten() {
    let base = "/tools/defender-tags/";
    let a = hash_assets(&site(b"\0asm-one"), base).unwrap();
    let b = hash_assets(&site(b"\0asm-two"), base).unwrap();
    let name = |m: &BTreeMap<String, Asset>, k: &str| m[k].hashed.clone();
    // A new wasm renames the wasm, the glue that loads it and boot.js that imports the glue;
    // unrelated files keep their names.
    for changed in ["pkg/web_ui_bg.wasm", "pkg/web_ui.js", "boot.js"] {
        assert_ne!(name(&a, changed), name(&b, changed), "{changed}");
    }
    assert_eq!(name(&a, "app.css"), name(&b, "app.css"));
    let wasm = name(&a, "pkg/web_ui_bg.wasm");
    assert!(
        wasm.starts_with("pkg/web_ui_bg.") && wasm.ends_with(".wasm") && wasm.len() == 31,
        "{wasm}"
    );
    let glue = String::from_utf8(a["pkg/web_ui.js"].bytes.clone()).unwrap();
    assert_eq!(
        glue,
        format!("module_or_path = new URL('{base}{wasm}', import.meta.url);")
    );
    let boot = String::from_utf8(a["boot.js"].bytes.clone()).unwrap();
    assert_eq!(
        boot,
        format!(
            r#"import init from "{base}{}"; init();"#,
            name(&a, "pkg/web_ui.js")
        )
    );
    // The hash is of the rewritten content.
    assert_eq!(
        hashed_name("pkg/web_ui.js", glue.as_bytes()),
        name(&a, "pkg/web_ui.js")
    );
}

#[test]
fn unknown_file_types_are_refused() {
    let mut files = site(b"w");
    files.insert("notes.txt".into(), b"x".to_vec());
    assert!(hash_assets(&files, "/").unwrap_err().contains("notes.txt"));
}

/// The SPA's glue and its split loader import each other; the page modules hang off the loader.
fn cyclic_site(page: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut files = site(b"w");
    files.insert(
        "pkg/web_ui.js".into(),
        b"import * as a from \"./__wasm_split.js\"; new URL('web_ui_bg.wasm', import.meta.url);\nconst imports = { \"./__wasm_split.js\": a, \"./__wasm_split.js\" : a };"
            .to_vec(),
    );
    files.insert(
        "pkg/__wasm_split.js".into(),
        b"import { initSync } from \"./web_ui.js\"; makeLoad(new URL(\"./split_p.wasm\", import.meta.url));"
            .to_vec(),
    );
    files.insert("pkg/split_p.wasm".into(), page.to_vec());
    files
}

#[test]
fn files_in_a_cycle_share_one_hash_that_any_change_in_the_cycle_or_below_changes() {
    let a = hash_assets(&cyclic_site(b"p1"), "/b/").unwrap();
    let glue = &a["pkg/web_ui.js"];
    let loader = &a["pkg/__wasm_split.js"];
    let hash_of = |hashed: &str| hashed.rsplit('.').nth(1).unwrap().to_owned();
    assert_eq!(hash_of(&glue.hashed), hash_of(&loader.hashed));
    // Each refers to the other, and onwards, by the final names.
    let glue_text = String::from_utf8(glue.bytes.clone()).unwrap();
    let loader_text = String::from_utf8(loader.bytes.clone()).unwrap();
    assert!(
        glue_text.contains(&format!("\"/b/{}\"", loader.hashed)),
        "{glue_text}"
    );
    assert!(
        loader_text.contains(&format!("\"/b/{}\"", glue.hashed)),
        "{loader_text}"
    );
    assert!(loader_text.contains(&format!("\"/b/{}\"", a["pkg/split_p.wasm"].hashed)));
    assert!(glue_text.contains(&format!("'/b/{}'", a["pkg/web_ui_bg.wasm"].hashed)));
    // The import object's keys are the module names inside the wasm: left as they are.
    assert!(
        glue_text.contains(r#"{ "./__wasm_split.js": a, "./__wasm_split.js" : a }"#),
        "{glue_text}"
    );
    let boot = String::from_utf8(a["boot.js"].bytes.clone()).unwrap();
    assert!(boot.contains(&glue.hashed), "{boot}");
    // A page module's change renames the loader, the glue, and boot.js that imports the glue.
    let b = hash_assets(&cyclic_site(b"p2"), "/b/").unwrap();
    for name in [
        "pkg/split_p.wasm",
        "pkg/__wasm_split.js",
        "pkg/web_ui.js",
        "boot.js",
    ] {
        assert_ne!(a[name].hashed, b[name].hashed, "{name}");
    }
    assert_eq!(a["app.css"].hashed, b["app.css"].hashed);
    // The same input names the same files.
    let again = hash_assets(&cyclic_site(b"p1"), "/b/").unwrap();
    assert_eq!(again["pkg/web_ui.js"].hashed, glue.hashed);
    assert_eq!(again["pkg/__wasm_split.js"].bytes, loader.bytes);
}

#[test]
fn production_index_has_the_base_the_config_csp_and_hashed_urls() {
    let checked = checked(Some("/tools/defender-tags/"));
    let files = site(b"w");
    let assets = hash_assets(&files, "/tools/defender-tags/").unwrap();
    let html = String::from_utf8(files["index.html"].clone()).unwrap();
    let out = production_index(&html, &checked.config, &assets).unwrap();
    assert!(out.contains(r#"<meta name="defender-tags-base" content="/tools/defender-tags/">"#));
    assert!(!out.contains("<!--"), "{out}");
    assert!(!out.contains("https://everything"));
    let csp = checked.config.content_security_policy();
    assert!(csp.contains("frame-ancestors https://portal.contoso.com"));
    let meta = csp.replace("; frame-ancestors https://portal.contoso.com", "");
    assert!(
        out.contains(&format!(r#"content="{meta}""#)),
        "{out}\n{meta}"
    );
    for asset in ["app.css", "favicon.svg", "boot.js"] {
        assert!(
            out.contains(&format!(
                "\"/tools/defender-tags/{}\"",
                assets[asset].hashed
            )),
            "{asset}: {out}"
        );
    }
    // A page without a policy of its own gets the generated one.
    let bare = html.replace(
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self' https://everything">"#,
        "",
    );
    let out = production_index(&bare, &checked.config, &assets).unwrap();
    assert_eq!(
        out.matches(&format!(r#"content="{meta}""#)).count(),
        1,
        "{out}"
    );
    // A reference dist does not rewrite is refused rather than shipped broken.
    let broken = html.replace("</head>", r#"<script src="/missing.js"></script></head>"#);
    assert!(
        production_index(&broken, &checked.config, &assets)
            .unwrap_err()
            .contains("/missing.js")
    );
}

#[test]
fn bundle_layout_and_hosting_files() {
    let dir = TempDir::new();
    let site_dir = dir.0.join("site");
    for (rel, bytes) in site(b"\0asm") {
        write(&site_dir.join(rel), &bytes).unwrap();
    }
    write(&site_dir.join("embed/index.html"), b"demo only").unwrap();
    let checked = checked(Some("/tools/defender-tags/"));
    let out = dir.0.join("out");
    write_bundle(&site_dir, &checked, &out).unwrap();
    let app = out.join("public/tools/defender-tags");
    assert!(app.join("index.html").is_file());
    assert!(!app.join("embed").exists());
    let shipped: Value =
        serde_json::from_str(&fs::read_to_string(app.join("config.json")).unwrap()).unwrap();
    assert_eq!(shipped["basePath"], "/tools/defender-tags/");
    let nginx = fs::read_to_string(out.join("nginx.conf")).unwrap();
    assert!(nginx.contains(&format!("root \"{}\";", out.join("public").display())));
    assert!(nginx.contains("location ^~ /tools/defender-tags/ {"));
    assert!(nginx.contains("return 301 /tools/defender-tags/$is_args$args;"));
    assert!(nginx.contains("try_files $uri /tools/defender-tags/index.html;"));
    assert!(nginx.contains(&format!(
        "add_header Content-Security-Policy \"{}\" always;",
        checked.config.content_security_policy()
    )));
    // Every nginx block is balanced.
    assert_eq!(nginx.matches('{').count(), nginx.matches('}').count());
    let swa: Value = serde_json::from_str(
        &fs::read_to_string(out.join("public/staticwebapp.config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        swa["navigationFallback"]["rewrite"],
        "/tools/defender-tags/index.html"
    );
    assert_eq!(swa["mimeTypes"][".wasm"], "application/wasm");
    let immutable = swa["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["headers"]["Cache-Control"] == IMMUTABLE)
        .count();
    assert_eq!(immutable, 5);
    let headers = fs::read_to_string(out.join("public/_headers")).unwrap();
    assert!(headers.starts_with("# defender-tags"));
    assert!(headers.contains("/tools/defender-tags/*\n  Content-Security-Policy: "));
    assert_eq!(headers.matches(IMMUTABLE).count(), 5);
    // A second run replaces the earlier bundle; a foreign folder is never touched.
    write_bundle(&site_dir, &checked, &out).unwrap();
    check_out_dir(&out).unwrap();
    assert!(check_out_dir(&site_dir).unwrap_err().contains("not empty"));
}

#[test]
fn config_errors_name_every_field_and_the_base_path_option() {
    let dir = TempDir::new();
    let path = dir.0.join("config.json");
    fs::write(&path, r#"{"tenant": "contoso.com", "cloud": "azure"}"#).unwrap();
    let e = check_config(&path, Some("tools")).unwrap_err();
    assert!(e.contains("nothing was written"), "{e}");
    assert!(e.contains("\n  clientId: required"), "{e}");
    assert!(e.contains("\n  cloud: unknown cloud \"azure\""), "{e}");
    assert!(
        e.contains("\n  basePath: ") && e.contains("(given with --base-path)"),
        "{e}"
    );
    fs::write(&path, "{ not json").unwrap();
    let e = check_config(&path, Some("/x/")).unwrap_err();
    assert!(e.contains("\n  config.json is not valid JSON"), "{e}");
}
