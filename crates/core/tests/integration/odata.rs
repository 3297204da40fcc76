//! OData `$filter`: round trip, robustness on arbitrary input, shared semantics.

use defender_tags_core::odata::{self, CmpOp, Field, FieldKind, Filter, Literal, ODataError};
use defender_tags_core::{Machine, MachineId};
use proptest::prelude::*;
use time::OffsetDateTime;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,10}",
        ".{0,10}",
        "[a-z' ()]{0,8}",
        Just("''".to_owned())
    ]
}

fn datetime() -> impl Strategy<Value = OffsetDateTime> {
    // Years 0000..=9999, the range RFC 3339 can write, with nanosecond precision.
    (
        -62_167_219_200_i128..=253_402_300_799_i128,
        0_i128..1_000_000_000,
    )
        .prop_map(|(s, n)| {
            OffsetDateTime::from_unix_timestamp_nanos(s * 1_000_000_000 + n).unwrap()
        })
}

fn literal_for(kind: FieldKind) -> BoxedStrategy<Literal> {
    match kind {
        FieldKind::Text | FieldKind::Enum => prop_oneof![
            4 => text().prop_map(Literal::String),
            1 => Just(Literal::Null),
        ]
        .boxed(),
        FieldKind::DateTime => prop_oneof![
            4 => datetime().prop_map(Literal::DateTime),
            1 => Just(Literal::Null),
        ]
        .boxed(),
        FieldKind::Integer => prop_oneof![
            4 => any::<i64>().prop_map(Literal::Number),
            1 => Just(Literal::Null),
        ]
        .boxed(),
        FieldKind::Tags => Just(Literal::Null).boxed(),
    }
}

fn comparable_field() -> impl Strategy<Value = Field> {
    prop::sample::select(
        Field::ALL
            .into_iter()
            .filter(|f| f.kind() != FieldKind::Tags)
            .collect::<Vec<_>>(),
    )
}

fn text_field() -> impl Strategy<Value = Field> {
    prop::sample::select(
        Field::ALL
            .into_iter()
            .filter(|f| matches!(f.kind(), FieldKind::Text | FieldKind::Enum))
            .collect::<Vec<_>>(),
    )
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        4 => (comparable_field(), prop::sample::select(CmpOp::ALL.to_vec()))
            .prop_flat_map(|(field, op)| {
                literal_for(field.kind()).prop_map(move |value| Filter::Compare { field, op, value })
            }),
        2 => (text_field(), text()).prop_map(|(field, prefix)| Filter::StartsWith { field, prefix }),
        2 => text().prop_map(|value| Filter::TagAny { value }),
        1 => text().prop_map(|prefix| Filter::TagAnyStartsWith { prefix }),
        1 => Just(Filter::HasAnyTag),
    ]
}

pub fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(5, 48, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            inner.prop_map(Filter::not),
        ]
    })
}

/// Terms written the loose ways people (and other clients) write them.
const TERMS: [&str; 13] = [
    "riskScore eq 'High'",
    "RISKSCORE gt'High'",
    "lastSeen gt 2018-08-01Z",
    "lastSeen le 2018-08-01T10:00:00+05:00",
    "rbacGroupId eq -3",
    "rbacGroupId ne '7'",
    "id eq null",
    "startswith(computerDnsName,'ws')",
    "machineTags/any(x:x eq 'T')",
    "machineTags/any()",
    "machineTags/any(t: startswith(t,'p'))",
    "version eq 'a''b'",
    "(osPlatform eq 'Windows11')",
];

fn soup() -> impl Strategy<Value = String> {
    let space = || prop::sample::select(vec!["", " ", "  ", "\t"]);
    prop::sample::select(TERMS.to_vec())
        .prop_map(str::to_owned)
        .prop_recursive(4, 24, 2, move |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    prop::sample::select(vec![" and ", " or ", " AND ", " Or "]),
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
                (space(), inner.clone(), space()).prop_map(|(l, a, r)| format!("({l}{a}{r})")),
                (
                    prop::sample::select(vec!["not ", "NOT ", "not not "]),
                    inner
                )
                    .prop_map(|(n, a)| format!("{n}({a})")),
            ]
        })
}

