//! The details panel of the machine opened from the table (`?m=<id>`), with its tags.

use leptos::prelude::*;

use defender_tags_core::{DeviceValue, Machine, MachineId};

use crate::components::tag_editor::TagEditor;
use crate::state::now_ms;
use crate::table::{format_age, humanize};

/// Machine details and tag editor.
#[component]
pub fn MachinePanel(
    /// The machine's id (from the URL).
    id: MachineId,
    /// The machine, when it is among the loaded results.
    #[prop(into)]
    machine: Signal<Option<Machine>>,
    /// Whether its computer name is shared with another machine.
    #[prop(into)]
    duplicate: Signal<bool>,
    /// Closes the panel.
    on_close: Callback<()>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let id_text = id.to_string();
    // Opening a machine moves keyboard focus to its panel, so keyboard and screen-reader users
    // land on what opened (the panel is made anew for each machine).
    let heading = NodeRef::<leptos::html::H2>::new();
    request_animation_frame(move || {
        if let Some(Some(h)) = heading.try_get_untracked() {
            let _ = h.focus();
        }
    });
    // The portal of the cloud this page signs in to (with the tenant, for people with several).
    let state = crate::components::top_bar::use_app_state();
    let portal = state.site.0.with_untracked(|site| {
        state.settings.0.with_untracked(|user| {
            crate::settings::effective(
                site,
                user,
                crate::site::chosen_tenant().as_deref(),
                &crate::session::page_origin(),
            )
            .ok()
            .map(|r| r.cloud.machine_portal_url(&id, Some(&r.tenant_id)))
        })
    });
    let title = move || {
        machine.with(|m| {
            m.as_ref()
                .and_then(|m| m.computer_dns_name.clone())
                .unwrap_or_else(|| "Machine".to_owned())
        })
    };
    let row = |label: &'static str, value: String| {
        view! { <div class="detail"><dt>{label}</dt><dd>{value}</dd></div> }
    };
    // The value set from this panel, shown until the listing is read again.
    let shown_value = RwSignal::new(None::<DeviceValue>);
    let details = move || {
        machine.get().map(|m| {
            let text = |s: Option<&str>| s.unwrap_or("\u{2014}").to_owned();
            let seen = m.last_seen.map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
            view! {
                <dl class="details">
                    {row("OS", format!("{} {}", text(m.os_platform.as_deref()), m.os_version.clone().unwrap_or_default()).trim().to_owned())}
                    {row("Health", m.health_status.as_ref().map_or_else(|| "\u{2014}".to_owned(), |v| humanize(v.as_str())))}
                    {row("Risk", text(m.risk_score.as_ref().map(|v| v.as_str())))}
                    {row("Exposure", text(m.exposure_level.as_ref().map(|v| v.as_str())))}
                    <DeviceValueRow id=m.id.clone() name=m.computer_dns_name.clone() listed=m.device_value.clone() set_here=shown_value/>
                    {row("Machine group", crate::search::group_label(m.rbac_group_id, m.rbac_group_name.as_deref()))}
                    <div class="detail"><dt>"Last seen"</dt><dd>
                        <time datetime=m.last_seen.map(defender_tags_core::model::datetime::format_datetime).unwrap_or_default()
                            title=m.last_seen.map(|t| format!("{} UTC", defender_tags_core::model::datetime::format_datetime(t).replace('T', " ").trim_end_matches('Z'))).unwrap_or_default()
                            data-testid="panel-last-seen">{format_age(seen, now_ms())}</time>
                    </dd></div>
                    {row("Last IP", text(m.last_ip_address.as_deref()))}
                </dl>
                <TagEditor
                    id=m.id.clone()
                    machine_name=m.computer_dns_name.clone()
                    server_tags=Signal::derive(move || machine.with(|m| m.as_ref().map(|m| m.machine_tags.clone()).unwrap_or_default()))
                />
            }
        })
    };
    view! {
        <aside class="machine-panel card" aria-labelledby=ids.id("panel-title") data-testid="machine-panel"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    on_close.run(());
                }
            }>
            <div class="panel-head">
                <h2 id=ids.id("panel-title") tabindex="-1" node_ref=heading>{title}</h2>
                <button type="button" class="btn btn-quiet" aria-label="Close machine details"
                    on:click=move |_| on_close.run(())>"\u{d7}"</button>
            </div>
            <p class="mono small muted machine-id">{id_text}</p>
            {portal.map(|url| view! {
                <p class="small"><a href=url target="_blank" rel="noopener noreferrer" data-testid="portal-link">
                    "Open in the Microsoft Defender portal"<span class="visually-hidden">" (opens in a new tab)"</span>" \u{2197}"
                </a></p>
            })}
            {move || duplicate.get().then(|| view! {
                <p class="warning-text">
                    "Another machine has the same computer name. Check the machine id before changing tags."
                </p>
            })}
            {move || if machine.with(Option::is_none) {
                Some(view! { <p class="muted">"This machine is not in the current results."</p> })
            } else {
                None
            }}
            {details}
        </aside>
    }
}

