//! Entry point of the wasm binary: panic messages to the console (dev builds; release builds trap
//! without one, docs/toolchain.md), then mount the app.

fn main() {
    console_error_panic_hook::set_once();
    defender_tags_web_ui::mount();
}
