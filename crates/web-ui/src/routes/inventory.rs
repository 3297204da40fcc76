//! `/inventory`: every tag in use with machine counts, case-variant clusters, tags that break the
//! portal's filter, and clean-ups (remove a tag everywhere, merge variants) through the bulk
//! preview → run flow.

use std::sync::Arc;

use defender_tags_core::Machine;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::{UiError, UiErrorKind};
use crate::bulk::format::thousands;
use crate::bulk::inventory::{Inventory, InventorySort, VariantCluster};
use crate::bulk::job::Job;
use crate::components::sign_in_card::SignInCard;
use crate::components::top_bar::use_app_state;
use crate::search::SearchState;
use crate::state::now_ms;
use defender_tags_core::query::MachineQuery;

/// The page's frame: its heading and outer classes, shared with its loading placeholder
/// ([`super::lazy`]).
pub const FRAME: super::lazy::Frame = super::lazy::Frame {
    title: "Tag inventory",
    class: "page inventory-page",
};

/// The inventory page.
#[component]
pub fn InventoryPage() -> impl IntoView {
    let state = use_app_state();
    let ready = move || {
        state.session.0.with(|s| s.user().is_some()) && state.backend.0.with(|b| b.is_some())
    };
    let navigate = use_navigate();
    let on_job = Callback::new(move |_: ()| navigate("/bulk", Default::default()));
    view! {
        <div class=FRAME.class>
            <h1>{FRAME.title}</h1>
            <Show when=ready fallback=|| view! { <SignInCard/> }>
                <InventoryView on_job=on_job/>
            </Show>
        </div>
    }
}