/// The device value with a control to change it (one API call). A read-only sign-in sees the
/// value and why it cannot change it, before anything is sent.
#[component]
fn DeviceValueRow(
    id: MachineId,
    /// Its computer name (the activity log names the change by it).
    name: Option<String>,
    /// The value in the listing.
    listed: Option<DeviceValue>,
    /// The value set from this panel, once the API confirmed it (owned by the panel, so it
    /// outlives a re-render of the details).
    set_here: RwSignal<Option<DeviceValue>>,
) -> impl IntoView {
    let current = set_here.get_untracked().or(listed.clone());
    let listed_before = listed.clone();
    let ids = crate::ids::use_ids();
    let state = crate::components::top_bar::use_app_state();
    let can_edit = crate::components::read_only::can_edit();
    let shown = move || {
        set_here
            .get()
            .or_else(|| listed.clone())
            .map_or_else(|| "\u{2014}".to_owned(), |v| v.as_str().to_owned())
    };
    let choice = RwSignal::new(
        current
            .clone()
            .filter(DeviceValue::is_settable)
            .unwrap_or(DeviceValue::Normal),
    );
    let busy = RwSignal::new(false);
    let message = RwSignal::new(None::<String>);
    let unchanged = {
        let listed = current.clone();
        move || set_here.get().or_else(|| listed.clone()).as_ref() == Some(&choice.get())
    };
    let set = move |_| {
        let Some(backend) = state.backend.0.get_untracked() else {
            message.set(Some("Sign in to change the device value.".to_owned()));
            return;
        };
        let value = choice.get_untracked();
        // What the log records as the earlier value: the one this panel shows.
        let target = crate::api::Target {
            id: id.clone(),
            name: name.clone(),
            device_value: set_here.get_untracked().or_else(|| listed_before.clone()),
        };
        busy.set(true);
        message.set(None);
        leptos::task::spawn_local(async move {
            let result = backend.0.set_device_value(target, value.clone()).await;
            busy.try_set(false);
            match result {
                Ok(()) => {
                    message.try_set(Some(format!("Device value set to {value}.")));
                    set_here.try_set(Some(value));
                }
                Err(e) => {
                    message.try_set(Some(format!("Not changed: {}", e.message)));
                }
            }
        });
    };
    view! {
        <div class="detail device-value" data-testid="device-value">
            <dt>"Device value"</dt>
            <dd>
                <span data-testid="device-value-current">{shown}</span>
                {move || if can_edit.get() {
                    let set = set.clone();
                    view! {
                        <span class="inline-row device-value-edit">
                            <label for=ids.id("device-value-choice") class="visually-hidden">"New device value"</label>
                            <select id=ids.id("device-value-choice") data-testid="device-value-choice"
                                on:change=move |ev| {
                                    if let Ok(v) = DeviceValue::parse_settable(&event_target_value(&ev)) {
                                        choice.set(v);
                                    }
                                }>
                                {DeviceValue::SETTABLE.iter().map(|v| {
                                    let v = v.clone();
                                    let selected = choice.get_untracked() == v;
                                    view! { <option value=v.as_str().to_owned() selected=selected>{v.as_str().to_owned()}</option> }
                                }).collect_view()}
                            </select>
                            <button type="button" class="btn btn-small" data-testid="device-value-set"
                                disabled={let unchanged = unchanged.clone(); move || busy.get() || unchanged()}
                                on:click=set
                                title="One API call for this machine">"Set"</button>
                        </span>
                    }.into_any()
                } else {
                    view! {
                        <span class="hint" data-testid="device-value-read-only">
                            " Read-only sign-in: changing the device value needs Machine.ReadWrite."
                        </span>
                    }.into_any()
                }}
                <span class="small" role="status" data-testid="device-value-message">{move || message.get()}</span>
            </dd>
        </div>
    }
}
