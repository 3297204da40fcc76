//! One rate budget per browser: every [`DefenderClient`](crate::DefenderClient) of an origin
//! (tabs of the app, the app and an embedded editor, several mounts on one page) grants its calls
//! from one ledger, so together they stay inside Defender's 100 calls/min and 1,500/h per
//! application + tenant, and a `Retry-After` one of them receives pauses the others.
//!
//! The decisions are core's ([`BudgetLedger`]); this module only stores the ledger and runs each
//! decision as one atomic read-modify-write of it.
//!
//! **Why IndexedDB.** A read-write transaction on one object store is atomic and ordered across
//! every tab, frame and worker of the origin: the browser runs them one after another and each
//! sees what the previous ones committed. That is exactly "read the ledger, decide, record the
//! grant". `localStorage` under a Web Lock looks simpler, but Chromium caches `localStorage` per
//! renderer and propagates other tabs' writes asynchronously, so the next lock holder can read a
//! ledger without the grant just made and two tabs then spend the same slot (the common case at
//! a full window, where both wait for the same opening). A SharedWorker would hold the ledger in
//! one place too, but it needs a script URL the site's CSP allows and does not exist on every
//! platform, and BroadcastChannel gives no atomic grant at all. IndexedDB also exists in workers.
//!
//! **Nothing leaks.** A tab that dies mid-transaction commits nothing. A call it left in flight
//! counts as answered at its expiry (the client's timeout plus a token allowance) and leaves the
//! windows an hour later; blocks end at their time. See core's `throttle::shared`.
//!
//! **Key.** One ledger per API base URL and time scale (`v1|<base URL>|x<scale>`, the API base
//! being the URL tokens are sent to; the emulator's scaled clock is another clock). Within it
//! every call carries its [`BudgetScope`]: the tenant id and application id when the client was
//! told them ([`ClientConfig::budget_scope`](crate::ClientConfig::budget_scope)), only ever as
//! GUIDs; calls of a different known tenant or application do not count against each other,
//! unknown ones count against everyone on that API. No token, and nothing derived from one but
//! those two ids, is ever stored.
//!
//! **Fallback.** Where IndexedDB is missing or refuses (Node and other server runtimes, storage
//! disabled, a sandboxed frame, private modes that throw), the client keeps its own in-process
//! limiter, as before: it shares nothing with other tabs then. When the store fails mid-run, the
//! client carries on from the last ledger it read.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use defender_tags_core::throttle::{Acquire, BudgetLedger, BudgetScope, RateLimiter, RateLimits};

use crate::token::LocalBoxFuture;

#[cfg(target_arch = "wasm32")]
mod idb;
#[cfg(target_arch = "wasm32")]
pub use idb::IdbLedgerStore;

/// A change to a ledger, run inside the store's atomic update.
pub type LedgerChange = Box<dyn FnOnce(&mut BudgetLedger)>;

/// Where the shared ledgers live. `update` must run `change` on the ledger stored under `key`
/// (an empty one if none is) and store the result, atomically with respect to every other user
/// of the store, in every tab.
pub trait LedgerStore {
    /// Reads, changes and writes back one ledger; an error means nothing was changed.
    fn update<'a>(
        &'a self,
        key: &'a str,
        change: LedgerChange,
    ) -> LocalBoxFuture<'a, Result<(), String>>;
}

/// An in-memory store, shared by every client given the same instance: how tests (and runtimes
/// with one process per user) share a budget without a browser. Ledgers are kept as JSON, as a
/// browser stores them.
#[derive(Debug, Default, Clone)]
pub struct MemoryLedgerStore {
    ledgers: Rc<RefCell<HashMap<String, String>>>,
}

impl MemoryLedgerStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl LedgerStore for MemoryLedgerStore {
    fn update<'a>(
        &'a self,
        key: &'a str,
        change: LedgerChange,
    ) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut ledgers = self.ledgers.borrow_mut();
            let mut ledger = match ledgers.get(key) {
                Some(text) => BudgetLedger::from_json(text).unwrap_or_default(),
                None => BudgetLedger::new(),
            };
            change(&mut ledger);
            let text = ledger.to_json().map_err(|e| e.to_string())?;
            ledgers.insert(key.to_owned(), text);
            Ok(())
        })
    }
}

/// The ledger key of a client (see the module docs).
pub(crate) fn ledger_key(base_url: &str, scale: f64) -> String {
    format!("v1|{base_url}|x{scale}")
}

/// A change this client made that the stored ledger has not seen yet.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Settle { granted: u64, done: u64 },
    Cancel { granted: u64 },
    Block { until: u64 },
}

/// One client's handle on the shared budget.
pub(crate) struct SharedBudget {
    store: Rc<dyn LedgerStore>,
    key: String,
    client: u64,
    scope: BudgetScope,
    limits: RateLimits,
    /// API ms a call of this client can stay unanswered (timeout plus a token allowance).
    max_flight_ms: u64,
    /// Settles, cancels and blocks not yet written; applied before this client's next decision.
    pending: RefCell<Vec<Pending>>,
    /// The ledger as of this client's last update (plus its pending changes when read).
    last: RefCell<BudgetLedger>,
    failed: Cell<bool>,
}

impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget")
            .field("key", &self.key)
            .field("client", &self.client)
            .field("failed", &self.failed.get())
            .finish_non_exhaustive()
    }
}

impl SharedBudget {
    pub fn new(
        store: Rc<dyn LedgerStore>,
        key: String,
        client: u64,
        scope: BudgetScope,
        max_flight_ms: u64,
    ) -> Self {
        Self {
            store,
            key,
            client,
            scope,
            limits: RateLimits::DOCUMENTED,
            max_flight_ms,
            pending: RefCell::new(Vec::new()),
            last: RefCell::new(BudgetLedger::new()),
            failed: Cell::new(false),
        }
    }

