//! A small string-keyed store of JSON texts in IndexedDB: what must outlive the tab (the bulk
//! run journal, the activity log) and could outgrow localStorage's few megabytes.
//!
//! One database (`defender-tags`), one object store (`records`) with out-of-line string keys.
//! Keys are paths (`journal/h/<scope>/<run>`), so everything under a prefix is read or deleted
//! with one key range. Values are JSON texts, never tokens.
//!
//! Natively (unit tests) there is no IndexedDB: [`Store::open`] fails and callers carry on
//! without durability, exactly as in a browser where IndexedDB is disabled.

/// Why the store could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("browser storage (IndexedDB) is not available: {0}")]
pub struct StoreError(pub String);

/// An open connection to the store.
#[derive(Debug, Clone)]
pub struct Store {
    #[cfg(target_arch = "wasm32")]
    db: web_sys::IdbDatabase,
}

/// The last key of a prefix's range: every key starting with `prefix` sorts before it.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{ffff}")
}

#[cfg(not(target_arch = "wasm32"))]
impl Store {
    /// No IndexedDB outside a browser.
    pub async fn open() -> Result<Store, StoreError> {
        Err(StoreError("not running in a browser".into()))
    }

    /// Unreachable natively (no store can be opened).
    pub async fn put(&self, _key: &str, _json: &str) -> Result<(), StoreError> {
        Err(StoreError("not running in a browser".into()))
    }

    /// Unreachable natively.
    pub async fn under(&self, _prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        Err(StoreError("not running in a browser".into()))
    }

    /// Unreachable natively.
    pub async fn delete_under(&self, _prefix: &str) -> Result<(), StoreError> {
        Err(StoreError("not running in a browser".into()))
    }

    /// Unreachable natively.
    pub async fn delete_range(&self, _from: &str, _to: &str) -> Result<(), StoreError> {
        Err(StoreError("not running in a browser".into()))
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use js_sys::{Array, Function, Promise};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{IdbDatabase, IdbKeyRange, IdbObjectStore, IdbRequest, IdbTransactionMode};

    use super::{Store, StoreError, prefix_end};
    use defender_tags_wasm::fetch::js_error_text;

    const DATABASE: &str = "defender-tags";
    const RECORDS: &str = "records";
    const VERSION: u32 = 1;

    fn fail(e: JsValue) -> StoreError {
        StoreError(js_error_text(&e))
    }

    /// Resolves when `request` succeeds, with its result; fails with its error.
    async fn settle(request: &IdbRequest) -> Result<JsValue, StoreError> {
        let promise = Promise::new(&mut |resolve: Function, reject: Function| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        let outcome = JsFuture::from(promise).await;
        request.set_onsuccess(None);
        request.set_onerror(None);
        match outcome {
            Ok(_) => request.result().map_err(fail),
            Err(_) => Err(StoreError(
                request
                    .error()
                    .ok()
                    .flatten()
                    .map(|e| e.message())
                    .unwrap_or_else(|| "the request failed".into()),
            )),
        }
    }

    impl Store {
        /// Opens (creating on first use) the database.
        pub async fn open() -> Result<Store, StoreError> {
            let factory = web_sys::window()
                .ok_or_else(|| StoreError("no window".into()))?
                .indexed_db()
                .map_err(fail)?
                .ok_or_else(|| StoreError("IndexedDB is disabled in this browser".into()))?;
            let request = factory.open_with_u32(DATABASE, VERSION).map_err(fail)?;
            let upgrading = request.clone();
            let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |_e: web_sys::Event| {
                if let Ok(db) = upgrading.result().and_then(|r| r.dyn_into::<IdbDatabase>())
                    && !db.object_store_names().contains(RECORDS)
                {
                    let _ = db.create_object_store(RECORDS);
                }
            });
            request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
            let db = settle(&request).await;
            request.set_onupgradeneeded(None);
            drop(upgrade);
            let db = db?
                .dyn_into::<IdbDatabase>()
                .map_err(|_| StoreError("open did not return a database".into()))?;
            Ok(Store { db })
        }

        fn records(&self, mode: IdbTransactionMode) -> Result<IdbObjectStore, StoreError> {
            self.db
                .transaction_with_str_and_mode(RECORDS, mode)
                .and_then(|t| t.object_store(RECORDS))
                .map_err(fail)
        }

        fn range(prefix: &str) -> Result<IdbKeyRange, StoreError> {
            IdbKeyRange::bound(&prefix.into(), &prefix_end(prefix).into()).map_err(fail)
        }

        /// Writes `json` under `key` (replacing it).
        pub async fn put(&self, key: &str, json: &str) -> Result<(), StoreError> {
            let request = self
                .records(IdbTransactionMode::Readwrite)?
                .put_with_key(&json.into(), &key.into())
                .map_err(fail)?;
            settle(&request).await.map(|_| ())
        }

        /// Every `(key, json)` whose key starts with `prefix`, in key order.
        pub async fn under(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
            let range = Self::range(prefix)?;
            let records = self.records(IdbTransactionMode::Readonly)?;
            let keys = records.get_all_keys_with_key(&range).map_err(fail)?;
            let values = records.get_all_with_key(&range).map_err(fail)?;
            let keys: Array = settle(&keys).await?.unchecked_into();
            let values: Array = settle(&values).await?.unchecked_into();
            Ok(keys
                .iter()
                .zip(values.iter())
                .filter_map(|(k, v)| Some((k.as_string()?, v.as_string()?)))
                .collect())
        }

        /// Deletes everything whose key starts with `prefix`.
        pub async fn delete_under(&self, prefix: &str) -> Result<(), StoreError> {
            let request = self
                .records(IdbTransactionMode::Readwrite)?
                .delete(&Self::range(prefix)?.into())
                .map_err(fail)?;
            settle(&request).await.map(|_| ())
        }

        /// Deletes every key from `from` (inclusive) to `to` (exclusive).
        pub async fn delete_range(&self, from: &str, to: &str) -> Result<(), StoreError> {
            if from >= to {
                return Ok(());
            }
            let range = IdbKeyRange::bound_with_lower_open_and_upper_open(
                &from.into(),
                &to.into(),
                false,
                true,
            )
            .map_err(fail)?;
            let request = self
                .records(IdbTransactionMode::Readwrite)?
                .delete(&range.into())
                .map_err(fail)?;
            settle(&request).await.map(|_| ())
        }
    }
}
