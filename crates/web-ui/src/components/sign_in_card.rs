//! What the search page shows instead of results when nobody is signed in.

use leptos::prelude::*;

use crate::components::top_bar::use_app_state;
use crate::session;
use crate::site;
use crate::state::Session;

/// Sign-in prompt, or why sign-in cannot start.
#[component]
pub fn SignInCard() -> impl IntoView {
    let state = use_app_state();
    let demo = move || crate::components::top_bar::effective_demo(&state);
    move || {
        let body = match state.session.0.get() {
            Session::NeedsSettings(why) => view! {
                <p>"Sign-in is not configured yet. " {why}</p>
                <p><a class="btn btn-primary" href=site::href("/settings")>"Open settings"</a></p>
            }
            .into_any(),
            Session::ConfigInvalid(problems) => view! {
                <p class="error-text" role="alert">
                    "This site's configuration (config.json) is invalid, so nothing is sent until                      it is fixed. Tell whoever runs this site:"
                </p>
                <ul class="config-errors" data-testid="config-errors">
                    {problems.into_iter().map(|p| view! { <li><code>{p}</code></li> }).collect_view()}
                </ul>
                <p class="muted">"The schema is in docs/deploy.md of Defender Tags."</p>
            }
            .into_any(),
            Session::Failed(why) => view! {
                <p class="error-text" role="alert">{why}</p>
                <p>
                    <button class="btn btn-primary" on:click=move |_| {
                        leptos::task::spawn_local(session::sign_in(state));
                    }>"Try again"</button>
                    " "
                    <a class="btn btn-quiet" href=site::href("/check")>"Check the connection"</a>
                </p>
            }
            .into_any(),
            Session::Starting | Session::Redirecting => view! { <p class="muted">"Signing in\u{2026}"</p> }.into_any(),
            _ => view! {
                <p>
                    {move || if demo() {
                        "Demo mode: sign in with the local emulator's identity provider and pick a persona."
                    } else {
                        "Sign in with your Microsoft Entra ID account. You need Machine.Read to search, and Machine.ReadWrite to change tags."
                    }}
                </p>
                <p><button class="btn btn-primary" on:click=move |_| {
                    leptos::task::spawn_local(session::sign_in(state));
                }>"Sign in"</button></p>
            }
            .into_any(),
        };
        view! {
            <section class="card sign-in-card" aria-labelledby="sign-in-title">
                <h1 id="sign-in-title">"Find machines and manage their tags"</h1>
                {body}
            </section>
        }
    }
}