    /// Whether grants still come from the shared ledger (false once the store failed).
    pub fn active(&self) -> bool {
        !self.failed.get()
    }

    fn apply(client: u64, scope: &BudgetScope, ledger: &mut BudgetLedger, ops: &[Pending]) {
        for op in ops {
            match *op {
                Pending::Settle { granted, done } => ledger.settle(client, granted, done),
                Pending::Cancel { granted } => ledger.cancel(client, granted),
                Pending::Block { until } => ledger.block(scope, until),
            }
        }
    }

    /// Runs `decide` on the stored ledger after this client's pending changes, keeps a copy, and
    /// returns what `decide` returned; `None` when the store failed (from now on for good).
    async fn update<T: 'static>(
        &self,
        decide: impl FnOnce(&mut BudgetLedger) -> T + 'static,
    ) -> Option<T> {
        if self.failed.get() {
            return None;
        }
        let ops = std::mem::take(&mut *self.pending.borrow_mut());
        let out: Rc<RefCell<Option<(T, BudgetLedger)>>> = Rc::new(RefCell::new(None));
        let change: LedgerChange = {
            let out = out.clone();
            let client = self.client;
            let scope = self.scope.clone();
            let ops = ops.clone();
            Box::new(move |ledger: &mut BudgetLedger| {
                Self::apply(client, &scope, ledger, &ops);
                let value = decide(ledger);
                *out.borrow_mut() = Some((value, ledger.clone()));
            })
        };
        let written = self.store.update(&self.key, change).await;
        let result = out.borrow_mut().take();
        match (written, result) {
            (Ok(()), Some((value, ledger))) => {
                *self.last.borrow_mut() = ledger;
                Some(value)
            }
            _ => {
                // Nothing was stored: keep the changes for the local fallback's view.
                self.pending.borrow_mut().splice(0..0, ops);
                self.failed.set(true);
                None
            }
        }
    }

    /// Asks for a slot at API time `now`: `Some(Granted)` (recorded as in flight),
    /// `Some(Wait)`, or `None` when the store failed.
    pub async fn try_begin(&self, now: u64) -> Option<Acquire> {
        let (client, scope, limits, flight) = (
            self.client,
            self.scope.clone(),
            self.limits,
            self.max_flight_ms,
        );
        self.update(move |ledger| ledger.try_begin(client, &scope, limits, now, flight))
            .await
    }

    fn push(self: &Rc<Self>, op: Pending) {
        self.pending.borrow_mut().push(op);
        self.flush();
    }

    /// The call granted at `granted` was answered at `done`.
    pub fn settle(self: &Rc<Self>, granted: u64, done: u64) {
        self.push(Pending::Settle { granted, done });
    }

    /// The call granted at `granted` was never sent.
    pub fn cancel(self: &Rc<Self>, granted: u64) {
        self.push(Pending::Cancel { granted });
    }

    /// A 429 said: nothing before `until`, for anyone sharing this budget.
    pub fn block(self: &Rc<Self>, until: u64) {
        self.push(Pending::Block { until });
    }

    /// Writes pending changes soon, so that other tabs see a slot free (or a block) without
    /// waiting for this client's next call. Natively there is no task queue: they are written
    /// with the next decision.
    fn flush(self: &Rc<Self>) {
        #[cfg(target_arch = "wasm32")]
        {
            let this = self.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if !this.pending.borrow().is_empty() {
                    let _ = this.update(|_| ()).await;
                }
            });
        }
    }

    /// The ledger as this client last saw it, with its own unwritten changes.
    fn view(&self) -> BudgetLedger {
        let mut ledger = self.last.borrow().clone();
        Self::apply(
            self.client,
            &self.scope,
            &mut ledger,
            &self.pending.borrow(),
        );
        ledger
    }

    /// Every client's calls that may share this budget, in the current (minute, hour) windows.
    pub fn usage(&self, now: u64) -> (u32, u32) {
        let usage = self.view().usage(&self.scope, self.limits, now);
        (usage.minute, usage.hour)
    }

    /// The limiter to carry on with when the store has failed: every call last seen in the
    /// ledger still holds its slot, so falling back does not spend the budget again.
    pub fn fallback_limiter(&self, now: u64) -> RateLimiter {
        self.view().limiter(&self.scope, self.limits, now)
    }
}

/// A random id for a client instance: it tells this client's calls in the ledger from others'.
pub(crate) fn client_id(seed: u64) -> u64 {
    #[cfg(target_arch = "wasm32")]
    let noise = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
    #[cfg(not(target_arch = "wasm32"))]
    let noise = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(seed);
        h.finish()
    };
    let mut rng = defender_tags_core::throttle::SplitMix64::new(seed ^ noise);
    rng.next_u64()
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// One connection for every client of this page (or worker).
    static STORE: std::cell::OnceCell<Option<Rc<IdbLedgerStore>>> = const { std::cell::OnceCell::new() };
}

#[cfg(target_arch = "wasm32")]
/// The browser's store, if this runtime has a usable IndexedDB.
pub(crate) fn default_store() -> Option<Rc<dyn LedgerStore>> {
    STORE
        .with(|store| {
            store
                .get_or_init(|| IdbLedgerStore::new().map(Rc::new))
                .clone()
        })
        .map(|s| s as Rc<dyn LedgerStore>)
}

#[cfg(not(target_arch = "wasm32"))]
/// Natively there is no browser to share with.
pub(crate) fn default_store() -> Option<Rc<dyn LedgerStore>> {
    None
}

#[cfg(test)]
mod tests;
