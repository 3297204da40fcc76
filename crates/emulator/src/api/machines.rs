//! `GET /api/machines`, `GET /api/machines/{id}`, `GET /api/machines/findbytag`.

use axum::response::Response;
use defender_tags_core::{Machine, MachineId, ODataList};
use serde::Serialize;

use super::errors::ApiError;
use super::odata::{self, ListOptions};
use super::{Ctx, ok_json};
use crate::state::{Scope, Store};
use crate::web::encode_component;

/// A single machine with its `@odata.context` first, as the service sends it.
#[derive(Serialize)]
pub(crate) struct Entity<'a> {
    #[serde(rename = "@odata.context")]
    pub context: String,
    #[serde(flatten)]
    pub machine: &'a Machine,
}

/// `GET /api/machines`. Scans in store order and stops once `skip + top + 1` matches are found
/// (the extra one decides whether an `@odata.nextLink` is due).
pub(crate) fn list(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let opts = odata::list_options(ctx.uri)?;
    let store = ctx.tenant.read();
    if !store.machines().iter().any(|m| ctx.scope.sees(m)) {
        // "If there are no recent machines, you see 404 Not Found" (docs/defender-api.md §2).
        return Err(ApiError::not_found("No machines were found."));
    }
    let (page, more) = scan(&store, &ctx.scope, &opts);
    let context = match &opts.select {
        None => format!("{}/api/$metadata#Machines", ctx.origin),
        Some(sel) => format!("{}/api/$metadata#Machines({})", ctx.origin, sel.join(",")),
    };
    let next_link = more.then(|| next_link(ctx, &opts));
    match &opts.select {
        None => {
            let mut list = ODataList::new(page);
            list.context = Some(context);
            list.next_link = next_link;
            ok_json(&list)
        }
        Some(sel) => {
            let mut list = ODataList::new(page.iter().map(|m| odata::project(m, sel)).collect());
            list.context = Some(context);
            list.next_link = next_link;
            ok_json(&list)
        }
    }
}

fn scan<'s>(store: &'s Store, scope: &Scope, opts: &ListOptions) -> (Vec<&'s Machine>, bool) {
    if opts.top == 0 {
        // `$top=0` asks for nothing; a next link would make a pager loop forever.
        return (Vec::new(), false);
    }
    let mut page = Vec::with_capacity(opts.top.min(1024));
    let mut matched = 0usize;
    let want = opts.skip.saturating_add(opts.top);
    for m in store.machines() {
        if !scope.sees(m) || !opts.filter.as_ref().is_none_or(|f| f.matches(m)) {
            continue;
        }
        if matched >= want {
            return (page, true);
        }
        if matched >= opts.skip {
            page.push(m);
        }
        matched += 1;
    }
    (page, false)
}

fn next_link(ctx: &Ctx<'_>, opts: &ListOptions) -> String {
    let mut q: Vec<String> = Vec::new();
    if let Some(f) = &opts.filter_text {
        q.push(format!("$filter={}", encode_component(f)));
    }
    if let Some(sel) = &opts.select {
        q.push(format!("$select={}", encode_component(&sel.join(","))));
    }
    q.push(format!("$top={}", opts.top));
    q.push(format!("$skip={}", opts.skip.saturating_add(opts.top)));
    format!("{}{}/machines?{}", ctx.origin, ctx.prefix, q.join("&"))
}

/// Finds a machine by id or computer name among those `visible` accepts. Several machines may
/// share a name (duplicates): the most recently seen wins.
pub(crate) fn resolve(
    store: &Store,
    key: &str,
    visible: impl Fn(&Machine) -> bool,
) -> Option<usize> {
    if MachineId::looks_like_id(key)
        && let Some(i) = store.index_of_id(key)
        && store.get(i).is_some_and(&visible)
    {
        return Some(i);
    }
    store
        .indexes_of_name(key)
        .iter()
        .copied()
        .filter(|i| store.get(*i).is_some_and(&visible))
        .max_by_key(|i| store.get(*i).and_then(|m| m.last_seen))
}

/// `GET /api/machines/{id}` (id or computer name, docs/defender-api.md §3a).
pub(crate) fn get(ctx: &Ctx<'_>, key: &str) -> Result<Response, ApiError> {
    let store = ctx.tenant.read();
    let Some(i) = resolve(&store, key, |m| ctx.scope.sees(m)) else {
        return Err(ApiError::not_found(format!("Machine {key} was not found")));
    };
    let Some(m) = store.get(i) else {
        return Err(ApiError::not_found(format!("Machine {key} was not found")));
    };
    ok_json(&Entity {
        context: format!("{}/api/$metadata#Machines/$entity", ctx.origin),
        machine: m,
    })
}

/// `GET /api/machines/findbytag?tag=&useStartsWithFilter=` (docs/defender-api.md §3b). Matching
/// is case-insensitive (undocumented; see the README).
pub(crate) fn find_by_tag(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let pairs = odata::query_pairs(ctx.uri)?;
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let tag = match param("tag") {
        None => return Err(ApiError::missing("tag")),
        Some(t) if t.trim().is_empty() => {
            return Err(ApiError::invalid_input(
                "Invalid input tag: the tag must not be empty.",
            ));
        }
        Some(t) => t.to_lowercase(),
    };
    let starts_with = match param("useStartsWithFilter") {
        None | Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(ApiError::invalid_input(format!(
                "Invalid input useStartsWithFilter: '{v}' is not a boolean (true or false)."
            )));
        }
    };
    let store = ctx.tenant.read();
    let hits: Vec<&Machine> = store
        .machines()
        .iter()
        .filter(|m| ctx.scope.sees(m))
        .filter(|m| {
            m.machine_tags.iter().any(|t| {
                let t = t.to_lowercase();
                if starts_with {
                    t.starts_with(&tag)
                } else {
                    t == tag
                }
            })
        })
        .collect();
    let mut list = ODataList::new(hits);
    list.context = Some(format!("{}/api/$metadata#Machines", ctx.origin));
    ok_json(&list)
}
