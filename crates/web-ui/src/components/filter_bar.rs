//! Filters: tag (exact or prefix), OS platform, health, risk, exposure, device value, machine
//! group, last seen. Each change goes to the URL at once.

use leptos::prelude::*;

use defender_tags_core::{DeviceValue, ExposureLevel, HealthStatus, RiskScore};

use crate::search::{FilterChoices, SearchState, SeenWithin};

/// One `<select>` with an "Any" option. `options` are (value, label).
#[component]
fn Select(
    /// Element id (and `for` of the label).
    id: &'static str,
    /// Visible label.
    label: &'static str,
    /// The choices.
    #[prop(into)]
    options: Signal<Vec<(String, String)>>,
    /// The current value ("" = any).
    #[prop(into)]
    value: Signal<String>,
    /// Called with the new value.
    on_change: Callback<String>,
) -> impl IntoView {
    let id = crate::ids::use_ids().id(id);
    view! {
        <div class="field filter-field">
            <label for=id.clone()>{label}</label>
            <select id=id on:change=move |ev| on_change.run(event_target_value(&ev))>
                <option value="" selected=move || value.with(String::is_empty)>"Any"</option>
                {move || options.get().into_iter().map(|(v, l)| {
                    let v2 = v.clone();
                    view! { <option value=v selected=move || value.with(|cur| *cur == v2)>{l}</option> }
                }).collect_view()}
            </select>
        </div>
    }
}

fn known<T: Clone>(all: &[T], as_str: impl Fn(&T) -> String) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (as_str(v), crate::table::humanize(&as_str(v))))
        .collect()
}

fn opt(v: String) -> Option<String> {
    if v.is_empty() { None } else { Some(v) }
}

fn changer(
    search: Memo<SearchState>,
    on_change: Callback<SearchState>,
    f: fn(&mut SearchState, String),
) -> Callback<String> {
    Callback::new(move |v: String| {
        let mut next = search.get_untracked();
        f(&mut next, v);
        next.selected = None;
        on_change.run(next);
    })
}

/// Pause after the last keystroke in the tag filter before it applies.
const TAG_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(350);

