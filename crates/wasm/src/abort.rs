//! Cooperative cancellation for bulk runs.
//!
//! An [`AbortHandle`] is a shared flag plus the wakers of everything waiting on it. Waits (rate
//! limiter, Retry-After, backoff) are wrapped in [`AbortHandle::or_abort`] so an abort cuts them
//! short; an HTTP call already in flight is *not* cancelled by it: the runner awaits it so the
//! report can say exactly what was applied.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct State {
    aborted: bool,
    wakers: Vec<Waker>,
    listeners: Vec<Box<dyn FnOnce()>>,
}

/// A cloneable abort switch; all clones share one state.
#[derive(Clone, Default)]
pub struct AbortHandle {
    state: Rc<RefCell<State>>,
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("aborted", &self.is_aborted())
            .finish()
    }
}

impl AbortHandle {
    /// A handle that has not been aborted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests the abort. Idempotent; wakes every waiter and runs every listener once.
    pub fn abort(&self) {
        let (wakers, listeners) = {
            let mut state = self.state.borrow_mut();
            if state.aborted {
                return;
            }
            state.aborted = true;
            (
                std::mem::take(&mut state.wakers),
                std::mem::take(&mut state.listeners),
            )
        };
        // Outside the borrow: a listener may inspect the handle.
        for waker in wakers {
            waker.wake();
        }
        for listener in listeners {
            listener();
        }
    }

    /// True once [`abort`](Self::abort) was called on any clone.
    pub fn is_aborted(&self) -> bool {
        self.state.borrow().aborted
    }

    /// Runs `listener` when the handle is aborted (at once if it already is).
    pub fn on_abort(&self, listener: impl FnOnce() + 'static) {
        if self.is_aborted() {
            listener();
        } else {
            self.state.borrow_mut().listeners.push(Box::new(listener));
        }
    }

    /// Resolves to `Some(output)` when `future` finishes first, `None` when the abort comes first.
    pub fn or_abort<F: Future>(&self, future: F) -> OrAbort<F> {
        OrAbort {
            future: Box::pin(future),
            handle: self.clone(),
        }
    }

    fn register(&self, waker: &Waker) {
        let mut state = self.state.borrow_mut();
        if !state.wakers.iter().any(|w| w.will_wake(waker)) {
            state.wakers.push(waker.clone());
        }
    }
}

/// Future returned by [`AbortHandle::or_abort`].
pub struct OrAbort<F: Future> {
    future: Pin<Box<F>>,
    handle: AbortHandle,
}

impl<F: Future> fmt::Debug for OrAbort<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrAbort")
            .field("handle", &self.handle)
            .finish()
    }
}

impl<F: Future> Future for OrAbort<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.handle.is_aborted() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(out) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        self.handle.register(cx.waker());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::block_on;
    use std::cell::Cell;

    #[test]
    fn abort_is_shared_between_clones_and_idempotent() {
        let handle = AbortHandle::new();
        let clone = handle.clone();
        let fired = Rc::new(Cell::new(0));
        let f = fired.clone();
        handle.on_abort(move || f.set(f.get() + 1));
        assert!(!clone.is_aborted());
        clone.abort();
        clone.abort();
        assert!(handle.is_aborted());
        assert_eq!(fired.get(), 1);
        // A listener registered after the abort runs at once.
        let f = fired.clone();
        handle.on_abort(move || f.set(f.get() + 10));
        assert_eq!(fired.get(), 11);
    }

    #[test]
    fn or_abort_lets_a_finished_future_through_and_cuts_a_pending_one() {
        let handle = AbortHandle::new();
        assert_eq!(block_on(handle.or_abort(async { 7 })), Some(7));

        let never = std::future::pending::<u8>();
        let h = handle.clone();
        // Abort from "another task": the pending future is woken and resolves to None.
        let result = block_on(async move {
            let wait = h.or_abort(never);
            handle.abort();
            wait.await
        });
        assert_eq!(result, None);
    }
}
