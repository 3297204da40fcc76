//! Every bad-input class has its own error variant, and its message names the problem in words
//! a person can act on. One table per error enum, so a new variant without a row stands out.

use defender_tags_core::api::{self, ListQuery, NextLinkError};
use defender_tags_core::cloud::{BaseUrl, Cloud, CloudConfig};
use defender_tags_core::import::parse_machine_list;
use defender_tags_core::model::datetime::parse_datetime;
use defender_tags_core::odata;
use defender_tags_core::query::MachineQuery;
use defender_tags_core::throttle::RetryAfter;
use defender_tags_core::*;

fn check(cases: &[(String, &[&str])]) {
    for (msg, needles) in cases {
        assert!(!msg.is_empty());
        // Lowercase style: no Capitalised first word (acronyms such as API or URL are fine).
        let first = msg.split_whitespace().next().unwrap_or("");
        let capitalised = first.chars().next().is_some_and(char::is_uppercase)
            && first.chars().skip(1).any(char::is_lowercase);
        assert!(!capitalised, "messages start lowercase: {msg}");
        for n in *needles {
            assert!(msg.contains(n), "{msg:?} should mention {n:?}");
        }
    }
}

#[test]
fn machine_id_tag_and_machine_ref_errors() {
    check(&[
        (
            MachineId::parse("").unwrap_err().to_string(),
            &["empty", "40 hex"],
        ),
        (
            MachineId::parse("abc").unwrap_err().to_string(),
            &["3 characters", "exactly 40"],
        ),
        (
            MachineId::parse(&format!("{}z", "a".repeat(39)))
                .unwrap_err()
                .to_string(),
            &["'z'", "position 40"],
        ),
        (Tag::parse("").unwrap_err().to_string(), &["empty"]),
        (
            Tag::parse("  ").unwrap_err().to_string(),
            &["only whitespace"],
        ),
        (
            Tag::parse(&"t".repeat(300)).unwrap_err().to_string(),
            &["300 characters", "200"],
        ),
        (
            Tag::parse("a\u{0}b").unwrap_err().to_string(),
            &["control character", "position 2"],
        ),
        (
            Tag::parse("a ").unwrap_err().to_string(),
            &["whitespace", "remove"],
        ),
        (
            "drop".parse::<TagAction>().unwrap_err().to_string(),
            &["\"drop\"", "\"Add\" or \"Remove\""],
        ),
        (
            MachineRef::parse("").unwrap_err().to_string(),
            &["empty", "computer name"],
        ),
        (
            MachineRef::parse("a b").unwrap_err().to_string(),
            &["whitespace", "one machine per line"],
        ),
        (
            MachineRef::parse("a\u{7}").unwrap_err().to_string(),
            &["control character"],
        ),
        (
            MachineRef::parse(&"n".repeat(254)).unwrap_err().to_string(),
            &["254 characters", "253"],
        ),
        (
            parse_datetime("soon").unwrap_err().to_string(),
            &["\"soon\"", "2024-05-01"],
        ),
    ]);
}

#[test]
fn wire_api_and_paging_errors() {
    let tag = Tag::parse("t").unwrap();
    let base = BaseUrl::parse("https://api.security.microsoft.com").unwrap();
    let mut page: ODataList<u8> = ODataList::new(vec![1]);
    page.next_link = Some("https://api.security.microsoft.com/other".into());
    let malformed = api::next_page(&ListQuery::new(), &page, &base).unwrap_err();
    assert!(matches!(malformed, NextLinkError::Malformed { .. }));
    let none: &[(&str, &str)] = &[];
    check(&[
        (
            BulkTagBody::new(tag.clone(), TagAction::Add, vec![])
                .unwrap_err()
                .to_string(),
            &["no machine ids", "select at least one"],
        ),
        (
            ListQuery::new().with_top(0).unwrap_err().to_string(),
            &["0", "1 to 10000"],
        ),
        (
            ListQuery::new()
                .with_select(["bad name"])
                .unwrap_err()
                .to_string(),
            &["\"bad name\"", "not a property name"],
        ),
        (
            api::find_by_tag("", true).unwrap_err().to_string(),
            &["empty"],
        ),
        (malformed.to_string(), &["not an absolute URL under /api/"]),
        (
            api::decode_machine(401, none, b"").unwrap_err().to_string(),
            &["401", "sign in again"],
        ),
        (
            api::decode_machine(403, none, b"").unwrap_err().to_string(),
            &["403", "permission"],
        ),
        (
            api::decode_machine(404, none, b"").unwrap_err().to_string(),
            &["404", "no such machine"],
        ),
        (
            api::decode_machine(400, none, b"").unwrap_err().to_string(),
            &["400", "rejected"],
        ),
        (
            api::decode_machine(429, none, b"").unwrap_err().to_string(),
            &["429", "rate limit"],
        ),
        (
            api::decode_machine(502, none, b"").unwrap_err().to_string(),
            &["502", "try again"],
        ),
        (
            api::decode_machine(409, none, b"").unwrap_err().to_string(),
            &["unexpected", "409"],
        ),
        (
            api::decode_machine(200, none, b"nope")
                .unwrap_err()
                .to_string(),
            &["could not be read"],
        ),
        (
            RetryAfter::parse("later").unwrap_err().to_string(),
            &["\"later\"", "seconds"],
        ),
    ]);
}

