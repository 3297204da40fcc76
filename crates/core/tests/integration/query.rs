//! Search box, URL state and tag inventory against the fixture machines.

use defender_tags_core::inventory::inventory;
use defender_tags_core::query::{MachineQuery, SeenWithin};
use defender_tags_core::{HealthStatus, Machine, ODataList, RiskScore};
use proptest::prelude::*;

use crate::fixtures::read;

fn machines() -> Vec<Machine> {
    let mut list: ODataList<Machine> =
        serde_json::from_str(&read("machines_list_doc.json")).unwrap();
    list.value
        .push(serde_json::from_str(&read("machine_swimlane.json")).unwrap());
    list.value
}

/// Anchors "last seen"; the fixtures' dates are older.
const NOW_MS: i64 = 1_800_000_000_000;

fn names(q: &MachineQuery) -> Vec<String> {
    machines()
        .iter()
        .filter(|m| q.matches(m, NOW_MS))
        .map(|m| m.computer_dns_name.clone().unwrap())
        .collect()
}

#[test]
fn search_box_finds_by_any_part_of_a_name_id_and_any_interface_ip() {
    let q = |t: &str| MachineQuery {
        text: t.into(),
        ..MachineQuery::default()
    };
    assert_eq!(names(&q("FIN-ws")), vec!["fin-ws-07.contoso.com"]);
    assert_eq!(
        names(&q("WS-07")),
        vec!["fin-ws-07.contoso.com"],
        "any part of the name"
    );
    assert_eq!(
        names(&q("1E5BC9D7E413DDD7902C2932E418702B84D0CC07")),
        vec!["mymachine1.contoso.com"]
    );
    // 10.166.113.47 is an interface address, not lastIpAddress: the server would not find it,
    // client-side narrowing does.
    assert_eq!(names(&q("10.166.113.47")), vec!["mymachine1.contoso.com"]);
    assert_eq!(names(&q("192.168.12.203")), vec!["se-pov-desktop"]);
}

#[test]
fn filters_combine() {
    let q = MachineQuery {
        tag: "test".into(),
        tag_prefix: true,
        health: Some(HealthStatus::Active),
        ..MachineQuery::default()
    };
    assert_eq!(names(&q), vec!["mymachine1.contoso.com"]);
    let q = MachineQuery {
        risk: Some(RiskScore::High),
        health: Some(HealthStatus::Active),
        ..MachineQuery::default()
    };
    assert!(names(&q).is_empty());
}

#[test]
fn inventory_of_the_fixtures() {
    let ms = machines();
    let inv = inventory(&ms);
    assert_eq!(inv.machines, 3);
    assert_eq!(inv.untagged, 1);
    assert_eq!(inv.tags.len(), 4);
    assert_eq!(inv.breaks_portal_filter.len(), 1);
    assert!(inv.case_variants.is_empty());
}

fn query() -> impl Strategy<Value = MachineQuery> {
    (
        prop::option::of(prop_oneof![
            "[a-z0-9 .&=%+#-]{0,12}",
            Just("10.166.113.47".to_owned()),
            Just("2a398439b4975924e87a65943972bc702469b329".to_owned()),
        ]),
        prop::option::of(("[A-Za-z &,()=]{1,8}", any::<bool>())),
        prop::option::of(prop::sample::select(vec![
            "Windows10",
            "Windows11",
            "Linux",
        ])),
        prop::option::of(prop::sample::select(RiskScore::KNOWN.to_vec())),
        prop::option::of(-5i64..200),
        prop::option::of(prop::sample::select(SeenWithin::ALL.to_vec())),
    )
        .prop_map(|(text, tag, os, risk, group, seen)| MachineQuery {
            text: text.map(|t| t.trim().to_owned()).unwrap_or_default(),
            tag: tag
                .as_ref()
                .map(|(v, _)| v.trim().to_owned())
                .unwrap_or_default(),
            tag_prefix: tag.is_some_and(|(v, prefix)| prefix && !v.trim().is_empty()),
            os: os.map(str::to_owned),
            risk,
            group,
            seen,
            ..MachineQuery::default()
        })
}

proptest! {
    #[test]
    fn url_state_round_trips(q in query()) {
        let back = MachineQuery::from_query_string(&q.to_query_string()).unwrap();
        prop_assert_eq!(back, q);
    }

    /// The server is asked only what it can answer without losing a match, and the browser
    /// narrows the rest: every machine the search shows is one the server's answer includes.
    #[test]
    fn the_server_filter_never_drops_a_match(q in query()) {
        for m in machines() {
            if q.matches(&m, NOW_MS) {
                prop_assert!(
                    q.to_filter(NOW_MS).is_none_or(|f| f.matches(&m)),
                    "{:?}",
                    m.computer_dns_name
                );
            }
        }
    }
}

// `fold` and `canonical_ip` take fast paths (ASCII, IPv4 borrowed as written); these hold them
// to their definitions: `char::to_lowercase` per char, and parse-then-print.
proptest! {
    #[test]
    fn fold_is_char_by_char_lowercasing(s in "(?s).{0,24}", ascii in "[ -~]{0,24}") {
        for text in [s.as_str(), ascii.as_str()] {
            let reference: String = text.chars().flat_map(char::to_lowercase).collect();
            prop_assert_eq!(defender_tags_core::query::fold(text), reference);
        }
    }

    #[test]
    fn canonical_ip_is_parse_then_print(
        octets in proptest::array::uniform4(0u16..300),
        zero_pad in proptest::bool::ANY,
        noise in "[0-9a-fA-F:.]{0,20}",
    ) {
        let dotted = octets
            .iter()
            .map(|o| if zero_pad && *o < 100 { format!("0{o}") } else { o.to_string() })
            .collect::<Vec<_>>()
            .join(".");
        for text in [dotted.as_str(), noise.as_str(), "::1", "FE80:0::1", "127.0.0.1 "] {
            let reference = text.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string());
            let ours = defender_tags_core::query::canonical_ip(text).map(|c| c.into_owned());
            prop_assert_eq!(ours, reference, "{:?}", text);
        }
    }
}
