//! A machine's tags as chips: remove with one click, add with autocomplete over the tenant's
//! tags. Changes show at once (optimistic) and are undone with a message if the API refuses.

use leptos::prelude::*;

use defender_tags_core::hunting::TagSource;
use defender_tags_core::{MachineId, Tag, TagAction};

use crate::api::{UiError, UiErrorKind};
use crate::state::{
    BackendCtx, CatalogCtx, EditsCtx, NoticeCtx, Session, SessionCtx, SingleChange,
};
use crate::tags::TagCheck;

/// Most suggestions shown.
const SUGGESTIONS: usize = 8;

/// What a single-machine change needs from the mount (all `Copy` signals).
#[derive(Debug, Clone, Copy)]
pub struct SingleCtx {
    edits: RwSignal<crate::tags::TagEdits>,
    catalog: RwSignal<crate::tags::TagCatalog>,
    backend: RwSignal<Option<crate::api::BackendRef>, LocalStorage>,
    notice: NoticeCtx,
}

impl SingleCtx {
    /// The mount's contexts (panics outside `AppState::provide`'s owner, like `expect_context`).
    pub fn from_context() -> Self {
        Self {
            edits: expect_context::<EditsCtx>().0,
            catalog: expect_context::<CatalogCtx>().0,
            backend: expect_context::<BackendCtx>().0,
            notice: expect_context::<NoticeCtx>(),
        }
    }
}

/// Adds or removes one tag on one machine: shown at once (optimistic), confirmed or rolled back
/// with a notice; a success offers Undo (the inverse change, made the same way).
pub async fn apply_single(ctx: SingleCtx, change: SingleChange) {
    let SingleChange {
        id, tag, action, ..
    } = change.clone();
    let name = change.label();
    let edit = ctx
        .edits
        .try_update(|e| e.begin(id.clone(), tag.as_str(), action));
    let target = change.target();
    let call = ctx
        .backend
        .with_untracked(|b| b.as_ref().map(|b| b.0.set_tag(target, tag.clone(), action)));
    let result = match call {
        Some(call) => call.await,
        None => Err(UiError::new(UiErrorKind::Auth, "Not signed in.")),
    };
    let (verb, prep) = match action {
        TagAction::Add => ("add", "to"),
        TagAction::Remove => ("remove", "from"),
    };
    match result {
        Ok(()) => {
            if let Some(edit) = edit {
                ctx.edits.try_update(|e| e.confirm(edit));
            }
            if action == TagAction::Add {
                ctx.catalog.try_update(|c| c.insert(tag.as_str()));
            }
            let done = if action == TagAction::Add {
                "Added"
            } else {
                "Removed"
            };
            let undo = SingleChange {
                action: action.inverse(),
                ..change
            };
            ctx.notice
                .success_with_undo(format!("{done} \u{201c}{tag}\u{201d} {prep} {name}."), undo);
        }
        Err(err) => {
            if let Some(edit) = edit {
                ctx.edits.try_update(|e| {
                    e.roll_back(edit);
                });
            }
            ctx.notice.error(format!(
                "Could not {verb} \u{201c}{tag}\u{201d} {prep} {name}; the change was undone. {err}"
            ));
        }
    }
}

