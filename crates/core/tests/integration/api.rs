//! Request builders, URL encoding, response decoding and paging.

use defender_tags_core::api::{self, ApiError, ListQuery, ListQueryError, Method, NextPage};
use defender_tags_core::odata::{Field, Filter};
use defender_tags_core::throttle::RetryAfter;
use defender_tags_core::*;

use crate::fixtures::read;

const NO_HEADERS: &[(&str, &str)] = &[];

fn base() -> BaseUrl {
    BaseUrl::parse("https://api.security.microsoft.com").unwrap()
}

fn id(n: usize) -> MachineId {
    MachineId::parse(&format!("{n:040x}")).unwrap()
}

#[test]
fn list_machines_builds_an_encoded_odata_query() {
    let q = ListQuery::new()
        .with_filter(Some(
            Filter::eq(Field::RiskScore, "High").and(Filter::has_tag("R&D + Ops")),
        ))
        .with_top(500)
        .unwrap()
        .with_skip(1000)
        .with_select(["id", "computerDnsName", "machineTags"])
        .unwrap();
    let req = api::list_machines(&q);
    assert_eq!(req.method, Method::Get);
    assert_eq!(req.body, None);
    assert_eq!(
        req.url(&base()),
        "https://api.security.microsoft.com/api/machines?$filter=riskScore%20eq%20'High'%20and%20\
         machineTags/any(t:%20t%20eq%20'R%26D%20%2B%20Ops')&$top=500&$skip=1000\
         &$select=id,computerDnsName,machineTags"
    );
    assert_eq!(
        api::list_machines(&ListQuery::new()).url(&base()),
        "https://api.security.microsoft.com/api/machines"
    );
}

#[test]
fn list_query_rejects_bad_paging_and_select() {
    assert_eq!(ListQuery::new().with_top(0), Err(ListQueryError::TopZero));
    let e = ListQuery::new().with_top(10_001).unwrap_err();
    assert!(e.to_string().contains("at most 10000"), "{e}");
    let e = ListQuery::new().with_select(["id", "a,b"]).unwrap_err();
    assert!(matches!(e, ListQueryError::InvalidSelect { ref name } if name == "a,b"));
}

#[test]
fn get_machine_by_id_or_name_keeps_the_path_safe() {
    let by_id = api::get_machine(&MachineRef::Id(id(7)));
    assert_eq!(by_id.path, format!("/api/machines/{}", id(7)));
    let by_name = api::get_machine(&MachineRef::Name("ws/01?x#y".into()));
    assert_eq!(
        by_name.url(&base()),
        "https://api.security.microsoft.com/api/machines/ws%2F01%3Fx%23y"
    );
}

#[test]
fn find_by_tag_sends_both_parameters() {
    let req = api::find_by_tag("Finance (EU)", true).unwrap();
    assert_eq!(
        req.url(&base()),
        "https://api.security.microsoft.com/api/machines/findbytag?tag=Finance%20(EU)\
         &useStartsWithFilter=true"
    );
    assert_eq!(req.query_param("useStartsWithFilter"), Some("true"));
    let e = api::find_by_tag("  ", false).unwrap_err();
    assert!(e.to_string().contains("empty"));
}

#[test]
fn set_tag_body_is_the_documented_shape() {
    let tag = Tag::parse("test Tag 2").unwrap();
    let req = api::set_tag(&id(1), &tag, TagAction::Add);
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path, format!("/api/machines/{}/tags", id(1)));
    assert!(
        req.headers
            .iter()
            .any(|(k, v)| k == "Content-Type" && v == "application/json")
    );
    assert!(
        !req.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    );
    let body = req.body.unwrap();
    let seed: serde_json::Value = serde_json::from_str(&read("tag_request_seed.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        seed
    );
    assert!(
        body.starts_with("{\"Value\":"),
        "documented key order: {body}"
    );
    let quoted = api::set_tag(
        &id(1),
        &Tag::parse("a \"quoted\" \\ tag").unwrap(),
        TagAction::Remove,
    );
    let decoded: TagBody = serde_json::from_str(quoted.body.as_deref().unwrap()).unwrap();
    assert_eq!(decoded.value.as_str(), "a \"quoted\" \\ tag");
    assert_eq!(decoded.action, TagAction::Remove);
}

