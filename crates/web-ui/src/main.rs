//! Entry point of the wasm binary: panic messages to the console, then mount the app.

fn main() {
    console_error_panic_hook::set_once();
    defender_tags_web_ui::mount();
}
