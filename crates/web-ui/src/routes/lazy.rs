//! The pages that load on first use: everything but sign-in and the machine search; and the
//! interrupted-runs banner, which loads only when there is a run to offer.
//!
//! In the site's release build (`--features split`, `xtask/src/site.rs`), each page's code is a
//! `wasm_split` split point: the linker keeps it in the one wasm, `wasm-split-cli` moves it into
//! its own module, and the first visit downloads that module (about 10–70 KiB gzip) before the
//! page renders. Without the feature (tests, `cargo xtask demo --dev`) the same routes render the
//! page straight away, through the same code path.
//!
//! While a page's module downloads, its route shows the page's own frame and heading with a
//! "Loading…" line (after a short delay, so a fast load does not flash it), so nothing moves when
//! the page arrives. A failed download shows why and a "Try again" button; nothing is cached
//! from a failure, so the retry downloads afresh.

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;

use crate::bulk::journal;
use crate::components::interrupted_runs::{InterruptedRuns, on_each_sign_in};

/// Why the code behind a split point could not be loaded: a page here, the hunting calls of
/// `crate::hunting` or the bulk runs of `crate::bulk::runner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("its code could not be downloaded")]
pub struct PageLoadError;

#[cfg(feature = "split")]
impl From<leptos::wasm_split::SplitLoaderError> for PageLoadError {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        PageLoadError
    }
}

/// What a page's placeholder shows while its code loads: the page's frame and heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The page's `<h1>` text.
    pub title: &'static str,
    /// The classes of the page's outermost element (its width and spacing).
    pub class: &'static str,
}

type PageFuture = Pin<Box<dyn Future<Output = Result<AnyView, PageLoadError>>>>;

/// Declares the split point `$split` that builds `$view`, and `$load`, which loads and runs it.
///
/// The split function is synchronous (a split point is an `extern "C"` call) and builds the view
/// untracked: it runs inside a `Suspend`'s future, whose reads would otherwise re-run the whole
/// load on every change of a signal the view's setup reads.
// rustfmt re-indents the attribute below further on every run (not idempotent), hence the skip.
#[rustfmt::skip]
macro_rules! split_view {
    ($load:ident, $split:ident, $view:path) => {
        #[cfg_attr(
            feature = "split",
            ::leptos::wasm_split::wasm_split(
                $split,
                wasm_split_path = ::leptos::wasm_split,
                fallible
            )
        )]
        fn $split() -> Result<AnyView, PageLoadError> {
            Ok(untrack(|| $view().into_any()))
        }

        fn $load() -> PageFuture {
            #[cfg(feature = "split")]
            return Box::pin($split());
            #[cfg(not(feature = "split"))]
            return Box::pin(std::future::ready($split()));
        }
    };
}

/// Declares the route view `$route`, which loads `$page` through the split point `$split`.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident, $split:ident, $page:path, $frame:expr) => {
        $(#[$doc])*
        pub fn $route() -> impl IntoView {
            split_view!(load, $split, $page);
            lazy_route($frame, load)
        }
    };
}

lazy_page!(
    /// `/bulk`.
    bulk,
    dt_page_bulk,
    super::bulk::BulkPage,
    super::bulk::FRAME
);
lazy_page!(
    /// `/inventory`.
    inventory,
    dt_page_inventory,
    super::inventory::InventoryPage,
    super::inventory::FRAME
);
lazy_page!(
    /// `/rules`.
    rules,
    dt_page_rules,
    super::rules::RulesPage,
    super::rules::FRAME
);
lazy_page!(
    /// `/activity`.
    activity,
    dt_page_activity,
    super::activity::ActivityPage,
    super::activity::FRAME
);
lazy_page!(
    /// `/settings`.
    settings,
    dt_page_settings,
    super::settings::SettingsPage,
    super::settings::FRAME
);
lazy_page!(
    /// `/check`.
    check,
    dt_page_check,
    super::check::CheckPage,
    super::check::FRAME
);

split_view!(load_interrupted_runs, dt_interrupted_runs, InterruptedRuns);

/// The offer to pick up bulk runs the page lost ([`InterruptedRuns`], shown above every page).
/// Its code (reading and rebuilding journalled runs, their reports) loads only when the run
/// journal holds a run of the signed-in user that never finished: after each sign-in, a look at
/// the journal's run headers decides.
pub fn interrupted_runs() -> impl IntoView {
    let unfinished = RwSignal::new(false);
    on_each_sign_in(
        move || unfinished.set(false),
        move |store, scope| async move {
            unfinished.try_set(journal::any_interrupted(&store, &scope).await);
        },
    );
    move || {
        unfinished.get().then(|| {
            let banner = load_interrupted_runs();
            Suspend::new(send_wrapper::SendWrapper::new(async move {
                banner.await.unwrap_or_else(|e| {
                    view! {
                        <p class="error-text" role="alert" data-testid="interrupted-runs-failed">
                            {format!(
                                "A bulk run did not finish, but its report could not be shown: \
                                 {e}. Reload the page to see it."
                            )}
                        </p>
                    }
                    .into_any()
                })
            }))
        })
    }
}

/// Where a route's page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Loading,
    Shown,
    Failed,
}

/// The placeholder (while loading or failed) and, once loaded, the page.
fn lazy_route(frame: Frame, load: fn() -> PageFuture) -> impl IntoView {
    let stage = RwSignal::new(Stage::Loading);
    let attempt = RwSignal::new(0u32);
    let retry = move |_| {
        stage.set(Stage::Loading);
        attempt.update(|n| *n += 1);
    };
    let placeholder = move || {
        let failed = stage.get() == Stage::Failed;
        view! {
            <div class=frame.class data-testid="page-loading" aria-busy=(!failed).to_string()>
                <h1>{frame.title}</h1>
                {if failed {
                    view! {
                        <div class="page-load-failed" role="alert">
                            <p class="error-text">
                                {format!(
                                    "This page could not be loaded: {PageLoadError}. Check the \
                                     connection and try again; if the site was updated \
                                     meanwhile, reload the page.",
                                )}
                            </p>
                            <button type="button" class="btn" on:click=retry>"Try again"</button>
                        </div>
                    }
                        .into_any()
                } else {
                    view! { <p class="page-loading-note" role="status">"Loading\u{2026}"</p> }
                        .into_any()
                }}
            </div>
        }
    };
    view! {
        <Show when=move || stage.get() != Stage::Shown>{placeholder}</Show>
        {move || {
            attempt.track();
            let page = load();
            // A page is not `Send`; the future lives and is polled on this one thread.
            Suspend::new(send_wrapper::SendWrapper::new(async move {
                match page.await {
                    Ok(view) => {
                        stage.set(Stage::Shown);
                        Some(view)
                    }
                    Err(_) => {
                        stage.set(Stage::Failed);
                        None
                    }
                }
            }))
        }}
    }
}
