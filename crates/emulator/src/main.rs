//! `defender-tags-emulator`: see `--help` and crates/emulator/README.md.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use defender_tags_emulator::auth::personas::PERSONAS;
use defender_tags_emulator::cli::Cli;
use defender_tags_emulator::config::RETENTION_DAYS;
use defender_tags_emulator::{Config, DEMO_CLIENT_ID, serve};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), defender_tags_emulator::ServeError> {
    let started = std::time::Instant::now();
    let banner_config = config.clone();
    let handle = serve(config).await?;
    let url = handle.url();
    let mut out = std::io::stdout().lock();
    // The first line is machine-readable (docs/design.md); harnesses wait for it.
    let _ = writeln!(out, "LISTENING {url}");
    let authority = banner_config
        .public_url
        .clone()
        .unwrap_or_else(|| url.clone());
    let tenants = handle.tenants();
    let _ = writeln!(
        out,
        "Defender emulator at {url} ({} machines in {} tenant{}, ready in {} ms)",
        tenants.iter().map(|(_, n)| n).sum::<usize>(),
        tenants.len(),
        if tenants.len() == 1 { "" } else { "s" },
        started.elapsed().as_millis()
    );
    let _ = writeln!(out, "  API        {url}/api/machines");
    let _ = writeln!(out, "  Client id  {DEMO_CLIENT_ID} (any accepted)");
    let _ = writeln!(
        out,
        "  Config     {authority}/config.json (site configuration for the UI)"
    );
    for (spec, n) in &tenants {
        let t = &spec.tenant;
        let _ = writeln!(
            out,
            "  Tenant     {:<9} {}  {n} machines (*.{}), seed {}",
            t.name, t.id, t.machine_domain, spec.seed
        );
        let _ = writeln!(out, "    Authority  {authority}/{}/v2.0", t.id);
    }
    let _ = writeln!(out, "  Personas:");
    for p in &PERSONAS {
        let _ = writeln!(out, "    {:<8} {}", p.name, p.description);
    }
    let _ = writeln!(
        out,
        "  Test token: curl -s -X POST '{url}/_emulator/token?tenant={}' -d '{{\"persona\":\"app\"}}'",
        tenants.first().map_or("", |(spec, _)| spec.tenant.id)
    );
    let _ = writeln!(
        out,
        "  Rate limits 100/min, 1500/h per app+tenant+endpoint; time scale x{}; retention {RETENTION_DAYS} days",
        banner_config.time_scale
    );
    if let Some(dir) = &banner_config.static_dir {
        let _ = writeln!(out, "  UI         {url}/ (from {})", dir.display());
    }
    if let Some(f) = &banner_config.data_file {
        let _ = writeln!(out, "  Data file  {}", f.display());
    }
    let _ = out.flush();
    drop(out);
    wait_for_signal().await;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
