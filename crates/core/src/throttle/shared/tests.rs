use super::*;

const T1: &str = "11111111-2222-3333-4444-555555555555";
const T2: &str = "22222222-3333-4444-5555-666666666666";
const A1: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const A2: &str = "bbbbbbbb-cccc-dddd-eeee-ffffffffffff";
const MINUTE_MS: u64 = 60_000;
const FLIGHT: u64 = 90_000;

fn scope(t: Option<&str>, a: Option<&str>) -> BudgetScope {
    BudgetScope::new(t, a)
}

#[test]
fn scopes_keep_only_ids_and_share_unless_a_known_part_differs() {
    let s = scope(Some(&format!("  {}  ", T1.to_uppercase())), Some(A1));
    assert_eq!(s.tenant(), Some(T1), "trimmed, lower-cased");
    assert_eq!(s.app(), Some(A1));
    // A token (or anything not an id) is never kept.
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2ln";
    let dropped = scope(Some(jwt), Some("contoso.onmicrosoft.com"));
    assert_eq!(dropped, BudgetScope::unknown());
    assert!(!dropped.to_owned_json().contains("eyJ"));

    let t1a1 = scope(Some(T1), Some(A1));
    assert!(t1a1.may_share(&t1a1));
    assert!(!t1a1.may_share(&scope(Some(T2), Some(A1))), "other tenant");
    assert!(!t1a1.may_share(&scope(Some(T1), Some(A2))), "other app");
    assert!(
        t1a1.may_share(&BudgetScope::unknown()),
        "unknown may be anything"
    );
    assert!(t1a1.may_share(&scope(Some(T1), None)));
    assert!(!t1a1.may_share(&scope(Some(T2), None)));
    assert!(scope(None, Some(A1)).may_share(&scope(Some(T2), None)));
}

impl BudgetScope {
    fn to_owned_json(&self) -> String {
        serde_json::to_string(self).unwrap()
    }
}

#[test]
fn two_clients_of_one_budget_share_its_hundred_calls() {
    let s = scope(Some(T1), Some(A1));
    let limits = RateLimits::DOCUMENTED;
    let mut ledger = BudgetLedger::new();
    for i in 0..100u64 {
        let client = 1 + i % 2;
        assert_eq!(
            ledger.try_begin(client, &s, limits, 1_000 + i, FLIGHT),
            Acquire::Granted
        );
        ledger.settle(client, 1_000 + i, 1_000 + i + 5);
    }
    // Either client must now wait for the first call (answered at 1,005) to leave the minute.
    assert_eq!(
        ledger.try_begin(1, &s, limits, 2_000, FLIGHT),
        Acquire::Wait {
            ms: 1_005 + MINUTE_MS - 2_000
        }
    );
    assert_eq!(
        ledger.try_begin(3, &s, limits, 2_000, FLIGHT),
        Acquire::Wait {
            ms: 1_005 + MINUTE_MS - 2_000
        }
    );
    assert_eq!(ledger.usage(&s, limits, 2_000).minute, 100);
    // A client of another tenant has its own budget; an unknown one may be this one's.
    let other = scope(Some(T2), Some(A1));
    assert_eq!(
        ledger.try_begin(4, &other, limits, 2_000, FLIGHT),
        Acquire::Granted
    );
    assert_eq!(ledger.usage(&other, limits, 2_000).minute, 1);
    assert!(matches!(
        ledger.try_begin(5, &BudgetScope::unknown(), limits, 2_000, FLIGHT),
        Acquire::Wait { .. }
    ));
    assert_eq!(
        ledger.try_begin(2, &s, limits, 1_005 + MINUTE_MS, FLIGHT),
        Acquire::Granted
    );
}

#[test]
fn a_retry_after_pauses_every_client_that_may_share_it() {
    let s = scope(Some(T1), Some(A1));
    let limits = RateLimits::DOCUMENTED;
    let mut ledger = BudgetLedger::new();
    ledger.block(&s, 10_000);
    ledger.block(&s, 9_000); // never shortens
    assert_eq!(
        ledger.try_begin(2, &s, limits, 4_000, FLIGHT),
        Acquire::Wait { ms: 6_000 }
    );
    assert_eq!(
        ledger.try_begin(3, &BudgetScope::unknown(), limits, 4_000, FLIGHT),
        Acquire::Wait { ms: 6_000 }
    );
    assert_eq!(
        ledger.try_begin(4, &scope(Some(T2), None), limits, 4_000, FLIGHT),
        Acquire::Granted,
        "another tenant's budget is not blocked"
    );
    assert_eq!(
        ledger.try_begin(2, &s, limits, 10_000, FLIGHT),
        Acquire::Granted
    );
    // The ended block is gone from the stored ledger.
    assert!(!ledger.to_json().unwrap().contains("\"u\":10000"));
}

