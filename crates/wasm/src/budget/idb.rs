//! The shared ledgers in IndexedDB (why IndexedDB: see the parent module).
//!
//! One database (`defender-tags-rate-budget`), one object store (`ledgers`), one JSON string per
//! ledger key. Every update is one read-write transaction whose read, decision and write all
//! happen in the `success` callback of the read, so the transaction cannot commit between them
//! whatever the runtime does with promise continuations.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbOpenDbRequest, IdbTransactionMode};

use defender_tags_core::throttle::BudgetLedger;

use super::{LedgerChange, LedgerStore};
use crate::fetch::js_error_text;
use crate::token::LocalBoxFuture;

const DB_NAME: &str = "defender-tags-rate-budget";
const DB_VERSION: u32 = 1;
const STORE: &str = "ledgers";

/// [`LedgerStore`] over the runtime's IndexedDB, shared by every tab, frame and worker of the
/// origin.
#[derive(Debug)]
pub struct IdbLedgerStore {
    factory: IdbFactory,
    db: RefCell<Option<IdbDatabase>>,
}

fn failure(what: &str, e: &JsValue) -> String {
    format!("IndexedDB: {what}: {}", js_error_text(e))
}

impl IdbLedgerStore {
    /// The store, if this runtime has IndexedDB and lets this page use it (reading
    /// `indexedDB` throws where storage is blocked).
    pub fn new() -> Option<Self> {
        let value =
            js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB")).ok()?;
        let factory = value.dyn_into::<IdbFactory>().ok()?;
        Some(Self {
            factory,
            db: RefCell::new(None),
        })
    }

    async fn open(&self) -> Result<IdbDatabase, String> {
        let request: IdbOpenDbRequest = self
            .factory
            .open_with_u32(DB_NAME, DB_VERSION)
            .map_err(|e| failure("open", &e))?;
        let on_upgrade = {
            let request = request.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
                let db = request
                    .result()
                    .ok()
                    .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
                if let Some(db) = db
                    && !db.object_store_names().contains(STORE)
                {
                    // A failure here aborts the upgrade, which fails the open below.
                    let _ = db.create_object_store(STORE);
                }
            })
        };
        request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let opened = Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        let outcome = JsFuture::from(opened).await;
        request.set_onupgradeneeded(None);
        drop(on_upgrade);
        outcome.map_err(|_| {
            let why = request
                .error()
                .ok()
                .flatten()
                .map(|e| e.message())
                .unwrap_or_else(|| "refused".to_owned());
            format!("IndexedDB: open: {why}")
        })?;
        let db: IdbDatabase = request
            .result()
            .map_err(|e| failure("open", &e))?
            .dyn_into()
            .map_err(|e| failure("open", &e))?;
        // A later version of the app that needs the database gets it: this connection closes
        // and the next update opens a new one.
        let on_version_change = {
            let db = db.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| db.close())
        };
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        on_version_change.forget();
        Ok(db)
    }

    async fn database(&self, fresh: bool) -> Result<IdbDatabase, String> {
        if !fresh && let Some(db) = self.db.borrow().as_ref() {
            return Ok(db.clone());
        }
        let db = self.open().await?;
        *self.db.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    async fn run(&self, key: &str, change: LedgerChange) -> Result<(), String> {
        let mut db = self.database(false).await?;
        let tx = match db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite) {
            Ok(tx) => tx,
            Err(_) => {
                // The connection was closed under us (a version change, storage cleared): once
                // more on a fresh one.
                db = self.database(true).await?;
                db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
                    .map_err(|e| failure("transaction", &e))?
            }
        };
        let store = tx.object_store(STORE).map_err(|e| failure("store", &e))?;
        let read = store
            .get(&JsValue::from_str(key))
            .map_err(|e| failure("read", &e))?;
        let problem: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
        let on_read = {
            let read = read.clone();
            let tx = tx.clone();
            let key = key.to_owned();
            let problem = problem.clone();
            Closure::once(move |_event: JsValue| {
                // An unreadable ledger (another format, tampering) is replaced: it cannot be
                // trusted either way, and refusing would stop every client on this API.
                let mut ledger = read
                    .result()
                    .ok()
                    .and_then(|v| v.as_string())
                    .and_then(|text| BudgetLedger::from_json(&text).ok())
                    .unwrap_or_default();
                change(&mut ledger);
                let written = ledger
                    .to_json()
                    .map_err(|e| format!("IndexedDB: encode: {e}"))
                    .and_then(|text| {
                        store
                            .put_with_key(&JsValue::from_str(&text), &JsValue::from_str(&key))
                            .map(drop)
                            .map_err(|e| failure("write", &e))
                    });
                if let Err(e) = written {
                    *problem.borrow_mut() = Some(e);
                    let _ = tx.abort();
                }
            })
        };
        read.set_onsuccess(Some(on_read.as_ref().unchecked_ref()));
        let finished = Promise::new(&mut |resolve, reject| {
            tx.set_oncomplete(Some(&resolve));
            tx.set_onerror(Some(&reject));
            tx.set_onabort(Some(&reject));
        });
        let outcome = JsFuture::from(finished).await;
        read.set_onsuccess(None);
        drop(on_read);
        if let Some(e) = problem.borrow_mut().take() {
            return Err(e);
        }
        outcome.map(drop).map_err(|_| {
            let why = tx
                .error()
                .map(|e| e.message())
                .unwrap_or_else(|| "aborted".to_owned());
            format!("IndexedDB: transaction: {why}")
        })
    }
}

impl LedgerStore for IdbLedgerStore {
    fn update<'a>(
        &'a self,
        key: &'a str,
        change: LedgerChange,
    ) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(self.run(key, change))
    }
}
