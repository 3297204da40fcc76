//! Advanced hunting (`POST /v1.0/security/runHuntingQuery`) against a real server, decoded
//! with core's hunting decoder: the emulator and the client agree on the shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use defender_tags_core::hunting::{
    self, HuntingError, HuntingQuota, HuntingResult, decode_hunting_result, decode_provenance,
};
use defender_tags_core::{MachineId, MachineRef};
use serde_json::{Value, json};

const PATH: &str = "/v1.0/security/runHuntingQuery";
const GRAPH: &str = "https://graph.microsoft.com";

async fn graph_token(emu: &Emu, persona: &str) -> String {
    emu.token_with(json!({"persona": persona, "audience": GRAPH}))
        .await
}

async fn hunt(emu: &Emu, token: &str, query: &str) -> Reply {
    emu.post(PATH, token, json!({ "Query": query })).await
}

fn decode(r: &Reply) -> Result<HuntingResult, HuntingError> {
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    decode_hunting_result(r.status.as_u16(), &headers, r.text.as_bytes())
}

fn graph_error(r: &Reply, status: u16, code: &str) -> String {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    assert!(r.body["error"]["innerError"]["request-id"].is_string());
    r.body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn finds_recent_machines_one_row_per_report() {
    let emu = Emu::start().await;
    let t = graph_token(&emu, "admin").await;
    let raw = emu.raw_machines().await;
    let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    let recent30: Vec<&Value> = raw.iter().filter(|m| last_seen(m) >= cutoff).collect();
    assert!(
        recent30.len() < raw.len(),
        "some machines are older than 30 days"
    );

    let r = hunt(
        &emu,
        &t,
        "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId | project DeviceId, DeviceName, DeviceManualTags",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let result = decode(&r).expect("core decodes the emulator's answer");
    assert_eq!(
        result.column_names(),
        ["DeviceId", "DeviceName", "DeviceManualTags"]
    );
    let found = result.devices().expect("has DeviceId");
    assert_eq!(found.devices.len(), recent30.len());
    assert!(found.skipped.is_empty());
    // The same machines, in dataset order.
    let want: Vec<MachineRef> = recent30
        .iter()
        .map(|m| MachineRef::Id(MachineId::parse(&id(m)).unwrap()))
        .collect();
    let got: Vec<MachineRef> = found.devices.iter().map(|d| d.machine.clone()).collect();
    assert_eq!(got, want);

    // Without the summarize, each machine has several reports: de-duplicated by core.
    let r = hunt(&emu, &t, "DeviceInfo | project DeviceId, Timestamp").await;
    let all = decode(&r).unwrap();
    assert!(all.rows.len() > recent30.len());
    let found = all.devices().unwrap();
    assert_eq!(found.devices.len(), recent30.len());
    assert_eq!(found.duplicate_rows, all.rows.len() - recent30.len());
    emu.stop().await;
}

#[tokio::test]
async fn manual_tags_are_the_machines_tags_and_provenance_decodes() {
    let emu = Emu::start().await;
    let t = graph_token(&emu, "admin").await;
    let raw = emu.raw_machines().await;
    let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    let tagged: Vec<&Value> = raw
        .iter()
        .filter(|m| last_seen(m) >= cutoff && !m["machineTags"].as_array().unwrap().is_empty())
        .take(3)
        .collect();
    let ids: Vec<MachineId> = tagged
        .iter()
        .map(|m| MachineId::parse(&id(m)).unwrap())
        .collect();
    let queries = hunting::provenance_queries(&ids);
    assert_eq!(queries.len(), 1);
    let r = hunt(&emu, &t, queries[0].as_str()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = decode_provenance(&decode(&r).unwrap()).unwrap();
    assert!(p.missing_columns.is_empty());
    assert_eq!(p.machines.len(), 3);
    for m in &tagged {
        let id = MachineId::parse(&id(m)).unwrap();
        let tags: Vec<String> = m["machineTags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(p.machines[&id].manual, tags);
        assert!(p.machines[&id].registry.is_empty());
        assert!(p.machines[&id].rule.is_empty());
    }
    emu.stop().await;
}

#[tokio::test]
async fn analyst_sees_only_their_device_groups() {
    let emu = Emu::start().await;
    let t = graph_token(&emu, "analyst").await;
    let r = hunt(&emu, &t, "DeviceInfo | distinct MachineGroup").await;
    let groups: Vec<String> = decode(&r)
        .unwrap()
        .rows
        .iter()
        .map(|r| r[0].as_str().unwrap().to_owned())
        .collect();
    assert!(!groups.is_empty());
    for g in &groups {
        assert!(
            ["Finance", "HR", "Engineering"].contains(&g.as_str()),
            "{g}"
        );
    }
    emu.stop().await;
}

#[tokio::test]
async fn tokens_permissions_and_errors() {
    let emu = Emu::start().await;
    // A Defender API token is not a Graph token: 401, as Graph answers.
    let api = emu.token("admin").await;
    let m = graph_error(
        &hunt(&emu, &api, "DeviceInfo | count").await,
        401,
        "InvalidAuthenticationToken",
    );
    assert!(m.contains("audience"), "{m}");
    // And a Graph token is refused by the Defender API (403 wrong audience).
    let g = graph_token(&emu, "admin").await;
    assert_eq!(emu.get("/api/machines?$top=1", &g).await.status, 403);
    // reader has no ThreatHunting.Read.All.
    let reader = graph_token(&emu, "reader").await;
    let r = hunt(&emu, &reader, "DeviceInfo | count").await;
    let m = graph_error(&r, 403, "Forbidden");
    assert!(m.contains("ThreatHunting.Read.All"), "{m}");
    assert!(matches!(
        decode(&r),
        Err(HuntingError::MissingPermission { .. })
    ));
    // The app persona has the application permission.
    let app = graph_token(&emu, "app").await;
    assert_eq!(hunt(&emu, &app, "DeviceInfo | count").await.status, 200);
    // No token.
    let r = emu
        .send(
            emu.http
                .post(format!("{}{PATH}", emu.url))
                .json(&json!({"Query": "x"})),
        )
        .await;
    graph_error(&r, 401, "InvalidAuthenticationToken");
    // Syntax error with its position.
    let r = hunt(&emu, &g, "DeviceInfo | where DeviceName = \"x\"").await;
    let m = graph_error(&r, 400, "BadRequest");
    assert!(m.contains("line [1,31]"), "{m}");
    assert!(matches!(decode(&r), Err(HuntingError::BadQuery { .. })));
    let m = graph_error(&hunt(&emu, &g, "Alerts | take 1").await, 400, "BadRequest");
    assert!(m.contains("Failed to resolve table 'Alerts'"), "{m}");
    graph_error(
        &emu.post(PATH, &g, json!({"query": "  "})).await,
        400,
        "BadRequest",
    );
    graph_error(
        &emu.post(PATH, &g, json!({"Text": "DeviceInfo"})).await,
        400,
        "BadRequest",
    );
    graph_error(&emu.get(PATH, &g).await, 405, "Request_BadRequest");
    graph_error(
        &emu.post("/v1.0/security/alerts", &g, json!({})).await,
        404,
        "NotFound",
    );
    // Graph paths are case-insensitive.
    assert_eq!(
        emu.post(
            "/V1.0/Security/RunHuntingQuery",
            &g,
            json!({"Query": "DeviceInfo | count"})
        )
        .await
        .status,
        200
    );
    let stats = emu.stats().await;
    assert!(
        stats["endpoints"]["runHuntingQuery"]["calls"]
            .as_u64()
            .unwrap()
            >= 9
    );
    emu.stop().await;
}

#[tokio::test]
async fn the_call_quota_answers_429_with_retry_after() {
    let emu = Emu::start().await;
    let g = graph_token(&emu, "admin").await;
    for i in 0..45 {
        let r = hunt(&emu, &g, "DeviceInfo | take 1 | project DeviceId").await;
        assert_eq!(r.status, 200, "call {i}: {}", r.text);
    }
    let r = hunt(&emu, &g, "DeviceInfo | take 1").await;
    let m = graph_error(&r, 429, "TooManyRequests");
    assert!(m.contains("45 calls per minute"), "{m}");
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs));
    match decode(&r) {
        Err(HuntingError::Throttled {
            quota, retry_after, ..
        }) => {
            assert_eq!(quota, HuntingQuota::CallRate);
            assert!(retry_after.is_some());
        }
        other => panic!("{other:?}"),
    }
    // The Defender API's budget is separate.
    let api = emu.token("admin").await;
    assert_eq!(emu.get("/api/machines?$top=1", &api).await.status, 200);
    emu.stop().await;
}

async fn put_sources(emu: &Emu, body: Value) -> Reply {
    emu.send(
        emu.http
            .put(format!("{}/_emulator/tag-sources", emu.url))
            .json(&body),
    )
    .await
}

fn tags_of(m: &Value) -> Vec<String> {
    m["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn registry_and_rule_tags_come_back_after_an_api_removal() {
    let emu = Emu::start().await;
    let raw = emu.raw_machines().await;
    let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    let recent: Vec<&Value> = raw
        .iter()
        .filter(|m| last_seen(m) >= cutoff && m["osPlatform"] == "Ubuntu")
        .collect();
    let linux = recent[0];
    let kiosk_id = id(raw
        .iter()
        .find(|m| last_seen(m) >= cutoff && m["osPlatform"] != "Ubuntu")
        .unwrap());
    let linux_id = id(linux);

    // Bad sources are refused whole.
    assert_eq!(
        put_sources(&emu, json!({"registry": {"nope": "X"}}))
            .await
            .status,
        400
    );
    assert_eq!(
        put_sources(&emu, json!({"rules": [{"tag": "X"}]}))
            .await
            .status,
        400
    );
    assert_eq!(
        put_sources(
            &emu,
            json!({"rules": [{"tag": " X", "osPlatform": "Linux"}]})
        )
        .await
        .status,
        400
    );

    let r = put_sources(
        &emu,
        json!({"registry": {kiosk_id.clone(): "Kiosk-Reg"},
               "rules": [{"tag": "Linux-Fleet", "osPlatform": "ubuntu"}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["added"].as_u64().unwrap() >= 2);
    assert!(tags_of(&emu.raw_machine(&kiosk_id).await).contains(&"Kiosk-Reg".to_owned()));
    assert!(tags_of(&emu.raw_machine(&linux_id).await).contains(&"Linux-Fleet".to_owned()));

    // Provenance through hunting tells the sources apart.
    let g = graph_token(&emu, "admin").await;
    let ids = [
        MachineId::parse(&kiosk_id).unwrap(),
        MachineId::parse(&linux_id).unwrap(),
    ];
    let q = hunting::provenance_queries(&ids);
    let p = decode_provenance(&decode(&hunt(&emu, &g, q[0].as_str()).await).unwrap()).unwrap();
    use defender_tags_core::hunting::TagSource;
    assert_eq!(
        p.sources_of(&ids[0], "Kiosk-Reg"),
        Some(vec![TagSource::Registry])
    );
    assert_eq!(
        p.sources_of(&ids[1], "Linux-Fleet"),
        Some(vec![TagSource::Rule])
    );
    assert!(!p.machines[&ids[0]].removal_sticks("Kiosk-Reg"));
    for t in tags_of(linux) {
        assert_eq!(
            p.sources_of(&ids[1], &t),
            Some(vec![TagSource::Manual]),
            "{t}"
        );
    }

    // Removing them through the API is accepted ...
    let api = emu.token("admin").await;
    for (id, tag) in [(&kiosk_id, "Kiosk-Reg"), (&linux_id, "Linux-Fleet")] {
        let r = emu
            .post(
                &format!("/api/machines/{id}/tags"),
                &api,
                json!({"Value": tag, "Action": "Remove"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(!tags_of(&emu.raw_machine(id).await).contains(&tag.to_owned()));
    }
    // ... and does not stick: the next sync puts them back.
    let r = emu
        .send(
            emu.http
                .post(format!("{}/_emulator/tag-sources/sync", emu.url)),
        )
        .await;
    assert_eq!(r.body["added"], 2, "{}", r.text);
    assert!(tags_of(&emu.raw_machine(&kiosk_id).await).contains(&"Kiosk-Reg".to_owned()));
    assert!(tags_of(&emu.raw_machine(&linux_id).await).contains(&"Linux-Fleet".to_owned()));
    emu.stop().await;
}

#[tokio::test]
async fn the_scheduled_sync_runs_on_the_scaled_clock() {
    // One emulated day lasts about 0.2 s: rules run every ~9 ms, registry values every ~0.2 s.
    let emu = Emu::with(defender_tags_emulator::Config {
        time_scale: 432_000.0,
        ..Default::default()
    })
    .await;
    let raw = emu.raw_machines().await;
    let target = id(raw.iter().find(|m| recent(m)).unwrap());
    let r = put_sources(&emu, json!({"registry": {target.clone(): "Kiosk-Reg"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let api = emu.token("admin").await;
    let removed = emu
        .post(
            &format!("/api/machines/{target}/tags"),
            &api,
            json!({"Value": "Kiosk-Reg", "Action": "Remove"}),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert!(!tags_of(&removed.body).contains(&"Kiosk-Reg".to_owned()));
    let mut back = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if tags_of(&emu.raw_machine(&target).await).contains(&"Kiosk-Reg".to_owned()) {
            back = true;
            break;
        }
    }
    assert!(
        back,
        "the registry tag came back at a scheduled device report"
    );
    emu.stop().await;
}