#[test]
fn a_dead_clients_call_in_flight_frees_its_slot_by_time_alone() {
    let limits = RateLimits::new(1, 100);
    let s = BudgetScope::unknown();
    let mut ledger = BudgetLedger::new();
    // Client 1 is granted a call and never comes back (its tab closed).
    assert_eq!(ledger.try_begin(1, &s, limits, 0, 30_000), Acquire::Granted);
    // In flight: it holds the slot...
    assert!(matches!(
        ledger.try_begin(2, &s, limits, 29_999, 30_000),
        Acquire::Wait { .. }
    ));
    // ...until it expires, then counts as answered at its expiry and leaves a window later.
    assert_eq!(
        ledger.try_begin(2, &s, limits, 30_000, 30_000),
        Acquire::Wait { ms: MINUTE_MS }
    );
    assert_eq!(
        ledger.try_begin(2, &s, limits, 30_000 + MINUTE_MS, 30_000),
        Acquire::Granted
    );
    // An hour later nothing of client 1 is left.
    ledger.settle(2, 30_000 + MINUTE_MS, 30_000 + MINUTE_MS + 10);
    ledger.prune(30_000 + MINUTE_MS + 10 + HOUR_MS);
    assert!(ledger.is_empty());
}

#[test]
fn cancel_frees_at_once_and_settle_counts_from_the_answer() {
    let limits = RateLimits::new(1, 100);
    let s = BudgetScope::unknown();
    let mut ledger = BudgetLedger::new();
    assert_eq!(ledger.try_begin(1, &s, limits, 0, FLIGHT), Acquire::Granted);
    ledger.cancel(9, 0); // another client's grant: ignored
    assert_eq!(ledger.len(), 1);
    ledger.cancel(1, 0);
    assert!(ledger.is_empty());
    assert_eq!(ledger.try_begin(1, &s, limits, 5, FLIGHT), Acquire::Granted);
    ledger.settle(1, 5, 700);
    ledger.settle(1, 5, 9_000); // already settled: ignored
    assert_eq!(
        ledger.try_begin(2, &s, limits, 700, FLIGHT),
        Acquire::Wait { ms: MINUTE_MS }
    );
    let round_trip = BudgetLedger::from_json(&ledger.to_json().unwrap()).unwrap();
    assert_eq!(round_trip, ledger);
    assert!(BudgetLedger::from_json("{\"calls\":7}").is_err());
}

/// A deterministic xorshift for the simulations.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

struct SimClient {
    /// The budget it really spends.
    truth: (usize, usize),
    /// What it knows of that budget.
    scope: BudgetScope,
    in_flight_max: usize,
    calls_left: usize,
    /// (granted, answer due).
    flying: Vec<(u64, u64)>,
    dies_after: Option<usize>,
    dead: bool,
    made: usize,
}

/// What a simulation saw: (real budget, sent, counted until) per call; (scope, from, until) per
/// block; (scope, at) per grant.
type Simulated = (
    Vec<((usize, usize), u64, u64)>,
    Vec<(BudgetScope, u64, u64)>,
    Vec<(BudgetScope, u64)>,
);

