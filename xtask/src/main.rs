//! `cargo xtask …`: the project's build, demo, test, bench, package and size commands.
//!
//! Few dependencies so the task runner itself compiles quickly on a fresh machine: the standard
//! library, plus core (for `dist`'s configuration check), serde_json, sha2, thiserror, and
//! wasmparser + rustc-demangle for the size guard. Every heavy lifting step is an external tool
//! (cargo, wasm-bindgen, npm, node).

mod bench;
mod ctx;
mod demo;
mod dist;
mod emulator;
mod fuzz;
mod nightly;
mod package;
mod site;
mod size;
mod split;
mod test;
mod tools;

use std::process::ExitCode;

use ctx::Ctx;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build              build the web site (target/site) and the emulator
  demo [--port N] [--machines N] [--second-tenant-machines N]
                     build everything and serve the UI with the emulator on 127.0.0.1
                     (tenants Contoso and, unless N is 0, Fabrikam with 800 machines)
  dist --config FILE [--base-path /some/path/] [--site DIR] --out DIR
                     production bundle of the web UI for your own hosting: hashed assets,
                     config.json checked, CSP and hosting files (nginx, Azure Static Web Apps,
                     Netlify/Cloudflare _headers); see docs/deploy.md
  test [--quick] [--skip STEP]...
                     everything CI runs: tools, fmt, clippy (native + wasm32), unit, integration,
                     browser, Node and end-to-end tests. --quick skips the slow browser steps.
  bench              run the benchmarks and write BENCHMARKS.md
  package            build the embeddable npm package into target/pkg
  size [--markdown | --ratchet]
                     check the built package and site against xtask/size-budget.json and show
                     what is big (largest functions, size by crate); builds nothing.
                     --markdown: print BENCHMARKS.md's 'Size by crate' tables only;
                     --ratchet: lower the budgets to what the built artefacts allow
  tools              install missing tools (wasm32 target, wasm-bindgen-cli, wasm-split-cli,
                     Chromium, nginx, npm deps)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let ctx = match Ctx::discover() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("xtask: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command.as_str() {
        "build" => site::build(&ctx, site::Profile::Release)
            .and_then(|_| emulator::build(&ctx))
            .map(|_| ()),
        "demo" => demo::run(&ctx, rest),
        "dist" => dist::run(&ctx, rest),
        "test" => test::run(&ctx, rest),
        "bench" => bench::run(&ctx, rest),
        "package" => package::run(&ctx).map(|_| ()),
        "size" => size::run(&ctx, rest),
        "tools" => tools::ensure_all(&ctx),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {command}: {e}");
            ExitCode::FAILURE
        }
    }
}
