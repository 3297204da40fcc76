//! The page's live region: results of tag changes (success, or failure and rollback).
//!
//! A success goes by itself after [`SUCCESS_NOTICE_MS`]; an error stays until dismissed, so it
//! cannot be missed. A notice belongs to the page it was raised on: moving to another page
//! clears it ([`ClearNoticeOnNavigate`]). A single add or remove offers Undo.

use leptos::prelude::*;

use crate::components::tag_editor::{SingleCtx, apply_single};
use crate::state::{NoticeCtx, NoticeKind, SUCCESS_NOTICE_MS};

/// Shows the current notice; screen readers announce it (`role=status` / `role=alert`).
#[component]
pub fn NoticeRegion() -> impl IntoView {
    let ctx = expect_context::<NoticeCtx>();
    let notice = ctx.0;
    let single = SingleCtx::from_context();
    // A success notice is cleared after a while, unless another notice replaced it meanwhile.
    Effect::new(move |_| {
        let Some((NoticeKind::Success, serial)) =
            notice.with(|n| n.as_ref().map(|n| (n.kind, n.serial)))
        else {
            return;
        };
        set_timeout(
            move || {
                if notice.try_with_untracked(|n| n.as_ref().map(|n| n.serial)) == Some(Some(serial))
                {
                    notice.try_set(None);
                }
            },
            std::time::Duration::from_millis(u64::try_from(SUCCESS_NOTICE_MS).unwrap_or(6_000)),
        );
    });
    view! {
        <div class="notice-region" aria-live="polite">
            {move || notice.get().map(|n| {
                let (class, role) = match n.kind {
                    NoticeKind::Success => ("notice notice-ok", "status"),
                    NoticeKind::Error => ("notice notice-error", "alert"),
                };
                let undo = n.undo.clone();
                view! {
                    <div class=class role=role data-testid="notice">
                        <span class="notice-text">{n.text}</span>
                        {undo.map(|change| view! {
                            <button type="button" class="btn btn-small" data-testid="notice-undo"
                                on:click=move |_| {
                                    notice.set(None);
                                    leptos::task::spawn_local(apply_single(single, change.clone()));
                                }>"Undo"</button>
                        })}
                        <button class="btn btn-quiet btn-small" aria-label="Dismiss message"
                            on:click=move |_| ctx.clear()>"\u{d7}"</button>
                    </div>
                }
            })}
        </div>
    }
}

/// Clears the notice when the route's path changes (inside a router only: an embedded mount
/// has no routes).
#[component]
pub fn ClearNoticeOnNavigate() -> impl IntoView {
    let ctx = expect_context::<NoticeCtx>();
    let path = leptos_router::hooks::use_location().pathname;
    Effect::new(move |previous: Option<String>| {
        let now = path.get();
        if previous.is_some_and(|p| p != now) {
            ctx.clear();
        }
        now
    });
}
