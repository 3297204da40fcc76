//! The embedded views: the tabbed manager, the machine lookup and one machine's editor.

use leptos::prelude::*;

use defender_tags_core::{Machine, MachineId, MachineRef};
use defender_tags_wasm::DefenderClient;

use crate::access::Access;
use crate::bulk::flow::{self, Phase};
use crate::components::bulk_compose::{BulkCompose, BulkSource};
use crate::components::bulk_job::BulkJobView;
use crate::components::machine_panel::MachinePanel;
use crate::components::notice::NoticeRegion;
use crate::routes::activity::ActivityView;
use crate::routes::inventory::InventoryView;
use crate::search::SearchState;

/// Which tab of the embedded manager is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Machine,
    Bulk,
    Inventory,
    Activity,
}

impl Tab {
    const ALL: [Tab; 4] = [Tab::Bulk, Tab::Inventory, Tab::Machine, Tab::Activity];
    fn label(self) -> &'static str {
        match self {
            Tab::Machine => "Machine tags",
            Tab::Bulk => "Bulk change",
            Tab::Inventory => "Tag inventory",
            Tab::Activity => "Activity",
        }
    }
    fn id(self) -> &'static str {
        match self {
            Tab::Machine => "dt-tab-machine",
            Tab::Bulk => "dt-tab-bulk",
            Tab::Inventory => "dt-tab-inventory",
            Tab::Activity => "dt-tab-activity",
        }
    }
}

/// The whole manager without routing (the host owns the URL): what `mountTagManager` mounts,
/// under its own `AppState::provide_for`.
#[component]
pub fn EmbeddedManager() -> impl IntoView {
    let ids = crate::ids::use_ids();
    let tab = RwSignal::new(Tab::Bulk);
    let search_state = RwSignal::new(SearchState::default());
    let search = Memo::new(move |_| search_state.get());
    let source = RwSignal::new(BulkSource::Search);
    let phase = flow::use_bulk_flow().phase();
    let composing = Memo::new(move |_| phase.with(|p| matches!(p, Phase::Compose)));
    let on_job = Callback::new(move |_: ()| tab.set(Tab::Bulk));
    let tabs = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            // WAI-ARIA tabs: one tab in the Tab order, arrow keys move between tabs.
            let on_key = move |ev: web_sys::KeyboardEvent| {
                let n = Tab::ALL.len();
                let next = match ev.key().as_str() {
                    "ArrowRight" => (i + 1) % n,
                    "ArrowLeft" => (i + n - 1) % n,
                    "Home" => 0,
                    "End" => n - 1,
                    _ => return,
                };
                ev.prevent_default();
                let to = Tab::ALL[next];
                tab.set(to);
                crate::ids::focus_near(&ev, &ids.id(to.id()));
            };
            view! {
                <button type="button" role="tab" class="tab" id=ids.id(t.id()) aria-controls=ids.id("dt-embed-panel")
                    aria-selected=move || if tab.get() == t { "true" } else { "false" }
                    tabindex=move || if tab.get() == t { "0" } else { "-1" }
                    on:click=move |_| tab.set(t)
                    on:keydown=on_key>{t.label()}</button>
            }
        })
        .collect_view();
    view! {
        <div class="embed-manager" data-testid="embedded-manager">
            <div role="tablist" aria-label="Defender tags" class="tabs">{tabs}</div>
            <div id=ids.id("dt-embed-panel") class="embed-body" role="tabpanel" aria-labelledby=move || ids.id(tab.get().id())>
                {move || match tab.get() {
                    Tab::Bulk => view! {
                        <BulkJobView/>
                        <Show when=move || composing.get()>
                            <BulkCompose search=search on_search=Callback::new(move |s| search_state.set(s))
                                source=source on_source=Callback::new(move |s| source.set(s))/>
                        </Show>
                    }.into_any(),
                    Tab::Inventory => view! { <InventoryView on_job=on_job embedded=true/> }.into_any(),
                    Tab::Activity => view! { <ActivityView/> }.into_any(),
                    Tab::Machine => view! { <MachineLookup/> }.into_any(),
                }}
            </div>
            <NoticeRegion/>
        </div>
    }
}

/// Find one machine by its id (a name is not looked up) and edit its tags.
#[component]
fn MachineLookup() -> impl IntoView {
    let ids = crate::ids::use_ids();
    let text = RwSignal::new(String::new());
    let chosen = RwSignal::new(None::<MachineId>);
    view! {
        <form class="field" on:submit=move |ev| {
            ev.prevent_default();
            chosen.set(None);
            let t = text.get_untracked();
            if let Ok(MachineRef::Id(id)) = MachineRef::parse(&t) {
                chosen.set(Some(id));
            }
        }>
            <label for=ids.id("dt-machine-id")>"Machine id"</label>
            <div class="inline-row">
                <input id=ids.id("dt-machine-id") type="search" autocomplete="off" spellcheck="false"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                <button type="submit" class="btn">"Open"</button>
            </div>
        </form>
        {move || chosen.get().map(|id| view! { <EditorBody id=id/> })}
    }
}

/// One machine's details and tag chips, loaded by id.
#[component]
pub(super) fn EditorBody(id: MachineId) -> impl IntoView {
    let client = use_context::<EmbedClientCtx>().map(|c| c.0.get_value());
    let machine = RwSignal::new(None::<Machine>);
    let error = RwSignal::new(None::<String>);
    let load_id = id.clone();
    if let Some(EmbedClient(client, access)) = client {
        leptos::task::spawn_local(async move {
            match client.machine(&MachineRef::Id(load_id)).await {
                Ok(m) => machine.set(Some(m)),
                Err(e) => error.set(Some(
                    crate::api::UiError::from_client(&e, false, &access).message,
                )),
            }
        });
    }
    view! {
        <p class="error-text" role="alert" data-testid="embed-error">{move || error.get()}</p>
        <MachinePanel id=id machine=machine duplicate=Signal::derive(|| false) on_close=Callback::new(|_: ()| {})/>
    }
}

/// The client of an embedded mount, for components that need more than [`crate::api::Backend`].
#[derive(Clone, Debug)]
pub(super) struct EmbedClient(pub(super) DefenderClient, pub(super) Access);

/// Context handle of the [`EmbedClient`] (`!Send`, hence local storage).
#[derive(Clone, Copy, Debug)]
pub(super) struct EmbedClientCtx(pub(super) StoredValue<EmbedClient, LocalStorage>);
