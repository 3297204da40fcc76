//! Filters: tag (exact or prefix), OS platform, health, risk, exposure, device value, machine
//! group, last seen. Each change goes to the URL at once.

use leptos::prelude::*;

use defender_tags_core::{DeviceValue, ExposureLevel, HealthStatus, RiskScore};

use crate::search::{OS_PLATFORMS, SearchState, SeenWithin};

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

/// The filter row.
#[component]
pub fn FilterBar(
    /// The current search (from the URL).
    search: Memo<SearchState>,
    /// Called with the changed search.
    on_change: Callback<SearchState>,
    /// Machine groups in the tenant: (id, name).
    #[prop(into)]
    groups: Signal<Vec<(i64, String)>>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let update = move |f: fn(&mut SearchState, String)| changer(search, on_change, f);

    let os_options = Signal::derive(|| {
        OS_PLATFORMS
            .iter()
            .map(|o| (o.to_string(), o.to_string()))
            .collect()
    });
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
        groups
            .get()
            .into_iter()
            .map(|(id, name)| {
                let label = if name.is_empty() {
                    format!("Group {id}")
                } else {
                    name
                };
                (id.to_string(), label)
            })
            .collect()
    });

    let tag_value = move || search.with(|s| s.query.tag.clone());
    let on_tag = update(|s, v| s.query.tag = v.trim().to_owned());
    let on_tag_mode = update(|s, v| s.query.tag_prefix = v == "prefix");
    view! {
        <div class="filters" role="group" aria-label="Filters">
            <div class="field filter-field tag-filter">
                <label for=ids.id("filter-tag")>"Tag"</label>
                <div class="tag-filter-inputs">
                    <input id=ids.id("filter-tag") type="text" autocomplete="off" spellcheck="false"
                        prop:value=tag_value
                        on:change=move |ev| on_tag.run(event_target_value(&ev))/>
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
