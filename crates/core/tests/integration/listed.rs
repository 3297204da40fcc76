//! `ListedMachine` / `decode_list_machines_listed`: the lean decode a listing uses must equal
//! the full decode followed by `keep_listed_fields`, for every machine the API can send.

use defender_tags_core::api::{decode_list_machines, decode_list_machines_listed};
use defender_tags_core::model::{ListedMachine, keep_listed_fields};
use defender_tags_core::{ApiError, Machine};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::fixtures::read;

const NO_HEADERS: &[(&str, &str)] = &[];

fn both(body: &[u8]) -> (Vec<Machine>, Vec<Machine>) {
    let full = decode_list_machines(200, NO_HEADERS, body).unwrap();
    let listed = decode_list_machines_listed(200, NO_HEADERS, body).unwrap();
    assert_eq!(full.next_link, listed.next_link);
    assert_eq!(full.context, listed.context);
    (
        full.value.into_iter().map(keep_listed_fields).collect(),
        listed.value,
    )
}

#[test]
fn the_documented_listing_decodes_to_the_kept_fields() {
    let body = read("machines_list_doc.json");
    let (want, got) = both(body.as_bytes());
    assert!(!got.is_empty());
    assert_eq!(got, want);
    // Something was dropped: the full decode has fields the listed one does not.
    let full = decode_list_machines(200, NO_HEADERS, body.as_bytes()).unwrap();
    assert!(full.value[0].first_seen.is_some());
    assert!(got[0].first_seen.is_none());
    assert!(got[0].ip_addresses.iter().all(|a| a.mac_address.is_none()));
}

#[test]
fn loopback_and_addressless_interfaces_are_dropped() {
    let body = json!({"value": [{
        "id": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
        "ipAddresses": [
            {"ipAddress": "127.0.0.1", "type": "SoftwareLoopback"},
            {"ipAddress": "::1"},
            {"ipAddress": "0:0:0:0:0:0:0:1"},
            {"ipAddress": null, "macAddress": "AA"},
            {"macAddress": "BB"},
            {"ipAddress": "127.example"},
            {"ipAddress": "10.0.0.1", "unknown": {"nested": [1, 2]}},
            {"ipAddress": "fe80::1"},
            {"ipAddress": "::10"}
        ]
    }]})
    .to_string();
    let (want, got) = both(body.as_bytes());
    assert_eq!(got, want);
    let kept: Vec<_> = got[0]
        .ip_addresses
        .iter()
        .map(|a| a.ip_address.as_deref().unwrap())
        .collect();
    assert_eq!(kept, ["127.example", "10.0.0.1", "fe80::1", "::10"]);
}

#[test]
fn kept_fields_are_still_checked_and_skipped_ones_only_need_to_be_json() {
    let bad_id = br#"{"value":[{"id":"not-an-id"}]}"#;
    assert!(matches!(
        decode_list_machines_listed(200, NO_HEADERS, bad_id),
        Err(ApiError::Undecodable { .. })
    ));
    let bad_health =
        br#"{"value":[{"id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07","healthStatus":7}]}"#;
    assert!(decode_list_machines_listed(200, NO_HEADERS, bad_health).is_err());
    let duplicate = br#"{"value":[{"id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07","machineTags":[],"machineTags":[]}]}"#;
    assert!(decode_list_machines_listed(200, NO_HEADERS, duplicate).is_err());
    let truncated = br#"{"value":[{"id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07","osBuild":{"#;
    assert!(decode_list_machines_listed(200, NO_HEADERS, truncated).is_err());
    // A field nothing shows is skipped whatever its shape (the full decode would refuse it).
    let odd_build =
        br#"{"value":[{"id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07","osBuild":{"x":[1]}}]}"#;
    assert_eq!(
        decode_list_machines_listed(200, NO_HEADERS, odd_build)
            .unwrap()
            .value
            .len(),
        1
    );
    // Errors and "no recent machines" answer as the full decode does.
    assert!(decode_list_machines_listed(200, NO_HEADERS, b"{\"value\":").is_err());
    assert!(
        decode_list_machines_listed(404, NO_HEADERS, b"")
            .unwrap()
            .value
            .is_empty()
    );
    assert!(matches!(
        decode_list_machines_listed(
            403,
            NO_HEADERS,
            br#"{"error":{"code":"Forbidden","message":"no"}}"#
        ),
        Err(ApiError::Forbidden { .. })
    ));
}

