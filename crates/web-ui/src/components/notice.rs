//! The page's live region: results of tag changes (success, or failure and rollback).

use leptos::prelude::*;

use crate::state::{NoticeCtx, NoticeKind};

/// Shows the current notice; screen readers announce it (`role=status` / `role=alert`).
#[component]
pub fn NoticeRegion() -> impl IntoView {
    let notice = expect_context::<NoticeCtx>().0;
    view! {
        <div class="notice-region" aria-live="polite">
            {move || notice.get().map(|n| {
                let (class, role) = match n.kind {
                    NoticeKind::Success => ("notice notice-ok", "status"),
                    NoticeKind::Error => ("notice notice-error", "alert"),
                };
                view! {
                    <div class=class role=role data-testid="notice">
                        <span class="notice-text">{n.text}</span>
                        <button class="btn btn-quiet btn-small" aria-label="Dismiss message"
                            on:click=move |_| notice.set(None)>"\u{d7}"</button>
                    </div>
                }
            })}
        </div>
    }
}