/// The inventory; `on_job` is called once a clean-up's preview is ready (the app goes to `/bulk`).
#[component]
pub fn InventoryView(
    /// Called when a clean-up's preview is ready.
    on_job: Callback<()>,
    /// Embedded in another page: no links into the app's own routes.
    #[prop(optional)]
    embedded: bool,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let state = use_app_state();
    let backend = state.backend.0;
    // Bumped after a run so the counts are read again.
    let reload = RwSignal::new(0u32);
    let finished = state.bulk.runs_finished();
    let tenant = LocalResource::new(move || {
        reload.track();
        finished.track();
        let b = backend.get();
        async move {
            match b {
                Some(b) => {
                    b.0.search(MachineQuery::default(), now_ms())
                        .await
                        .map(Arc::new)
                }
                None => Err(UiError::new(UiErrorKind::Auth, "Not signed in.")),
            }
        }
    });
    let machines =
        Memo::new(move |_| tenant.with(|t| t.as_ref().and_then(|r| r.as_ref().ok().cloned())));
    let inventory =
        Memo::new(move |_| machines.with(|m| m.as_ref().map(|m| Arc::new(Inventory::of(m)))));
    // Counts by source (manual, registry, rule) when this user may run hunting queries: one
    // query for every loaded machine (crate::hunting::provenance).
    let provenance = crate::hunting::provenance::use_provenance();
    Effect::new(move |_| {
        if let (Some(p), Some(ms)) = (provenance, machines.get()) {
            p.ensure(
                backend.get_untracked(),
                ms.iter().map(|m| m.id.clone()).collect(),
            );
        }
    });
    let by_source = Memo::new(move |_| {
        let p = provenance?;
        let snap = p.0.with(|s| s.snapshot.clone())?;
        machines.with(|m| {
            m.as_ref()
                .map(|m| Arc::new(crate::hunting::provenance::counts_by_source(m, &snap)))
        })
    });
    let sources_note = move || provenance.and_then(|p| p.0.with(|s| s.unavailable.clone()));
    let error = RwSignal::new(None::<String>);
    let start = move |job: Result<Job, String>| match job {
        Ok(job) => {
            if state.bulk.preview(job) {
                on_job.run(());
            } else {
                error.set(Some(
                    "A bulk run is in progress; wait for it to finish.".to_owned(),
                ));
            }
        }
        Err(e) => error.set(Some(e)),
    };
    let with_tenant = move |f: &dyn Fn(&[Machine]) -> Result<Job, String>| {
        machines.with_untracked(|m| match m {
            Some(m) => f(m),
            None => Err("The machines are still loading.".to_owned()),
        })
    };
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new(InventorySort::Count);

    let read_only = Signal::derive({
        let can = crate::components::read_only::can_edit();
        move || !can.get()
    });
    let why = "Read-only sign-in: removing and merging tags needs Machine.ReadWrite.";
    view! {
        <p class="muted" data-testid="inventory-scope">
            "Every tag on the machines your sign-in can see (machines outside the device groups your Defender role covers are not counted). \
             Defender compares tags exactly, so spellings that differ only in case are separate tags, and the portal's tag filter cannot handle commas or parentheses."
        </p>
        <crate::components::read_only::ReadOnlyBanner what="remove or merge tags"/>
        <div class="form-actions">
            <button type="button" class="btn btn-small" on:click=move |_| reload.update(|n| *n += 1)>"Reload"</button>
        </div>
        <p class="error-text" role="alert" data-testid="inventory-error">
            {move || error.get().or_else(|| tenant.with(|t| t.as_ref().and_then(|r| r.as_ref().err().map(|e| e.message.clone()))))}
        </p>
        {move || match inventory.get() {
            None => view! { <p class="muted" role="status">"Loading every machine\u{2026}"</p> }.into_any(),
            Some(inv) => {
                let clusters = inv.clusters.clone();
                let breakers: Vec<(String, usize, String)> = inv
                    .portal_breakers()
                    .into_iter()
                    .map(|t| (t.tag.clone(), t.machines, t.breakers.iter().map(|c| format!("\u{201c}{c}\u{201d}")).collect::<Vec<_>>().join(" ")))
                    .collect();
                let inv2 = inv.clone();
                view! {
                    <p role="status" data-testid="inventory-summary">
                        {format!(
                            "{} tags on {} machines \u{b7} {} machines without tags \u{b7} {} case-variant groups \u{b7} {} tags that break the portal filter",
                            thousands(inv.tags.len() as u64),
                            thousands(inv.machines as u64),
                            thousands(inv.untagged as u64),
                            inv.clusters.len(),
                            breakers.len()
                        )}
                    </p>
                    <section class="card inventory-section" aria-labelledby=ids.id("variants-title")>
                        <h2 id=ids.id("variants-title")>"Case variants"</h2>
                        {clusters.is_empty().then(|| view! { <p class="muted">"No tag is spelled two ways."</p> })}
                        <div class="clusters">
                            {clusters.into_iter().map(|c| view! {
                                <ClusterCard cluster=c read_only=read_only on_merge=Callback::new(move |(keep, variants): (String, Vec<String>)| {
                                    start(with_tenant(&|ms| Job::merge(&keep, &variants, ms)));
                                })/>
                            }).collect_view()}
                        </div>
                    </section>
                    <section class="card inventory-section" aria-labelledby=ids.id("breakers-title")>
                        <h2 id=ids.id("breakers-title")>"Tags that break the portal\u{2019}s filter"</h2>
                        {breakers.is_empty().then(|| view! { <p class="muted">"None."</p> })}
                        <ul class="breaker-list" data-testid="portal-breakers">
                            {breakers.into_iter().map(|(tag, n, chars)| {
                                let t = tag.clone();
                                view! {
                                    <li>
                                        <span class="chip chip-text">{tag.clone()}</span>
                                        <span class="small muted">{format!("{} machines \u{b7} contains {chars}", thousands(n as u64))}</span>
                                        <button type="button" class="btn btn-small"
                                            disabled=read_only title=move || read_only.get().then_some(why)
                                            on:click=move |_| start(with_tenant(&|ms| Job::remove_everywhere(&t, ms)))>
                                            "Remove everywhere\u{2026}"
                                            <span class="visually-hidden">{format!(" \u{2014} {tag}")}</span>
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                    <section class="card inventory-section" aria-labelledby=ids.id("all-tags-title")>
                        <h2 id=ids.id("all-tags-title")>"All tags"</h2>
                        <div class="inline-row">
                            <div class="field">
                                <label for=ids.id("inventory-filter")>"Filter tags"</label>
                                <input id=ids.id("inventory-filter") type="search" autocomplete="off"
                                    prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))/>
                            </div>
                            <div class="field">
                                <label for=ids.id("inventory-sort")>"Sort by"</label>
                                <select id=ids.id("inventory-sort") on:change=move |ev| sort.set(if event_target_value(&ev) == "name" { InventorySort::Name } else { InventorySort::Count })>
                                    <option value="count" selected=move || sort.get() == InventorySort::Count>"Most machines"</option>
                                    <option value="name" selected=move || sort.get() == InventorySort::Name>"Name"</option>
                                </select>
                            </div>
                        </div>
                        {move || sources_note().map(|why| view! { <p class="muted small" data-testid="inventory-sources-note">{why}</p> })}
                        <table class="inventory-table" data-testid="inventory-table">
                            <caption class="visually-hidden">"Tags and the number of machines carrying each"</caption>
                            <thead><tr><th scope="col">"Tag"</th><th scope="col" class="num">"Machines"</th><th scope="col">"By source"</th><th scope="col">"Notes"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {move || { let base = crate::site::base_path(); inv2.filtered(&filter.get(), sort.get()).into_iter().map(|t| {
                                    let tag = t.tag.clone();
                                    let href = crate::site::join(&base, &format!("/{}", SearchState::from(MachineQuery { tag: t.tag.clone(), ..Default::default() }).to_query_string()));
                                    let mut notes = Vec::new();
                                    if t.has_variants { notes.push("case variants".to_owned()); }
                                    if !t.breakers.is_empty() { notes.push("breaks the portal filter".to_owned()); }
                                    if let Some(e) = &t.invalid { notes.push(format!("cannot be changed with this tool: {e}")); }
                                    view! {
                                        <tr>
                                            <th scope="row" class="tag-cell">{t.tag.clone()}</th>
                                            <td class="num">{if embedded {
                                                view! { <span>{thousands(t.machines as u64)}</span> }.into_any()
                                            } else {
                                                view! { <a href=href aria-label=format!("{} machines tagged {}", t.machines, t.tag)>{thousands(t.machines as u64)}</a> }.into_any()
                                            }}</td>
                                            <td class="by-source" data-testid="inventory-by-source">{
                                                let tag = t.tag.clone();
                                                move || by_source.with(|b| b.as_ref().map(|b| b.get(&tag).copied().unwrap_or_default().describe()))
                                            }</td>
                                            <td class="small muted">{notes.join(", ")}</td>
                                            <td>
                                                <button type="button" class="btn btn-small"
                                                    disabled=read_only title=move || read_only.get().then_some(why)
                                                    on:click=move |_| start(with_tenant(&|ms| Job::remove_everywhere(&tag, ms)))>
                                                    "Remove everywhere\u{2026}"
                                                    <span class="visually-hidden">{format!(" \u{2014} {}", t.tag)}</span>
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view() }}
                            </tbody>
                        </table>
                    </section>
                }
                .into_any()
            }
        }}
    }
}

/// One case-variant cluster: choose the spelling to keep and the ones to merge into it.
#[component]
fn ClusterCard(
    cluster: VariantCluster,
    on_merge: Callback<(String, Vec<String>)>,
    /// The sign-in may not change tags.
    read_only: Signal<bool>,
) -> impl IntoView {
    let keep = RwSignal::new(cluster.suggested().to_owned());
    let group = format!(
        "keep-{}",
        cluster.key.replace(|c: char| !c.is_alphanumeric(), "-")
    );
    let variants: Vec<String> = cluster.variants.iter().map(|(v, _)| v.clone()).collect();
    let legend = format!("Spellings of \u{201c}{}\u{201d}", cluster.key);
    view! {
        <fieldset class="cluster" data-testid="variant-cluster">
            <legend>{legend}</legend>
            {cluster.variants.iter().enumerate().map(|(i, (v, n))| {
                let v2 = v.clone();
                let v3 = v.clone();
                let id = format!("{group}-{i}");
                view! {
                    <div class="radio-row">
                        <input type="radio" id=id.clone() name=group.clone() value=v.clone()
                            prop:checked=move || keep.get() == v2
                            on:change=move |_| keep.set(v3.clone())/>
                        <label for=id>{format!("Keep \u{201c}{v}\u{201d}")}<span class="muted small">{format!(" \u{b7} {} machines", thousands(*n as u64))}</span></label>
                    </div>
                }
            }).collect_view()}
            <button type="button" class="btn btn-small" data-testid="merge-button"
                disabled=read_only
                title=move || read_only.get().then_some("Read-only sign-in: merging tags needs Machine.ReadWrite.")
                on:click=move |_| on_merge.run((keep.get_untracked(), variants.clone()))>
                {move || format!("Merge into \u{201c}{}\u{201d}\u{2026}", keep.get())}
            </button>
        </fieldset>
    }
}
