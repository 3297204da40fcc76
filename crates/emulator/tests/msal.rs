//! The real `@azure/msal-browser` (redirect flow, PKCE, silent refresh) against the emulator's
//! identity provider, in each demo tenant, in headless Chromium, through the UI's own MSAL glue
//! (`www/auth.js`).
//!
//! Ignored by a plain `cargo test` because it needs tools outside cargo: `node`, Chromium,
//! `www/node_modules` and `tests/e2e/node_modules` (playwright-core). `cargo xtask test` installs
//! those and runs it (step `msal`: `cargo test -p defender-tags-emulator --test msal --
//! --ignored`); set `MSAL_BUNDLE` to another `msal-browser.min.js` to check another MSAL version
//! (3.30, 4.30 and 5.30 pass).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use defender_tags_emulator::{Config, DEMO_TENANT, SECOND_TENANT, serve};

/// The package folder as `cargo test` gives it at run time. The compile-time `env!` value is only
/// the fallback: a test binary built from a checkout elsewhere (same sources, so cargo reuses it)
/// would carry that checkout's path.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn root() -> PathBuf {
    manifest_dir().join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs node, chromium, www/node_modules and tests/e2e/node_modules"]
async fn real_msal_browser_signs_in_calls_the_api_and_refreshes() {
    let root = root();
    let here = manifest_dir().join("tests/msal");
    let site = std::env::temp_dir().join(format!("emu-msal-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&site).unwrap();
    let bundle = std::env::var_os("MSAL_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root.join("www/node_modules/@azure/msal-browser/lib/msal-browser.min.js")
        });
    std::fs::copy(&bundle, site.join("msal-browser.min.js")).expect("MSAL bundle (npm ci in www/)");
    std::fs::copy(root.join("www/auth.js"), site.join("auth.js")).unwrap();
    for f in ["index.html", "smoke.js"] {
        std::fs::copy(here.join(f), site.join(f)).unwrap();
    }
    let handle = serve(Config {
        static_dir: Some(site.clone()),
        machines: 300,
        second_tenant_machines: 100,
        ..Config::default()
    })
    .await
    .unwrap();
    let url = handle.url();
    // Each tenant in its own browser (run.cjs launches one): the token names the tenant signed
    // in to and the API lists that tenant's machines.
    for (tenant, domain) in [
        (DEMO_TENANT, ".contoso.local"),
        (SECOND_TENANT, ".fabrikam.local"),
    ] {
        let (script, playwright) = (
            here.join("run.cjs"),
            root.join("tests/e2e/node_modules/playwright-core"),
        );
        let run_url = url.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("node")
                .arg(script)
                .arg(run_url)
                .arg(tenant)
                .env("PLAYWRIGHT_CORE", playwright)
                .output()
        })
        .await
        .unwrap()
        .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!(
                "api 200 scp=Machine.ReadWrite tid={tenant} first="
            )),
            "{stdout}"
        );
        let first = stdout
            .split(" first=")
            .nth(1)
            .and_then(|s| s.lines().next())
            .unwrap_or_default();
        assert!(first.ends_with(domain), "{tenant}: first machine {first}");
        assert!(stdout.contains("refreshed true api 200"), "{stdout}");
    }
    handle.shutdown().await;
    std::fs::remove_dir_all(&site).unwrap();
}
