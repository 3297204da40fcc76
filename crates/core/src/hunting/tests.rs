use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::cloud::{BaseUrl, Cloud};
use crate::model::{MachineId, MachineRef};
use crate::throttle::{Acquire, RetryAfter};

const ID_A: &str = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07";
const ID_B: &str = "2e5bc9d7e413ddd7902c2932e418702b84d0cc07";

fn decode_json(v: serde_json::Value) -> Result<HuntingResult, HuntingError> {
    let body = serde_json::to_vec(&v).expect("json");
    decode_hunting_result::<&str, &str>(200, &[], &body)
}

fn result(columns: &[(&str, &str)], rows: serde_json::Value) -> HuntingResult {
    let schema: Vec<_> = columns
        .iter()
        .map(|(n, t)| json!({"name": n, "type": t}))
        .collect();
    decode_json(json!({"schema": schema, "results": rows})).expect("decodes")
}

#[test]
fn query_is_checked_once() {
    assert_eq!(HuntingQuery::parse(""), Err(HuntingQueryError::Empty));
    assert_eq!(HuntingQuery::parse(" \n\t"), Err(HuntingQueryError::Empty));
    let long = "a".repeat(MAX_QUERY_CHARS + 1);
    assert_eq!(
        HuntingQuery::parse(&long),
        Err(HuntingQueryError::TooLong {
            chars: MAX_QUERY_CHARS + 1,
            max: MAX_QUERY_CHARS
        })
    );
    // Characters, not bytes: a query of multi-byte characters at the limit is fine.
    assert!(HuntingQuery::parse(&"é".repeat(MAX_QUERY_CHARS)).is_ok());
    assert_eq!(
        HuntingQuery::parse("ab\0c"),
        Err(HuntingQueryError::NulCharacter { position: 3 })
    );
    let q = HuntingQuery::parse("  DeviceInfo | take 1 ").expect("valid");
    assert_eq!(q.as_str(), "  DeviceInfo | take 1 ");
}

