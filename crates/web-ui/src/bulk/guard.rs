//! Keeps the page while a bulk run is in flight.
//!
//! A reload, a closed tab or a sign-in redirect in the middle of a run would leave a partly
//! applied change with no report, no undo and no activity entry (they are written when the run
//! ends). While a [`RunGuard`] lives, the browser asks before leaving the page, and the sign-in
//! glue fails a token request that needs interaction instead of redirecting: the run then stops
//! like any other failed call, with its per-machine report and undo.

/// Held for the duration of one run; dropping it lifts both holds.
#[derive(Debug)]
pub struct RunGuard {
    #[cfg(target_arch = "wasm32")]
    listener: Option<wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>>,
}

impl RunGuard {
    /// Starts guarding the page.
    pub fn engage() -> Self {
        crate::msal::hold_redirects(true);
        #[cfg(target_arch = "wasm32")]
        {
            use wasm_bindgen::JsCast;
            use wasm_bindgen::closure::Closure;
            let listener = web_sys::window().and_then(|w| {
                let closure = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
                    // Current browsers show their "leave site?" prompt on preventDefault;
                    // older ones wanted a returnValue.
                    e.prevent_default();
                    let _ = js_sys::Reflect::set(&e, &"returnValue".into(), &"".into());
                });
                w.add_event_listener_with_callback("beforeunload", closure.as_ref().unchecked_ref())
                    .ok()
                    .map(|()| closure)
            });
            Self { listener }
        }
        #[cfg(not(target_arch = "wasm32"))]
        Self {}
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        crate::msal::hold_redirects(false);
        #[cfg(target_arch = "wasm32")]
        if let (Some(closure), Some(w)) = (self.listener.take(), web_sys::window()) {
            use wasm_bindgen::JsCast;
            let _ = w.remove_event_listener_with_callback(
                "beforeunload",
                closure.as_ref().unchecked_ref(),
            );
        }
    }
}
