//! Hunting queries saved per tenant in this browser (localStorage, as `crate::rules` keeps the
//! tag rules): a name and the query text, nothing else (no results, no token).

use defender_tags_core::hunting::{HuntingQuery, HuntingQueryError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// localStorage key prefix; the tenant (`crate::site::tenant_scope`) follows.
const SAVED_KEY: &str = "defender-tags.hunting-queries:";

/// Most saved queries per tenant (each up to 10,000 characters: localStorage holds ~5 MB).
pub const MAX_SAVED: usize = 100;

/// One saved query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQuery {
    /// Its name (unique in the tenant, ignoring case).
    pub name: String,
    /// The KQL text.
    pub query: String,
}

/// Why a query cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SaveError {
    /// No name.
    #[error("Give the query a name to save it.")]
    NoName,
    /// The text could not be run either.
    #[error("{}", crate::hunting::sentence(&.0.to_string()))]
    Query(#[from] HuntingQueryError),
    /// Too many saved queries.
    #[error("At most {MAX_SAVED} queries are saved per tenant; delete one first.")]
    Full,
}

/// `list` with `name` set to `query` (replacing a query of the same name, ignoring case),
/// sorted by name.
pub fn with_query(
    list: &[SavedQuery],
    name: &str,
    query: &str,
) -> Result<Vec<SavedQuery>, SaveError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(SaveError::NoName);
    }
    HuntingQuery::parse(query)?;
    let mut out: Vec<SavedQuery> = list
        .iter()
        .filter(|q| !q.name.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    if out.len() >= MAX_SAVED {
        return Err(SaveError::Full);
    }
    out.push(SavedQuery {
        name: name.to_owned(),
        query: query.to_owned(),
    });
    out.sort_by_key(|q| q.name.to_lowercase());
    Ok(out)
}

/// `list` without the query named `name`.
pub fn without(list: &[SavedQuery], name: &str) -> Vec<SavedQuery> {
    list.iter().filter(|q| q.name != name).cloned().collect()
}

fn storage() -> Option<web_sys::Storage> {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()?.local_storage().ok().flatten()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// The tenant's saved queries (none when nothing readable is stored).
pub fn load(tenant: &str) -> Vec<SavedQuery> {
    storage()
        .and_then(|s| s.get_item(&format!("{SAVED_KEY}{tenant}")).ok().flatten())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// sessionStorage key prefix of the query being edited (kept while the preview replaces the
/// editor, and across the sign-in redirect), per tenant.
const DRAFT_KEY: &str = "defender-tags.hunting-draft:";

fn session_storage() -> Option<web_sys::Storage> {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()?.session_storage().ok().flatten()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// The query last edited in this tab for the tenant.
pub fn draft(tenant: &str) -> String {
    session_storage()
        .and_then(|s| s.get_item(&format!("{DRAFT_KEY}{tenant}")).ok().flatten())
        .unwrap_or_default()
}

/// Keeps the query being edited (best effort: a full storage only loses the draft).
pub fn keep_draft(tenant: &str, text: &str) {
    if let Some(s) = session_storage() {
        let _ = s.set_item(&format!("{DRAFT_KEY}{tenant}"), text);
    }
}

/// Saves the tenant's queries.
pub fn store(tenant: &str, list: &[SavedQuery]) -> Result<(), String> {
    let text = serde_json::to_string(list).map_err(|e| e.to_string())?;
    storage()
        .ok_or_else(|| "This browser does not allow saving queries (localStorage).".to_owned())?
        .set_item(&format!("{SAVED_KEY}{tenant}"), &text)
        .map_err(|_| "Could not save the query (localStorage is full or blocked).".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_replaces_by_name_and_refuses_what_cannot_run() {
        let a = with_query(&[], "Exposed", "DeviceInfo | take 1").unwrap();
        let b = with_query(&a, "alpha", "DeviceInfo").unwrap();
        assert_eq!(
            b.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
            ["alpha", "Exposed"]
        );
        let c = with_query(&b, "EXPOSED", "DeviceInfo | take 2").unwrap();
        assert_eq!(c.len(), 2, "same name, other case: replaced");
        assert_eq!(c[1].query, "DeviceInfo | take 2");
        assert_eq!(with_query(&c, "  ", "DeviceInfo"), Err(SaveError::NoName));
        assert!(matches!(
            with_query(&c, "empty", "   "),
            Err(SaveError::Query(HuntingQueryError::Empty))
        ));
        assert_eq!(without(&c, "alpha").len(), 1);
        let full: Vec<SavedQuery> = (0..MAX_SAVED)
            .map(|i| SavedQuery {
                name: format!("q{i}"),
                query: "DeviceInfo".into(),
            })
            .collect();
        assert_eq!(
            with_query(&full, "one more", "DeviceInfo"),
            Err(SaveError::Full)
        );
        assert!(with_query(&full, "q1", "DeviceInfo | take 3").is_ok());
    }
}
