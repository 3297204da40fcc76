//! The client against a live emulator in headless Chromium (cross-origin: the test page is
//! served by wasm-bindgen-test-runner on `WASM_BINDGEN_TEST_ADDRESS`, and the emulator allows
//! exactly that origin with `--cors-origin`; see xtask/src/test.rs).
#![cfg(target_arch = "wasm32")]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

all_emulator_tests!();
