//! Native tests of run bookkeeping: progress, abort and report building, over a scripted
//! transport with virtual time.

use std::cell::RefCell;
use std::rc::Rc;

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::model::{MachineId, Tag, TagAction};
use defender_tags_core::plan::PlannedCall;
use defender_tags_core::wire::BulkTagBody;

use super::{RunSpec, SpecCall, SpecWhat};
use crate::abort::AbortHandle;
use crate::client::DefenderClient;
use crate::config::ClientConfig;
use crate::progress::Progress;
use crate::report::{MachineOutcome, OutcomeStatus, RunReport};
use crate::testutil::{FakeTransport, Reply, block_on, json};
use crate::token::{AccessToken, TokenError, TokenRequest};
use crate::transport::TransportError;

fn id(n: u8) -> MachineId {
    MachineId::parse(&format!("{n:02x}").repeat(20)).unwrap()
}

fn machine_json(n: u8) -> String {
    format!(r#"{{"id":"{}","machineTags":["t","Finance"]}}"#, id(n))
}

fn ok_single(n: u8) -> Reply {
    json(200, &machine_json(n))
}

fn ok_bulk(ns: &[u8]) -> Reply {
    let items: Vec<String> = ns.iter().map(|n| machine_json(*n)).collect();
    json(200, &format!(r#"{{"value":[{}]}}"#, items.join(",")))
}

/// Three machines: #1 and #2 in one bulk call, #3 alone, #4 already tagged.
fn spec() -> RunSpec {
    let row = |n: u8, status| MachineOutcome {
        machine: id(n).to_string(),
        status,
        error: None,
    };
    let tag = Tag::parse("Finance").unwrap();
    RunSpec {
        what: SpecWhat::Tags {
            tag: tag.clone(),
            action: TagAction::Add,
        },
        calls: vec![
            SpecCall {
                call: PlannedCall::Bulk(
                    BulkTagBody::new(tag.clone(), TagAction::Add, vec![id(1), id(2)]).unwrap(),
                )
                .into(),
                rows: vec![0, 1],
            },
            SpecCall {
                call: PlannedCall::Single {
                    machine_id: id(3),
                    tag,
                    action: TagAction::Add,
                }
                .into(),
                rows: vec![2],
            },
        ],
        rows: vec![
            row(1, OutcomeStatus::NotAttempted),
            row(2, OutcomeStatus::NotAttempted),
            row(3, OutcomeStatus::NotAttempted),
            row(4, OutcomeStatus::AlreadyInPlace),
        ],
    }
}

struct Harness {
    transport: Rc<FakeTransport>,
    client: DefenderClient,
    token_requests: Rc<RefCell<Vec<TokenRequest>>>,
}

fn harness(replies: Vec<Reply>) -> Harness {
    harness_with_tokens(replies, false)
}

fn harness_with_tokens(replies: Vec<Reply>, failing_tokens: bool) -> Harness {
    let transport = FakeTransport::new(replies);
    let token_requests = Rc::new(RefCell::new(Vec::new()));
    let seen = token_requests.clone();
    let provider = move |request: TokenRequest| {
        seen.borrow_mut().push(request);
        async move {
            if failing_tokens {
                Err(TokenError::Provider("interaction_required".into()))
            } else {
                AccessToken::new("tok")
            }
        }
    };
    let mut config =
        ClientConfig::new(BaseUrl::parse("https://api.security.microsoft.com").unwrap());
    config.time_scale = 1.0;
    let client = DefenderClient::with_transport(config, provider, transport.clone());
    Harness {
        transport,
        client,
        token_requests,
    }
}

fn run(h: &Harness, abort: &AbortHandle) -> (RunReport, Vec<Progress>) {
    let events = RefCell::new(Vec::new());
    let settled = RefCell::new(Vec::<MachineOutcome>::new());
    let report = block_on(h.client.run_spec(
        spec(),
        |p: &Progress| events.borrow_mut().push(p.clone()),
        |rows: &[MachineOutcome]| settled.borrow_mut().extend_from_slice(rows),
        abort,
    ));
    // What was reported call by call as it settled is exactly the final report's rows of the
    // calls that were made: a journal written from it matches the report.
    let mut settled = settled.into_inner();
    settled.sort_by(|a, b| a.machine.cmp(&b.machine));
    let mut attempted: Vec<MachineOutcome> = report
        .outcomes
        .iter()
        .filter(|o| {
            !matches!(
                o.status,
                OutcomeStatus::NotAttempted | OutcomeStatus::AlreadyInPlace
            )
        })
        .cloned()
        .collect();
    attempted.sort_by(|a, b| a.machine.cmp(&b.machine));
    assert_eq!(
        settled, attempted,
        "settled outcomes = the report's attempted rows"
    );
    (report, events.into_inner())
}

fn statuses(report: &RunReport) -> Vec<OutcomeStatus> {
    report.outcomes.iter().map(|o| o.status).collect()
}

#[test]
fn a_clean_run_applies_everything_and_reports_progress() {
    let h = harness(vec![ok_bulk(&[1, 2]), ok_single(3)]);
    let (report, events) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Applied, Applied, Applied, AlreadyInPlace]
    );
    assert!(!report.aborted);
    assert!(report.is_complete());
    assert_eq!((report.calls_planned, report.calls_made), (2, 2));
    assert_eq!(report.applied().count(), 3);

    let done: Vec<(u32, u32)> = events
        .iter()
        .map(|e| (e.calls_done, e.machines_done))
        .collect();
    assert_eq!(done, [(0, 0), (1, 2), (2, 3)]);
    assert!(
        events
            .iter()
            .all(|e| e.calls_total == 2 && e.machines_total == 3)
    );
    assert_eq!(events[0].eta_ms, None, "nothing measured yet");
    assert_eq!(
        events[1].eta_ms,
        Some(100),
        "one call left at the measured 100 ms"
    );
    assert_eq!(events[2].eta_ms, Some(0));
    assert_eq!(
        (events[2].calls_this_minute, events[2].calls_this_hour),
        (2, 2)
    );

    let sent = h.transport.sent.borrow();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0]
            .url
            .ends_with("/api/machines/AddOrRemoveTagForMultipleMachines")
    );
    assert!(
        sent[1]
            .url
            .ends_with(&format!("/api/machines/{}/tags", id(3)))
    );
    assert!(sent.iter().all(|r| r.method == "POST"));
}

