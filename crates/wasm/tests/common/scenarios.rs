//! The scenarios. Each takes the emulator base URL; the emulator was just reset.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use defender_tags_core::model::{Machine, MachineId, MachineRef, Tag, TagAction};
use defender_tags_core::odata;
use defender_tags_core::plan::{self, MachineState};
use defender_tags_wasm::fetch::FetchTransport;
use defender_tags_wasm::{
    AbortHandle, ClientError, DefenderClient, HttpRequest, HttpResponse, LocalBoxFuture,
    OutcomeStatus, PageCursor, PageRequest, Progress, Transport, TransportError,
};

use super::emulator::{self, counter};
#[cfg(feature = "js")]
pub use super::facade::*;
use super::{client_for, config, fixed_tokens, join, now_ms, refreshing_tokens, sleep};

fn page(top: u32) -> PageRequest {
    PageRequest {
        top: Some(top),
        skip: None,
    }
}

fn ids(machines: &[Machine]) -> BTreeSet<String> {
    machines.iter().map(|m| m.id.to_string()).collect()
}

fn unique_tag(label: &str) -> Tag {
    Tag::parse(&format!("wasm-{label}-{}", now_ms() as u64)).expect("valid test tag")
}

async fn some_machines(client: &DefenderClient, n: u32) -> Vec<Machine> {
    client
        .list_machines(None, page(n))
        .await
        .expect("list machines")
        .machines
}

pub async fn list_and_paging(base: &str) {
    let (client, seen) = client_for(base, "app").await;
    let first = client
        .list_machines(None, page(5))
        .await
        .expect("first page");
    assert_eq!(first.machines.len(), 5);
    let cursor = first.next.clone().expect("a full page has a next page");
    let second = client.next_page(None, cursor).await.expect("second page");
    assert_eq!(second.machines.len(), 5);
    assert!(
        ids(&first.machines).is_disjoint(&ids(&second.machines)),
        "pages overlap"
    );

    let everything = client
        .list_machines(None, page(10_000))
        .await
        .expect("one big page");
    let token = emulator::token(base, "app").await;
    let mut small = config(base);
    small.page_size = 150;
    let (provider, paged_seen) = fixed_tokens(token);
    let paged = DefenderClient::new(small, provider);
    let all = paged
        .list_all_machines(None)
        .collect_all()
        .await
        .expect("all pages");
    assert!(all.len() > 150, "the dataset spans several pages");
    assert_eq!(ids(&all), ids(&everything.machines));
    assert_eq!(all.len(), everything.machines.len(), "no machine twice");
    let pages = paged_seen.borrow().len();
    assert_eq!(
        pages,
        all.len().div_ceil(150) + usize::from(all.len() % 150 == 0)
    );
    assert_eq!(seen.borrow().len(), 3, "one token request per API call");

    let active = odata::parse("healthStatus eq 'Active'").expect("filter");
    let filtered = client
        .list_machines(Some(&active), page(10_000))
        .await
        .expect("filtered list");
    assert!(!filtered.machines.is_empty());
    assert!(filtered.machines.len() < everything.machines.len());
    assert!(
        filtered
            .machines
            .iter()
            .all(|m| m.health_status.as_ref().map(|h| h.as_str()) == Some("Active"))
    );
}

pub async fn get_machine(base: &str) {
    let (client, _) = client_for(base, "app").await;
    let listed = some_machines(&client, 3).await;
    let wanted = &listed[2];
    let got = client
        .machine(&MachineRef::Id(wanted.id.clone()))
        .await
        .expect("get by id");
    assert_eq!(got.id, wanted.id);
    assert_eq!(got.computer_dns_name, wanted.computer_dns_name);
    assert_eq!(got.machine_tags, wanted.machine_tags);
}

pub async fn find_by_tag(base: &str) {
    let (client, _) = client_for(base, "app").await;
    let listed = some_machines(&client, 200).await;
    let tagged = listed
        .iter()
        .find(|m| m.machine_tags.iter().any(|t| t.len() >= 4))
        .expect("the dataset has tagged machines");
    let tag = tagged
        .machine_tags
        .iter()
        .find(|t| t.len() >= 4)
        .expect("tag")
        .clone();
    let exact = client.find_by_tag(&tag, false).await.expect("find exact");
    assert!(ids(&exact).contains(&tagged.id.to_string()));
    assert!(
        exact
            .iter()
            .all(|m| m.machine_tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)))
    );
    let prefix = &tag[..3];
    let by_prefix = client.find_by_tag(prefix, true).await.expect("find prefix");
    assert!(by_prefix.len() >= exact.len());
    assert!(ids(&by_prefix).contains(&tagged.id.to_string()));
    let none = client
        .find_by_tag("no-machine-has-this-tag-4711", false)
        .await
        .expect("find nothing");
    assert!(none.is_empty());
    let err = client
        .find_by_tag("  ", false)
        .await
        .expect_err("blank tag");
    assert_eq!(err.code(), "invalid_input");
}

