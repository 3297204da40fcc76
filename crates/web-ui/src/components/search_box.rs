//! The one search box: computer-name prefix, IP address (or its start) or machine id.

use leptos::prelude::*;

use defender_tags_core::query::{TextQuery, classify};

use crate::query::describe;

/// Search input; says under it how the text is understood.
#[component]
pub fn SearchBox(
    /// The text as typed.
    text: RwSignal<String>,
    /// Called on every keystroke with the new text.
    on_text: Callback<String>,
) -> impl IntoView {
    let hint = move || {
        let t = text.get();
        match classify(&t) {
            TextQuery::Empty => "Type a computer name, an IP address or a machine id.".to_owned(),
            other => format!("Searching: {}", describe(&other)),
        }
    };
    view! {
        <div class="field search-field">
            <label for="search-input">"Search machines"</label>
            <input
                id="search-input"
                type="search"
                autocomplete="off"
                spellcheck="false"
                placeholder="web01, 10.1.2., or a 40-character machine id"
                aria-describedby="search-hint"
                prop:value=move || text.get()
                on:input=move |ev| on_text.run(event_target_value(&ev))
            />
            <p id="search-hint" class="hint" data-testid="search-hint">{hint}</p>
        </div>
    }
}
