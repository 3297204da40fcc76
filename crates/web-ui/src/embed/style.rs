//! The embedded components' stylesheet: adopted by each component's shadow root, so no rule
//! reaches the host page and the host's rules do not reach the component. Theming goes through
//! the inherited `--dt-*` custom properties only (www/theme.css, docs/embedding.md).

/// `www/embed.css` (the `:host` reset, first), then the app's theme and component styles. The
/// app's own page styles (www/shell.css: `html`, `body`, `#app`, the top bar) are left out.
pub const CSS: &str = concat!(
    include_str!("../../../../www/embed.css"),
    "\n",
    include_str!("../../../../www/theme.css"),
    "\n",
    include_str!("../../../../www/app.css"),
    "\n",
    include_str!("../../../../www/bulk.css"),
);

/// The public theming properties the stylesheet reads (`var(--dt-…, default)`), in order of
/// first use.
pub fn theme_properties() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut rest = CSS;
    while let Some(i) = rest.find("var(--dt-") {
        let start = i + "var(".len();
        let len = rest[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len() - start);
        let name = &rest[start..start + len];
        if !out.contains(&name) {
            out.push(name);
        }
        rest = &rest[start + len..];
    }
    out
}

/// Adopts the shared stylesheet into `root` (one `CSSStyleSheet` for all mounts on the page).
/// Constructed stylesheets are not inline styles for the host's CSP (`style-src 'self'` is
/// enough); where they are missing (very old browsers), a `<style>` element is the fallback.
#[cfg(target_arch = "wasm32")]
pub fn adopt(root: &web_sys::ShadowRoot) -> Result<(), wasm_bindgen::JsValue> {
    use std::cell::RefCell;
    thread_local! {
        static SHEET: RefCell<Option<web_sys::CssStyleSheet>> = const { RefCell::new(None) };
    }
    let sheet = SHEET.with(|cell| {
        if let Some(s) = cell.borrow().as_ref() {
            return Ok(s.clone());
        }
        let sheet = web_sys::CssStyleSheet::new()?;
        sheet.replace_sync(CSS)?;
        *cell.borrow_mut() = Some(sheet.clone());
        Ok::<_, wasm_bindgen::JsValue>(sheet)
    });
    match sheet {
        Ok(sheet) => {
            root.set_adopted_style_sheets(&js_sys::Array::of1(&sheet));
            Ok(())
        }
        Err(_) => {
            let document = web_sys::window()
                .and_then(|w| w.document())
                .ok_or_else(|| wasm_bindgen::JsValue::from_str("no document"))?;
            let style = document.create_element("style")?;
            style.set_text_content(Some(CSS));
            root.append_child(&style)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_has_no_root_rules_of_the_apps_page() {
        // The app's page rules live in shell.css; none may come in through the shared files.
        for selector in [
            "html, body",
            "#app {",
            "\nmain {",
            ".top-bar {",
            ".skip-link",
        ] {
            assert!(
                !CSS.contains(selector),
                "{selector:?} is in the embed stylesheet"
            );
        }
        assert!(CSS.contains(":host { all: initial; display: block; }"));
        // The reset comes first: later `:host` rules (theme.css) set the component's own font.
        assert!(CSS.find(":host { all: initial").unwrap() < CSS.find(":root, :host {").unwrap());
    }

    #[test]
    fn theme_properties_are_read_from_the_stylesheet() {
        let props = theme_properties();
        assert_eq!(props.first(), Some(&"--dt-bg"));
        for p in [
            "--dt-accent",
            "--dt-focus",
            "--dt-font-family",
            "--dt-radius",
        ] {
            assert!(props.contains(&p), "{p} missing from {props:?}");
        }
        assert!(props.iter().all(|p| p.starts_with("--dt-") && p.len() > 5));
    }

    #[test]
    fn the_embedding_guide_documents_every_theme_property() {
        let guide = include_str!("../../../../docs/embedding.md");
        for p in theme_properties() {
            assert!(
                guide.contains(&format!("| `{p}` |")),
                "{p} is not in docs/embedding.md's theming table"
            );
        }
    }
}
