//! The search page's narrowing pipeline: every loaded machine sorted once per listing and sort
//! order, then narrowed per keystroke from the narrowest earlier result it refines (see
//! `crate::query`), with `performance` marks the benchmark and tests read (`dt-sort`, `dt-narrow`,
//! `dt-narrow-scan`).

use std::sync::Arc;

use defender_tags_core::query::MachineQuery;
use leptos::prelude::*;

use crate::query;
use crate::state::now_ms;
use crate::table::{Loaded, SharedLoaded, SortDir, SortKey};

/// A `performance.mark` (the benchmark splits narrowing from rendering with it).
fn perf_mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// A `performance.measure` from `start` to now.
fn perf_measure(name: &str, start: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.measure_with_start_mark(name, start);
    }
}

/// Every loaded machine in one sort order. Compares by identity (the listing, the order), not
/// by its 100k entries.
#[derive(Debug, Clone)]
struct Ordered {
    loaded: SharedLoaded,
    key: SortKey,
    dir: SortDir,
    order: Arc<Vec<u32>>,
}

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.loaded == other.loaded && self.key == other.key && self.dir == other.dir
    }
}

/// The rows to show, as indices into the listing: `loaded` in `sort_order`, narrowed by `query`.
/// Sorted once per listing and sort order; typing only filters that order (which keeps it
/// sorted), and a longer search text filters the previous result rather than everything.
pub(super) fn narrowed_rows(
    loaded: Signal<Option<Arc<Loaded>>>,
    sort_order: Memo<(SortKey, SortDir)>,
    effective: Memo<MachineQuery>,
) -> Memo<Arc<Vec<u32>>> {
    let ordered = Memo::new(move |_| {
        let loaded = loaded.get()?;
        let (key, dir) = sort_order.get();
        perf_mark("dt-sort-start");
        let order = Arc::new(loaded.sorted(key, dir));
        perf_measure("dt-sort", "dt-sort-start");
        Some(Ordered {
            loaded: SharedLoaded(loaded),
            key,
            dir,
            order,
        })
    });
    let history = StoredValue::new(None::<(Ordered, query::NarrowHistory)>);
    Memo::new(move |_| {
        let Some(ordered) = ordered.get() else {
            return Arc::new(Vec::new());
        };
        let s = effective.get();
        perf_mark("dt-narrow-start");
        // A new listing or order starts a new history.
        if history.with_value(|h| h.as_ref().is_none_or(|(o, _)| *o != ordered)) {
            history.set_value(Some((ordered.clone(), query::NarrowHistory::default())));
        }
        let exact = history.with_value(|h| h.as_ref().and_then(|(_, h)| h.exact(&s)));
        let idx = exact.unwrap_or_else(|| {
            let candidates = history
                .with_value(|h| h.as_ref().and_then(|(_, h)| h.base_for(&s)))
                .unwrap_or_else(|| ordered.order.clone());
            let narrowed = query::narrow_loaded(&s, &ordered.loaded.0, &candidates, now_ms());
            if narrowed.scanned {
                // Tells the tests (and a profile) that the whole-column scan answered.
                perf_mark("dt-narrow-scan");
            }
            Arc::new(narrowed.rows)
        });
        history.update_value(|h| {
            if let Some((_, h)) = h {
                h.push(&s, idx.clone());
            }
        });
        perf_measure("dt-narrow", "dt-narrow-start");
        idx
    })
}
