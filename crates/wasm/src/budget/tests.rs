//! Two clients sharing one store on one virtual clock: what two tabs do in a browser, natively.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::model::{MachineId, MachineRef};
use defender_tags_core::throttle::BudgetScope;

use super::*;
use crate::client::DefenderClient;
use crate::config::ClientConfig;
use crate::testutil::{Reply, SimTransport, json};
use crate::token::{AccessToken, TokenRequest};
use crate::transport::Transport;

const API: &str = "https://api.security.microsoft.com";
const T1: &str = "11111111-2222-3333-4444-555555555555";
const T2: &str = "22222222-3333-4444-5555-666666666666";
const MINUTE: f64 = 60_000.0;

fn id() -> MachineId {
    MachineId::parse(&"ab".repeat(20)).unwrap()
}

fn ok() -> Reply {
    json(200, &format!(r#"{{"id":"{}","machineTags":[]}}"#, id()))
}

fn client(
    sim: &Rc<SimTransport>,
    store: Option<Rc<dyn LedgerStore>>,
    tenant: Option<&str>,
    seed: u64,
) -> DefenderClient {
    let mut config = ClientConfig::new(BaseUrl::parse(API).unwrap());
    config.budget_scope = BudgetScope::new(tenant, None);
    config.jitter_seed = seed;
    let provider = |_: TokenRequest| async { AccessToken::new("tok") };
    DefenderClient::with_budget_store(config, provider, sim.clone(), store)
}

/// Polls both futures until both are done (two tabs running at once).
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(move |cx| {
        if out_a.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            out_a = Some(v);
        }
        if out_b.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            out_b = Some(v);
        }
        match (out_a.take(), out_b.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                out_a = x;
                out_b = y;
                Poll::Pending
            }
        }
    })
    .await
}

async fn calls(client: &DefenderClient, n: usize) -> usize {
    let mut failed = 0;
    for _ in 0..n {
        if client.machine(&MachineRef::Id(id())).await.is_err() {
            failed += 1;
        }
    }
    failed
}

/// Most requests the service could count in one minute: for each send time, the requests sent
/// by then and answered less than a minute before it.
fn busiest_minute(sim: &SimTransport) -> usize {
    let ex = sim.exchanges.borrow();
    ex.iter()
        .map(|&(t, _)| {
            ex.iter()
                .filter(|&&(s, a)| s <= t && (a.is_nan() || a > t - MINUTE))
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn sim() -> Rc<SimTransport> {
    SimTransport::new(Box::new(|_, _| (40.0, ok())))
}

#[test]
fn two_clients_of_one_store_stay_inside_one_budget_and_alone_they_would_not() {
    let store: Rc<dyn LedgerStore> = Rc::new(MemoryLedgerStore::new());
    let shared = sim();
    let (a, b) = (
        client(&shared, Some(store.clone()), Some(T1), 1),
        client(&shared, Some(store), Some(T1), 2),
    );
    assert_eq!(shared.run(both(calls(&a, 80), calls(&b, 80))), (0, 0));
    assert_eq!(shared.exchanges.borrow().len(), 160);
    assert!(
        busiest_minute(&shared) <= 100,
        "{}",
        busiest_minute(&shared)
    );
    // Each sees the other's calls in its budget display (as of its last look at the ledger:
    // at most the other's very last call is missing).
    assert!(a.rate_usage().1 >= 159, "{:?}", a.rate_usage());
    assert!(b.rate_usage().1 >= 159, "{:?}", b.rate_usage());

    // The same two clients each with a limiter of its own (before this module): 160 calls in
    // a few seconds, far over the budget.
    let alone = sim();
    let (a, b) = (
        client(&alone, None, Some(T1), 1),
        client(&alone, None, Some(T1), 2),
    );
    alone.run(both(calls(&a, 80), calls(&b, 80)));
    assert!(busiest_minute(&alone) > 100, "{}", busiest_minute(&alone));
}

#[test]
fn another_tenant_does_not_wait_and_an_unknown_one_does() {
    let store: Rc<dyn LedgerStore> = Rc::new(MemoryLedgerStore::new());
    let s = sim();
    let a = client(&s, Some(store.clone()), Some(T1), 1);
    s.run(calls(&a, 100));
    let other = client(&s, Some(store.clone()), Some(T2), 2);
    s.run(calls(&other, 1));
    assert!(s.sleeps.borrow().is_empty(), "tenant 2 has its own budget");
    let unknown = client(&s, Some(store), None, 3);
    s.run(calls(&unknown, 1));
    let slept: u64 = s.sleeps.borrow().iter().sum();
    assert!(
        slept > 50_000,
        "an unknown tenant may be tenant 1: waited {slept} ms"
    );
}

#[test]
fn a_retry_after_received_by_one_client_pauses_the_other() {
    let store: Rc<dyn LedgerStore> = Rc::new(MemoryLedgerStore::new());
    // The first request is refused with Retry-After: 30 s; everything else succeeds.
    let s = SimTransport::new(Box::new(|i, _| {
        if i == 0 {
            (
                40.0,
                Reply::Http(429, vec![("retry-after", "30".into())], "{}".into()),
            )
        } else {
            (40.0, ok())
        }
    }));
    let a = client(&s, Some(store.clone()), Some(T1), 1);
    let b = client(&s, Some(store), Some(T1), 2);
    let start = s.now_ms();
    s.run(calls(&a, 1));
    // b starts right after the 429 and must not send anything for 30 s.
    s.run(calls(&b, 1));
    let ex = s.exchanges.borrow();
    assert_eq!(ex.len(), 3, "a's 429, a's retry, b's call");
    let (refused_at, _) = ex[0];
    for &(sent, _) in &ex[1..] {
        assert!(
            sent >= refused_at + 40.0 + 30_000.0,
            "sent {} ms after the 429",
            sent - start
        );
    }
}

/// A store that works `works` times, then fails every update.
struct Flaky {
    inner: MemoryLedgerStore,
    works: Cell<usize>,
}

impl LedgerStore for Flaky {
    fn update<'a>(
        &'a self,
        key: &'a str,
        change: LedgerChange,
    ) -> LocalBoxFuture<'a, Result<(), String>> {
        if self.works.get() == 0 {
            return Box::pin(async { Err("storage refused".to_owned()) });
        }
        self.works.set(self.works.get() - 1);
        self.inner.update(key, change)
    }
}

#[test]
fn a_failing_store_falls_back_to_the_client_limiter_without_forgetting_the_calls_it_saw() {
    let s = sim();
    let store = Rc::new(Flaky {
        inner: MemoryLedgerStore::new(),
        works: Cell::new(100),
    });
    let a = client(&s, Some(store as Rc<dyn LedgerStore>), Some(T1), 1);
    assert_eq!(s.run(calls(&a, 130)), 0, "every call still succeeds");
    // 100 grants through the store, then it failed: the 101st call waited for the minute the
    // ledger's 100 calls were filling, as if the store were still there.
    assert!(busiest_minute(&s) <= 100, "{}", busiest_minute(&s));
    let slept: u64 = s.sleeps.borrow().iter().sum();
    assert!(slept > 50_000, "waited for the window: {slept} ms");
    assert_eq!(a.rate_usage().1, 130);
}

#[test]
fn the_key_names_the_api_and_the_clock_and_never_a_token() {
    assert_eq!(
        ledger_key("https://api.security.microsoft.com", 1.0),
        "v1|https://api.security.microsoft.com|x1"
    );
    assert_ne!(ledger_key(API, 1.0), ledger_key(API, 60.0));
    assert_ne!(client_id(7), client_id(7), "two clients never share an id");
}
