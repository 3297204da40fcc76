//! Element ids unique per mount: the app's ids are bare (`search-input`, the e2e tests' hooks);
//! each embedded mount prefixes its own (`dt2-bulk-tag`), so two managers on one page never
//! share an id and their labels point at their own inputs.

use std::sync::atomic::{AtomicU32, Ordering};

use leptos::prelude::*;

/// Embedded mounts so far on this page; only numbers the prefixes (no state lives here).
static MOUNTS: AtomicU32 = AtomicU32::new(0);

/// The id prefix of one mount (context, provided by `AppState::provide`).
#[derive(Debug, Clone, Copy)]
pub struct Ids(StoredValue<String>);

impl Ids {
    /// The app's ids: no prefix.
    pub fn root() -> Self {
        Self(StoredValue::new(String::new()))
    }

    /// A fresh prefix for the next embedded mount: `dt1-`, `dt2-`, ...
    pub fn next_mount() -> Self {
        let n = MOUNTS.fetch_add(1, Ordering::Relaxed) + 1;
        Self(StoredValue::new(format!("dt{n}-")))
    }

    /// The prefix.
    pub fn prefix(&self) -> String {
        self.0.try_get_value().unwrap_or_default()
    }

    /// The element id for `name` in this mount; for a space-separated list of names (an
    /// `aria-describedby` value), each one's id.
    pub fn id(&self, names: &str) -> String {
        let prefix = self.prefix();
        names
            .split_whitespace()
            .map(|n| format!("{prefix}{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The element with id `id` in the same tree as `near`: the document for the app, the mount's
/// shadow root for an embedded component (where `document.getElementById` cannot see).
pub fn element_near(near: &web_sys::Node, id: &str) -> Option<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast as _;
    let root = near.get_root_node();
    let found = if let Some(doc) = root.dyn_ref::<web_sys::Document>() {
        doc.get_element_by_id(id)
    } else if let Some(fragment) = root.dyn_ref::<web_sys::DocumentFragment>() {
        fragment.get_element_by_id(id)
    } else {
        None
    };
    found.and_then(|e| e.dyn_into().ok())
}

/// Focuses the element with id `id` in the tree of the event's target (see [`element_near`]).
pub fn focus_near(ev: &web_sys::Event, id: &str) {
    use wasm_bindgen::JsCast as _;
    if let Some(el) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
        .and_then(|n| element_near(&n, id))
    {
        let _ = el.focus();
    }
}

/// The mount's [`Ids`]; bare ids where none is provided (a component mounted alone in a test).
pub fn use_ids() -> Ids {
    use_context::<Ids>().unwrap_or_else(Ids::root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_get_distinct_prefixes_and_the_app_none() {
        let owner = Owner::new();
        owner.set();
        assert_eq!(Ids::root().id("bulk-tag"), "bulk-tag");
        let (a, b) = (Ids::next_mount(), Ids::next_mount());
        assert_ne!(a.prefix(), b.prefix());
        assert!(a.id("bulk-tag").ends_with("-bulk-tag") && a.id("bulk-tag").starts_with("dt"));
        let p = a.prefix();
        assert_eq!(a.id("help error"), format!("{p}help {p}error"));
    }
}