/// Tag chips and, for users who may edit, the add box.
#[component]
pub fn TagEditor(
    /// The machine.
    id: MachineId,
    /// Its computer name, when it has one (messages and the activity log name it by this).
    machine_name: Option<String>,
    /// Its tags as the server last returned them.
    #[prop(into)]
    server_tags: Signal<Vec<String>>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let edits = expect_context::<EditsCtx>().0;
    let session = expect_context::<SessionCtx>().0;
    let notice = expect_context::<NoticeCtx>();

    let can_edit = Memo::new(move |_| session.with(Session::can_edit));
    let machine = id.clone();
    let tags = Memo::new(move |_| {
        let base = server_tags.get();
        edits.with(|e| e.effective_tags(&machine, &base))
    });

    let ctx = SingleCtx::from_context();
    let change = {
        let id = id.clone();
        Action::new_local(move |(tag, action): &(Tag, TagAction)| {
            apply_single(
                ctx,
                SingleChange {
                    id: id.clone(),
                    name: machine_name.clone(),
                    tag: tag.clone(),
                    action: *action,
                },
            )
        })
    };

    let pending_id = StoredValue::new(id.clone());
    let is_pending =
        move |tag: &str| edits.with(|e| pending_id.with_value(|id| e.is_pending(id, tag)));
    let remove = move |tag: String| {
        match Tag::parse(&tag) {
        Ok(t) => {
            change.dispatch((t, TagAction::Remove));
        }
        Err(e) => notice.error(format!(
            "\u{201c}{tag}\u{201d} cannot be removed with this tool: {e}. Remove it in the Defender portal."
        )),
    }
    };

    // Where each tag comes from (manual, registry, rule), when this user may run hunting
    // queries; otherwise the chips are as they were, with a one-line reason.
    let provenance = crate::hunting::provenance::use_provenance();
    if let Some(p) = provenance {
        let backend = use_context::<crate::state::BackendCtx>().and_then(|b| b.0.get_untracked());
        p.ensure_for(backend, &id);
    }
    let source_id = StoredValue::new(id.clone());
    let source_of = move |tag: &str| {
        let p = provenance?;
        p.0.with(|s| {
            let snap = s.snapshot.as_ref()?;
            source_id.with_value(|id| snap.source_of(id, tag))
        })
    };
    let sources_note = move || {
        let p = provenance?;
        p.0.with(|s| s.unavailable.clone())
    };

    let root = NodeRef::<leptos::html::Section>::new();
    let chips = move || {
        let editable = can_edit.get();
        tags.get()
            .into_iter()
            .map(|t| {
                let pending = is_pending(&t);
                let source = source_of(&t);
                let label = match source {
                    Some(s) if s != TagSource::Manual => format!(
                        "Remove tag {t} ({}; removing it will not stick)",
                        s.as_str()
                    ),
                    _ => format!("Remove tag {t}"),
                };
                let t_remove = t.clone();
                view! {
                    <li class="chip" class:pending=pending aria-busy=pending.then_some("true")
                        data-source=source.map(TagSource::as_str)
                        title=source.map(|s| crate::hunting::sentence(&s.removal_advice(&t)))>
                        <span class="chip-text">{t.clone()}</span>
                        {source.map(|s| view! {
                            <span class=format!("chip-source chip-source-{}", s.as_str()) data-testid="chip-source">
                                <span class="visually-hidden">", set by "</span>{s.as_str()}
                            </span>
                        })}
                        {editable.then(|| view! {
                            <button type="button" class="chip-remove" aria-label=label
                                on:click=move |_| {
                                    let index = tags.with_untracked(|all| all.iter().position(|x| *x == t_remove));
                                    remove(t_remove.clone());
                                    keep_focus_in_chips(root, index.unwrap_or(0));
                                }>"\u{d7}"</button>
                        })}
                    </li>
                }
            })
            .collect_view()
    };

    view! {
        <section class="tag-editor" aria-labelledby=ids.id("tags-title") data-testid="tag-editor" node_ref=root>
            <h3 id=ids.id("tags-title")>"Tags"</h3>
            <Show when=move || !tags.with(Vec::is_empty)
                fallback=|| view! { <p class="muted">"No tags."</p> }>
                <ul class="chips" aria-label="Tags on this machine" data-testid="tag-chips">{chips}</ul>
            </Show>
            {move || sources_note().map(|why| view! {
                <p class="muted small" data-testid="tag-sources-note">{why}</p>
            })}
            <Show when=move || can_edit.get()
                fallback=move || view! {
                    <p class="muted small" data-testid="read-only-note">
                        "Read-only: your sign-in can see tags but not change them (that needs Machine.ReadWrite)."
                    </p>
                }>
                <AddTag tags=tags on_add=Callback::new(move |tag: Tag| {
                    change.dispatch((tag, TagAction::Add));
                })/>
            </Show>
        </section>
    }
}

/// After a chip's removal, keeps keyboard focus in the chip list: on the chip that took its place,
/// else the last one, else (no tags left) the add box. Looked up inside this editor only.
fn keep_focus_in_chips(root: NodeRef<leptos::html::Section>, index: usize) {
    request_animation_frame(move || {
        let Some(Some(section)) = root.try_get_untracked() else {
            return;
        };
        let pick = |selector: &str| section.query_selector_all(selector).ok();
        let target = pick(".chip-remove")
            .filter(|list| list.length() > 0)
            .and_then(|list| list.item((index as u32).min(list.length() - 1)))
            .or_else(|| pick("input").and_then(|l| l.item(0)));
        if let Some(el) =
            target.and_then(|n| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(n).ok())
        {
            let _ = el.focus();
        }
    });
}

