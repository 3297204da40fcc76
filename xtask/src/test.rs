//! `cargo xtask test`: the one test command (README, `.ci/run`).
//!
//! Steps run in order and all of them run even after a failure (so one run reports everything);
//! steps that need an earlier artifact are skipped when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx::{self, Ctx, Steps, WASM_PACKAGES, WASM_TARGET};
use crate::{dist, emulator, fuzz, package, site, size, tools};

pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    let mut quick = false;
    let mut skip: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--skip" => skip.push(it.next().ok_or("--skip needs a step name")?.clone()),
            other => return Err(format!("unknown test option `{other}`")),
        }
    }
    let wanted = |name: &str| !skip.iter().any(|s| name.starts_with(s.as_str()));
    let mut steps = Steps::default();

    if !steps.step("tools", || tools::ensure_all(ctx)) {
        return steps.finish();
    }
    if wanted("fmt") {
        steps.step("fmt", || {
            ctx::run(ctx.cargo().args(["fmt", "--all", "--", "--check"]))
        });
    }
    if wanted("clippy") {
        steps.step("clippy (native)", || {
            ctx::run(ctx.cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ]))
        });
        steps.step("clippy (wasm32)", || {
            ctx::run(
                ctx.cargo()
                    .args(["clippy", "--target", WASM_TARGET, "--all-targets"])
                    .args(WASM_PACKAGES)
                    .args(["--", "-D", "warnings"]),
            )
        });
    }
    if wanted("unit") {
        steps.step("unit + integration tests (native)", || {
            ctx::run(ctx.cargo().args(["test", "--workspace", "--all-features"]))
        });
    }
    if quick {
        steps.skip("browser, Node and end-to-end tests", "--quick");
        return steps.finish();
    }

    let out = ctx.test_output();
    let _ = std::fs::create_dir_all(&out);
    let mut emulator_bin: Option<PathBuf> = None;
    steps.step("build emulator", || {
        emulator_bin = Some(emulator::build(ctx)?);
        Ok(())
    });
    let mut site_dir: Option<PathBuf> = None;
    // The browser suites drive the built site; `--skip e2e` alone keeps the others.
    if wanted("e2e") || wanted("security") || wanted("deploy") {
        steps.step("build site (wasm-release)", || {
            site_dir = Some(site::build(ctx, site::Profile::Release)?);
            Ok(())
        });
    }

    match &emulator_bin {
        Some(bin) if wanted("wasm") => {
            steps.step("wasm tests (headless Chromium + Node)", || {
                wasm_tests(ctx, bin, &out)
            });
        }
        _ => steps.skip("wasm tests", "no emulator binary or skipped"),
    }
    // Ignored by a plain `cargo test` (it needs node, Chromium and the npm folders `tools`
    // installs above), so it runs here, explicitly.
    if wanted("msal") {
        steps.step(
            "MSAL sign-in (real msal-browser, emulator IdP, Chromium)",
            || {
                ctx::run(
                    ctx.cargo()
                        .args(["test", "-p", "defender-tags-emulator", "--test", "msal"])
                        .args(["--", "--ignored"])
                        .env("CHROMIUM", "/usr/bin/chromium"),
                )
            },
        );
    }
    let mut pkg_dir: Option<PathBuf> = None;
    if wanted("package") {
        steps.step("package (npm)", || {
            pkg_dir = Some(package::run(ctx)?);
            Ok(())
        });
    }
    // The size budget, on whatever the two builds above produced (it reads files, builds
    // nothing): both artefacts normally, one if the other's build was skipped.
    let built: Vec<size::Artefact> = [
        (size::Artefact::Package, pkg_dir.is_some()),
        (size::Artefact::SpaFirstLoad, site_dir.is_some()),
    ]
    .into_iter()
    .filter_map(|(artefact, built)| built.then_some(artefact))
    .collect();
    if !wanted("size") {
        steps.skip("size budget", "skipped");
    } else if built.is_empty() {
        steps.skip("size budget", "no package or site build");
    } else {
        steps.step(&format!("size budget ({})", size::BUDGET_FILE), || {
            size::guard(ctx, &built, false)
        });
    }
    match (&emulator_bin, &pkg_dir) {
        (Some(bin), Some(pkg)) if wanted("node") => {
            steps.step("Node tests (package, edge proxy)", || {
                node_suite(ctx, "tests/node", bin, None, Some(pkg))
            });
        }
        _ => steps.skip("Node tests", "no emulator binary or package, or skipped"),
    }
    match (&emulator_bin, &pkg_dir) {
        (Some(bin), Some(pkg)) if wanted("proxy") => {
            steps.step("edge proxy services (Node server + workerd)", || {
                node_suite(ctx, "tests/proxy", bin, None, Some(pkg))
            });
        }
        _ => steps.skip(
            "edge proxy services",
            "no emulator binary or package, or skipped",
        ),
    }
    match (&emulator_bin, &pkg_dir) {
        (Some(bin), Some(pkg)) if wanted("soak") => {
            steps.step("fault soak (2k machines, 20% faults, token expiry)", || {
                node_suite(ctx, "tests/soak", bin, site_dir.as_deref(), Some(pkg))
            });
        }
        _ => steps.skip("fault soak", "no emulator binary or package, or skipped"),
    }
    match (&emulator_bin, &site_dir) {
        (Some(bin), Some(site)) => {
            if wanted("e2e") {
                steps.step("end-to-end tests (Playwright, Chromium)", || {
                    node_suite(ctx, "tests/e2e", bin, Some(site), pkg_dir.as_deref())
                });
            } else {
                steps.skip("end-to-end tests", "skipped");
            }
            if wanted("security") {
                steps.step("security suite (Node + Chromium)", || {
                    node_suite(ctx, "tests/security", bin, Some(site), pkg_dir.as_deref())
                });
            }
        }
        _ => steps.skip(
            "end-to-end and security tests",
            "no emulator binary or site",
        ),
    }
    match (&emulator_bin, &site_dir) {
        (Some(bin), Some(site)) if wanted("deploy") => {
            steps.step(
                "deploy (dist bundle under a sub-path, real nginx, Chromium)",
                || deploy_suite(ctx, bin, site),
            );
        }
        _ => steps.skip("deploy tests", "no emulator binary or site, or skipped"),
    }
    if wanted("fuzz") {
        steps.step("fuzz smoke (cargo fuzz, bounded)", || fuzz::smoke(ctx));
    }
    steps.finish()
}

