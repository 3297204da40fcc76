//! Native tests of run bookkeeping: progress, abort and report building, over a scripted
//! transport with virtual time.

use std::cell::RefCell;
use std::rc::Rc;

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::model::{MachineId, Tag, TagAction};
use defender_tags_core::plan::PlannedCall;
use defender_tags_core::wire::BulkTagBody;

use super::{RunSpec, SpecCall};
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
        tag: tag.clone(),
        action: TagAction::Add,
        calls: vec![
            SpecCall {
                call: PlannedCall::Bulk(
                    BulkTagBody::new(tag.clone(), TagAction::Add, vec![id(1), id(2)]).unwrap(),
                ),
                rows: vec![0, 1],
            },
            SpecCall {
                call: PlannedCall::Single {
                    machine_id: id(3),
                    tag,
                    action: TagAction::Add,
                },
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
    let report = block_on(h.client.run_spec(
        spec(),
        |p: &Progress| events.borrow_mut().push(p.clone()),
        abort,
    ));
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