#[test]
fn bulk_is_limited_to_500_before_anything_is_sent() {
    let tag = Tag::parse("Tag").unwrap();
    let ids: Vec<_> = (0..500).map(id).collect();
    let req = api::bulk_set_tag(&tag, TagAction::Add, &ids).unwrap();
    assert_eq!(req.path, "/api/machines/AddOrRemoveTagForMultipleMachines");
    let body: BulkTagBody = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(body.machine_ids(), ids.as_slice());
    let too_many: Vec<_> = (0..501).map(id).collect();
    assert_eq!(
        api::bulk_set_tag(&tag, TagAction::Add, &too_many),
        Err(BulkBodyError::TooManyMachines {
            count: 501,
            max: 500
        })
    );
    assert_eq!(
        api::bulk_set_tag(&tag, TagAction::Add, &[]),
        Err(BulkBodyError::NoMachines)
    );
}

#[test]
fn decodes_list_and_treats_404_as_empty() {
    let body = read("machines_list_doc.json");
    let list = api::decode_list_machines(200, NO_HEADERS, body.as_bytes()).unwrap();
    assert_eq!(list.value.len(), 2);
    let empty = api::decode_list_machines(404, NO_HEADERS, read("error_not_found.json").as_bytes())
        .unwrap();
    assert!(empty.value.is_empty());
}

#[test]
fn each_status_class_has_its_own_error_with_details() {
    let nf = read("error_not_found.json");
    let e = api::decode_machine(404, NO_HEADERS, nf.as_bytes()).unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }));
    assert_eq!(e.code(), Some("ResourceNotFound"));
    let msg = e.to_string();
    assert!(msg.contains("Machine 123123123 was not found"), "{msg}");
    assert!(
        msg.contains("43f4cb08-8fac-4b65-9db1-745c2ae65f3a"),
        "{msg}"
    );

    let e = api::decode_machine(401, NO_HEADERS, b"").unwrap_err();
    assert_eq!(e, ApiError::Unauthorized { details: None });
    assert!(e.to_string().contains("sign in again"));

    let e = api::decode_machine(
        403,
        NO_HEADERS,
        read("error_forbidden_roles.json").as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(e, ApiError::Forbidden { .. }));
    assert!(e.to_string().contains("Machine.ReadWrite"));

    let e = api::decode_machines(400, NO_HEADERS, read("error_batch_size.json").as_bytes())
        .unwrap_err();
    assert!(matches!(e, ApiError::BadRequest { .. }));
    assert_eq!(e.code(), Some("MaximumBatchSizeExceeded"));

    let e = api::decode_machine(503, NO_HEADERS, b"<html>Service Unavailable</html>").unwrap_err();
    assert_eq!(e.status(), 503);
    assert!(matches!(e, ApiError::Server { .. }));
    assert!(e.to_string().contains("Service Unavailable"));

    let e = api::decode_machine(418, NO_HEADERS, b"").unwrap_err();
    assert!(matches!(e, ApiError::UnexpectedStatus { status: 418, .. }));

    let e = api::decode_machine(200, NO_HEADERS, b"{\"id\": 5}").unwrap_err();
    assert!(matches!(e, ApiError::Undecodable { status: 200, .. }));
    assert!(e.to_string().contains("could not be read"));
}

#[test]
fn too_many_requests_reads_retry_after_in_both_forms() {
    let body = read("error_too_many_requests.json");
    let e = api::decode_list_machines(429, &[("Retry-After", "17")], body.as_bytes()).unwrap_err();
    assert_eq!(e.retry_after(), Some(RetryAfter::Seconds(17)));
    assert!(e.to_string().contains("retry after 17 s"), "{e}");
    let e = api::decode_list_machines(
        429,
        &[(
            "retry-after".to_owned(),
            "Wed, 01 Jan 2026 00:00:30 GMT".to_owned(),
        )],
        b"",
    )
    .unwrap_err();
    assert_eq!(
        e.retry_after().map(|r| r.delay_ms(1_767_225_600_000)),
        Some(30_000)
    );
    let e = api::decode_list_machines(429, &[("Retry-After", "whenever")], b"").unwrap_err();
    assert_eq!(e.retry_after(), None);
    assert!(e.to_string().contains("wait before retrying"));
}

