//! Builds the emulator and runs it as a child process for tests, the demo and benchmarks.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::ctx::{self, Ctx};

pub const PACKAGE: &str = "defender-tags-emulator";

/// Builds the emulator binary (dev profile: the same artifacts `cargo test` already built).
pub fn build(ctx: &Ctx) -> Result<PathBuf, String> {
    ctx::run(ctx.cargo().args(["build", "-p", PACKAGE, "--bin", PACKAGE]))?;
    Ok(binary(ctx, "debug"))
}

fn binary(ctx: &Ctx, profile: &str) -> PathBuf {
    ctx.target.join(profile).join(PACKAGE)
}

/// A running emulator; killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
}

impl Running {
    /// Starts `bin` with `args` (plus `--port 0` unless a port is given) and waits for the
    /// `LISTENING <url>` line the emulator prints first (docs/design.md). Its log goes to `log`.
    pub fn start(bin: &PathBuf, args: &[String], log: Option<PathBuf>) -> Result<Self, String> {
        let mut cmd = Command::new(bin);
        if !args.iter().any(|a| a == "--port") {
            cmd.args(["--port", "0"]);
        }
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
        match log {
            Some(path) => {
                let file = File::create(&path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                cmd.stderr(file);
            }
            None => {
                cmd.stderr(Stdio::inherit());
            }
        }
        let shown = ctx::describe(&cmd);
        eprintln!("$ {shown} &");
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the emulator ({}): {e}", bin.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("emulator stdout was not captured")?;
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout for the emulator's whole life so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(url) = line.strip_prefix("LISTENING ") {
                    let _ = tx.send(url.trim().to_string());
                    sent = true;
                    continue;
                }
                println!("[emulator] {line}");
            }
        });
        let mut running = Self {
            child,
            url: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => {
                running.url = url;
                Ok(running)
            }
            Err(_) => Err(format!(
                "the emulator did not print `LISTENING <url>`: `{shown}`"
            )),
        }
    }

    /// Waits for the emulator to exit (the demo runs until Ctrl-C).
    pub fn wait(mut self) -> Result<(), String> {
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for the emulator: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the emulator exited with {status}"))
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
