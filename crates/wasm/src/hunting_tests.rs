//! Native tests of `run_hunting_query` over a scripted transport: the Graph token and origin,
//! retries, the hunting budget and the errors.

use std::cell::RefCell;
use std::rc::Rc;

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::hunting::{HuntingError, HuntingQuery, HuntingQuota};

use crate::client::DefenderClient;
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::testutil::{FakeTransport, Reply, block_on, json};
use crate::token::{AccessToken, TokenRequest};
use crate::transport::TransportError;

const API: &str = "https://api.security.microsoft.com";
const GRAPH: &str = "https://graph.microsoft.com";
const ID: &str = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07";

type Seen = Rc<RefCell<Vec<TokenRequest>>>;

fn client(replies: Vec<Reply>, graph: Option<&str>) -> (DefenderClient, Rc<FakeTransport>, Seen) {
    let transport = FakeTransport::new(replies);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let provider = move |r: TokenRequest| {
        let graph = r.scopes.iter().any(|s| s.starts_with(GRAPH));
        log.borrow_mut().push(r);
        // Each resource gets its own token, as MSAL gives.
        async move {
            AccessToken::new(if graph {
                "graph-token"
            } else {
                "defender-token"
            })
        }
    };
    let mut config = ClientConfig::new(BaseUrl::parse(API).unwrap());
    config.graph_base_url = graph.map(|g| BaseUrl::parse(g).unwrap());
    (
        DefenderClient::with_transport(config, provider, transport.clone()),
        transport,
        seen,
    )
}

fn answer() -> Reply {
    json(
        200,
        &format!(
            r#"{{"schema":[{{"name":"DeviceId","type":"String"}},{{"name":"DeviceName","type":"String"}}],
               "results":[{{"DeviceId":"{ID}","DeviceName":"pc1"}},{{"DeviceId":"{ID}","DeviceName":"pc1"}}]}}"#
        ),
    )
}

fn query() -> HuntingQuery {
    HuntingQuery::parse("DeviceInfo | project DeviceId, DeviceName").unwrap()
}

#[test]
fn the_graph_token_goes_to_the_graph_origin_only() {
    let (client, transport, seen) = client(vec![answer()], Some(GRAPH));
    let result = block_on(client.run_hunting_query(&query())).unwrap();
    assert_eq!(result.rows.len(), 2);
    assert_eq!(result.devices().unwrap().devices.len(), 1);
    let sent = transport.sent.borrow();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].url,
        "https://graph.microsoft.com/v1.0/security/runHuntingQuery"
    );
    assert!(
        sent[0]
            .headers
            .iter()
            .any(|(k, v)| k == "Authorization" && v == "Bearer graph-token")
    );
    let body: serde_json::Value = serde_json::from_str(sent[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body["Query"], query().as_str());
    // The provider was asked for the Graph scope, not the Defender one.
    assert_eq!(
        seen.borrow()[0].scopes,
        vec!["https://graph.microsoft.com/.default".to_owned()]
    );
    // Hunting spends its own budget, not the API's.
    assert_eq!(client.rate_usage(), (0, 0));
}

#[test]
fn without_a_graph_origin_nothing_is_sent() {
    let (client, transport, seen) = client(vec![], None);
    let err = block_on(client.run_hunting_query(&query())).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(transport.sent.borrow().is_empty());
    assert!(seen.borrow().is_empty(), "no token is even asked for");
}

#[test]
fn a_401_refreshes_the_graph_token_once() {
    let (client, transport, seen) = client(
        vec![
            json(
                401,
                r#"{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}"#,
            ),
            answer(),
        ],
        Some(GRAPH),
    );
    block_on(client.run_hunting_query(&query())).unwrap();
    assert_eq!(transport.sent.borrow().len(), 2);
    let seen = seen.borrow();
    assert!(!seen[0].force_refresh);
    assert!(seen[1].force_refresh);
    // A second 401 in a row is the answer.
    let unauthorized = || {
        json(
            401,
            r#"{"error":{"code":"InvalidAuthenticationToken","message":"x"}}"#,
        )
    };
    let (client, _, _) = client_pair(vec![unauthorized(), unauthorized()]);
    let err = block_on(client.run_hunting_query(&query())).unwrap_err();
    assert_eq!((err.code(), err.status()), ("unauthorized", Some(401)));
}

fn client_pair(replies: Vec<Reply>) -> (DefenderClient, Rc<FakeTransport>, Seen) {
    client(replies, Some(GRAPH))
}

