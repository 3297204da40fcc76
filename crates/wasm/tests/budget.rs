//! The shared rate budget's IndexedDB store in headless Chromium: two connections (what two tabs
//! hold) updating one ledger at once lose nothing, and a window one of them filled is full for
//! the other.
#![cfg(target_arch = "wasm32")]
// wasm_bindgen_test functions are tests clippy does not recognise as such.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::cell::Cell;
use std::rc::Rc;

use defender_tags_core::throttle::{Acquire, BudgetLedger, BudgetScope, RateLimits};
use defender_tags_wasm::budget::{IdbLedgerStore, LedgerStore};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use wasm_bindgen_test::wasm_bindgen_test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn key(name: &str) -> String {
    format!("test|{name}|{}", js_sys::Date::now())
}

async fn read(store: &IdbLedgerStore, key: &str) -> BudgetLedger {
    let copy = Rc::new(std::cell::RefCell::new(BudgetLedger::new()));
    let out = copy.clone();
    store
        .update(
            key,
            Box::new(move |l: &mut BudgetLedger| *out.borrow_mut() = l.clone()),
        )
        .await
        .expect("IndexedDB works in Chromium");
    copy.take()
}

#[wasm_bindgen_test]
async fn two_connections_updating_at_once_lose_no_grant() {
    let stores = [
        Rc::new(IdbLedgerStore::new().expect("Chromium has IndexedDB")),
        Rc::new(IdbLedgerStore::new().expect("Chromium has IndexedDB")),
    ];
    let key = key("concurrent");
    let granted = Rc::new(Cell::new(0u32));
    let now = js_sys::Date::now() as u64;
    let promises = js_sys::Array::new();
    for i in 0..40u64 {
        let store = stores[(i % 2) as usize].clone();
        let key = key.clone();
        let granted = granted.clone();
        promises.push(&future_to_promise(async move {
            let change = Box::new(move |ledger: &mut BudgetLedger| {
                let limits = RateLimits::new(1_000, 10_000);
                if ledger.try_begin(i, &BudgetScope::unknown(), limits, now, 60_000)
                    == Acquire::Granted
                {
                    granted.set(granted.get() + 1);
                }
            });
            store
                .update(&key, change)
                .await
                .map(|()| JsValue::TRUE)
                .map_err(|e| JsValue::from_str(&e))
        }));
    }
    JsFuture::from(js_sys::Promise::all(&promises))
        .await
        .expect("every update commits");
    assert_eq!(granted.get(), 40);
    // Each transaction saw the ones before it: all 40 grants are in the stored ledger.
    assert_eq!(read(&stores[0], &key).await.len(), 40);
    assert_eq!(read(&stores[1], &key).await.len(), 40);
}

#[wasm_bindgen_test]
async fn a_window_one_connection_filled_is_full_for_the_other() {
    let a = IdbLedgerStore::new().expect("Chromium has IndexedDB");
    let b = IdbLedgerStore::new().expect("Chromium has IndexedDB");
    let key = key("full");
    let now = js_sys::Date::now() as u64;
    let scope = BudgetScope::new(Some("11111111-2222-3333-4444-555555555555"), None);
    let s = scope.clone();
    a.update(
        &key,
        Box::new(move |ledger: &mut BudgetLedger| {
            for _ in 0..100 {
                let _ = ledger.try_begin(1, &s, RateLimits::DOCUMENTED, now, 60_000);
            }
        }),
    )
    .await
    .expect("IndexedDB works");
    let answer = Rc::new(Cell::new(None));
    let out = answer.clone();
    b.update(
        &key,
        Box::new(move |ledger: &mut BudgetLedger| {
            out.set(Some(ledger.try_begin(
                2,
                &scope,
                RateLimits::DOCUMENTED,
                now + 5,
                60_000,
            )));
        }),
    )
    .await
    .expect("IndexedDB works");
    assert!(
        matches!(answer.get(), Some(Acquire::Wait { ms }) if ms > 0),
        "{:?}",
        answer.get()
    );
}