#[test]
fn retry_after_is_honoured_and_announced_as_a_wait() {
    let h = harness(vec![
        Reply::Http(
            429,
            vec![("retry-after", "7".into())],
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#.into(),
        ),
        ok_bulk(&[1, 2]),
        ok_single(3),
    ]);
    let (report, events) = run(&h, &AbortHandle::new());
    assert!(report.is_complete());
    assert!(
        h.transport.sleeps.borrow().contains(&7_000),
        "{:?}",
        h.transport.sleeps.borrow()
    );
    assert!(events.iter().any(|e| e.waiting_ms == Some(7_000)));
    assert_eq!(h.transport.sent.borrow().len(), 3);
}

#[test]
fn a_call_in_flight_when_abort_arrives_is_awaited_and_reported() {
    let h = harness(vec![ok_bulk(&[1, 2]), ok_single(3)]);
    let abort = AbortHandle::new();
    let a = abort.clone();
    *h.transport.on_send.borrow_mut() = Some(Box::new(move |_| a.abort()));
    let (report, events) = run(&h, &abort);
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Applied, Applied, NotAttempted, AlreadyInPlace]
    );
    assert!(report.aborted);
    assert_eq!(report.calls_made, 1);
    assert_eq!(
        h.transport.sent.borrow().len(),
        1,
        "nothing sent after the abort"
    );
    assert_eq!(events.last().map(|e| e.calls_done), Some(1));
}

#[test]
fn abort_during_a_retry_after_wait_stops_without_resending() {
    let h = harness(vec![Reply::Http(
        429,
        vec![("retry-after", "30".into())],
        String::new(),
    )]);
    let abort = AbortHandle::new();
    let a = abort.clone();
    *h.transport.on_send.borrow_mut() = Some(Box::new(move |_| a.abort()));
    let (report, _) = run(&h, &abort);
    use OutcomeStatus::*;
    // The 429 means the API did not apply the change.
    assert_eq!(
        statuses(&report),
        [Failed, Failed, NotAttempted, AlreadyInPlace]
    );
    assert_eq!(
        report.outcomes[0].error.as_ref().map(|e| e.code.as_str()),
        Some("aborted")
    );
    assert!(
        h.transport.sleeps.borrow().is_empty(),
        "the wait was cut short"
    );
    assert_eq!(h.transport.sent.borrow().len(), 1);
}