#[test]
fn bulk_and_findbytag_accept_array_or_envelope() {
    let list: serde_json::Value = serde_json::from_str(&read("machines_list_doc.json")).unwrap();
    let array = serde_json::to_vec(&list["value"]).unwrap();
    assert_eq!(
        api::decode_machines(200, NO_HEADERS, &array).unwrap().len(),
        2
    );
    let env = serde_json::to_vec(&list).unwrap();
    assert_eq!(
        api::decode_machines(200, NO_HEADERS, &env).unwrap().len(),
        2
    );
    assert!(
        api::decode_machines(200, NO_HEADERS, b" ")
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        api::decode_machines(200, NO_HEADERS, b"[{}]"),
        Err(ApiError::Undecodable { .. })
    ));
}

#[test]
fn lean_bulk_decode_reads_ids_and_tags_of_every_envelope() {
    let list: serde_json::Value = serde_json::from_str(&read("machines_list_doc.json")).unwrap();
    let full = api::decode_machines(200, NO_HEADERS, &serde_json::to_vec(&list).unwrap()).unwrap();
    let want: Vec<TaggedMachine> = full.into_iter().map(TaggedMachine::from).collect();
    assert!(
        want.iter().any(|m| !m.machine_tags.is_empty()),
        "fixture has tags"
    );
    let env = serde_json::to_vec(&list).unwrap();
    assert_eq!(
        api::decode_tagged_machines(200, NO_HEADERS, &env).unwrap(),
        want
    );
    let array = serde_json::to_vec(&list["value"]).unwrap();
    assert_eq!(
        api::decode_tagged_machines(200, NO_HEADERS, &array).unwrap(),
        want
    );
    assert!(
        api::decode_tagged_machines(200, NO_HEADERS, b"\n ")
            .unwrap()
            .is_empty()
    );
    // Unknown and ill-typed fields the runner never reads are skipped, not built.
    let body = format!(
        r#"{{"value":[{{"id":"{}","healthStatus":5,"machineTags":null,"extra":{{"a":[1.5]}}}}]}}"#,
        id(7)
    );
    let got = api::decode_tagged_machines(200, NO_HEADERS, body.as_bytes()).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, id(7));
    assert!(got[0].machine_tags.is_empty());
    let one = format!(r#"{{"id":"{}","machineTags":["a","B"]}}"#, id(8));
    let m = api::decode_tagged_machine(200, NO_HEADERS, one.as_bytes()).unwrap();
    assert!(m.has_tag("B") && !m.has_tag("b"));
}