#[test]
fn request_is_a_graph_post_with_escaped_query() {
    let q = HuntingQuery::parse("DeviceInfo | where DeviceName == \"a\\b\"").expect("valid");
    let req = run_hunting_query(&q);
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(
        req.url(&Cloud::Commercial.graph_base_url()),
        "https://graph.microsoft.com/v1.0/security/runHuntingQuery"
    );
    let body: serde_json::Value =
        serde_json::from_str(req.body.as_deref().expect("body")).expect("json body");
    assert_eq!(body, json!({"Query": q.as_str()}));
    assert!(
        req.headers
            .iter()
            .all(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
    );
    let emulator = BaseUrl::parse("http://127.0.0.1:8080").expect("loopback");
    assert_eq!(
        req.url(&emulator),
        "http://127.0.0.1:8080/v1.0/security/runHuntingQuery"
    );
}

#[test]
fn graph_hosts_and_scopes_per_cloud() {
    assert_eq!(Cloud::Gcc.graph_host(), "graph.microsoft.com");
    assert_eq!(Cloud::GccHigh.graph_host(), "graph.microsoft.us");
    assert_eq!(Cloud::DoD.graph_host(), "dod-graph.microsoft.us");
    for c in Cloud::ALL {
        assert_eq!(
            c.graph_scope(),
            format!("https://{}/.default", c.graph_host())
        );
        assert_eq!(
            c.graph_base_url().as_str(),
            format!("https://{}", c.graph_host())
        );
    }
}

#[test]
fn rows_are_typed_by_the_schema() {
    let r = result(
        &[
            ("Timestamp", "DateTime"),
            ("DeviceId", "String"),
            ("OSBuild", "Int64"),
            ("IsAzureADJoined", "Boolean"),
            ("Score", "Double"),
            ("Tags", "Object"),
            ("Odd", "Weird"),
        ],
        json!([{
            "Timestamp": "2026-12-01T10:00:00.1234567Z",
            "DeviceId": ID_A,
            "OSBuild": 22631,
            "IsAzureADJoined": 1,
            "Score": "NaN",
            "Tags": ["a"],
            "Odd": {"x": 1},
        }, {"DeviceId": null}]),
    );
    assert_eq!(r.rows.len(), 2);
    let row = &r.rows[0];
    assert!(matches!(row[0], Cell::DateTime(dt) if dt.year() == 2026));
    assert_eq!(row[1], Cell::String(ID_A.to_owned()));
    assert_eq!(row[2], Cell::Long(22631));
    assert_eq!(row[3], Cell::Bool(true));
    assert!(matches!(row[4], Cell::Real(f) if f.is_nan()));
    assert_eq!(row[5], Cell::Dynamic(json!(["a"])));
    assert_eq!(
        r.schema[6].column_type,
        ColumnType::Other("Weird".to_owned())
    );
    // Absent keys and nulls are Null, in every column.
    assert!(r.rows[1].iter().all(|c| *c == Cell::Null));
}

#[test]
fn a_cell_of_the_wrong_type_is_undecodable_with_its_place() {
    let err = decode_json(json!({
        "schema": [{"name": "OSBuild", "type": "Int64"}],
        "results": [{"OSBuild": 1}, {"OSBuild": "x"}],
    }))
    .expect_err("bad cell");
    match err {
        HuntingError::Undecodable { reason, .. } => {
            assert!(reason.contains("row 2"), "{reason}");
            assert!(reason.contains("OSBuild"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_answers_are_undecodable() {
    for body in [
        json!([]),
        json!({"schema": []}),
        json!({"results": []}),
        json!({"schema": {}, "results": []}),
        json!({"schema": [{"name": "A"}], "results": []}),
        json!({"schema": [{"type": "String"}], "results": []}),
        json!({"schema": [{"name": "A", "type": "String"}, {"name": "A", "type": "String"}], "results": []}),
        json!({"schema": [], "results": [1]}),
    ] {
        let err = decode_json(body.clone()).expect_err("malformed");
        assert_eq!(err.code(), "undecodable", "{body}");
    }
    // The retired API's capitalised keys are read too.
    let r = decode_json(json!({"Schema": [{"Name": "DeviceId", "Type": "String"}], "Results": []}))
        .expect("capitalised");
    assert_eq!(r.column_names(), vec!["DeviceId".to_owned()]);
}

#[test]
fn more_than_the_row_limit_is_refused() {
    let rows: Vec<_> = (0..=MAX_ROWS).map(|_| json!({})).collect();
    let err = decode_json(json!({"schema": [], "results": rows})).expect_err("too many");
    assert_eq!(
        err,
        HuntingError::TooManyRows {
            rows: MAX_ROWS + 1,
            max: MAX_ROWS
        }
    );
    let rows: Vec<_> = (0..MAX_ROWS).map(|_| json!({})).collect();
    assert_eq!(
        decode_json(json!({"schema": [], "results": rows}))
            .expect("at the limit")
            .rows
            .len(),
        MAX_ROWS
    );
}

#[test]
fn errors_by_status() {
    let body =
        br#"{"error":{"code":"BadRequest","message":"Syntax error at line 1, position 12"}}"#;
    let e = decode_hunting_result::<&str, &str>(400, &[], body).expect_err("400");
    assert_eq!(e.code(), "bad_query");
    assert!(e.to_string().contains("position 12"));
    let e = decode_hunting_result::<&str, &str>(
        403,
        &[],
        br#"{"error":{"code":"Forbidden","message":"Missing role"}}"#,
    )
    .expect_err("403");
    assert!(matches!(e, HuntingError::MissingPermission { .. }));
    assert!(e.to_string().contains("ThreatHunting.Read.All"));
    assert_eq!(
        decode_hunting_result::<&str, &str>(401, &[], b"")
            .expect_err("401")
            .code(),
        "unauthorized"
    );
    assert_eq!(
        decode_hunting_result::<&str, &str>(503, &[], b"<html>")
            .expect_err("503")
            .status(),
        503
    );
    assert_eq!(
        decode_hunting_result::<&str, &str>(418, &[], b"")
            .expect_err("418")
            .code(),
        "unexpected_status"
    );
}

#[test]
fn a_429_names_its_quota_and_reads_fractional_retry_after() {
    let calls = br#"{"error":{"code":"TooManyRequests","message":"Rate limit exceeded: 45 calls per minute"}}"#;
    let e = decode_hunting_result(429, &[("Retry-After", "2.128")], calls).expect_err("429");
    assert!(matches!(
        e,
        HuntingError::Throttled {
            quota: HuntingQuota::CallRate,
            retry_after: Some(RetryAfter::Seconds(3)),
            ..
        }
    ));
    assert!(e.to_string().contains("call quota"), "{e}");
    let cpu =
        br#"{"error":{"code":"TooManyRequests","message":"CPU quota for the hour is used up"}}"#;
    let e = decode_hunting_result(429, &[("retry-after", "60")], cpu).expect_err("429");
    assert!(matches!(
        e,
        HuntingError::Throttled {
            quota: HuntingQuota::Cpu,
            ..
        }
    ));
    assert!(e.to_string().contains("CPU quota"), "{e}");
    assert_eq!(e.retry_after(), Some(RetryAfter::Seconds(60)));
    let e = decode_hunting_result::<&str, &str>(429, &[], b"").expect_err("429");
    assert!(matches!(
        e,
        HuntingError::Throttled {
            quota: HuntingQuota::Unspecified,
            retry_after: None,
            ..
        }
    ));
}

#[test]
fn devices_dedupe_by_id_in_order() {
    let r = result(
        &[("DeviceId", "String"), ("DeviceName", "String")],
        json!([
            {"DeviceId": ID_B, "DeviceName": "b.contoso.com"},
            {"DeviceId": ID_A.to_uppercase(), "DeviceName": "a.contoso.com"},
            {"DeviceId": ID_B, "DeviceName": "b-again"},
            {"DeviceId": ID_A, "DeviceName": "a.contoso.com"},
            {"DeviceId": null, "DeviceName": "ghost"},
            {"DeviceId": "mde-less", "DeviceName": "x"},
        ]),
    );
    let d = r.devices().expect("has DeviceId");
    let ids: Vec<_> = d.devices.iter().map(|h| h.machine.clone()).collect();
    assert_eq!(
        ids,
        vec![
            MachineRef::Id(MachineId::parse(ID_B).expect("id")),
            MachineRef::Id(MachineId::parse(ID_A).expect("id")),
        ]
    );
    assert_eq!(d.devices[0].name.as_deref(), Some("b.contoso.com"));
    assert_eq!(d.devices[1].row, 2);
    assert_eq!(d.duplicate_rows, 2);
    assert_eq!(
        d.skipped,
        vec![
            SkippedRow {
                row: 5,
                reason: SkipReason::NoDevice
            },
            SkippedRow {
                row: 6,
                reason: SkipReason::NotAMachineId("mde-less".to_owned())
            },
        ]
    );
}

#[test]
fn devices_by_name_when_there_is_no_id_column() {
    let r = result(
        &[("devicename", "String"), ("n", "Int64")],
        json!([{"devicename": "PC1", "n": 1}, {"devicename": "pc1", "n": 2}, {"devicename": "PC2"}]),
    );
    let d = r.devices().expect("has a name column");
    assert_eq!(d.devices.len(), 2);
    assert_eq!(d.devices[0].machine, MachineRef::Name("PC1".to_owned()));
    assert_eq!(d.duplicate_rows, 1);
}

#[test]
fn no_device_column_is_a_clear_error() {
    let r = result(&[("count_", "Int64")], json!([{"count_": 3}]));
    let err = r.devices().expect_err("no device column");
    assert_eq!(
        err,
        DeviceColumnsError::NoDeviceColumn {
            columns: vec!["count_".to_owned()]
        }
    );
    assert!(err.to_string().contains("project DeviceId"));
}

#[test]
fn hunting_has_its_own_budget() {
    assert_eq!(HUNTING_LIMITS.per_minute(), 45);
    assert_eq!(HUNTING_LIMITS.per_hour(), 1_500);
    let mut l = hunting_rate_limiter();
    for _ in 0..45 {
        assert_eq!(l.try_acquire(0), Acquire::Granted);
    }
    assert!(matches!(l.try_acquire(0), Acquire::Wait { ms } if ms > 0));
}

#[test]
fn provenance_queries_chunk_and_dedupe() {
    assert!(provenance_queries(&[]).is_empty());
    let ids: Vec<MachineId> = (0..(PROVENANCE_CHUNK + 1))
        .map(|i| MachineId::parse(&format!("{i:040x}")).expect("id"))
        .collect();
    let mut with_dup = ids.clone();
    with_dup.push(ids[0].clone());
    let qs = provenance_queries(&with_dup);
    assert_eq!(qs.len(), 2);
    for q in &qs {
        // Every chunk would pass the query check.
        assert_eq!(HuntingQuery::parse(q.as_str()).as_ref(), Ok(q));
        assert!(q.as_str().contains(MANUAL_TAGS_COLUMN));
        assert!(q.as_str().contains("arg_max(Timestamp, *)"));
    }
    assert_eq!(qs[1].as_str().matches('"').count(), 2);
}

#[test]
fn one_provenance_query_names_few_machines_and_covers_the_tenant_for_many() {
    let ids: Vec<MachineId> = (0..(PROVENANCE_CHUNK + 1))
        .map(|i| MachineId::parse(&format!("{i:040x}")).expect("id"))
        .collect();
    let mut few = ids[..PROVENANCE_CHUNK].to_vec();
    few.push(ids[0].clone());
    let (q, whole) = provenance_query(&few);
    assert!(!whole, "200 distinct ids (one repeated) are named");
    assert_eq!(q.as_str().matches('"').count(), 2 * PROVENANCE_CHUNK);
    assert!(q.as_str().contains("where DeviceId in ("));
    let (q, whole) = provenance_query(&ids);
    assert!(whole, "201 ids: the whole tenant in one call");
    assert!(!q.as_str().contains("where"), "{}", q.as_str());
    assert!(
        q.as_str()
            .contains("summarize arg_max(Timestamp, *) by DeviceId")
    );
    for col in [REGISTRY_TAG_COLUMN, MANUAL_TAGS_COLUMN, DYNAMIC_TAGS_COLUMN] {
        assert!(q.as_str().contains(col));
    }
    assert_eq!(HuntingQuery::parse(q.as_str()).as_ref(), Ok(&q));
}

#[test]
fn provenance_by_machine_and_tag() {
    let r = result(
        &[
            ("DeviceId", "String"),
            (REGISTRY_TAG_COLUMN, "String"),
            (MANUAL_TAGS_COLUMN, "String"),
            (DYNAMIC_TAGS_COLUMN, "Object"),
        ],
        json!([
            {"DeviceId": ID_A, "RegistryDeviceTag": "Kiosk", "DeviceManualTags": "[\"VIP\",\"kiosk\"]",
             "DeviceDynamicTags": ["Servers"]},
            {"DeviceId": ID_B, "RegistryDeviceTag": "", "DeviceManualTags": null,
             "DeviceDynamicTags": "[]"},
            {"DeviceId": "not-an-id"},
        ]),
    );
    let p = decode_provenance(&r).expect("has DeviceId");
    let a = MachineId::parse(ID_A).expect("id");
    assert_eq!(
        p.sources_of(&a, "kiosk"),
        Some(vec![TagSource::Manual, TagSource::Registry])
    );
    assert_eq!(p.sources_of(&a, "servers"), Some(vec![TagSource::Rule]));
    assert_eq!(p.sources_of(&a, "unknown"), Some(vec![]));
    let sources = &p.machines[&a];
    assert!(sources.removal_sticks("VIP"));
    assert!(!sources.removal_sticks("Kiosk"));
    assert!(!sources.removal_sticks("Servers"));
    let b = MachineId::parse(ID_B).expect("id");
    assert_eq!(p.machines[&b], MachineTagSources::default());
    assert_eq!(p.skipped_rows, 1);
    assert!(p.missing_columns.is_empty());
    let absent = MachineId::parse(&"f".repeat(40)).expect("id");
    assert_eq!(p.sources_of(&absent, "VIP"), None);
}

#[test]
fn provenance_tolerates_missing_tag_columns_and_merges_rows() {
    let r = result(
        &[("DeviceId", "String"), (REGISTRY_TAG_COLUMN, "String")],
        json!([{"DeviceId": ID_A, "RegistryDeviceTag": "R1"}, {"DeviceId": ID_A, "RegistryDeviceTag": "R2"}]),
    );
    let mut p = decode_provenance(&r).expect("ok");
    assert_eq!(
        p.missing_columns,
        vec![MANUAL_TAGS_COLUMN, DYNAMIC_TAGS_COLUMN]
    );
    let a = MachineId::parse(ID_A).expect("id");
    assert_eq!(p.machines[&a].registry, vec!["R1", "R2"]);
    p.extend(decode_provenance(&r).expect("ok"));
    assert_eq!(p.machines[&a].registry, vec!["R1", "R2"]);
    let none = result(&[("X", "String")], json!([]));
    assert!(matches!(
        decode_provenance(&none),
        Err(ProvenanceError::NoDeviceId { .. })
    ));
}

#[test]
fn tag_lists_from_cells() {
    assert!(parse_tag_list(&Cell::Null).is_empty());
    assert!(parse_tag_list(&Cell::String("  ".into())).is_empty());
    assert_eq!(parse_tag_list(&Cell::String("A, B".into())), vec!["A, B"]);
    assert_eq!(
        parse_tag_list(&Cell::String("[\"a\", \" \", 3, \"b\"]".into())),
        vec!["a", "b"]
    );
    // Text that only looks like an array is one tag.
    assert_eq!(parse_tag_list(&Cell::String("[lab".into())), vec!["[lab"]);
    assert_eq!(parse_tag_list(&Cell::Long(3)), Vec::<String>::new());
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z]{0,6}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("String"),
            Just("DateTime"),
            Just("Int64"),
            Just("Boolean"),
            Just("Double"),
            Just("Object"),
            Just("DeviceId"),
            Just("schema"),
            Just("results"),
            Just("2026-01-01T00:00:00Z"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("schema".to_owned()),
                    Just("results".to_owned()),
                    Just("name".to_owned()),
                    Just("type".to_owned()),
                    Just("DeviceId".to_owned()),
                    Just("DeviceName".to_owned()),
                    "[a-z]{1,4}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn decoder_never_panics_on_json(v in arb_json(), status in prop_oneof![Just(200u16), Just(400), Just(429), 100u16..600]) {
        let body = serde_json::to_vec(&v).expect("json");
        if let Ok(r) = decode_hunting_result::<&str, &str>(status, &[("Retry-After", "1.5")], &body) {
            // Every row has one cell per column.
            prop_assert!(r.rows.iter().all(|row| row.len() == r.schema.len()));
            let _ = r.devices();
            let _ = decode_provenance(&r);
        }
    }

    #[test]
    fn decoder_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_hunting_result::<&str, &str>(200, &[], &body);
    }

    #[test]
    fn queries_under_the_limit_round_trip(text in "\\PC{1,200}") {
        match HuntingQuery::parse(&text) {
            Ok(q) => {
                prop_assert_eq!(q.as_str(), text.as_str());
                let req = run_hunting_query(&q);
                let body: serde_json::Value = serde_json::from_str(req.body.as_deref().unwrap_or("")).expect("json");
                prop_assert_eq!(body["Query"].as_str(), Some(text.as_str()));
            }
            Err(e) => {
                let expected = matches!(e, HuntingQueryError::Empty | HuntingQueryError::NulCharacter { .. });
                prop_assert!(expected, "unexpected {:?}", e);
            }
        }
    }
}
