//! The tag and the action of a bulk change, then "Preview".

use defender_tags_core::{Tag, TagAction};
use leptos::prelude::*;

use crate::components::top_bar::use_app_state;

/// Tag and action, then "Preview". `on_preview` gets the validated tag.
#[component]
pub(super) fn TagActionForm(
    /// Turns tag and action into a job (or says why not).
    on_preview: Callback<(Tag, TagAction), Result<(), String>>,
    /// Disables the form (nothing chosen yet).
    #[prop(into)]
    disabled: Signal<bool>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let state = use_app_state();
    let text = RwSignal::new(String::new());
    let action = RwSignal::new(TagAction::Add);
    let error = RwSignal::new(None::<String>);
    let warnings = Memo::new(move |_| {
        let t = text.get();
        let Ok(tag) = Tag::parse(&t) else {
            return Vec::new();
        };
        match action.get() {
            TagAction::Add => {
                let mut w: Vec<String> = tag
                    .warnings_for(TagAction::Add)
                    .iter()
                    .map(|w| w.to_string())
                    .collect();
                let near = state.catalog.0.with(|c| c.near_duplicates(tag.as_str()));
                if !near.is_empty() {
                    w.push(format!(
                        "the tenant also uses {}, which differs only in case; Defender keeps them apart",
                        quoted(&near)
                    ));
                }
                w
            }
            // Removing needs no warning about the tag itself; a tag nobody carries is most
            // likely a misspelling of one that is in use.
            TagAction::Remove => state
                .catalog
                .0
                .with(|c| {
                    (!c.is_empty() && c.count(tag.as_str()) == 0).then(|| {
                        let near = c.closest(tag.as_str(), 3);
                        if near.is_empty() {
                            format!("no machine loaded carries \u{201c}{tag}\u{201d}")
                        } else {
                            format!(
                                "no machine loaded carries \u{201c}{tag}\u{201d}; did you mean {}?",
                                quoted(&near)
                            )
                        }
                    })
                })
                .into_iter()
                .collect(),
        }
    });
    let options = Memo::new(move |_| state.catalog.0.with(|c| c.suggest("", &[], 300)));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match Tag::parse(&text.get_untracked()) {
            Ok(tag) => error.set(on_preview.run((tag, action.get_untracked())).err()),
            Err(e) => error.set(Some(format!("Tag: {e}."))),
        }
    };
    view! {
        <form class="tag-action-form" on:submit=submit aria-labelledby=ids.id("bulk-tag-title")>
            <h2 id=ids.id("bulk-tag-title")>"2. Choose the tag and the change"</h2>
            <fieldset class="action-choice" prop:disabled=move || disabled.get()>
                <legend>"Change"</legend>
                <label class="radio"><input type="radio" name="bulk-action" value="Add"
                    prop:checked=move || action.get() == TagAction::Add
                    on:change=move |_| action.set(TagAction::Add)/>" Add the tag"</label>
                <label class="radio"><input type="radio" name="bulk-action" value="Remove"
                    prop:checked=move || action.get() == TagAction::Remove
                    on:change=move |_| action.set(TagAction::Remove)/>" Remove the tag"</label>
            </fieldset>
            <div class="field">
                <label for=ids.id("bulk-tag")>"Tag to add or remove"</label>
                <input id=ids.id("bulk-tag") type="text" list=ids.id("bulk-tag-options") autocomplete="off" spellcheck="false"
                    aria-describedby=ids.id("bulk-tag-help bulk-tag-error")
                    aria-invalid=move || if error.with(Option::is_some) { "true" } else { "false" }
                    prop:disabled=move || disabled.get()
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); error.set(None); }
                    data-testid="bulk-tag-input"/>
                <datalist id=ids.id("bulk-tag-options")>
                    {move || options.get().into_iter().map(|t| view! { <option value=t></option> }).collect_view()}
                </datalist>
                <p id=ids.id("bulk-tag-help") class="hint">"Exact spelling: Defender treats \u{201c}Finance\u{201d} and \u{201c}finance\u{201d} as two tags."</p>
                <p id=ids.id("bulk-tag-error") class="error-text" role="alert" data-testid="bulk-tag-error">{move || error.get()}</p>
                {move || {
                    let w = warnings.get();
                    (!w.is_empty()).then(|| view! {
                        <ul class="warning-list" data-testid="bulk-tag-warnings">{w.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
                    })
                }}
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" data-testid="preview-button"
                    prop:disabled=move || disabled.get()>"Preview"</button>
                <span class="hint">"Nothing is changed until you confirm the preview."</span>
            </div>
        </form>
    }
}

/// “a”, “b” for a warning.
fn quoted(tags: &[String]) -> String {
    tags.iter()
        .map(|n| format!("\u{201c}{n}\u{201d}"))
        .collect::<Vec<_>>()
        .join(", ")
}
