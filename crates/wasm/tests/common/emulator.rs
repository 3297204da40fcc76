//! Talking to the emulator's loopback test endpoints (`/_emulator/...`) from wasm tests.

use defender_tags_wasm::fetch::FetchTransport;
use defender_tags_wasm::transport::{HttpRequest, HttpResponse, Transport};
use serde_json::Value;

/// The emulator's base URL, baked in at compile time by `cargo xtask test`.
pub fn url() -> Option<&'static str> {
    let url = option_env!("DT_EMULATOR_URL");
    if url.is_none() {
        // Loud on purpose: a skipped suite must never look like a passing one.
        let msg = "\n\n!!!!! DT_EMULATOR_URL is not set at compile time: emulator tests SKIPPED. \
                   Run `cargo xtask test`, or start `defender-tags-emulator --port 0 --cors-origin \
                   http://127.0.0.1:8000`, set DT_EMULATOR_URL=http://127.0.0.1:PORT and \
                   WASM_BINDGEN_TEST_ADDRESS=127.0.0.1:8000. !!!!!\n";
        web_sys_console_error(msg);
    }
    url.map(|u| u.trim_end_matches('/'))
}

fn web_sys_console_error(msg: &str) {
    let Ok(console) = js_sys::Reflect::get(&js_sys::global(), &"console".into()) else {
        return;
    };
    if let Ok(error) = js_sys::Reflect::get(&console, &"error".into())
        && let Ok(f) = wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(error)
    {
        let _ = f.call1(&console, &msg.into());
    }
}

/// The time scale the emulator runs at (`DT_EMULATOR_TIME_SCALE`, default 1).
pub fn time_scale() -> f64 {
    option_env!("DT_EMULATOR_TIME_SCALE")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

pub async fn raw(method: &str, url: &str, body: Option<String>) -> HttpResponse {
    let request = HttpRequest {
        method: method.to_owned(),
        url: url.to_owned(),
        headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
        body,
    };
    FetchTransport
        .send(request, 20_000)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

pub async fn json(method: &str, base: &str, path: &str, body: Option<Value>) -> Value {
    let response = raw(
        method,
        &format!("{base}{path}"),
        body.map(|b| b.to_string()),
    )
    .await;
    assert!(
        (200..300).contains(&response.status),
        "{method} {path} -> {}: {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    if response.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&response.body).unwrap_or(Value::Null)
    }
}

/// Fresh dataset, no faults, empty rate windows.
pub async fn reset(base: &str) {
    json("POST", base, "/_emulator/reset", None).await;
    set_faults(base, serde_json::json!({})).await;
}

pub async fn set_faults(base: &str, faults: Value) {
    json("PUT", base, "/_emulator/faults", Some(faults)).await;
}

pub async fn token(base: &str, persona: &str) -> String {
    let v = json(
        "POST",
        base,
        "/_emulator/token",
        Some(serde_json::json!({ "persona": persona })),
    )
    .await;
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {v}"))
        .to_owned()
}

pub async fn stats(base: &str) -> Value {
    json("GET", base, "/_emulator/stats", None).await
}

/// Sum of one counter (`calls`, `throttled`, `client_errors`, `server_errors`, `dropped`) over
/// every endpoint of `/_emulator/stats`.
pub async fn counter(base: &str, name: &str) -> u64 {
    let stats = stats(base).await;
    stats["endpoints"]
        .as_object()
        .map(|m| m.values().map(|e| e[name].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Raw state of one machine (no auth, no rate limit).
pub async fn machine_tags(base: &str, id: &str) -> Vec<String> {
    let v = json("GET", base, &format!("/_emulator/machines/{id}"), None).await;
    v["machineTags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