#[test]
fn lean_bulk_decode_rejects_a_malformed_reply_as_a_whole() {
    let good = format!(r#"{{"id":"{}","machineTags":["t"]}}"#, id(1));
    let cases = [
        // Truncated JSON after a good entry: no partial list.
        format!(r#"{{"value":[{good},{{"id":"#),
        // An entry without an id, or with an id that is not a machine id.
        format!(r#"{{"value":[{good},{{"machineTags":[]}}]}}"#),
        format!(r#"[{good},{{"id":"not-an-id"}}]"#),
        // Tags that are not a list of strings.
        format!(r#"[{good},{{"id":"{}","machineTags":"t"}}]"#, id(2)),
        format!(r#"[{good},{{"id":"{}","machineTags":[1]}}]"#, id(2)),
        // Not a collection at all.
        r#"{"value":{"id":"x"}}"#.to_owned(),
        "<html>ok</html>".to_owned(),
    ];
    for body in &cases {
        let e = api::decode_tagged_machines(200, NO_HEADERS, body.as_bytes()).unwrap_err();
        assert!(
            matches!(e, ApiError::Undecodable { status: 200, .. }),
            "{body}: {e:?}"
        );
        assert!(e.to_string().contains("could not be read"), "{e}");
    }
    // Errors keep their typed mapping.
    let e = api::decode_tagged_machines(400, NO_HEADERS, read("error_batch_size.json").as_bytes())
        .unwrap_err();
    assert_eq!(e.code(), Some("MaximumBatchSizeExceeded"));
    let e = api::decode_tagged_machine(404, NO_HEADERS, b"").unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }));
}

#[test]
fn a_prefixed_base_keeps_its_prefix_for_requests_and_next_links() {
    let base = BaseUrl::parse_prefixed("https://portal.contoso.com/defender/").unwrap();
    let q = ListQuery::new().with_top(2).unwrap();
    let first = api::list_machines(&q);
    assert!(
        first
            .url(&base)
            .starts_with("https://portal.contoso.com/defender/api/machines?"),
        "{}",
        first.url(&base)
    );
    let mut page: ODataList<u8> = ODataList::new(vec![1, 2]);
    page.next_link = Some("https://portal.contoso.com/defender/api/machines?$top=2&$skip=2".into());
    let Some(NextPage::Link(req)) = api::next_page(&q, &page, &base).unwrap() else {
        panic!("expected a link");
    };
    assert_eq!(req.path, "/api/machines");
    assert_eq!(
        req.url(&base),
        "https://portal.contoso.com/defender/api/machines?$top=2&$skip=2"
    );
    // A link that left the prefix (same origin, other path) is not followed.
    page.next_link = Some("https://portal.contoso.com/api/machines?$skip=2".into());
    let e = api::next_page(&q, &page, &base).unwrap_err();
    assert!(e.to_string().contains("not an absolute URL under"), "{e}");
    page.next_link = Some("https://portal.contoso.com/defender-x/api/machines".into());
    assert!(api::next_page(&q, &page, &base).is_err());
}

#[test]
fn paging_follows_same_origin_links_else_skips() {
    let q = ListQuery::new().with_top(2).unwrap();
    let mut page: ODataList<u8> = ODataList::new(vec![1, 2]);
    page.next_link = Some(
        "https://api.security.microsoft.com/api/machines?$top=2&$skiptoken=abc%3D%3D&$filter=riskScore+eq+'High'"
            .into(),
    );
    let Some(NextPage::Link(req)) = api::next_page(&q, &page, &base()).unwrap() else {
        panic!("expected a link");
    };
    assert_eq!(req.path, "/api/machines");
    assert_eq!(req.query_param("$skiptoken"), Some("abc=="));
    assert_eq!(req.query_param("$filter"), Some("riskScore eq 'High'"));

    page.next_link = Some("https://attacker.example/api/machines?$skip=2".into());
    let e = api::next_page(&q, &page, &base()).unwrap_err();
    assert!(e.to_string().contains("another origin"), "{e}");

    page.next_link = None;
    let Some(NextPage::Query(next)) = api::next_page(&q, &page, &base()).unwrap() else {
        panic!("expected a skip query");
    };
    assert_eq!(next.skip(), 2);
    assert_eq!(
        NextPage::Query(next.clone()).request().query_param("$skip"),
        Some("2")
    );
    let short: ODataList<u8> = ODataList::new(vec![1]);
    assert_eq!(api::next_page(&next, &short, &base()).unwrap(), None);
    let full_default: ODataList<u8> = ODataList::new(vec![0; 10]);
    assert_eq!(
        api::next_page(&ListQuery::new(), &full_default, &base()).unwrap(),
        None,
        "without $top a page under 10,000 is the last"
    );
}

#[test]
fn set_device_value_body_is_pascal_case_and_refuses_unknown_values() {
    use defender_tags_core::{DeviceValue, DeviceValueError};
    let req = api::set_device_value(&id(1), &DeviceValue::High).unwrap();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path, format!("/api/machines/{}/setDeviceValue", id(1)));
    assert_eq!(req.body.as_deref(), Some(r#"{"DeviceValue":"High"}"#));
    let odd = DeviceValue::from_wire("Critical");
    assert_eq!(
        api::set_device_value(&id(1), &odd),
        Err(DeviceValueError::NotSettable {
            found: "Critical".into()
        })
    );
    // A lower-case spelling decodes leniently from a machine, but is never sent as typed.
    assert_eq!(
        DeviceValue::parse_settable("high"),
        Err(DeviceValueError::NotSettable {
            found: "high".into()
        })
    );
}
