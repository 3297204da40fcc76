//! The client against a live emulator inside a dedicated Web Worker, where there is no `window`:
//! the transport must use the worker's global `fetch` (issue #4: Window, Worker and Node alike).
#![cfg(target_arch = "wasm32")]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

all_emulator_tests!();