#[test]
fn listings_keep_what_the_web_ui_reads_and_drop_the_rest() {
    // A full machine as the API sends it (the emulator's shape). The web UI reads the kept
    // fields: the table's columns, the filters, the details panel and bulk planning.
    let full: Machine = serde_json::from_str(
        r#"{"id":"4e1568170a0d98ebd8fc19c090866c8ab61e5bab","computerDnsName":"legal-srv-0001",
        "firstSeen":"2024-09-14T14:39:00Z","lastSeen":"2026-11-27T02:05:57Z",
        "osPlatform":"WindowsServer2022","osVersion":"10.0","osProcessor":"x64","version":"21H2",
        "osBuild":20348,"lastIpAddress":"10.16.20.77","lastExternalIpAddress":"203.0.113.213",
        "healthStatus":"Inactive","rbacGroupName":"Legal","rbacGroupId":106,"riskScore":"Low",
        "aadDeviceId":"x","isAadJoined":false,"machineTags":["VIP","Berlin, DE"],
        "exposureLevel":"Medium","deviceValue":"High","ipAddresses":[{"ipAddress":"10.16.20.77","macAddress":"AABBCCDDEEFF","type":"Ethernet","operationalStatus":"Up"},{"ipAddress":"192.168.1.23","type":"Wireless80211"},{"ipAddress":"127.0.0.1","type":"SoftwareLoopback"}],
        "osArchitecture":"64-bit","onboardingStatus":"Onboarded","isPotentialDuplication":true,
        "agentVersion":"10.8796","defenderAvStatus":"Updated","managedBy":"Intune",
        "managedByStatus":"Success","vmMetadata":{"a":1},"someNewField":"kept by core"}"#,
    )
    .unwrap();
    let kept = keep_listed_fields(full.clone());
    // Everything the table, filters, panel and bulk planning read survives...
    assert_eq!(kept.id, full.id);
    assert_eq!(kept.computer_dns_name, full.computer_dns_name);
    assert_eq!(kept.last_seen, full.last_seen);
    assert_eq!(kept.os_platform, full.os_platform);
    assert_eq!(kept.os_version, full.os_version);
    assert_eq!(kept.last_ip_address, full.last_ip_address);
    assert_eq!(kept.health_status, full.health_status);
    assert_eq!(kept.rbac_group_name, full.rbac_group_name);
    assert_eq!(kept.rbac_group_id, full.rbac_group_id);
    assert_eq!(kept.risk_score, full.risk_score);
    assert_eq!(kept.machine_tags, full.machine_tags);
    assert_eq!(kept.exposure_level, full.exposure_level);
    assert_eq!(kept.device_value, full.device_value);
    assert_eq!(kept.is_potential_duplication, Some(true));
    // Every interface address stays searchable, without the rest of the interface...
    let addresses: Vec<_> = kept
        .ip_addresses
        .iter()
        .map(|a| {
            (
                a.ip_address.as_deref(),
                a.mac_address.as_deref(),
                a.kind.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        addresses,
        [
            (Some("10.16.20.77"), None, None),
            (Some("192.168.1.23"), None, None)
        ],
        "loopback dropped"
    );
    // ...and the rest is dropped, so it costs no memory.
    assert!(kept.extra.is_empty());
    assert_eq!(kept.agent_version, None);
    assert_eq!(kept.vm_metadata, None);
    assert_eq!(kept.first_seen, None);
    // Search semantics are unchanged by the trimming.
    for text in ["legal", "10.16.", "192.168.1.23", "srv-00", "nope"] {
        let s = defender_tags_core::query::MachineQuery {
            text: text.into(),
            ..Default::default()
        };
        assert_eq!(s.matches(&kept, 0), s.matches(&full, 0));
    }
}

fn optional<T: Strategy>(s: T) -> impl Strategy<Value = Option<T::Value>> {
    proptest::option::weighted(0.7, s)
}

fn address() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("127.0.0.1")),
        Just(json!("::1")),
        Just(json!("fe80::1")),
        (0u8..=255, 0u8..=255).prop_map(|(a, b)| json!(format!("10.{a}.{b}.1"))),
        "[0-9a-f:.]{0,12}".prop_map(Value::from),
    ]
}