#[test]
fn abort_after_a_server_error_leaves_the_outcome_unknown() {
    let h = harness(vec![json(503, "")]);
    let abort = AbortHandle::new();
    let a = abort.clone();
    *h.transport.on_send.borrow_mut() = Some(Box::new(move |_| a.abort()));
    let (report, _) = run(&h, &abort);
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, NotAttempted, AlreadyInPlace]
    );
}

#[test]
fn a_forbidden_machine_fails_alone_and_the_run_goes_on() {
    let h = harness(vec![
        json(
            403,
            r#"{"error":{"code":"Forbidden","message":"no access to group"}}"#,
        ),
        ok_single(3),
    ]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(statuses(&report), [Failed, Failed, Applied, AlreadyInPlace]);
    let error = report.outcomes[0].error.as_ref().unwrap();
    assert_eq!(
        (error.code.as_str(), error.status),
        ("forbidden", Some(403))
    );
    assert_eq!(report.stopped_by, None);
}

#[test]
fn unauthorized_twice_refreshes_once_then_stops_the_run() {
    let h = harness(vec![json(401, ""), json(401, "")]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Failed, Failed, NotAttempted, AlreadyInPlace]
    );
    assert_eq!(
        report.stopped_by.as_ref().map(|e| e.code.as_str()),
        Some("unauthorized")
    );
    let refreshes: Vec<bool> = h
        .token_requests
        .borrow()
        .iter()
        .map(|r| r.force_refresh)
        .collect();
    assert_eq!(refreshes, [false, true]);
    assert_eq!(h.transport.sent.borrow().len(), 2);
}

#[test]
fn a_failing_token_provider_stops_before_anything_is_sent() {
    let h = harness_with_tokens(vec![], true);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Failed, Failed, NotAttempted, AlreadyInPlace]
    );
    assert_eq!(
        report.stopped_by.as_ref().map(|e| e.code.as_str()),
        Some("token_unavailable")
    );
    assert!(h.transport.sent.borrow().is_empty());
}

#[test]
fn network_errors_are_retried_with_backoff_then_reported_unknown() {
    let fail = || Reply::Fail(TransportError::Network("Failed to fetch".into()));
    let h = harness(vec![fail(), fail(), fail(), fail(), fail()]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, NotAttempted, AlreadyInPlace]
    );
    assert_eq!(h.transport.sent.borrow().len(), 5, "max_attempts");
    let sleeps = h.transport.sleeps.borrow();
    assert_eq!(sleeps.len(), 4);
    assert!(sleeps.iter().all(|&ms| ms > 0), "{sleeps:?}");
}

#[test]
fn machines_the_bulk_call_skipped_or_did_not_confirm_are_not_reported_applied() {
    // Machine 2 is missing from the bulk answer (beyond retention, say); machine 3's answer
    // lacks the tag.
    let without_tag = json(200, &format!(r#"{{"id":"{}","machineTags":["t"]}}"#, id(3)));
    let h = harness(vec![ok_bulk(&[1]), without_tag]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Applied, Skipped, Unknown, AlreadyInPlace]
    );
    assert_eq!(
        report.outcomes[1].error.as_ref().map(|e| e.code.as_str()),
        Some("not_processed")
    );
    assert_eq!(
        report.outcomes[2].error.as_ref().map(|e| e.code.as_str()),
        Some("unconfirmed")
    );
    assert!(!report.is_complete());
}

#[test]
fn a_bulk_answer_without_machines_confirms_nothing() {
    let h = harness(vec![json(200, ""), ok_single(3)]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, Applied, AlreadyInPlace]
    );
}