pub async fn add_and_remove_tag(base: &str) {
    let (client, _) = client_for(base, "app").await;
    let machine = some_machines(&client, 1).await.remove(0);
    let id = machine.id.to_string();
    let tag = unique_tag("single");
    let updated = client
        .set_tag(&machine.id, &tag, TagAction::Add)
        .await
        .expect("add");
    assert!(updated.machine_tags.iter().any(|t| t == tag.as_str()));
    assert!(
        emulator::machine_tags(base, &id)
            .await
            .iter()
            .any(|t| t == tag.as_str())
    );
    // Idempotent in effect: adding again changes nothing and succeeds.
    client
        .set_tag(&machine.id, &tag, TagAction::Add)
        .await
        .expect("add again");
    let count = emulator::machine_tags(base, &id)
        .await
        .iter()
        .filter(|t| *t == tag.as_str())
        .count();
    assert_eq!(count, 1);
    let removed = client
        .set_tag(&machine.id, &tag, TagAction::Remove)
        .await
        .expect("remove");
    assert!(!removed.machine_tags.iter().any(|t| t == tag.as_str()));
    assert!(
        !emulator::machine_tags(base, &id)
            .await
            .iter()
            .any(|t| t == tag.as_str())
    );
}

fn states(machines: &[Machine]) -> Vec<MachineState> {
    machines
        .iter()
        .map(|m| MachineState {
            id: m.id.clone(),
            name: m.computer_dns_name.clone(),
            tags: Some(m.machine_tags.clone()),
        })
        .collect()
}

pub async fn bulk_run_with_progress(base: &str) {
    let (client, _) = client_for(base, "app").await;
    let machines = some_machines(&client, 520).await;
    assert_eq!(machines.len(), 520);
    let tag = unique_tag("bulk");
    let plan = plan::plan(&tag, TagAction::Add, &states(&machines));
    let events: RefCell<Vec<Progress>> = RefCell::default();
    let report = client
        .run_plan(
            &plan,
            |p: &Progress| events.borrow_mut().push(p.clone()),
            &AbortHandle::new(),
        )
        .await;
    assert!(report.is_complete(), "{:?}", report.stopped_by);
    assert_eq!(report.count(OutcomeStatus::Applied), 520);
    assert_eq!(report.calls_made, 2, "500 + 20 machines in two bulk calls");
    let events = events.into_inner();
    let last = events.last().expect("progress events");
    assert_eq!((last.calls_done, last.calls_total), (2, 2));
    assert_eq!((last.machines_done, last.machines_total), (520, 520));
    assert!(last.calls_this_minute >= 2 && last.calls_this_hour >= last.calls_this_minute);
    assert_eq!(last.eta_ms, Some(0));
    assert!(
        events
            .windows(2)
            .all(|w| w[0].calls_done <= w[1].calls_done)
    );
    for m in [&machines[0], &machines[499], &machines[519]] {
        let tags = emulator::machine_tags(base, m.id.as_str()).await;
        assert!(
            tags.iter().any(|t| t == tag.as_str()),
            "{} not tagged",
            m.id
        );
    }
}

pub async fn bulk_run_abort(base: &str) {
    let (client, _) = client_for(base, "app").await;
    let machines = some_machines(&client, 520).await;
    let tag = unique_tag("abort");
    let plan = plan::plan(&tag, TagAction::Add, &states(&machines));
    let abort = AbortHandle::new();
    let trigger = abort.clone();
    let report = client
        .run_plan(
            &plan,
            move |p: &Progress| {
                if p.calls_done == 1 {
                    trigger.abort();
                }
            },
            &abort,
        )
        .await;
    assert!(report.aborted);
    // Two calls run at once (the client's default): the second may already be on the wire when
    // the first one's answer triggers the abort, and is then awaited and reported; if it was
    // not yet sent, it never is.
    let second_sent = match report.calls_made {
        1 => false,
        2 => true,
        n => panic!("{n} calls made for 2 planned and an abort after the first"),
    };
    let (applied_expected, not_attempted) = if second_sent { (520, 0) } else { (500, 20) };
    assert_eq!(report.count(OutcomeStatus::Applied), applied_expected);
    assert_eq!(report.count(OutcomeStatus::NotAttempted), not_attempted);
    let applied: BTreeSet<&str> = report.applied().collect();
    for m in [&machines[0], &machines[519]] {
        let tags = emulator::machine_tags(base, m.id.as_str()).await;
        let has = tags.iter().any(|t| t == tag.as_str());
        assert_eq!(
            has,
            applied.contains(m.id.as_str()),
            "report and state agree for {}",
            m.id
        );
    }
    assert_eq!(
        counter(base, "calls").await,
        1 + u64::from(report.calls_made),
        "one list + the bulk calls reported: nothing sent after the abort"
    );
}

