//! Model and wire types against the fixtures.

use defender_tags_core::*;
use proptest::prelude::*;
use serde_json::Value;

use crate::fixtures::read;

#[test]
fn seed_tag_request_decodes_and_re_encodes_with_exact_casing() {
    let body: TagBody = serde_json::from_str(&read("tag_request_seed.json")).unwrap();
    assert_eq!(body.value.as_str(), "test Tag 2");
    assert_eq!(body.action, TagAction::Add);
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"Value":"test Tag 2","Action":"Add"}"#
    );
}

#[test]
fn doc_bulk_example_decodes() {
    let body: BulkTagBody = serde_json::from_str(&read("bulk_request_doc.json")).unwrap();
    assert_eq!(body.value().as_str(), "Tag");
    assert_eq!(body.machine_ids().len(), 3);
    let round: Value = serde_json::to_value(&body).unwrap();
    let original: Value = serde_json::from_str(&read("bulk_request_doc.json")).unwrap();
    assert_eq!(round, original);
}

#[test]
fn real_machine_capture_round_trips_without_loss() {
    let text = read("machine_swimlane.json");
    let m: Machine = serde_json::from_str(&text).unwrap();
    assert_eq!(m.computer_dns_name.as_deref(), Some("se-pov-desktop"));
    assert_eq!(m.health_status, Some(HealthStatus::Active));
    assert_eq!(m.risk_score, Some(RiskScore::Medium));
    assert_eq!(m.exposure_level, Some(ExposureLevel::High));
    assert_eq!(m.onboarding_status, Some(OnboardingStatus::Onboarded));
    assert_eq!(m.rbac_group_id, Some(0));
    assert_eq!(m.os_build, Some(19044));
    assert_eq!(m.ip_addresses.len(), 2);
    assert_eq!(m.ip_addresses[1].mac_address, None);
    assert_eq!(m.ip_addresses[0].kind.as_deref(), Some("Ethernet"));
    assert!(m.extra.contains_key("@odata.context"));
    let original: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_value(&m).unwrap(), original);
}

#[test]
fn unknown_fields_and_enum_values_survive_a_round_trip() {
    let list: ODataList<Machine> = serde_json::from_str(&read("machines_list_doc.json")).unwrap();
    assert_eq!(list.value.len(), 2);
    let second = &list.value[1];
    assert_eq!(
        second.id.as_str(),
        "2a398439b4975924e87a65943972bc702469b329"
    );
    assert_eq!(
        second.extra["someFutureField"],
        serde_json::json!({"nested": [1, 2, 3]})
    );
    let again: ODataList<Machine> =
        serde_json::from_str(&serde_json::to_string(&list).unwrap()).unwrap();
    assert_eq!(again, list);

    let mut v: Value = serde_json::from_str(&read("machine_swimlane.json")).unwrap();
    v["healthStatus"] = "Hibernating".into();
    v["ipAddresses"][0]["vlan"] = 12.into();
    let m: Machine = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(
        m.health_status,
        Some(HealthStatus::Other("Hibernating".into()))
    );
    assert_eq!(serde_json::to_value(&m).unwrap(), v);
}

#[test]
fn error_envelopes_decode() {
    for (file, code) in [
        ("error_not_found.json", "ResourceNotFound"),
        ("error_invalid_body.json", "InvalidRequestBody"),
        ("error_batch_size.json", "MaximumBatchSizeExceeded"),
        ("error_too_many_requests.json", "TooManyRequests"),
        ("error_forbidden_roles.json", "Forbidden"),
    ] {
        let env: ErrorEnvelope = serde_json::from_str(&read(file)).unwrap();
        assert_eq!(env.error.code, code, "{file}");
        assert!(!env.error.message.is_empty());
        assert!(env.error.target.is_some());
    }
}

proptest! {
    #[test]
    fn any_40_hex_parses_and_normalises(s in "[0-9a-fA-F]{40}") {
        let id = MachineId::parse(&s).unwrap();
        prop_assert_eq!(id.as_str(), s.to_ascii_lowercase());
        prop_assert_eq!(MachineId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn anything_else_is_rejected_as_id(s in "\\PC{0,60}") {
        let valid = s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
        prop_assert_eq!(MachineId::parse(&s).is_ok(), valid);
    }

    #[test]
    fn tag_parse_accepts_exactly_the_rules(s in "\\PC{0,210}|[ a-z\\t\\n(),]{0,10}") {
        let chars = s.chars().count();
        let ok = !s.trim().is_empty()
            && !s.chars().any(char::is_control)
            && s.trim() == s
            && chars <= 200;
        match Tag::parse(&s) {
            Ok(t) => { prop_assert!(ok); prop_assert_eq!(t.as_str(), s.as_str()); }
            Err(e) => { prop_assert!(!ok, "{s:?} rejected: {e}"); }
        }
    }
}
