//! Says up front, with the reason, what a read-only sign-in cannot do on this page, so nobody
//! composes a change only to be refused at the last step.

use leptos::prelude::*;

use crate::components::top_bar::use_app_state;
use crate::state::Session;

/// Whether the signed-in user may change tags.
pub fn can_edit() -> Signal<bool> {
    let state = use_app_state();
    Signal::derive(move || state.session.0.with(Session::can_edit))
}

/// Shown only to a signed-in user who may not change tags: what they cannot do here and why.
#[component]
pub fn ReadOnlyBanner(
    /// What the page's actions do ("run bulk changes").
    what: &'static str,
) -> impl IntoView {
    let state = use_app_state();
    let text = move || {
        state.session.0.with(|s| {
            let user = s.user()?;
            (!user.access.can_edit()).then(|| {
                format!(
                    "Read-only sign-in: you can look and preview, but not {what}. That needs Machine.ReadWrite \
                     (you have {}) and a Defender role that may manage tags.",
                    user.access.summary()
                )
            })
        })
    };
    move || {
        text().map(|t| {
            view! { <p class="warning-text read-only-banner" role="note" data-testid="read-only-banner">{t}</p> }
        })
    }
}
