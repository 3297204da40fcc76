//! Any path without a page.

use leptos::prelude::*;

/// "Page not found", with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="page narrow">
            <h1>"Page not found"</h1>
            <p>"There is no page at this address. " <a href=crate::site::href("/")>"Go to the machine search"</a> "."</p>
        </section>
    }
}