/// The filter row.
#[component]
pub fn FilterBar(
    /// The current search (from the URL).
    search: Memo<SearchState>,
    /// Called with the changed search.
    on_change: Callback<SearchState>,
    /// The OS platforms and machine groups the loaded machines use.
    #[prop(into)]
    choices: Signal<FilterChoices>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let update = move |f: fn(&mut SearchState, String)| changer(search, on_change, f);

    let os_options = Signal::derive(move || choices.with(|c| c.os.clone()));
    let health_options = Signal::derive(|| known(HealthStatus::KNOWN, |v| v.as_str().to_owned()));
    let risk_options = Signal::derive(|| known(RiskScore::KNOWN, |v| v.as_str().to_owned()));
    let exposure_options =
        Signal::derive(|| known(ExposureLevel::KNOWN, |v| v.as_str().to_owned()));
    let value_options = Signal::derive(|| known(DeviceValue::KNOWN, |v| v.as_str().to_owned()));
    let seen_options = Signal::derive(|| {
        SeenWithin::ALL
            .iter()
            .map(|s| (s.as_param().to_owned(), s.label().to_owned()))
            .collect()
    });
    let group_options = Signal::derive(move || {
        choices.with(|c| {
            c.groups
                .iter()
                .map(|(id, label)| (id.to_string(), label.clone()))
                .collect()
        })
    });

    // Not trimmed here (core trims when it filters): rewriting the box while someone types
    // "Pilot Ring 1" would eat the space after "Pilot".
    let on_tag = update(|s, v| s.query.tag = v);
    // The tag filter applies as you type (after a pause, like the search box), offering the
    // tags the tenant uses.
    let catalog = expect_context::<crate::state::CatalogCtx>().0;
    let tag_options = Memo::new(move |_| catalog.with(|c| c.suggest("", &[], 300)));
    let tag_timer = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
    // The box shows what is typed; the URL's (trimmed) tag replaces it only when it says
    // something else (back/forward, a link, "Clear filters").
    let tag_draft = RwSignal::new(search.with_untracked(|s| s.query.tag.clone()));
    Effect::new(move |_| {
        let applied = search.with(|s| s.query.tag.clone());
        if tag_draft.with_untracked(|d| d.trim() != applied.trim()) {
            tag_draft.set(applied);
        }
    });
    let on_tag_input = move |value: String| {
        tag_draft.set(value.clone());
        if let Some(h) = tag_timer.get_value() {
            h.clear();
        }
        let handle = set_timeout_with_handle(move || on_tag.run(value), TAG_DEBOUNCE).ok();
        tag_timer.set_value(handle);
    };
    let on_tag_mode = update(|s, v| s.query.tag_prefix = v == "prefix");
    // On a phone the filters fold away behind a button (CSS shows it only there); how many are
    // set stays visible.
    let open = RwSignal::new(false);
    let active = move || {
        search.with(|s| {
            let q = &s.query;
            [
                !q.tag.trim().is_empty(),
                q.os.is_some(),
                q.health.is_some(),
                q.risk.is_some(),
                q.exposure.is_some(),
                q.value.is_some(),
                q.group.is_some(),
                q.seen.is_some(),
            ]
            .iter()
            .filter(|set| **set)
            .count()
        })
    };
    view! {
        <button type="button" class="btn btn-small filters-toggle" data-testid="filters-toggle"
            aria-controls=ids.id("filters") aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)>
            {move || match active() {
                0 => "Filters".to_owned(),
                n => format!("Filters ({n} set)"),
            }}
        </button>
        <div class="filters" role="group" aria-label="Filters" id=ids.id("filters")
            data-collapsed=move || (!open.get()).to_string()>
            <div class="field filter-field tag-filter">
                <label for=ids.id("filter-tag")>"Tag"</label>
                <div class="tag-filter-inputs">
                    <input id=ids.id("filter-tag") type="text" autocomplete="off" spellcheck="false"
                        list=ids.id("filter-tag-options") data-testid="filter-tag"
                        prop:value=move || tag_draft.get()
                        on:input=move |ev| on_tag_input(event_target_value(&ev))
                        on:change=move |ev| {
                            // Enter, leaving the box or picking a suggestion applies at once.
                            if let Some(h) = tag_timer.get_value() {
                                h.clear();
                            }
                            let value = event_target_value(&ev);
                            tag_draft.set(value.clone());
                            on_tag.run(value);
                        }/>
                    <datalist id=ids.id("filter-tag-options")>
                        {move || tag_options.get().into_iter().map(|t| view! { <option value=t></option> }).collect_view()}
                    </datalist>
                    <select id=ids.id("filter-tag-mode") aria-label="Tag match"
                        on:change=move |ev| on_tag_mode.run(event_target_value(&ev))>
                        <option value="exact" selected=move || search.with(|s| !s.query.tag_prefix)>"is"</option>
                        <option value="prefix" selected=move || search.with(|s| s.query.tag_prefix)>"starts with"</option>
                    </select>
                </div>
            </div>
            <Select id="filter-os" label="OS platform" options=os_options
                value=Signal::derive(move || search.with(|s| s.query.os.clone().unwrap_or_default()))
                on_change=update(|s, v| s.query.os = opt(v))/>
            <Select id="filter-health" label="Health" options=health_options
                value=Signal::derive(move || search.with(|s| s.query.health.as_ref().map(|v| v.as_str().to_owned()).unwrap_or_default()))
                on_change=update(|s, v| s.query.health = opt(v).map(|v| HealthStatus::from_wire(&v)))/>
            <Select id="filter-risk" label="Risk" options=risk_options
                value=Signal::derive(move || search.with(|s| s.query.risk.as_ref().map(|v| v.as_str().to_owned()).unwrap_or_default()))
                on_change=update(|s, v| s.query.risk = opt(v).map(|v| RiskScore::from_wire(&v)))/>
            <Select id="filter-exposure" label="Exposure" options=exposure_options
                value=Signal::derive(move || search.with(|s| s.query.exposure.as_ref().map(|v| v.as_str().to_owned()).unwrap_or_default()))
                on_change=update(|s, v| s.query.exposure = opt(v).map(|v| ExposureLevel::from_wire(&v)))/>
            <Select id="filter-value" label="Device value" options=value_options
                value=Signal::derive(move || search.with(|s| s.query.value.as_ref().map(|v| v.as_str().to_owned()).unwrap_or_default()))
                on_change=update(|s, v| s.query.value = opt(v).map(|v| DeviceValue::from_wire(&v)))/>
            <Select id="filter-group" label="Machine group" options=group_options
                value=Signal::derive(move || search.with(|s| s.query.group.map(|g| g.to_string()).unwrap_or_default()))
                on_change=update(|s, v| s.query.group = v.parse().ok())/>
            <Select id="filter-seen" label="Last seen" options=seen_options
                value=Signal::derive(move || search.with(|s| s.query.seen.map(|v| v.as_param().to_owned()).unwrap_or_default()))
                on_change=update(|s, v| s.query.seen = SeenWithin::from_param(&v))/>
        </div>
    }
}
