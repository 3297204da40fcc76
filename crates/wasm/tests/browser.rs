//! The client against a live emulator in headless Chromium (cross-origin: the emulator runs with
//! `--cors-origin '*'`, the test page is served by wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

all_emulator_tests!();
