//! The same client code under Node 20 (no `run_in_browser`): the global `fetch` of Node, and
//! the edge proxy, against a live emulator.
#![cfg(target_arch = "wasm32")]

mod common;

all_emulator_tests!();