fn interface() -> impl Strategy<Value = Value> {
    (optional(address()), optional("[A-F0-9]{12}"), any::<bool>()).prop_map(|(ip, mac, extra)| {
        let mut o = serde_json::Map::new();
        if let Some(ip) = ip {
            o.insert("ipAddress".into(), ip);
        }
        if let Some(mac) = mac {
            o.insert("macAddress".into(), mac.into());
        }
        if extra {
            o.insert("operationalStatus".into(), "Up".into());
            o.insert("whatever".into(), json!({"a": [1, "b", null]}));
        }
        Value::Object(o)
    })
}

prop_compose! {
    fn machine()(
        id in "[0-9a-f]{40}",
        name in optional("[a-zA-Z0-9.-]{0,12}"),
        health in optional(prop_oneof![Just("Active"), Just("Inactive"), Just("NoSensorData")]),
        group in optional(0i64..50),
        tags in optional(proptest::collection::vec("[a-z ]{1,6}", 0..3)),
        interfaces in optional(proptest::collection::vec(interface(), 0..4)),
        dup in optional(any::<bool>()),
        build in optional(0i64..30000),
        extra in optional("[a-z]{1,8}"),
        seen in optional(Just("2021-01-25T07:27:36.052313Z")),
    ) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("id".into(), id.into());
        let mut put = |k: &str, v: Option<Value>| { if let Some(v) = v { o.insert(k.into(), v); } };
        put("computerDnsName", name.map(Value::from));
        put("healthStatus", health.map(Value::from));
        put("rbacGroupId", group.map(Value::from));
        put("rbacGroupName", group.map(|g| Value::from(format!("group {g}"))));
        put("machineTags", tags.map(Value::from));
        put("ipAddresses", interfaces.map(Value::from));
        put("isPotentialDuplication", dup.map(Value::from));
        put("osBuild", build.map(Value::from));
        put("lastSeen", seen.map(Value::from));
        put("firstSeen", seen.map(Value::from));
        put("vmMetadata", extra.clone().map(|e| json!({"vmId": e})));
        put("someNewField", extra.map(|e| json!([e, 1, {"x": null}])));
        Value::Object(o)
    }
}

proptest! {
    #[test]
    fn listed_decode_equals_full_decode_then_keep(
        machines in proptest::collection::vec(machine(), 0..6),
        link in optional("https://api\\.security\\.microsoft\\.com/api/machines\\?\\$skip=[0-9]{1,4}"),
    ) {
        let mut page = json!({"@odata.context": "ctx", "value": machines});
        if let Some(link) = link {
            page["@odata.nextLink"] = link.into();
        }
        let body = page.to_string();
        let (want, got) = both(body.as_bytes());
        prop_assert_eq!(got, want);
        for m in page["value"].as_array().unwrap() {
            let one: ListedMachine = serde_json::from_value(m.clone()).unwrap();
            let full: Machine = serde_json::from_value(m.clone()).unwrap();
            prop_assert_eq!(one.0, keep_listed_fields(full));
        }
    }
}