/// wasm-bindgen tests of the client and the UI against a live emulator. The URL reaches the
/// tests at compile time (`option_env!("DT_EMULATOR_URL")`): there is no process environment
/// inside a browser.
///
/// The test page's origin is fixed in advance (`WASM_BINDGEN_TEST_ADDRESS`, on a port free right
/// now) so the emulator can allow exactly that origin instead of `--cors-origin '*'`.
fn wasm_tests(ctx: &Ctx, bin: &PathBuf, out: &Path) -> Result<(), String> {
    let page_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port for the wasm test page: {e}"))?;
    let page_origin = format!("http://{page_addr}");
    let args: Vec<String> = [
        "--machines",
        "600",
        "--seed",
        "7",
        "--cors-origin",
        &page_origin,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let emu = emulator::Running::start(bin, &args, Some(out.join("emulator-wasm-tests.log")))?;
    ctx::run(
        ctx.cargo()
            .args(["test", "--target", WASM_TARGET])
            .args(WASM_PACKAGES)
            .env("DT_EMULATOR_URL", &emu.url)
            .env("WASM_BINDGEN_TEST_ADDRESS", page_addr.to_string())
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
    )
}

/// The sub-path the deploy suite hosts the bundle under (tests/deploy/lib/dist.mjs `BASE_PATH`).
const DEPLOY_BASE_PATH: &str = "/tools/defender-tags/";

/// Builds the dist bundle of tests/deploy/site-config.json under [`DEPLOY_BASE_PATH`] from the
/// site built above (as `cargo xtask dist --site` would) and runs tests/deploy against it with
/// real nginx. The suite runs `xtask dist` itself too (bad input, a bundle naming the emulator),
/// through this very binary.
fn deploy_suite(ctx: &Ctx, bin: &Path, site: &Path) -> Result<(), String> {
    let config = ctx.root.join("tests/deploy/site-config.json");
    let checked = dist::check_config(&config, Some(DEPLOY_BASE_PATH))?;
    // Outside the target dir: nginx's workers run as `nobody` when the suite runs as root, and
    // CI's target dir lives under /root (mode 700), which they cannot enter.
    let scratch = std::env::temp_dir().join(format!("defender-tags-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let bundle = scratch.join("bundle");
    dist::write_bundle(site, &checked, &bundle)?;
    let xtask = std::env::current_exe()
        .map_err(|e| format!("cannot find the xtask binary for the deploy suite: {e}"))?;
    let result = node_suite_with(
        ctx,
        "tests/deploy",
        bin,
        Some(site),
        None,
        &[
            ("DT_DIST_DIR", bundle.as_os_str()),
            ("DT_XTASK_BIN", xtask.as_os_str()),
            ("DT_NGINX", std::ffi::OsStr::new(tools::NGINX)),
        ],
    );
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// A `node --test` suite folder (its package.json `test` script) with the paths it needs.
fn node_suite(
    ctx: &Ctx,
    dir: &str,
    bin: &Path,
    site: Option<&Path>,
    pkg: Option<&Path>,
) -> Result<(), String> {
    node_suite_with(ctx, dir, bin, site, pkg, &[])
}

/// [`node_suite`] with more environment variables.
fn node_suite_with(
    ctx: &Ctx,
    dir: &str,
    bin: &Path,
    site: Option<&Path>,
    pkg: Option<&Path>,
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<(), String> {
    let folder = ctx.root.join(dir);
    if !folder.join("package.json").exists() {
        return Err(format!("{dir}/package.json is missing"));
    }
    let mut cmd = Command::new("npm");
    cmd.args(["test", "--silent"])
        .current_dir(&folder)
        .env("DT_EMULATOR_BIN", bin)
        .env("DT_SCREENSHOTS", ctx.test_output().join("screenshots"))
        .env("DT_OUTPUT", ctx.test_output())
        .env("CHROMIUM", "/usr/bin/chromium");
    if let Some(site) = site {
        cmd.env("DT_SITE_DIR", site);
    }
    if let Some(pkg) = pkg {
        cmd.env("DT_PKG_DIR", pkg);
    }
    cmd.envs(env.iter().copied());
    ctx::run(&mut cmd)
}