pub async fn unauthorized_refreshes_once(base: &str) {
    let fresh = emulator::token(base, "app").await;
    let (provider, seen) = refreshing_tokens("expired.or.bogus".into(), fresh);
    let client = DefenderClient::new(config(base), provider);
    let page = client
        .list_machines(None, page(1))
        .await
        .expect("works after refresh");
    assert_eq!(page.machines.len(), 1);
    let refreshes: Vec<bool> = seen.borrow().iter().map(|r| r.force_refresh).collect();
    assert_eq!(refreshes, [false, true]);
}

pub async fn unauthorized_twice_is_a_typed_error(base: &str) {
    let (provider, seen) = fixed_tokens("bogus".into());
    let client = DefenderClient::new(config(base), provider);
    let err = client.list_machines(None, page(1)).await.expect_err("401");
    assert_eq!((err.code(), err.status()), ("unauthorized", Some(401)));
    assert!(
        !err.to_string().contains("bogus"),
        "no token in errors: {err}"
    );
    assert_eq!(seen.borrow().len(), 2, "one forced refresh, no more");
    assert_eq!(counter(base, "calls").await, 2);
}

pub async fn forbidden_for_reader(base: &str) {
    let (client, _) = client_for(base, "reader").await;
    let machine = some_machines(&client, 1).await.remove(0);
    let before = emulator::machine_tags(base, machine.id.as_str()).await;
    let err = client
        .set_tag(&machine.id, &unique_tag("ro"), TagAction::Add)
        .await
        .expect_err("reader cannot tag");
    assert_eq!((err.code(), err.status()), ("forbidden", Some(403)));
    assert_eq!(
        emulator::machine_tags(base, machine.id.as_str()).await,
        before
    );
}

pub async fn not_found(base: &str) {
    let (client, _) = client_for(base, "app").await;
    let missing = MachineId::parse(&"0".repeat(40)).expect("id");
    let err = client
        .machine(&MachineRef::Id(missing))
        .await
        .expect_err("no such machine");
    assert_eq!((err.code(), err.status()), ("not_found", Some(404)));
}

pub async fn too_many_requests_with_retry_after(base: &str) {
    emulator::set_faults(
        base,
        serde_json::json!({ "throttle": 1.0, "throttle_retry_after_secs": 1 }),
    )
    .await;
    let token = emulator::token(base, "app").await;
    let mut cfg = config(base);
    cfg.max_attempts = 2;
    let (provider, _) = fixed_tokens(token);
    let client = DefenderClient::new(cfg, provider);
    let started = now_ms();
    let err = client.list_machines(None, page(1)).await.expect_err("429");
    let waited = now_ms() - started;
    assert_eq!((err.code(), err.status()), ("too_many_requests", Some(429)));
    assert_eq!(err.retry_after_secs(), Some(1));
    let min_wait = 1000.0 / emulator::time_scale();
    assert!(
        waited >= min_wait * 0.9,
        "Retry-After honoured: waited {waited} ms"
    );
    assert_eq!(counter(base, "throttled").await, 2);
}

pub async fn server_errors_are_retried(base: &str) {
    emulator::set_faults(base, serde_json::json!({ "error503": 1.0 })).await;
    let token = emulator::token(base, "app").await;
    let mut cfg = config(base);
    cfg.max_attempts = 3;
    let (provider, _) = fixed_tokens(token.clone());
    let client = DefenderClient::new(cfg, provider);
    let err = client.list_machines(None, page(1)).await.expect_err("503");
    assert_eq!((err.code(), err.status()), ("server_error", Some(503)));
    assert_eq!(counter(base, "server_errors").await, 3, "three attempts");

    // Recovery: the fault is lifted while the client backs off; a retry then succeeds.
    let (provider, _) = fixed_tokens(token);
    let client = DefenderClient::new(config(base), provider);
    let lift = async {
        while counter(base, "server_errors").await < 4 {
            sleep(20).await;
        }
        emulator::set_faults(base, serde_json::json!({})).await;
    };
    let (result, ()) = join(client.list_machines(None, page(1)), lift).await;
    assert_eq!(result.expect("succeeds after retrying").machines.len(), 1);
}