/// The "add a tag" combobox with inline validation and near-duplicate warnings.
#[component]
fn AddTag(
    /// The machine's current (effective) tags.
    tags: Memo<Vec<String>>,
    /// Called with a validated tag.
    on_add: Callback<Tag>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let catalog = expect_context::<CatalogCtx>().0;
    let text = RwSignal::new(String::new());
    let attempted = RwSignal::new(false);
    let open = RwSignal::new(false);
    let active = RwSignal::new(None::<usize>);

    let check = Memo::new(move |_| {
        let t = text.get();
        tags.with(|tags| catalog.with(|c| TagCheck::new(&t, tags, c)))
    });
    let suggestions = Memo::new(move |_| {
        let t = text.get();
        if t.trim().is_empty() {
            return Vec::new();
        }
        tags.with(|tags| catalog.with(|c| c.suggest(&t, tags, SUGGESTIONS)))
    });
    let expanded = move || open.get() && !suggestions.with(Vec::is_empty);

    let submit = move |value: String| {
        attempted.set(true);
        let tags_now = tags.get_untracked();
        let result = catalog
            .with_untracked(|c| TagCheck::new(&value, &tags_now, c))
            .result;
        if let Ok(tag) = result {
            on_add.run(tag);
            text.set(String::new());
            attempted.set(false);
            open.set(false);
            active.set(None);
        } else {
            text.set(value);
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let n = suggestions.with(Vec::len);
        match ev.key().as_str() {
            "ArrowDown" if n > 0 => {
                ev.prevent_default();
                open.set(true);
                active.update(|a| *a = Some(a.map_or(0, |i| (i + 1) % n)));
            }
            "ArrowUp" if n > 0 => {
                ev.prevent_default();
                open.set(true);
                active.update(|a| *a = Some(a.map_or(n - 1, |i| (i + n - 1) % n)));
            }
            "Escape" => {
                open.set(false);
                active.set(None);
            }
            "Enter" => {
                ev.prevent_default();
                let picked = active
                    .get_untracked()
                    .filter(|_| open.get_untracked())
                    .and_then(|i| suggestions.with_untracked(|s| s.get(i).cloned()));
                submit(picked.unwrap_or_else(|| text.get_untracked()));
            }
            _ => {}
        }
    };
    // Errors show once the user tries to add, or as soon as the text is wrong in a way that
    // further typing will not fix (a trailing space may be the middle of "Finance EU").
    let error = move || {
        let t = text.get();
        let show = attempted.get() || (!t.is_empty() && !t.ends_with(' '));
        if !show {
            return None;
        }
        check.with(|c| c.result.as_ref().err().cloned())
    };
    let warnings = move || {
        if text.with(String::is_empty) {
            Vec::new()
        } else {
            check.with(|c| c.warnings.clone())
        }
    };
    let described_by = move || {
        let mut names = vec!["tag-help"];
        if error().is_some() {
            names.push("tag-error");
        }
        if !warnings().is_empty() {
            names.push("tag-warnings");
        }
        ids.id(&names.join(" "))
    };

    view! {
        <div class="add-tag">
            <label for=ids.id("add-tag-input")>"Add a tag"</label>
            <div class="add-tag-row">
                <div class="combo">
                    <input id=ids.id("add-tag-input") type="text" autocomplete="off" spellcheck="false"
                        role="combobox" aria-autocomplete="list" aria-controls=ids.id("tag-suggestions")
                        aria-expanded=move || if expanded() { "true" } else { "false" }
                        aria-activedescendant=move || active.get().filter(|_| expanded()).map(|i| ids.id(&format!("tag-option-{i}")))
                        aria-invalid=move || error().is_some().then_some("true")
                        aria-describedby=described_by
                        prop:value=move || text.get()
                        on:input=move |ev| {
                            text.set(event_target_value(&ev));
                            open.set(true);
                            active.set(None);
                        }
                        on:keydown=on_keydown
                        on:blur=move |_| open.set(false)
                        data-testid="add-tag-input"/>
                    <ul id=ids.id("tag-suggestions") role="listbox" class="suggestions" aria-label="Known tags"
                        hidden=move || !expanded()>
                        {move || suggestions.get().into_iter().enumerate().map(|(i, s)| {
                            let pick = s.clone();
                            view! {
                                <li id=format!("tag-option-{i}") role="option" class="suggestion"
                                    class:active=move || active.get() == Some(i)
                                    aria-selected=move || if active.get() == Some(i) { "true" } else { "false" }
                                    on:mousedown=move |ev| {
                                        ev.prevent_default();
                                        submit(pick.clone());
                                    }>{s}</li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
                <button type="button" class="btn btn-primary" on:click=move |_| submit(text.get_untracked())
                    data-testid="add-tag-button">"Add"</button>
            </div>
            <p id=ids.id("tag-help") class="hint">"Up to 200 characters. Suggestions come from tags already used in the tenant."</p>
            {move || error().map(|e| view! { <p id=ids.id("tag-error") class="error-text" data-testid="tag-error">{e}</p> })}
            {move || {
                let w = warnings();
                (!w.is_empty()).then(|| view! {
                    <ul id=ids.id("tag-warnings") class="warning-list" data-testid="tag-warnings">
                        {w.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                    </ul>
                })
            }}
        </div>
    }
}
