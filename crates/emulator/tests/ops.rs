//! Rate limits, fault injection, persistence, static serving, CORS and the admin endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use defender_tags_emulator::{Config, FaultConfig};
use serde_json::{Value, json};

/// `setDeviceValue` has no bulk form, so a bulk change is one call per machine: it must draw on
/// the same 100/min budget as every endpoint, 429 and Retry-After included.
#[tokio::test]
async fn set_device_value_is_rate_limited_like_every_endpoint() {
    let emu = Emu::with(Config {
        time_scale: 10.0,
        machines: 300,
        ..Config::default()
    })
    .await;
    let t = emu.token("app").await;
    let targets: Vec<String> = emu
        .raw_machines()
        .await
        .iter()
        .filter(|m| recent(m))
        .map(id)
        .take(101)
        .collect();
    assert_eq!(
        targets.len(),
        101,
        "the data set has enough recent machines"
    );
    let started = Instant::now();
    let calls: Vec<_> = targets[..100]
        .iter()
        .map(|m| {
            let req = emu
                .http
                .post(format!("{}/api/machines/{m}/setDeviceValue", emu.url))
                .bearer_auth(&t)
                .json(&json!({"DeviceValue": "High"}));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the test needs the 100 calls inside one window"
    );
    let r = emu
        .post(
            &format!("/api/machines/{}/setDeviceValue", targets[100]),
            &t,
            json!({"DeviceValue": "High"}),
        )
        .await;
    let msg = r.error(429, "TooManyRequests");
    assert!(msg.contains("100 calls per minute"), "{msg}");
    assert!(r.header("retry-after").is_some());
    let s = emu.stats().await;
    assert_eq!(s["endpoints"]["setDeviceValue"]["throttled"], 1);
    emu.stop().await;
}

#[tokio::test]
async fn rate_limit_429_with_retry_after_in_emulated_seconds() {
    // Scale 10: a minute lasts 6 real seconds, so 100 quick calls fill it.
    let emu = Emu::with(Config {
        time_scale: 10.0,
        machines: 200,
        ..Config::default()
    })
    .await;
    let t = emu.token("app").await;
    let started = Instant::now();
    // Concurrent, so the 100 calls land well inside one 6-second window even on a loaded machine.
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let req = emu
                .http
                .get(format!("{}/api/machines?$top=1", emu.url))
                .bearer_auth(&t);
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the test needs the 100 calls inside one window"
    );
    let r = emu.get("/api/machines?$top=1", &t).await;
    let msg = r.error(429, "TooManyRequests");
    assert!(msg.contains("100 calls per minute"), "{msg}");
    let retry: u64 = r
        .header("retry-after")
        .unwrap()
        .parse()
        .expect("integer seconds");
    let real_ms: u64 = r
        .header("x-emulator-retry-after-ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "emulated seconds: {retry}");
    assert!(real_ms <= 6000 && real_ms > 0, "{real_ms}");
    assert!(
        retry * 1000 >= real_ms * 10,
        "Retry-After (emulated, rounded up) covers the real wait x scale"
    );
    // Per endpoint and per app: other endpoints and other apps still have budget.
    let m = emu.raw_machines().await.into_iter().find(recent).unwrap();
    assert_eq!(
        emu.get(&format!("/api/machines/{}", id(&m)), &t)
            .await
            .status,
        200
    );
    let other_app = emu
        .token_with(json!({"persona": "app", "app_id": "another-app"}))
        .await;
    assert_eq!(
        emu.get("/api/machines?$top=1", &other_app).await.status,
        200
    );
    // Waiting what the header says (scaled) is enough.
    tokio::time::sleep(Duration::from_millis(retry * 1000 / 10 + 20)).await;
    assert_eq!(emu.get("/api/machines?$top=1", &t).await.status, 200);
    let s = emu.stats().await;
    assert_eq!(s["endpoints"]["listMachines"]["throttled"], 1);
    assert_eq!(
        s["endpoints"]["listMachines"]["calls"], 103,
        "100 + the 429 + another app + after waiting"
    );
    assert_eq!(s["endpoints"]["getMachine"]["calls"], 1);
    // The call log holds the accepted calls only (not the 429), with who made them and when.
    let log: Value = emu
        .http
        .get(format!("{}/_emulator/calls", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["time_scale"], 10.0);
    let calls = log["calls"].as_array().unwrap();
    assert_eq!(
        calls.len(),
        103,
        "100 + getMachine + another app + after waiting (not the 429)"
    );
    let apps: std::collections::BTreeSet<&str> =
        calls.iter().map(|c| c["app"].as_str().unwrap()).collect();
    assert_eq!(apps.len(), 2, "{apps:?}");
    assert!(
        calls
            .iter()
            .all(|c| c["tenant"].as_str().is_some_and(|t| !t.is_empty()))
    );
    let at: Vec<u64> = calls.iter().map(|c| c["at_ms"].as_u64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert_eq!(calls[100]["endpoint"], "getMachine");
    assert_eq!(calls[102]["endpoint"], "listMachines");
    // Reset clears the windows and the stats.
    emu.http
        .post(format!("{}/_emulator/reset", emu.url))
        .send()
        .await
        .unwrap();
    assert!(
        emu.stats().await["endpoints"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    let log: Value = emu
        .http
        .get(format!("{}/_emulator/calls", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["calls"].as_array().map(Vec::len), Some(0));
    emu.stop().await;
}

/// The `_after` faults: the change is made, and then the answer is lost (500, 503, a dropped
/// connection, or a reply later than the caller's timeout).
#[tokio::test]
async fn faults_after_processing_apply_the_change_then_fail_the_answer() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let machines: Vec<Value> = emu
        .raw_machines()
        .await
        .into_iter()
        .filter(recent)
        .collect();
    let tags_of = |m: Value| -> Vec<String> {
        m["machineTags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    };
    let tag_call = |i: usize, tag: &str| {
        emu.http
            .post(format!(
                "{}/api/machines/{}/tags",
                emu.url,
                id(&machines[i])
            ))
            .bearer_auth(&t)
            .json(&json!({"Value": tag, "Action": "Add"}))
    };

    assert_eq!(emu.put_faults(json!({"error500_after": 1.0})).await, 200);
    emu.send(tag_call(0, "after-500"))
        .await
        .error(500, "InternalServerError");
    assert!(tags_of(emu.raw_machine(&id(&machines[0])).await).contains(&"after-500".to_owned()));

    emu.put_faults(json!({"error503_after": 1.0})).await;
    let msg = emu
        .send(tag_call(1, "after-503"))
        .await
        .error(503, "ServiceUnavailable");
    assert!(msg.contains("after the request was processed"), "{msg}");
    assert!(tags_of(emu.raw_machine(&id(&machines[1])).await).contains(&"after-503".to_owned()));

    // A bulk call too: every machine of it changed.
    let bulk_ids = [id(&machines[2]), id(&machines[3])];
    let r = emu
        .post(
            "/api/machines/AddOrRemoveTagForMultipleMachines",
            &t,
            json!({"Value": "after-bulk", "Action": "Add", "MachineIds": bulk_ids}),
        )
        .await;
    r.error(503, "ServiceUnavailable");
    for m in &bulk_ids {
        assert!(tags_of(emu.raw_machine(m).await).contains(&"after-bulk".to_owned()));
    }

    // A request that fails on its own keeps its answer and changes nothing.
    let r = emu
        .post(
            &format!("/api/machines/{}/tags", "0".repeat(40)),
            &t,
            json!({"Value": "x", "Action": "Add"}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);

    emu.put_faults(json!({"drop_after": 1.0})).await;
    let err = tag_call(4, "after-drop").send().await.unwrap_err();
    assert!(
        !err.is_status() && !err.is_timeout(),
        "closed without a response: {err}"
    );
    assert!(tags_of(emu.raw_machine(&id(&machines[4])).await).contains(&"after-drop".to_owned()));

    emu.put_faults(json!({"slow_after": 1.0, "slow_after_ms": 1500}))
        .await;
    let err = tag_call(5, "after-slow")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        tags_of(emu.raw_machine(&id(&machines[5])).await).contains(&"after-slow".to_owned()),
        "the change was made before the slow answer"
    );

    // Reads are processed and then fail the same way (nothing to change there).
    emu.put_faults(json!({"error500_after": 1.0})).await;
    emu.get("/api/machines?$top=1", &t)
        .await
        .error(500, "InternalServerError");

    let s = emu.stats().await;
    assert_eq!(s["endpoints"]["tagMachine"]["faulted_after_processing"], 4);
    assert_eq!(
        s["endpoints"]["bulkTagMachines"]["faulted_after_processing"],
        1
    );
    assert_eq!(
        s["endpoints"]["listMachines"]["faulted_after_processing"],
        1
    );
    assert_eq!(s["endpoints"]["tagMachine"]["dropped"], 1);
    assert_eq!(
        emu.put_faults(json!({"drop_after": 0.7, "error503": 0.7}))
            .await,
        400,
        "after faults count in the exclusive sum"
    );
    emu.stop().await;
}

#[tokio::test]
async fn injected_faults_apply_to_api_only() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let list = "/api/machines?$top=1";

    assert_eq!(emu.put_faults(json!({"error503": 1.0})).await, 200);
    emu.get(list, &t).await.error(503, "ServiceUnavailable");
    let d = emu
        .http
        .get(format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 200, "the IdP is not affected");
    assert_eq!(
        emu.stats().await["endpoints"]["listMachines"]["server_errors"],
        1
    );

    emu.put_faults(json!({"error500": 1.0})).await;
    emu.get(list, &t).await.error(500, "InternalServerError");

    emu.put_faults(json!({"throttle": 1.0, "throttle_retry_after_secs": 7}))
        .await;
    let r = emu.get(list, &t).await;
    r.error(429, "TooManyRequests");
    assert_eq!(r.header("retry-after"), Some("7"));

    emu.put_faults(json!({"expire_token": 1.0})).await;
    emu.get(list, &t).await.error(401, "Unauthorized");

    emu.put_faults(json!({"drop": 1.0})).await;
    let err = emu
        .http
        .get(format!("{}{list}", emu.url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap_err();
    assert!(
        !err.is_status() && !err.is_timeout(),
        "connection closed without a response: {err}"
    );
    assert_eq!(emu.stats().await["endpoints"]["listMachines"]["dropped"], 1);

    emu.put_faults(json!({"slow": 1.0, "slow_ms": 300})).await;
    let started = Instant::now();
    assert_eq!(emu.get(list, &t).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    emu.put_faults(json!({"max_token_age_secs": 0})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        emu.get(list, &t)
            .await
            .error(401, "Unauthorized")
            .contains("expired")
    );

    // Seeded: the same seed gives the same sequence.
    let run = || async {
        emu.put_faults(json!({"seed": 5, "error500": 0.5})).await;
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(emu.get(list, &t).await.status.as_u16());
        }
        v
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");

    let cfg: Value = emu
        .http
        .get(format!("{}/_emulator/faults", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (cfg["seed"].as_u64(), cfg["error500"].as_f64()),
        (Some(5), Some(0.5))
    );
    assert_eq!(emu.put_faults(json!({"error500": 2})).await, 400);
    assert_eq!(emu.put_faults(json!({"typo": 1})).await, 400);
    emu.put_faults(json!({})).await;
    assert_eq!(emu.get(list, &t).await.status, 200);
    emu.stop().await;
}

#[tokio::test]
async fn faults_from_config_at_start() {
    let faults = FaultConfig::from_json(r#"{"error503": 1.0}"#).unwrap();
    let emu = Emu::with(Config {
        faults,
        machines: 50,
        ..Config::default()
    })
    .await;
    let t = emu.token("app").await;
    emu.get("/api/machines", &t)
        .await
        .error(503, "ServiceUnavailable");
    // In-process harnesses can change faults and read stats without HTTP.
    emu.handle.set_faults(FaultConfig::default()).unwrap();
    assert_eq!(emu.get("/api/machines", &t).await.status, 200);
    let bad = FaultConfig {
        drop: 2.0,
        ..FaultConfig::default()
    };
    assert!(emu.handle.set_faults(bad).is_err());
    let s = emu.handle.stats();
    let list = s.endpoints["listMachines"];
    assert_eq!((list.calls, list.server_errors), (2, 1));
    emu.stop().await;
}

#[tokio::test]
async fn data_file_persists_tags_across_restart() {
    let dir = temp_dir("data");
    let file = dir.join("state.json");
    let config = Config {
        data_file: Some(file.clone()),
        machines: 300,
        seed: 3,
        ..Config::default()
    };
    let emu = Emu::with(config.clone()).await;
    let t = emu.token("app").await;
    let m = emu.raw_machines().await.into_iter().find(recent).unwrap();
    let r = emu
        .post(
            &format!("/api/machines/{}/tags", id(&m)),
            &t,
            json!({"Value": "Persisted", "Action": "Add"}),
        )
        .await;
    assert_eq!(r.status, 200);
    emu.stop().await;
    assert!(file.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");

    // A different seed proves the state came from the file.
    let emu = Emu::with(Config { seed: 99, ..config }).await;
    let again = emu.raw_machine(&id(&m)).await;
    assert!(
        again["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("Persisted"))
    );
    emu.stop().await;

    std::fs::write(&file, b"{not json").unwrap();
    let err = defender_tags_emulator::serve(Config {
        data_file: Some(file.clone()),
        ..Config::default()
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("not an emulator data file"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn static_files_spa_fallback_wasm_mime_and_csp() {
    let dir = temp_dir("static");
    let csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
    std::fs::write(dir.join("index.html"), format!("<!doctype html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\"></head><body>SPA</body></html>")).unwrap();
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("pkg/app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let emu = Emu::with(Config {
        static_dir: Some(dir.clone()),
        machines: 50,
        ..Config::default()
    })
    .await;
    let get = |p: &str| emu.http.get(format!("{}{p}", emu.url)).send();
    let r = get("/").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-security-policy"].to_str().unwrap(),
        format!("{csp}; frame-ancestors 'none'")
    );
    assert!(r.text().await.unwrap().contains("SPA"));
    let r = get("/settings/deep").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("SPA"), "SPA fallback");
    let r = get("/pkg/app_bg.wasm").await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert_eq!(get("/pkg/missing.js").await.unwrap().status(), 404);
    let r = get("/api/machines").await.unwrap();
    assert_eq!(r.status(), 401, "the API is not shadowed by the SPA");
    emu.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn cors_is_off_by_default_and_allow_listed_on_request() {
    let pre = |emu: &Emu, origin: &str| {
        emu.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/machines", emu.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let emu = Emu::with(Config {
        machines: 50,
        ..Config::default()
    })
    .await;
    let t = emu.token("app").await;
    let r = emu
        .http
        .get(format!("{}/api/machines", emu.url))
        .bearer_auth(&t)
        .header("origin", "http://a.test")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(
        pre(&emu, "http://a.test")
            .await
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    emu.stop().await;

    let emu = Emu::with(Config {
        machines: 50,
        cors_origins: vec!["http://a.test".into()],
        ..Config::default()
    })
    .await;
    let r = pre(&emu, "http://a.test").await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "http://a.test");
    assert!(
        pre(&emu, "http://b.test")
            .await
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let t = emu.token("app").await;
    let r = emu
        .http
        .get(format!("{}/api/machines?$top=1", emu.url))
        .bearer_auth(&t)
        .header("origin", "http://a.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "http://a.test");
    assert!(
        r.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("retry-after")
    );
    emu.stop().await;

    let emu = Emu::with(Config {
        machines: 50,
        cors_origins: vec!["*".into()],
        ..Config::default()
    })
    .await;
    assert_eq!(
        pre(&emu, "http://127.0.0.1:41234").await.unwrap().headers()["access-control-allow-origin"],
        "*"
    );
    // The test endpoints follow the same policy, so a cross-origin test page can set faults.
    let r = emu
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/_emulator/faults", emu.url),
        )
        .header("origin", "http://127.0.0.1:41234")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(
        r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PUT")
    );
    emu.stop().await;
}

#[tokio::test]
async fn admin_endpoints_token_info_reset_and_raw_state() {
    let emu = Emu::with(Config {
        machines: 100,
        ..Config::default()
    })
    .await;
    let info: Value = emu
        .http
        .get(format!("{}/_emulator/info", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["tenant"], TENANT);
    assert_eq!(info["machines"], 100);
    let bad = emu
        .http
        .post(format!("{}/_emulator/token", emu.url))
        .json(&json!({"persona": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let t = emu.token("app").await;
    let m = emu.raw_machines().await.into_iter().find(recent).unwrap();
    emu.post(
        &format!("/api/machines/{}/tags", id(&m)),
        &t,
        json!({"Value": "Temp", "Action": "Add"}),
    )
    .await;
    assert!(
        emu.raw_machine(&id(&m)).await["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("Temp"))
    );
    // A page on another origin (open in the demo user's browser) cannot reset or reconfigure
    // the emulator; the emulator's own pages can.
    let cross_site = emu
        .http
        .post(format!("{}/_emulator/reset", emu.url))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert!(cross_site.text().await.unwrap().contains("--cors-origin"));
    assert!(
        emu.raw_machine(&id(&m)).await["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("Temp")),
        "nothing was reset"
    );
    let r = emu
        .http
        .post(format!("{}/_emulator/reset", emu.url))
        .header("origin", emu.url.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        emu.raw_machine(&id(&m)).await["machineTags"],
        m["machineTags"],
        "reset regenerates the seeded dataset"
    );
    let missing = emu
        .http
        .get(format!("{}/_emulator/machines/ffff", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    emu.stop().await;
}
