//! The binary: `--help`, the LISTENING line, banner, and SIGTERM persisting `--data`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_defender-tags-emulator");

#[test]
fn help_lists_the_documented_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind",
        "--port",
        "--machines",
        "--seed",
        "--time-scale",
        "--static",
        "--cors-origin",
        "--data",
        "--faults",
        "--public-url",
        "--second-tenant-machines",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
    let bad = Command::new(BIN)
        .args(["--faults", "{\"drop\": 7}"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("between 0 and 1"));
}

#[tokio::test]
async fn listening_line_then_sigterm_saves_data() {
    let dir = std::env::temp_dir().join(format!(
        "emu-bin-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("state.json");
    let mut child = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--machines",
            "200",
            "--second-tenant-machines",
            "30",
            "--data",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("LISTENING ")
        .expect("first line is LISTENING <url>")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let banner: Vec<String> = lines.by_ref().take(12).map(Result::unwrap).collect();
    let banner = banner.join("\n");
    for expected in [
        "Contoso",
        "11111111-2222-3333-4444-555555555555",
        "Fabrikam",
        "22222222-3333-4444-5555-666666666666",
        "/config.json",
        "analyst",
    ] {
        assert!(banner.contains(expected), "{expected} missing:\n{banner}");
    }
    std::thread::spawn(move || for _ in lines {});

    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{url}/_emulator/token"))
        .json(&json!({"persona": "app"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let list: Value = http
        .get(format!("{url}/api/machines?$top=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["value"][0]["id"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{url}/api/machines/{id}/tags"))
        .bearer_auth(&token)
        .json(&json!({"Value": "Survives SIGTERM", "Action": "Add"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut waited = Duration::ZERO;
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            waited < Duration::from_secs(10),
            "the emulator did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
        waited += Duration::from_millis(50);
    };
    assert!(exit.success(), "{exit}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    assert_eq!(saved["format"], 2);
    let tenants = saved["tenants"].as_array().unwrap();
    let count = |i: usize| tenants[i]["machines"].as_array().unwrap().len();
    assert_eq!(
        (tenants.len(), count(0), count(1)),
        (2, 200, 30),
        "both tenants are saved"
    );
    assert_eq!(tenants[0]["id"], "11111111-2222-3333-4444-555555555555");
    assert!(tenants[0].to_string().contains("Survives SIGTERM"));
    assert!(!tenants[1].to_string().contains("Survives SIGTERM"));
    std::fs::remove_dir_all(&dir).unwrap();
}
