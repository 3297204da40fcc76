//! Native tests of `DefenderClient` over a scripted transport: rate limiting, retries, token
//! handling and the origin guard.

use std::cell::RefCell;
use std::rc::Rc;

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::model::{MachineId, MachineRef, Tag, TagAction};

use crate::client::DefenderClient;
use crate::config::ClientConfig;
use crate::machines::{PageCursor, PageRequest};
use crate::testutil::{FakeTransport, Reply, block_on, json};
use crate::token::{AccessToken, TokenRequest};

const API: &str = "https://api.security.microsoft.com";

fn id(n: u8) -> MachineId {
    MachineId::parse(&format!("{n:02x}").repeat(20)).unwrap()
}

fn machine(n: u8) -> String {
    format!(r#"{{"id":"{}","machineTags":[]}}"#, id(n))
}

/// A next-page link on another origin than the API's.
const FOREIGN_NEXT: &str = "https://evil.example/api/machines?$skip=1";

/// A page of machine `n` whose next page is `next`.
fn page_linking_to(next: &str, n: u8) -> String {
    format!(r#"{{"value":[{}],"@odata.nextLink":"{next}"}}"#, machine(n))
}

type Seen = Rc<RefCell<Vec<TokenRequest>>>;

fn client(replies: Vec<Reply>, scale: f64) -> (DefenderClient, Rc<FakeTransport>, Seen) {
    client_with(FakeTransport::new(replies), scale)
}

fn client_with(
    transport: Rc<FakeTransport>,
    scale: f64,
) -> (DefenderClient, Rc<FakeTransport>, Seen) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let provider = move |r: TokenRequest| {
        log.borrow_mut().push(r);
        async { AccessToken::new("secret-token-value") }
    };
    let mut config = ClientConfig::new(BaseUrl::parse(API).unwrap());
    config.time_scale = scale;
    (
        DefenderClient::with_transport(config, provider, transport.clone()),
        transport,
        seen,
    )
}

#[test]
fn every_request_asks_for_a_token_and_carries_it_only_in_the_header() {
    let (client, transport, seen) =
        client(vec![json(200, &machine(1)), json(200, &machine(1))], 1.0);
    for _ in 0..2 {
        block_on(client.machine(&MachineRef::Id(id(1)))).unwrap();
    }
    assert_eq!(seen.borrow().len(), 2);
    let sent = transport.sent.borrow();
    for request in sent.iter() {
        assert!(request.url.starts_with(API));
        assert!(!request.url.contains("secret-token-value"));
        let auth: Vec<_> = request
            .headers
            .iter()
            .filter(|(k, _)| k == "Authorization")
            .collect();
        assert_eq!(auth.len(), 1);
        assert_eq!(auth[0].1, "Bearer secret-token-value");
        assert!(
            !format!("{request:?}").contains("secret-token-value"),
            "Debug hides headers"
        );
    }
    assert!(!format!("{client:?}").contains("secret"));
}

#[test]
fn the_shared_limiter_keeps_150_calls_inside_100_per_minute() {
    let replies = (0..150).map(|_| json(200, &machine(1))).collect();
    let (client, transport, _) = client(replies, 1.0);
    let other_handle = client.clone();
    for i in 0..150 {
        let c = if i % 2 == 0 { &client } else { &other_handle };
        block_on(c.machine(&MachineRef::Id(id(1)))).unwrap();
    }
    // 100 calls at 100 ms each fit in the first 10 s; the 101st must wait for the window.
    let slept: u64 = transport.sleeps.borrow().iter().sum();
    assert!(slept >= 45_000, "waited for the minute window: {slept} ms");
    let (minute, hour) = client.rate_usage();
    assert!(minute <= 100, "{minute}");
    assert_eq!(hour, 150);
}

#[test]
fn time_scale_shrinks_every_wait() {
    let replies = (0..101).map(|_| json(200, &machine(1))).collect();
    let (client, transport, _) = client_with(FakeTransport::with_call_ms(replies, 1.0), 60.0);
    for _ in 0..101 {
        block_on(client.machine(&MachineRef::Id(id(1)))).unwrap();
    }
    let slept: u64 = transport.sleeps.borrow().iter().sum();
    assert!(
        slept > 0 && slept <= 1_000,
        "a minute window lasts a second: {slept} ms"
    );
}

#[test]
fn a_foreign_next_link_is_refused_before_any_token_is_requested() {
    let page = page_linking_to(FOREIGN_NEXT, 1);
    let (client, transport, seen) = client(vec![json(200, &page)], 1.0);
    let first = block_on(client.list_machines(
        None,
        PageRequest {
            top: Some(1),
            skip: None,
        },
    ))
    .unwrap();
    let next = first.next.clone().unwrap();
    assert_eq!(next, PageCursor::NextLink(FOREIGN_NEXT.into()));
    let err = block_on(client.next_page(None, next)).unwrap_err();
    assert_eq!(err.code(), "foreign_origin");
    assert!(err.to_string().contains("https://evil.example"));
    assert_eq!(transport.sent.borrow().len(), 1);
    assert_eq!(seen.borrow().len(), 1);
    for sneaky in [
        "https://api.security.microsoft.com@evil.example/api/machines",
        "http://api.security.microsoft.com/api/machines",
        "https://api.security.microsoft.com.evil.example/api/machines",
        "/api/machines?$skip=1",
    ] {
        let err =
            block_on(client.next_page(None, PageCursor::NextLink(sneaky.into()))).unwrap_err();
        // A relative link is not even a URL on our origin: refused as malformed.
        assert!(
            matches!(err.code(), "foreign_origin" | "invalid_input"),
            "{sneaky}: {err}"
        );
    }
    assert_eq!(transport.sent.borrow().len(), 1);
}

#[test]
fn a_same_origin_next_link_is_followed() {
    let first = page_linking_to(&format!("{API}/api/machines?$skiptoken=abc"), 1);
    let second = format!(r#"{{"value":[{}]}}"#, machine(2));
    let (client, transport, _) = client(vec![json(200, &first), json(200, &second)], 1.0);
    let all = block_on(client.list_all_machines(None).collect_all()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        transport.sent.borrow()[1].url,
        format!("{API}/api/machines?$skiptoken=abc")
    );
}

#[test]
fn the_next_page_is_requested_before_this_one_is_handed_over() {
    let page = |n: u8, next: Option<&str>| match next {
        Some(token) => page_linking_to(&format!("{API}/api/machines?$skiptoken={token}"), n),
        None => format!(r#"{{"value":[{}]}}"#, machine(n)),
    };
    let (client, transport, _) = client(
        vec![
            json(200, &page(1, Some("b"))),
            json(200, &page(2, Some("c"))),
            json(200, &page(3, None)),
        ],
        1.0,
    );
    let mut pages = client.list_all_machines(None);
    let first = block_on(pages.next()).unwrap().unwrap();
    assert_eq!(first[0].id, id(1));
    // The second page was asked for while the first was decoded.
    assert_eq!(transport.sent.borrow().len(), 2);
    assert!(transport.sent.borrow()[1].url.ends_with("$skiptoken=b"));
    let second = block_on(pages.next()).unwrap().unwrap();
    assert_eq!(second[0].id, id(2));
    assert_eq!(transport.sent.borrow().len(), 3);
    let third = block_on(pages.next()).unwrap().unwrap();
    assert_eq!(third[0].id, id(3));
    assert!(block_on(pages.next()).is_none());
    assert_eq!(
        transport.sent.borrow().len(),
        3,
        "nothing asked for after the last page"
    );
}

#[test]
fn a_foreign_next_link_is_not_requested_early_either() {
    let page = page_linking_to(FOREIGN_NEXT, 1);
    let (client, transport, seen) = client(vec![json(200, &page)], 1.0);
    let err = block_on(client.list_all_machines(None).collect_all()).unwrap_err();
    assert_eq!(err.code(), "foreign_origin");
    assert_eq!(
        transport.sent.borrow().len(),
        1,
        "only the first page was asked for"
    );
    assert_eq!(seen.borrow().len(), 1, "one token, for the first page");
}

#[test]
fn a_guessed_next_link_the_page_does_not_name_is_dropped() {
    // The page's own link comes first; a machine's unknown field carries the key again, last in
    // the text, so the early guess is wrong. The decoded page decides.
    let first = format!(
        r#"{{"@odata.nextLink":"{API}/api/machines?$skiptoken=right","value":[{{"id":"{}","vendorData":{{"@odata.nextLink":"{API}/api/machines?$skiptoken=wrong"}}}}]}}"#,
        id(1).as_str()
    );
    let wrong = format!(r#"{{"value":[{}]}}"#, machine(8));
    let right = format!(r#"{{"value":[{}]}}"#, machine(2));
    let (client, transport, _) = client(
        vec![json(200, &first), json(200, &wrong), json(200, &right)],
        1.0,
    );
    let all = block_on(client.list_all_machines(None).collect_all()).unwrap();
    let ids: Vec<_> = all.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, [id(1), id(2)]);
    let urls: Vec<_> = transport
        .sent
        .borrow()
        .iter()
        .map(|r| r.url.clone())
        .collect();
    assert!(urls[1].ends_with("$skiptoken=wrong"), "{urls:?}");
    assert!(urls[2].ends_with("$skiptoken=right"), "{urls:?}");
}

#[test]
fn a_listed_listing_keeps_only_the_listed_fields() {
    let page = format!(
        r#"{{"value":[{{"id":"{}","computerDnsName":"a","firstSeen":"2021-01-25T07:27:36Z","agentVersion":"1","ipAddresses":[{{"ipAddress":"127.0.0.1"}},{{"ipAddress":"10.0.0.1","macAddress":"AA"}}]}}]}}"#,
        id(1).as_str()
    );
    let (client, _, _) = client(vec![json(200, &page), json(200, &page)], 1.0);
    let listed = block_on(client.list_all_machines(None).listed().collect_all()).unwrap();
    let full = block_on(client.list_all_machines(None).collect_all()).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(full[0].agent_version.is_some() && listed[0].agent_version.is_none());
    assert_eq!(
        listed,
        full.into_iter()
            .map(defender_tags_core::model::keep_listed_fields)
            .collect::<Vec<_>>()
    );
    assert_eq!(listed[0].ip_addresses.len(), 1);
}

#[test]
fn not_found_on_the_list_is_an_empty_list_but_on_a_machine_an_error() {
    let (client, _, _) = client(
        vec![
            json(404, ""),
            json(
                404,
                r#"{"error":{"code":"ResourceNotFound","message":"Machine x was not found"}}"#,
            ),
        ],
        1.0,
    );
    let page = block_on(client.list_machines(None, PageRequest::default())).unwrap();
    assert!(page.machines.is_empty());
    assert_eq!(page.next, None);
    let err = block_on(client.machine(&MachineRef::Id(id(9)))).unwrap_err();
    assert_eq!((err.code(), err.status()), ("not_found", Some(404)));
}

#[test]
fn bad_requests_are_not_retried() {
    let (client, transport, _) = client(
        vec![json(
            400,
            r#"{"error":{"code":"InvalidRequestBody","message":"bad"}}"#,
        )],
        1.0,
    );
    let err =
        block_on(client.set_tag(&id(1), &Tag::parse("x").unwrap(), TagAction::Add)).unwrap_err();
    assert_eq!((err.code(), err.status()), ("bad_request", Some(400)));
    assert_eq!(transport.sent.borrow().len(), 1);
}

#[test]
fn the_native_default_transport_fails_cleanly() {
    let mut config = ClientConfig::new(BaseUrl::parse(API).unwrap());
    config.max_attempts = 1;
    let client = DefenderClient::new(config, |_: TokenRequest| async { AccessToken::new("t") });
    let err = block_on(client.machine(&MachineRef::Id(id(1)))).unwrap_err();
    assert_eq!(err.code(), "network");
}

#[test]
fn a_next_link_loop_stops_the_listing() {
    let page = |n: u8| page_linking_to(&format!("{API}/api/machines?$skiptoken=same"), n);
    let (client, transport, _) = client(vec![json(200, &page(1)), json(200, &page(2))], 1.0);
    let err = block_on(client.list_all_machines(None).collect_all()).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("already returned"), "{err}");
    assert_eq!(
        transport.sent.borrow().len(),
        2,
        "the repeated link is not fetched again"
    );
}

#[test]
fn a_read_after_a_server_error_reports_only_its_last_failure() {
    // Reads change nothing, so the sticky "may have applied" of writes does not apply.
    let throttled = || {
        Reply::Http(
            429,
            vec![("retry-after", "1".into())],
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#.into(),
        )
    };
    let (client, _, _) = client(
        vec![
            json(503, ""),
            throttled(),
            throttled(),
            throttled(),
            throttled(),
        ],
        1.0,
    );
    let err = block_on(client.machine(&MachineRef::Id(id(1)))).unwrap_err();
    assert_eq!((err.code(), err.status()), ("too_many_requests", Some(429)));
    assert!(!err.may_have_applied(), "{err}");
}

#[test]
fn a_tag_write_after_a_timeout_keeps_may_have_applied_through_later_429s() {
    let throttled = || {
        Reply::Http(
            429,
            vec![("retry-after", "1".into())],
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#.into(),
        )
    };
    let (client, transport, _) = client(
        vec![
            Reply::Fail(crate::transport::TransportError::Timeout { after_ms: 30_000 }),
            throttled(),
            throttled(),
            throttled(),
            throttled(),
        ],
        1.0,
    );
    let err = block_on(client.set_tag(&id(1), &Tag::parse("Finance").unwrap(), TagAction::Add))
        .unwrap_err();
    assert_eq!(transport.sent.borrow().len(), 5);
    assert_eq!((err.code(), err.status()), ("too_many_requests", Some(429)));
    assert!(err.may_have_applied(), "{err}");
    assert!(
        matches!(err.last(), crate::ClientError::Api(_)),
        "the last attempt's failure: {err:?}"
    );
}
