//! The change of a bulk run — add or remove a tag, or set the device value — then "Preview".

use defender_tags_core::{DeviceValue, Machine, Tag, TagAction};
use leptos::prelude::*;

use crate::bulk::job::Job;
use crate::bulk::resolve::Unresolved;
use crate::components::read_only::can_edit;
use crate::components::top_bar::use_app_state;

/// What a bulk run changes on the chosen machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BulkChange {
    /// Add or remove a tag.
    Tag(Tag, TagAction),
    /// Set the device value (one call per machine).
    DeviceValue(DeviceValue),
}

impl BulkChange {
    /// The job making this change on `machines` (or why it cannot be made).
    pub(super) fn job(
        self,
        machines: &[&Machine],
        unresolved: Vec<Unresolved>,
        source: String,
    ) -> Result<Job, String> {
        match self {
            BulkChange::Tag(tag, action) => {
                Ok(Job::change(&tag, action, machines, unresolved, source))
            }
            BulkChange::DeviceValue(value) => {
                Job::set_device_value(&value, machines, unresolved, source)
            }
        }
    }
}

/// Which kind of change the form is composing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tag(TagAction),
    DeviceValue,
}

/// Tag and action (or device value), then "Preview". `on_preview` gets the validated change.
#[component]
pub(super) fn TagActionForm(
    /// Turns the change into a job (or says why not).
    on_preview: Callback<BulkChange, Result<(), String>>,
    /// Disables the form (nothing chosen yet).
    #[prop(into)]
    disabled: Signal<bool>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let state = use_app_state();
    let text = RwSignal::new(String::new());
    let kind = RwSignal::new(Kind::Tag(TagAction::Add));
    // The value chosen, as the select's text: checked only at "Preview", so a value the API
    // would refuse (a crafted option, say) gets its error there and nothing is planned.
    let value_text = RwSignal::new(DeviceValue::High.as_str().to_owned());
    let editable = can_edit();
    let error = RwSignal::new(None::<String>);
    let warnings = Memo::new(move |_| {
        let t = text.get();
        let Ok(tag) = Tag::parse(&t) else {
            return Vec::new();
        };
        let Kind::Tag(action) = kind.get() else {
            return Vec::new();
        };
        match action {
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
        match kind.get_untracked() {
            Kind::Tag(action) => match Tag::parse(&text.get_untracked()) {
                Ok(tag) => error.set(on_preview.run(BulkChange::Tag(tag, action)).err()),
                Err(e) => error.set(Some(format!("Tag: {e}."))),
            },
            Kind::DeviceValue => {
                if !editable.get_untracked() {
                    error.set(Some(READ_ONLY_DEVICE_VALUE.to_owned()));
                    return;
                }
                match DeviceValue::parse_settable(&value_text.get_untracked()) {
                    Ok(v) => error.set(on_preview.run(BulkChange::DeviceValue(v)).err()),
                    Err(e) => error.set(Some(format!("Device value: {e}."))),
                }
            }
        }
    };
    let is_tag = move || matches!(kind.get(), Kind::Tag(_));
    view! {
        <form class="tag-action-form" on:submit=submit aria-labelledby=ids.id("bulk-tag-title")>
            <h2 id=ids.id("bulk-tag-title")>"2. Choose the change"</h2>
            <fieldset class="action-choice" prop:disabled=move || disabled.get()>
                <legend>"Change"</legend>
                <label class="radio"><input type="radio" name="bulk-action" value="Add"
                    prop:checked=move || kind.get() == Kind::Tag(TagAction::Add)
                    on:change=move |_| { kind.set(Kind::Tag(TagAction::Add)); error.set(None); }/>" Add the tag"</label>
                <label class="radio"><input type="radio" name="bulk-action" value="Remove"
                    prop:checked=move || kind.get() == Kind::Tag(TagAction::Remove)
                    on:change=move |_| { kind.set(Kind::Tag(TagAction::Remove)); error.set(None); }/>" Remove the tag"</label>
                <label class="radio"><input type="radio" name="bulk-action" value="DeviceValue" data-testid="bulk-device-value-choice"
                    prop:disabled=move || !editable.get()
                    aria-describedby=move || (!editable.get()).then(|| ids.id("bulk-device-value-read-only"))
                    prop:checked=move || kind.get() == Kind::DeviceValue
                    on:change=move |_| { kind.set(Kind::DeviceValue); error.set(None); }/>" Set the device value"</label>
                {move || (!editable.get()).then(|| view! {
                    <p id=ids.id("bulk-device-value-read-only") class="hint" data-testid="bulk-device-value-read-only">{READ_ONLY_DEVICE_VALUE}</p>
                })}
            </fieldset>
            <div class="field" hidden=move || !is_tag()>
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
                {move || {
                    let w = warnings.get();
                    (!w.is_empty()).then(|| view! {
                        <ul class="warning-list" data-testid="bulk-tag-warnings">{w.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
                    })
                }}
            </div>
            <div class="field" hidden=is_tag>
                <label for=ids.id("bulk-device-value")>"New device value"</label>
                <select id=ids.id("bulk-device-value") data-testid="bulk-device-value"
                    aria-describedby=ids.id("bulk-device-value-help bulk-tag-error")
                    prop:disabled=move || disabled.get() || !editable.get()
                    on:change=move |ev| { value_text.set(event_target_value(&ev)); error.set(None); }>
                    {DeviceValue::SETTABLE.iter().map(|v| {
                        let v = v.as_str();
                        view! { <option value=v selected=move || value_text.get() == v>{v}</option> }
                    }).collect_view()}
                </select>
                <p id=ids.id("bulk-device-value-help") class="hint">"Defender has no bulk call for this: each machine that changes is one call, paced inside the API's budget. The preview shows the cost."</p>
            </div>
            <p id=ids.id("bulk-tag-error") class="error-text" role="alert" data-testid="bulk-tag-error">{move || error.get()}</p>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" data-testid="preview-button"
                    prop:disabled=move || disabled.get()>"Preview"</button>
                <span class="hint">"Nothing is changed until you confirm the preview."</span>
            </div>
        </form>
    }
}

/// Why a read-only sign-in cannot choose a device-value change.
const READ_ONLY_DEVICE_VALUE: &str = "Read-only sign-in: setting the device value needs Machine.ReadWrite and a Defender role that may manage machines, so it is not offered.";

/// “a”, “b” for a warning.
fn quoted(tags: &[String]) -> String {
    tags.iter()
        .map(|n| format!("\u{201c}{n}\u{201d}"))
        .collect::<Vec<_>>()
        .join(", ")
}