#[test]
fn a_bulk_answer_is_matched_by_id_whatever_its_order_and_extra_fields() {
    // Full machine entities in reverse order, an unrequested machine and a repeated id whose
    // first entry wins (machine 2 lacks the tag there): only the id and tags are read.
    let entity = |n: u8, tags: &str| {
        format!(
            r#"{{"id":"{}","computerDnsName":"ws-{n}","healthStatus":"Active","rbacGroupId":7,
                "ipAddresses":[{{"ipAddress":"10.0.0.{n}"}}],"vmMetadata":{{"a":1.5}},
                "machineTags":{tags}}}"#,
            id(n)
        )
    };
    let body = format!(
        r#"{{"@odata.context":"x","value":[{},{},{},{}]}}"#,
        entity(2, r#"["t"]"#),
        entity(9, r#"["Finance"]"#),
        entity(1, r#"["Finance"]"#),
        entity(2, r#"["Finance"]"#),
    );
    let h = harness(vec![json(200, &body), ok_single(3)]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Applied, Unknown, Applied, AlreadyInPlace]
    );
    assert_eq!(
        report.outcomes.len(),
        4,
        "the unrequested machine gets no row"
    );
}

#[test]
fn a_malformed_bulk_answer_leaves_its_machines_unknown_with_a_typed_error() {
    // Accepted (200) but one entry has no valid id: nothing of the answer is trusted, not even
    // the well-formed first entry, and the run goes on.
    let body = format!(
        r#"{{"value":[{},{{"id":"nope","machineTags":["Finance"]}}]}}"#,
        machine_json(1)
    );
    let h = harness(vec![json(200, &body), ok_single(3)]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, Applied, AlreadyInPlace]
    );
    let error = report.outcomes[0].error.as_ref().expect("an error");
    assert_eq!(error.code, "undecodable");
    assert_eq!(error.status, Some(200));
    assert!(report.stopped_by.is_none());
}

// --- Pipelining: calls that take time and overlap (virtual time, `SimTransport`). ---

use crate::testutil::{Responder, SimTransport};
use crate::transport::HttpRequest;

fn nth_id(k: usize) -> MachineId {
    MachineId::parse(&format!("{:040x}", k + 1)).unwrap()
}

/// `calls` bulk calls of two machines each, adding "Finance".
fn bulk_spec(calls: usize) -> RunSpec {
    let tag = Tag::parse("Finance").unwrap();
    let mut rows = Vec::new();
    let calls = (0..calls)
        .map(|c| {
            let ids = vec![nth_id(2 * c), nth_id(2 * c + 1)];
            let first = rows.len();
            for id in &ids {
                rows.push(MachineOutcome {
                    machine: id.to_string(),
                    status: OutcomeStatus::NotAttempted,
                    error: None,
                });
            }
            SpecCall {
                call: PlannedCall::Bulk(
                    BulkTagBody::new(tag.clone(), TagAction::Add, ids).unwrap(),
                )
                .into(),
                rows: vec![first, first + 1],
            }
        })
        .collect();
    RunSpec {
        what: SpecWhat::Tags {
            tag,
            action: TagAction::Add,
        },
        calls,
        rows,
    }
}

/// The bulk answer of an API that applied the call: every machine sent, with the tag.
fn applied(request: &HttpRequest) -> Reply {
    let body: serde_json::Value =
        serde_json::from_str(request.body.as_deref().unwrap_or("{}")).unwrap();
    let value: Vec<serde_json::Value> = body["MachineIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| serde_json::json!({ "id": id, "machineTags": [body["Value"].clone()] }))
        .collect();
    json(200, &serde_json::json!({ "value": value }).to_string())
}

fn sim_client(responder: Responder, max_in_flight: u32) -> (Rc<SimTransport>, DefenderClient) {
    sim_client_with_tokens(responder, max_in_flight, |_| {})
}

fn sim_client_with_tokens(
    responder: Responder,
    max_in_flight: u32,
    on_token: impl Fn(usize) + 'static,
) -> (Rc<SimTransport>, DefenderClient) {
    let transport = SimTransport::new(responder);
    let mut config =
        ClientConfig::new(BaseUrl::parse("https://api.security.microsoft.com").unwrap());
    config.max_in_flight = max_in_flight;
    let count = Rc::new(std::cell::Cell::new(0));
    let provider = move |_: TokenRequest| {
        on_token(count.get());
        count.set(count.get() + 1);
        async { AccessToken::new("tok") }
    };
    let client = DefenderClient::with_transport(config, provider, transport.clone());
    (transport, client)
}

fn sim_run(
    sim: &SimTransport,
    client: &DefenderClient,
    spec: RunSpec,
    abort: &AbortHandle,
) -> (RunReport, Vec<Progress>) {
    let events = RefCell::new(Vec::new());
    let report = sim.run(client.run_spec(
        spec,
        |p: &Progress| events.borrow_mut().push(p.clone()),
        |_| {},
        abort,
    ));
    (report, events.into_inner())
}

#[test]
fn calls_overlap_up_to_the_configured_number_and_no_further() {
    for (max, expected) in [(0, 1), (1, 1), (2, 2), (3, 3)] {
        let (sim, client) = sim_client(Box::new(|_, r| (50.0, applied(r))), max);
        let (report, events) = sim_run(&sim, &client, bulk_spec(12), &AbortHandle::new());
        assert_eq!(sim.max_in_flight(), expected, "max_in_flight = {max}");
        assert!(report.is_complete(), "max_in_flight = {max}");
        assert_eq!((report.calls_made, report.calls_planned), (12, 12));
        assert!(
            statuses(&report)
                .iter()
                .all(|s| *s == OutcomeStatus::Applied)
        );
        // Overlapping shortens the run accordingly: 12 calls of 50 ms, `expected` at a time.
        let (first_sent, _) = sim.exchanges.borrow()[0];
        let last_answer = sim
            .exchanges
            .borrow()
            .iter()
            .map(|e| e.1)
            .fold(0.0, f64::max);
        assert_eq!(
            last_answer - first_sent,
            50.0 * (12.0 / expected as f64).ceil()
        );
        // Progress: one event before the first call and one per call, monotonic.
        let done: Vec<(u32, u32)> = events
            .iter()
            .map(|e| (e.calls_done, e.machines_done))
            .collect();
        assert_eq!(done.len(), 13);
        assert!(
            done.windows(2)
                .all(|w| w[0].0 + 1 == w[1].0 && w[0].1 + 2 == w[1].1)
        );
    }
}

/// The service may count a call at any instant between its send and its answer. With calls
/// overlapping (some outliving the minute window), the calls that could fall into any window
/// must still fit the documented budget, and the run still finishes every call.
#[test]
fn overlapping_calls_never_exceed_the_documented_budget_in_any_window() {
    let responder: Responder = Box::new(|index, request| {
        // Mostly quick answers; the first call, and every 97th, slower than the whole minute
        // window: counted from their grants, their slots would free while the service may
        // still count them, letting a 101st call into a window.
        let latency = if index % 97 == 0 {
            90_000.0
        } else {
            5.0 + (index % 7) as f64 * 20.0
        };
        (latency, applied(request))
    });
    let (sim, client) = sim_client(responder, 3);
    let (report, events) = sim_run(&sim, &client, bulk_spec(260), &AbortHandle::new());
    assert!(report.is_complete());
    assert_eq!(sim.sent.borrow().len(), 260, "no call sent twice");
    assert_eq!(sim.max_in_flight(), 3);
    let exchanges = sim.exchanges.borrow();
    for &(t, _) in exchanges.iter() {
        for (window, limit) in [(60_000.0, 100), (3_600_000.0, 1_500)] {
            let could_count = exchanges
                .iter()
                .filter(|&&(sent, answered)| sent <= t && answered > t - window)
                .count();
            assert!(
                could_count <= limit,
                "{could_count} calls could count in the window ending at {t}"
            );
        }
    }
    // The budget is what paced the run: it needed the third minute.
    let (first, _) = exchanges[0];
    assert!(exchanges.iter().any(|&(sent, _)| sent - first > 120_000.0));
    assert!(events.iter().any(|e| e.waiting_ms.is_some()));
    assert!(events.iter().all(|e| e.calls_this_minute <= 100));
}

#[test]
fn abort_with_two_calls_in_flight_awaits_and_reports_both() {
    let (sim, client) = sim_client(Box::new(|_, r| (100.0, applied(r))), 2);
    let abort = AbortHandle::new();
    let a = abort.clone();
    // The abort arrives once the second call is on the wire, the first still unanswered.
    *sim.on_send.borrow_mut() = Some(Box::new(move |index| {
        if index == 1 {
            a.abort();
        }
    }));
    let (report, events) = sim_run(&sim, &client, bulk_spec(4), &abort);
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [
            Applied,
            Applied,
            Applied,
            Applied,
            NotAttempted,
            NotAttempted,
            NotAttempted,
            NotAttempted
        ]
    );
    assert!(report.aborted);
    assert_eq!(report.stopped_by, None);
    assert_eq!(report.calls_made, 2);
    assert_eq!(sim.sent.borrow().len(), 2, "nothing sent after the abort");
    assert_eq!(
        events.last().map(|e| (e.calls_done, e.machines_done)),
        Some((2, 4))
    );
}

#[test]
fn an_error_that_stops_the_run_still_awaits_and_reports_the_other_call() {
    // Call 1 is answered 401 twice (refresh, then stop) while call 2, slower, is in flight and
    // succeeds; call 3 is never sent.
    let responder: Responder = Box::new(|index, request| match index {
        0 | 2 => (10.0, json(401, "")),
        _ => (500.0, applied(request)),
    });
    let (sim, client) = sim_client(responder, 2);
    let (report, _) = sim_run(&sim, &client, bulk_spec(3), &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Failed, Failed, Applied, Applied, NotAttempted, NotAttempted]
    );
    assert_eq!(
        report.stopped_by.as_ref().map(|e| e.code.as_str()),
        Some("unauthorized")
    );
    assert!(!report.aborted);
    assert_eq!(report.calls_made, 2);
    assert_eq!(
        sim.sent.borrow().len(),
        3,
        "two attempts of call 1, one of call 2"
    );
}