pub async fn timeout(base: &str) {
    emulator::set_faults(base, serde_json::json!({ "slow": 1.0, "slow_ms": 3000 })).await;
    let token = emulator::token(base, "app").await;
    let mut cfg = config(base);
    cfg.timeout_ms = 300;
    cfg.max_attempts = 2;
    let (provider, _) = fixed_tokens(token);
    let client = DefenderClient::new(cfg, provider);
    let started = now_ms();
    let err = client
        .list_machines(None, page(1))
        .await
        .expect_err("timeout");
    assert_eq!(err.code(), "timeout");
    assert!(
        now_ms() - started < 2_900.0,
        "gave up before the slow reply"
    );
}

type Rewrite = Box<dyn Fn(&HttpRequest, HttpResponse) -> HttpResponse>;

/// Wraps fetch and rewrites API answers: to test what no honest server sends.
struct Tamper {
    rewrite: Rewrite,
    sent: RefCell<Vec<String>>,
}

impl Transport for Tamper {
    fn send(
        &self,
        request: HttpRequest,
        timeout_ms: u32,
    ) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.sent.borrow_mut().push(request.url.clone());
        Box::pin(async move {
            let answer = FetchTransport.send(request.clone(), timeout_ms).await?;
            Ok((self.rewrite)(&request, answer))
        })
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        FetchTransport.sleep(ms)
    }
    fn now_ms(&self) -> f64 {
        FetchTransport.now_ms()
    }
}

pub async fn undecodable_body(base: &str) {
    let token = emulator::token(base, "app").await;
    let (provider, _) = fixed_tokens(token);
    let tamper = Rc::new(Tamper {
        rewrite: Box::new(|_, mut answer| {
            answer.body.truncate(answer.body.len() / 2);
            answer
        }),
        sent: RefCell::default(),
    });
    let client = DefenderClient::with_transport(config(base), provider, tamper.clone());
    let err = client
        .list_machines(None, page(3))
        .await
        .expect_err("truncated JSON");
    assert_eq!((err.code(), err.status()), ("undecodable", Some(200)));
    assert_eq!(
        tamper.sent.borrow().len(),
        1,
        "a broken body is not retried"
    );
}

pub async fn token_never_sent_to_a_second_origin(base: &str) {
    // Same emulator, other origin: if the client followed the link, the emulator would count it.
    let port = base.rsplit(':').next().expect("port");
    let foreign = format!("http://localhost:{port}/api/machines?$skip=3&$top=3");
    let token = emulator::token(base, "app").await;
    let (provider, seen) = fixed_tokens(token);
    let link = foreign.clone();
    let tamper = Rc::new(Tamper {
        rewrite: Box::new(move |_, mut answer| {
            let mut v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            v["@odata.nextLink"] = serde_json::Value::String(link.clone());
            answer.body = v.to_string().into_bytes();
            answer
        }),
        sent: RefCell::default(),
    });
    let client = DefenderClient::with_transport(config(base), provider, tamper.clone());
    let mut pages = client.list_all_machines(None);
    let first = pages
        .next()
        .await
        .expect("a first page")
        .expect("first page ok");
    assert!(!first.is_empty());
    let err = pages
        .next()
        .await
        .expect("a second step")
        .expect_err("refused");
    assert_eq!(err.code(), "foreign_origin");
    assert!(matches!(err, ClientError::ForeignOrigin { .. }));
    assert_eq!(tamper.sent.borrow().len(), 1, "nothing sent to {foreign}");
    assert_eq!(seen.borrow().len(), 1, "no token was even requested for it");
    assert_eq!(counter(base, "calls").await, 1);

    // A cursor handed in from outside is checked the same way.
    let err = client
        .next_page(
            None,
            PageCursor::NextLink("https://evil.example/api/machines".into()),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "foreign_origin");
    assert_eq!(seen.borrow().len(), 1);
}

pub async fn network_errors_are_typed(base: &str) {
    emulator::set_faults(base, serde_json::json!({ "drop": 1.0 })).await;
    let token = emulator::token(base, "app").await;
    let mut cfg = config(base);
    cfg.max_attempts = 2;
    let (provider, _) = fixed_tokens(token);
    let client = DefenderClient::new(cfg, provider);
    let err = client
        .list_machines(None, page(1))
        .await
        .expect_err("dropped");
    assert_eq!(err.code(), "network");
    // Chromium itself re-sends a request whose connection closed without an answer, so the
    // emulator may count more drops than the client made attempts.
    assert!(counter(base, "dropped").await >= 2);
}
