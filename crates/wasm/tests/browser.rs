//! The client against a live emulator in headless Chromium (cross-origin: the emulator runs with
//! `--cors-origin '*'`, the test page is served by wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

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
    use crate::emulator_tests;

    emulator_tests!(
        facade_lists_and_rejects_with_defender_errors,
        facade_run_plan_with_progress_and_abort_signal,
    );
}