#[test]
fn a_429_pauses_every_later_send_for_its_retry_after() {
    // Call 1 gets a 429 (Retry-After 7 s) after 10 ms while call 2 is in flight.
    let responder: Responder = Box::new(|index, request| match index {
        0 => (
            10.0,
            Reply::Http(429, vec![("retry-after", "7".into())], String::new()),
        ),
        _ => (50.0, applied(request)),
    });
    let (sim, client) = sim_client(responder, 2);
    let (report, _) = sim_run(&sim, &client, bulk_spec(4), &AbortHandle::new());
    assert!(report.is_complete());
    let exchanges = sim.exchanges.borrow();
    assert_eq!(exchanges.len(), 5, "call 1 once more");
    let (first, answered_429) = exchanges[0];
    assert_eq!(answered_429 - first, 10.0);
    assert_eq!(exchanges[1].0, first, "call 2 overlapped call 1");
    assert!(
        exchanges[2..]
            .iter()
            .all(|&(sent, _)| sent >= answered_429 + 7_000.0),
        "{exchanges:?}"
    );
}

#[test]
fn an_abort_before_a_retry_is_sent_keeps_the_earlier_attempts_outcome() {
    // Call 1: a 503 (may have applied), then the abort arrives while the retry fetches its
    // token: the retry is not sent and the machines are `Unknown`, not `NotAttempted`. Call 2,
    // slow, is still in flight then and is awaited.
    let responder: Responder = Box::new(|index, request| match index {
        0 => (10.0, json(503, "")),
        _ => (10_000.0, applied(request)),
    });
    let abort = AbortHandle::new();
    let a = abort.clone();
    // Tokens: call 1, call 2, then call 1's retry.
    let (sim, client) = sim_client_with_tokens(responder, 2, move |n| {
        if n == 2 {
            a.abort();
        }
    });
    let (report, _) = sim_run(&sim, &client, bulk_spec(3), &abort);
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [
            Unknown,
            Unknown,
            Applied,
            Applied,
            NotAttempted,
            NotAttempted
        ]
    );
    assert_eq!(
        report.outcomes[0].error.as_ref().map(|e| e.code.as_str()),
        Some("aborted")
    );
    assert_eq!(sim.sent.borrow().len(), 2, "the retry was not sent");
    assert_eq!(client.rate_usage().0, 2, "its slot was given back");
}