fn sample_machine() -> Machine {
    let json = crate::fixtures::read("machines_list_doc.json");
    let list: defender_tags_core::ODataList<Machine> = serde_json::from_str(&json).unwrap();
    list.value[1].clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_render_round_trip(f in filter()) {
        let text = odata::render(&f);
        let back = odata::parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&f), "rendered: {}", text);
    }

    #[test]
    fn parser_never_panics_and_errors_point_inside_the_input(s in "\\PC{0,200}") {
        if let Err(e) = odata::parse(&s) {
            if let Some(p) = e.position() {
                prop_assert!(p >= 1 && p <= s.chars().count() + 1, "{e} for {s:?}");
            }
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn parser_survives_mangled_valid_filters(f in filter(), cut in 0usize..400, junk in "[()',/: a-z0-9-]{0,6}") {
        let text = odata::render(&f);
        let chars: Vec<char> = text.chars().collect();
        let at = cut.min(chars.len());
        let mangled: String = chars[..at].iter().copied().chain(junk.chars()).chain(chars[at..].iter().copied()).collect();
        // Whatever the damage: an error points inside the text, or what parsed renders stably.
        match odata::parse(&mangled) {
            Err(e) => {
                if let Some(p) = e.position() {
                    prop_assert!(p >= 1 && p <= mangled.chars().count() + 1, "{e} for {mangled:?}");
                }
                prop_assert!(!e.to_string().is_empty());
            }
            Ok(parsed) => {
                let rendered = odata::render(&parsed);
                prop_assert_eq!(odata::parse(&rendered), Ok(parsed), "{:?}", mangled);
            }
        }
    }

    #[test]
    fn accepted_loose_text_round_trips_and_renders_stably(text in soup()) {
        if let Ok(f) = odata::parse(&text) {
            let rendered = odata::render(&f);
            let back = odata::parse(&rendered);
            prop_assert_eq!(back.as_ref(), Ok(&f), "input {:?} rendered {:?}", text, rendered);
            prop_assert_eq!(odata::render(&back.unwrap()), rendered);
        }
    }

    #[test]
    fn rendering_does_not_change_meaning(f in filter()) {
        let m = sample_machine();
        let back = odata::parse(&odata::render(&f)).unwrap();
        prop_assert_eq!(back.matches(&m), f.matches(&m));
    }
}

#[test]
fn pathological_nesting_is_refused_not_overflowed() {
    let deep = "(".repeat(100_000);
    assert!(matches!(
        odata::parse(&deep),
        Err(ODataError::TooLong { .. })
    ));
    let nested = format!("{}id eq null{}", "(".repeat(1000), ")".repeat(1000));
    assert!(matches!(
        odata::parse(&nested),
        Err(ODataError::TooDeep { .. })
    ));
    let nots = "not ".repeat(2000);
    assert!(matches!(
        odata::parse(&nots),
        Err(ODataError::TooDeep { .. })
    ));
}

#[test]
fn renders_with_escaping_that_the_service_expects() {
    let f = Filter::has_tag("O'Brien's").and(Filter::eq(
        Field::LastSeen,
        time::macros::datetime!(2024-05-01 00:00 UTC),
    ));
    assert_eq!(
        odata::render(&f),
        "machineTags/any(t: t eq 'O''Brien''s') and lastSeen eq 2024-05-01T00:00:00Z"
    );
}

#[test]
fn matches_fixture_machines() {
    let json = crate::fixtures::read("machines_list_doc.json");
    let list: defender_tags_core::ODataList<Machine> = serde_json::from_str(&json).unwrap();
    let select = |f: &str| -> Vec<String> {
        let f = odata::parse(f).unwrap();
        list.value
            .iter()
            .filter(|m| f.matches(m))
            .map(|m| m.computer_dns_name.clone().unwrap())
            .collect()
    };
    assert_eq!(select("onboardingStatus eq 'Onboarded'").len(), 2);
    assert_eq!(select("riskScore eq 'High'"), vec!["fin-ws-07.contoso.com"]);
    assert_eq!(
        select("machineTags/any(t: t eq 'TEST TAG 1')"),
        vec!["mymachine1.contoso.com"]
    );
    assert_eq!(select("rbacGroupId eq 7 or aadDeviceId eq null").len(), 1);
    assert_eq!(
        select("lastSeen ge 2026-01-01Z and not (healthStatus eq 'Active')"),
        vec!["fin-ws-07.contoso.com"]
    );
    let id = MachineId::parse("1e5bc9d7e413ddd7902c2932e418702b84d0cc07").unwrap();
    assert_eq!(
        select(&format!("id eq '{}'", id.as_str().to_uppercase())),
        vec!["mymachine1.contoso.com"]
    );
}

#[test]
fn loose_text_generator_mostly_produces_valid_filters() {
    // Guards the property test above against silently testing nothing.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let accepted = (0..300)
        .filter(|_| {
            let text = soup().new_tree(&mut runner).unwrap().current();
            odata::parse(&text).is_ok()
        })
        .count();
    assert!(accepted > 60, "only {accepted}/300 generated filters parse");
}
