//! Client scenarios against a live emulator, shared by `browser.rs` (headless Chromium) and
//! `node.rs` (Node 20). Each scenario resets the emulator first.

// Test-only helpers: a failed expectation is a failed test, which is what `expect` reports.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

pub mod emulator;
#[cfg(feature = "js")]
pub mod facade;
pub mod scenarios;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use defender_tags_core::cloud::BaseUrl;
use defender_tags_wasm::{AccessToken, ClientConfig, DefenderClient, TokenError, TokenRequest};

/// Runs two futures concurrently on the single JS thread.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    struct Join<A: Future, B: Future> {
        a: Pin<Box<A>>,
        b: Pin<Box<B>>,
        ra: Option<A::Output>,
        rb: Option<B::Output>,
    }
    // The futures are boxed, so nothing inside `Join` is structurally pinned.
    impl<A: Future, B: Future> Unpin for Join<A, B> {}
    impl<A: Future, B: Future> Future for Join<A, B> {
        type Output = (A::Output, B::Output);
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = Pin::into_inner(self);
            if this.ra.is_none()
                && let Poll::Ready(v) = this.a.as_mut().poll(cx)
            {
                this.ra = Some(v);
            }
            if this.rb.is_none()
                && let Poll::Ready(v) = this.b.as_mut().poll(cx)
            {
                this.rb = Some(v);
            }
            if this.ra.is_some() && this.rb.is_some() {
                match (this.ra.take(), this.rb.take()) {
                    (Some(a), Some(b)) => Poll::Ready((a, b)),
                    _ => Poll::Pending,
                }
            } else {
                Poll::Pending
            }
        }
    }
    Join {
        a: Box::pin(a),
        b: Box::pin(b),
        ra: None,
        rb: None,
    }
    .await
}

/// Resolves after `ms` real milliseconds.
pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok());
        if let Some(f) = set_timeout {
            let _ = f.call2(&wasm_bindgen::JsValue::NULL, &resolve, &ms.into());
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Token requests a provider saw.
pub type Seen = Rc<RefCell<Vec<TokenRequest>>>;

/// A provider that hands out `token` and records every request.
pub fn fixed_tokens(token: String) -> (impl defender_tags_wasm::TokenProvider, Seen) {
    let seen: Seen = Rc::default();
    let log = seen.clone();
    let provider = move |request: TokenRequest| {
        log.borrow_mut().push(request);
        let token = token.clone();
        async move { AccessToken::new(token) }
    };
    (provider, seen)
}

/// A provider that returns `stale` unless asked to refresh, then `fresh`.
pub fn refreshing_tokens(
    stale: String,
    fresh: String,
) -> (impl defender_tags_wasm::TokenProvider, Seen) {
    let seen: Seen = Rc::default();
    let log = seen.clone();
    let provider = move |request: TokenRequest| {
        let token = if request.force_refresh {
            fresh.clone()
        } else {
            stale.clone()
        };
        log.borrow_mut().push(request);
        async move { AccessToken::new(token) }
    };
    (provider, seen)
}

/// A provider that always fails.
pub fn failing_tokens() -> impl defender_tags_wasm::TokenProvider {
    |_: TokenRequest| async { Err::<AccessToken, _>(TokenError::Provider("no session".into())) }
}

pub fn config(base: &str) -> ClientConfig {
    let mut config =
        ClientConfig::new(BaseUrl::parse(base).expect("emulator URL is a valid base URL"));
    config.time_scale = emulator::time_scale();
    config.timeout_ms = 10_000;
    config
}

/// A client for `persona` (`app`, `analyst`, `reader`) on the emulator.
pub async fn client_for(base: &str, persona: &str) -> (DefenderClient, Seen) {
    let token = emulator::token(base, persona).await;
    let (provider, seen) = fixed_tokens(token);
    (DefenderClient::new(config(base), provider), seen)
}

/// Defines one `#[wasm_bindgen_test]` per scenario; used by `browser.rs` and `node.rs`.
#[macro_export]
macro_rules! emulator_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                let Some(base) = common::emulator::url() else { return };
                common::emulator::reset(base).await;
                common::scenarios::$name(base).await;
            }
        )*
    };
}

/// Every scenario, once, for each runtime's test binary (`browser.rs`, `node.rs`), so the two
/// lists cannot drift apart.
#[macro_export]
macro_rules! all_emulator_tests {
    () => {
        emulator_tests!(
            list_and_paging,
            get_machine,
            find_by_tag,
            add_and_remove_tag,
            bulk_run_with_progress,
            bulk_run_abort,
            unauthorized_refreshes_once,
            unauthorized_twice_is_a_typed_error,
            forbidden_for_reader,
            not_found,
            too_many_requests_with_retry_after,
            server_errors_are_retried,
            timeout,
            undecodable_body,
            token_never_sent_to_a_second_origin,
            network_errors_are_typed,
        );

        /// The JS facade, called with the JS values a portal would pass.
        #[cfg(feature = "js")]
        mod facade {
            use super::common;
            use $crate::emulator_tests;

            emulator_tests!(
                facade_lists_and_rejects_with_defender_errors,
                facade_run_plan_with_progress_and_abort_signal,
                facade_plan_bulk_reads_every_input_shape,
            );
        }
    };
}