fn too_many(retry_after: &str) -> Reply {
    Reply::Http(
        429,
        vec![("retry-after", retry_after.into())],
        r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#.into(),
    )
}

#[test]
fn a_server_error_then_429s_until_giving_up_is_unknown_not_failed() {
    // Attempt 1 may have applied the change (503); attempts 2..5 are throttled. The last
    // answer alone would say "not applied", which undo would then leave out.
    let h = harness(vec![
        json(503, ""),
        too_many("1"),
        too_many("1"),
        too_many("1"),
        too_many("1"),
        ok_single(3),
    ]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, Applied, AlreadyInPlace]
    );
    let error = report.outcomes[0].error.as_ref().unwrap();
    assert_eq!(
        (error.code.as_str(), error.status),
        ("too_many_requests", Some(429)),
        "the code is the last attempt's"
    );
    assert!(
        error
            .message
            .contains("earlier attempt may nevertheless have applied"),
        "{}",
        error.message
    );
    assert_eq!(report.stopped_by, None, "a 429 does not stop the run");
    assert_eq!(h.transport.sent.borrow().len(), 6);
}

#[test]
fn a_timeout_then_401s_is_unknown_and_still_stops_the_run() {
    let h = harness(vec![
        Reply::Fail(TransportError::Timeout { after_ms: 30_000 }),
        json(401, ""),
        json(401, ""),
    ]);
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, NotAttempted, AlreadyInPlace]
    );
    assert_eq!(
        report.stopped_by.as_ref().map(|e| e.code.as_str()),
        Some("unauthorized")
    );
}