#[test]
fn cloud_errors() {
    let e = |s: &str| BaseUrl::parse(s).unwrap_err().to_string();
    check(&[
        (e(" "), &["empty", "https://api.security.microsoft.com"]),
        (e("example.com"), &["no scheme", "https://"]),
        (e("wss://x.com"), &["\"wss\"", "only https"]),
        (e("http://x.com"), &["http", "use https", "localhost"]),
        (e("https://me@x.com"), &["credentials"]),
        (e("https://"), &["no host"]),
        (e("https://x_y.com"), &["\"x_y.com\"", "letters, digits"]),
        (e("https://x.com:70000"), &["\"70000\"", "1 to 65535"]),
        (e("https://x.com/v1"), &["\"/v1\"", "only the origin"]),
        (e("https://x.com#frag"), &["fragment"]),
        (
            CloudConfig::new(Cloud::Commercial)
                .with_scope("")
                .unwrap_err()
                .to_string(),
            &["empty"],
        ),
        (
            CloudConfig::new(Cloud::Commercial)
                .with_scope("a b")
                .unwrap_err()
                .to_string(),
            &["whitespace", "single scope"],
        ),
    ]);
}

#[test]
fn odata_errors() {
    let e = |s: &str| odata::parse(s).unwrap_err().to_string();
    check(&[
        (e(""), &["empty", "riskScore eq 'High'"]),
        (e(&"x".repeat(9000)), &["9000 characters", "8192"]),
        (
            e(&format!("{}id eq null{}", "(".repeat(33), ")".repeat(33))),
            &["more than 32 levels"],
        ),
        (
            e("riskScore 'High'"),
            &["position 11", "comparison operator", "found string 'High'"],
        ),
        (
            e("owner eq 'me'"),
            &["\"owner\"", "not a filterable", "healthStatus"],
        ),
        (
            e("rbacGroupId eq 'x'"),
            &["rbacGroupId expects an integer", "found string 'x'"],
        ),
        (
            e("startswith(lastSeen,'2')"),
            &["lastSeen does not support startswith"],
        ),
        (e("id eq 'abc"), &["position 7", "not closed"]),
        (e("rbacGroupId eq 123456789012345678901"), &["out of range"]),
        (
            e("lastSeen gt 2024-02-30"),
            &["\"2024-02-30\"", "not a valid date-time"],
        ),
        (
            e("id eq null ; x"),
            &["position 12", "unexpected character ';'"],
        ),
    ]);
}

#[test]
fn import_and_query_errors() {
    let r = parse_machine_list(
        "bad name\n,Finance\nws,t,maybe\nws,,Add\nws,a,Add,x\nws, ,Add\nws,\u{1}\n",
    )
    .unwrap();
    let msgs: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
    check(&[
        (msgs[0].clone(), &["row 1", "machine", "whitespace"]),
        (msgs[1].clone(), &["row 2", "machine column is empty"]),
        (msgs[2].clone(), &["row 3", "\"maybe\""]),
        (msgs[3].clone(), &["row 4", "without a tag"]),
        (msgs[4].clone(), &["row 5", "4 columns", "header row"]),
        (msgs[5].clone(), &["row 6", "without a tag"]),
        (msgs[6].clone(), &["row 7", "tag", "control character"]),
        (
            MachineQuery::from_query_string("group=x")
                .unwrap_err()
                .to_string(),
            &["group", "whole number"],
        ),
        (
            MachineQuery::from_query_string("seen=x")
                .unwrap_err()
                .to_string(),
            &["seen", "1d, 7d, 30d or stale"],
        ),
        (
            MachineQuery::from_query_string("tag=a&tagmode=x")
                .unwrap_err()
                .to_string(),
            &["tagmode", "prefix or exact"],
        ),
    ]);
}
