//! Saving a text export (CSV, JSON) as a file: a Blob, an object URL and a temporary link.
//! Works under the page's CSP (no data: navigation, no inline script).

/// Why a download could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not save {file}: {reason}")]
pub struct DownloadError {
    /// The file name.
    pub file: String,
    /// What failed.
    pub reason: String,
}

/// Offers `text` as a download named `file` of type `mime`.
pub fn save_text(file: &str, mime: &str, text: &str) -> Result<(), DownloadError> {
    let fail = |reason: &str| DownloadError {
        file: file.to_owned(),
        reason: reason.to_owned(),
    };
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(mime);
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
            .map_err(|_| fail("the browser refused to build the file"))?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)
            .map_err(|_| fail("the browser refused an object URL"))?;
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| fail("no document"))?;
        let link = document
            .create_element("a")
            .ok()
            .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
            .ok_or_else(|| fail("cannot create a link"))?;
        link.set_href(&url);
        link.set_download(file);
        link.set_hidden(true);
        let body = document.body().ok_or_else(|| fail("no body"))?;
        let _ = body.append_child(&link);
        link.click();
        link.remove();
        // Revoked on the next turn: the click has started the download by then.
        leptos::prelude::set_timeout(
            move || {
                let _ = web_sys::Url::revoke_object_url(&url);
            },
            std::time::Duration::from_millis(1_000),
        );
        Ok(())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (mime, text);
        Err(fail("downloads need a browser"))
    }
}

/// Puts `text` on the clipboard; false where the browser offers no clipboard API (the caller
/// then shows the text to select instead).
pub fn copy_text(text: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::{JsCast, JsValue};
        let Some(window) = web_sys::window() else {
            return false;
        };
        let Ok(navigator) = js_sys::Reflect::get(&window, &JsValue::from_str("navigator")) else {
            return false;
        };
        let clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
            .ok()
            .filter(|c| !c.is_undefined() && !c.is_null());
        let Some(clipboard) = clipboard else {
            return false;
        };
        let write = js_sys::Reflect::get(&clipboard, &JsValue::from_str("writeText"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match write {
            // The promise may still be refused (no permission); the text stays on the page.
            Some(f) => f.call1(&clipboard, &JsValue::from_str(text)).is_ok(),
            None => false,
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = text;
        false
    }
}