/// Interleaved clients over one ledger, some of them dying with calls in flight, some receiving
/// Retry-After.
fn simulate(seed: u64, limits: RateLimits, calls_per_client: usize) -> Simulated {
    let tenants = [T1, T2];
    let apps = [A1, A2];
    let mut rng = Rng(seed | 1);
    let n = 2 + rng.below(3) as usize;
    let mut clients: Vec<SimClient> = (0..n)
        .map(|_| {
            // Mostly one budget (the case that matters), sometimes others, with parts unknown.
            let truth = if rng.below(3) == 0 {
                (rng.below(2) as usize, rng.below(2) as usize)
            } else {
                (0, 0)
            };
            let scope = BudgetScope::new(
                (rng.below(3) != 0).then_some(tenants[truth.0]),
                (rng.below(3) != 0).then_some(apps[truth.1]),
            );
            SimClient {
                truth,
                scope,
                in_flight_max: 1 + rng.below(4) as usize,
                calls_left: calls_per_client,
                flying: Vec::new(),
                dies_after: (rng.below(4) == 0)
                    .then(|| 1 + rng.below(calls_per_client as u64) as usize),
                dead: false,
                made: 0,
            }
        })
        .collect();
    let mut ledger = BudgetLedger::new();
    let mut now = 0u64;
    let mut calls = Vec::new();
    let mut blocks = Vec::new();
    let mut grants = Vec::new();
    for _ in 0..1_000_000 {
        let mut openings = Vec::new();
        // Each round the clients ask in a different order.
        let start = rng.below(n as u64) as usize;
        for k in 0..n {
            let id = (start + k) % n;
            let c = &mut clients[id];
            if c.dead || c.calls_left == 0 || c.flying.len() >= c.in_flight_max {
                continue;
            }
            match ledger.try_begin(id as u64, &c.scope, limits, now, FLIGHT) {
                Acquire::Granted => {
                    let latency = match rng.below(20) {
                        0 => MINUTE_MS + rng.below(FLIGHT - MINUTE_MS),
                        _ => 1 + rng.below(3_000),
                    };
                    c.flying.push((now, now + latency));
                    c.calls_left -= 1;
                    c.made += 1;
                    grants.push((c.scope.clone(), now));
                    if c.dies_after == Some(c.made) {
                        // The tab closes: its calls in flight are never settled. The service
                        // may count each of them up to its expiry.
                        c.dead = true;
                        for &(sent, _) in &c.flying {
                            calls.push((c.truth, sent, sent + FLIGHT));
                        }
                        c.flying.clear();
                    }
                    openings.push(now);
                }
                Acquire::Wait { ms } => {
                    assert!(ms > 0);
                    openings.push(now + ms);
                }
            }
        }
        let answers = clients
            .iter()
            .flat_map(|c| c.flying.iter().map(|&(_, a)| a));
        let Some(next) = answers.chain(openings).min() else {
            break;
        };
        now = next;
        for (id, c) in clients.iter_mut().enumerate() {
            let (due, flying): (Vec<_>, Vec<_>) =
                c.flying.iter().partition(|&&(_, answer)| answer <= now);
            c.flying = flying;
            for (sent, answer) in due {
                ledger.settle(id as u64, sent, answer);
                calls.push((c.truth, sent, answer));
                if rng.below(40) == 0 {
                    // A 429 with Retry-After: everyone who may share this budget pauses.
                    let until = answer + 1 + rng.below(20_000);
                    ledger.block(&c.scope, until);
                    blocks.push((c.scope.clone(), answer, until));
                }
            }
        }
    }
    let unfinished: Vec<usize> = clients
        .iter()
        .filter(|c| !c.dead && (c.calls_left > 0 || !c.flying.is_empty()))
        .map(|c| c.calls_left)
        .collect();
    assert!(
        unfinished.is_empty(),
        "seed {seed}: stuck with {unfinished:?} calls left"
    );
    (calls, blocks, grants)
}

fn check(seed: u64, limits: RateLimits, calls_per_client: usize) {
    let (calls, blocks, grants) = simulate(seed, limits, calls_per_client);
    // For every send time T and each real budget, the calls the service *could* count in a
    // window ending at T (sent by T, answered after T - window) fit that budget.
    for &(budget, t, _) in &calls {
        for (window, limit) in [
            (MINUTE_MS, limits.per_minute()),
            (HOUR_MS, limits.per_hour()),
        ] {
            let could_count = calls
                .iter()
                .filter(|&&(b, s, a)| b == budget && s <= t && a > t.saturating_sub(window))
                .count();
            assert!(
                could_count <= limit as usize,
                "seed {seed}: {could_count} calls of budget {budget:?} could count in the \
                 {window} ms window ending at {t} (limit {limit})"
            );
        }
    }
    // No grant inside a block that may share its scope.
    for (blocked, from, until) in &blocks {
        for (scope, at) in &grants {
            assert!(
                !(scope.may_share(blocked) && *at > *from && *at < *until),
                "seed {seed}: granted at {at} inside a block {from}..{until}"
            );
        }
    }
}

#[test]
fn small_budgets_hold_across_interleaved_dying_and_blocked_clients() {
    for seed in 0..200 {
        check(seed, RateLimits::new(5, 12), 30);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// The documented budget: never more than 100 calls in any 60 s window nor 1,500 in any hour
    /// of one application + tenant, across interleaved clients sharing the ledger.
    #[test]
    fn the_documented_budget_holds_across_interleaved_clients(seed in proptest::prelude::any::<u64>()) {
        check(seed, RateLimits::DOCUMENTED, 420);
    }
}
