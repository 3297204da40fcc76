//! defender-tags-wasm (work in progress).
