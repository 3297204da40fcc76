//! What keeps a mounted component alive: a registry on the Rust side, keyed by mount, not the JS
//! handle. A component stays until `handle.unmount()` or until the host removes its element from
//! the page (a `MutationObserver` notices); a handle that the host drops and the garbage
//! collector frees changes nothing.

use std::any::Any;
use std::cell::RefCell;

use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::Closure;

/// One mounted component.
struct Mounted {
    id: u32,
    /// The host's element (the shadow host).
    host: web_sys::Element,
    /// The shadow root the component renders into.
    root: web_sys::ShadowRoot,
    /// Whether `host` has been in the page: a component mounted into a detached element stays
    /// until that element has been attached and removed again.
    seen_connected: bool,
    /// Leptos' unmount handle: dropping it removes the view and disposes its reactive state.
    view: Box<dyn Any>,
}

#[derive(Default)]
struct Live {
    next: u32,
    mounts: Vec<Mounted>,
    observer: Option<(web_sys::MutationObserver, Closure<dyn FnMut()>)>,
}

thread_local! {
    static LIVE: RefCell<Live> = RefCell::new(Live::default());
}

/// Why a shadow root cannot be had for an element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    /// A component is mounted there already.
    #[error("a component is already mounted in this element; call unmount() on its handle first")]
    AlreadyMounted,
    /// The element has a shadow root that is not ours.
    #[error("the element already has a shadow root of its own; mount into an empty <div>")]
    ForeignShadowRoot,
    /// The browser refused to attach one (for example to an `<input>` or `<p>`).
    #[error("cannot attach a shadow root to <{0}>; mount into a <div> or <section>")]
    CannotAttach(String),
}

/// The class of the element each component renders into, inside its shadow root.
pub const ROOT_CLASS: &str = "dt-root";

/// The shadow root to mount into: a new open one, or the empty one a previous mount of ours left.
pub fn shadow_root_for(host: &web_sys::Element) -> Result<web_sys::ShadowRoot, RootError> {
    if LIVE.with(|l| l.borrow().mounts.iter().any(|m| &m.host == host)) {
        return Err(RootError::AlreadyMounted);
    }
    if let Some(root) = host.shadow_root() {
        // Ours if it is empty (left by `unmount`) or holds only our container.
        let ours = root.child_element_count() == 0
            || root
                .first_element_child()
                .is_some_and(|c| c.class_list().contains(ROOT_CLASS));
        if !ours {
            return Err(RootError::ForeignShadowRoot);
        }
        root.set_inner_html("");
        return Ok(root);
    }
    host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .map_err(|_| RootError::CannotAttach(host.tag_name().to_ascii_lowercase()))
}

/// Keeps `view` mounted in `root` (the shadow root of `host`) until [`unmount`] or until `host`
/// leaves the page; returns the mount's id.
pub fn register(host: web_sys::Element, root: web_sys::ShadowRoot, view: Box<dyn Any>) -> u32 {
    let watch = host.get_root_node();
    LIVE.with(|l| {
        let mut live = l.borrow_mut();
        live.next += 1;
        let id = live.next;
        let seen_connected = host.is_connected();
        live.mounts.push(Mounted {
            id,
            host,
            root,
            seen_connected,
            view,
        });
        if live.observer.is_none() {
            let callback = Closure::<dyn FnMut()>::new(sweep);
            if let Ok(observer) = web_sys::MutationObserver::new(callback.as_ref().unchecked_ref())
            {
                live.observer = Some((observer, callback));
            }
        }
        if let Some((observer, _)) = &live.observer {
            let options = web_sys::MutationObserverInit::new();
            options.set_child_list(true);
            options.set_subtree(true);
            // The document sees any removal that takes the host out of the page; a host inside a
            // web component's shadow root is removed inside that root, so it is watched too.
            if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
                let _ = observer.observe_with_options(&doc, &options);
            }
            if !watch.is_instance_of::<web_sys::Document>() {
                let _ = observer.observe_with_options(&watch, &options);
            }
        }
        id
    })
}

/// Unmounts mount `id`; false if it is not mounted (already unmounted or removed).
pub fn unmount(id: u32) -> bool {
    let taken = LIVE.with(|l| {
        let mut live = l.borrow_mut();
        let i = live.mounts.iter().position(|m| m.id == id)?;
        Some(live.mounts.remove(i))
    });
    match taken {
        Some(m) => {
            dispose(m);
            disconnect_if_idle();
            true
        }
        None => false,
    }
}

/// Whether mount `id` is still mounted.
pub fn is_mounted(id: u32) -> bool {
    LIVE.with(|l| l.borrow().mounts.iter().any(|m| m.id == id))
}

/// How many components are mounted on this page.
pub fn count() -> usize {
    LIVE.with(|l| l.borrow().mounts.len())
}

/// Drops the mounts whose host has left the page (called by the observer).
fn sweep() {
    let gone: Vec<Mounted> = LIVE.with(|l| {
        let mut live = l.borrow_mut();
        let mut gone = Vec::new();
        let mut i = 0;
        while i < live.mounts.len() {
            let m = &mut live.mounts[i];
            if m.host.is_connected() {
                m.seen_connected = true;
                i += 1;
            } else if m.seen_connected {
                gone.push(live.mounts.remove(i));
            } else {
                i += 1;
            }
        }
        gone
    });
    let any = !gone.is_empty();
    // Disposed outside the borrow: dropping a view runs its cleanups, which may mount or
    // unmount in turn.
    for m in gone {
        dispose(m);
    }
    if any {
        disconnect_if_idle();
    }
}

fn dispose(m: Mounted) {
    drop(m.view);
    m.root.set_inner_html("");
}

/// Stops watching the page while nothing is mounted. The observer and its callback are kept (the
/// callback may be the caller: it must not be freed while it runs).
fn disconnect_if_idle() {
    LIVE.with(|l| {
        let live = l.borrow();
        if live.mounts.is_empty()
            && let Some((observer, _)) = &live.observer
        {
            observer.disconnect();
        }
    });
}