#[test]
fn a_429_waits_its_retry_after_then_succeeds() {
    let throttled = Reply::Http(
        429,
        vec![("retry-after", "7".into())],
        r#"{"error":{"code":"TooManyRequests","message":"Rate limit exceeded: 45 calls per minute"}}"#.into(),
    );
    let (client, transport, _) = client_pair(vec![throttled, answer()]);
    block_on(client.run_hunting_query(&query())).unwrap();
    assert_eq!(transport.sent.borrow().len(), 2);
    assert!(transport.sleeps.borrow().iter().any(|ms| *ms >= 7_000));
}

#[test]
fn errors_that_retrying_cannot_fix_are_returned_at_once() {
    let cases = [
        (
            json(
                400,
                r#"{"error":{"code":"BadRequest","message":"Query could not be parsed at 'x' on line [1,3]"}}"#,
            ),
            "bad_query",
        ),
        (
            json(
                403,
                r#"{"error":{"code":"Forbidden","message":"Missing ThreatHunting.Read.All"}}"#,
            ),
            "forbidden",
        ),
        (json(200, r#"{"schema":[],"results":{}}"#), "undecodable"),
    ];
    for (reply, code) in cases {
        let (client, transport, _) = client_pair(vec![reply]);
        let err = block_on(client.run_hunting_query(&query())).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(transport.sent.borrow().len(), 1);
        assert!(!err.may_have_applied());
    }
}

#[test]
fn server_errors_and_network_failures_are_retried_then_reported() {
    let (client, transport, _) = client_pair(vec![
        json(503, ""),
        Reply::Fail(TransportError::Network("Failed to fetch".into())),
        answer(),
    ]);
    block_on(client.run_hunting_query(&query())).unwrap();
    assert_eq!(transport.sent.borrow().len(), 3);
    // Five attempts of a CPU-quota 429 without Retry-After: the last one is the answer.
    let cpu = || {
        json(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"CPU quota used up"}}"#,
        )
    };
    let (client, transport, _) = client_pair((0..5).map(|_| cpu()).collect());
    let err = block_on(client.run_hunting_query(&query())).unwrap_err();
    assert_eq!(transport.sent.borrow().len(), 5);
    assert!(matches!(
        err,
        ClientError::Hunting(HuntingError::Throttled {
            quota: HuntingQuota::Cpu,
            ..
        })
    ));
}

#[test]
fn the_hunting_budget_paces_the_46th_call() {
    let (client, transport, _) = client_pair((0..46).map(|_| answer()).collect());
    for _ in 0..46 {
        block_on(client.run_hunting_query(&query())).unwrap();
    }
    // 45 calls fit the minute; the 46th waited for the window.
    let waited: u64 = transport.sleeps.borrow().iter().sum();
    assert!(waited > 50_000, "waited {waited} ms");
}

#[test]
fn the_defender_token_never_goes_to_graph_nor_the_graph_token_to_the_api() {
    let machine = json(200, &format!(r#"{{"id":"{ID}","machineTags":[]}}"#));
    let (client, transport, _) = client_pair(vec![answer(), machine]);
    block_on(client.run_hunting_query(&query())).unwrap();
    block_on(client.machine(&defender_tags_core::MachineRef::Id(
        defender_tags_core::MachineId::parse(ID).unwrap(),
    )))
    .unwrap();
    for r in transport.sent.borrow().iter() {
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .map(|(_, v)| v.as_str())
            .unwrap();
        if r.url.starts_with(GRAPH) {
            assert_eq!(auth, "Bearer graph-token");
        } else {
            assert!(r.url.starts_with(API));
            assert_eq!(auth, "Bearer defender-token");
        }
    }
}

#[test]
fn the_js_shape_of_an_answer() {
    let (client, _, _) = client_pair(vec![answer()]);
    let result = block_on(client.run_hunting_query(&query())).unwrap();
    let v = crate::hunting::result_json(&result);
    assert_eq!(
        v["columns"][0],
        serde_json::json!({"name": "DeviceId", "type": "string"})
    );
    assert_eq!(v["rows"][1]["DeviceName"], "pc1");
    assert_eq!(
        v["devices"],
        serde_json::json!([{"id": ID, "deviceName": "pc1", "row": 1}])
    );
    assert_eq!(v["duplicateRows"], 1);
    let none = defender_tags_core::hunting::HuntingResult::default();
    let v = crate::hunting::result_json(&none);
    assert!(v["devices"].is_null());
    assert!(v["deviceError"].as_str().unwrap().contains("DeviceId"));
}