#[test]
fn abort_while_retrying_a_429_that_followed_a_server_error_is_unknown() {
    let h = harness(vec![json(500, ""), too_many("30")]);
    let abort = AbortHandle::new();
    let a = abort.clone();
    *h.transport.on_send.borrow_mut() = Some(Box::new(move |i| {
        if i == 1 {
            a.abort();
        }
    }));
    let (report, _) = run(&h, &abort);
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, NotAttempted, AlreadyInPlace]
    );
    assert_eq!(
        report.outcomes[0].error.as_ref().map(|e| e.code.as_str()),
        Some("aborted")
    );
}

#[test]
fn a_failure_of_the_token_provider_after_a_server_error_is_unknown() {
    // A provider that serves the first token and fails afterwards (a revoked refresh token).
    let transport = FakeTransport::new(vec![json(503, "")]);
    let calls = Rc::new(std::cell::Cell::new(0u32));
    let n = calls.clone();
    let provider = move |_request: TokenRequest| {
        n.set(n.get() + 1);
        let first = n.get() == 1;
        async move {
            if first {
                AccessToken::new("tok")
            } else {
                Err(TokenError::Provider("interaction_required".into()))
            }
        }
    };
    let mut config =
        ClientConfig::new(BaseUrl::parse("https://api.security.microsoft.com").unwrap());
    config.time_scale = 1.0;
    let client = DefenderClient::with_transport(config, provider, transport.clone());
    let h = Harness {
        transport,
        client,
        token_requests: Rc::new(RefCell::new(Vec::new())),
    };
    let (report, _) = run(&h, &AbortHandle::new());
    use OutcomeStatus::*;
    assert_eq!(
        statuses(&report),
        [Unknown, Unknown, NotAttempted, AlreadyInPlace]
    );
    assert_eq!(
        report.stopped_by.as_ref().map(|e| e.code.as_str()),
        Some("token_unavailable")
    );
}

/// A device-value plan: one `setDeviceValue` per machine that changes, none for a machine
/// already at the value; a returned machine without the value is unconfirmed, a 400 fails only
/// its machine.
#[test]
fn device_value_plan_sends_one_call_per_changing_machine_and_settles_each_row() {
    use defender_tags_core::device_value::{DeviceValuePlan, DeviceValueState};
    use defender_tags_core::model::DeviceValue;
    let state = |n: u8, v: DeviceValue| DeviceValueState {
        id: id(n),
        name: None,
        current: Some(v),
    };
    let plan = DeviceValuePlan::new(
        &DeviceValue::High,
        &[
            state(1, DeviceValue::Normal),
            state(2, DeviceValue::High),
            state(3, DeviceValue::Low),
            state(4, DeviceValue::Normal),
        ],
    )
    .unwrap();
    let valued =
        |n: u8, v: &str| json(200, &format!(r#"{{"id":"{}","deviceValue":"{v}"}}"#, id(n)));
    let h = harness(vec![
        valued(1, "High"),
        valued(3, "Low"),
        json(400, r#"{"error":{"code":"InvalidInput","message":"bad"}}"#),
    ]);
    let report = block_on(h.client.run_device_value_plan_observed(
        &plan,
        |_: &Progress| {},
        |_: &[MachineOutcome]| {},
        &AbortHandle::new(),
    ));
    let statuses: Vec<OutcomeStatus> = report.outcomes.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        vec![
            OutcomeStatus::Applied,
            OutcomeStatus::AlreadyInPlace,
            OutcomeStatus::Unknown,
            OutcomeStatus::Failed
        ]
    );
    assert_eq!(report.action, "setDeviceValue");
    assert_eq!((report.calls_planned, report.calls_made), (3, 3));
    let sent = h.transport.sent.borrow();
    let paths: Vec<String> = sent.iter().map(|r| r.url.clone()).collect();
    for (k, n) in [1u8, 3, 4].iter().enumerate() {
        assert!(
            paths[k].ends_with(&format!("/api/machines/{}/setDeviceValue", id(*n))),
            "{paths:?}"
        );
        assert_eq!(sent[k].body.as_deref(), Some(r#"{"DeviceValue":"High"}"#));
    }
}
