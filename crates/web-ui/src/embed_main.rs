//! Entry point of the embed build (`defender-tags-wasm/ui`): only panic messages to the console
//! (dev builds; release builds trap without one, docs/toolchain.md).
//! Nothing is mounted until the host calls `mountTagManager` / `mountTagEditor`, and the host
//! page's DOM and URL are never touched otherwise.

fn main() {
    console_error_panic_hook::set_once();
    defender_tags_web_ui::embed::keep_exports();
}
