//! `cargo xtask demo`: build everything, then serve the UI with the emulator on 127.0.0.1.

use crate::ctx::Ctx;
use crate::{emulator, site, tools};

pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    let mut port = "8080".to_string();
    let mut machines = "3000".to_string();
    // A second tenant (Fabrikam) so the demo shows the tenant switcher; 0 turns it off.
    let mut second = "800".to_string();
    let mut profile = site::Profile::Release;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => port = it.next().ok_or("--port needs a value")?.clone(),
            "--machines" => machines = it.next().ok_or("--machines needs a value")?.clone(),
            "--second-tenant-machines" => {
                second = it
                    .next()
                    .ok_or("--second-tenant-machines needs a value")?
                    .clone()
            }
            "--dev" => profile = site::Profile::Dev,
            other => return Err(format!("unknown demo option `{other}`")),
        }
    }
    port.parse::<u16>()
        .map_err(|_| format!("--port `{port}` is not a port number"))?;
    machines
        .parse::<u32>()
        .map_err(|_| format!("--machines `{machines}` is not a number"))?;
    second
        .parse::<u32>()
        .map_err(|_| format!("--second-tenant-machines `{second}` is not a number"))?;

    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen(ctx)?;
    tools::ensure_npm(ctx)?;
    let site = site::build(ctx, profile)?;
    let bin = emulator::build(ctx)?;
    let args = vec![
        "--port".to_string(),
        port,
        "--machines".to_string(),
        machines,
        "--second-tenant-machines".to_string(),
        second,
        "--static".to_string(),
        site.display().to_string(),
    ];
    let running = emulator::Running::start(&bin, &args, None)?;
    println!(
        "\ndefender-tags demo: open {}/ (Ctrl-C stops it)\n",
        running.url
    );
    running.wait()
}
