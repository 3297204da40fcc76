//! Native test helpers: a minimal executor and a scripted transport with virtual time.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::token::LocalBoxFuture;
use crate::transport::{HttpRequest, HttpResponse, Transport, TransportError};

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(std::time::Duration::from_millis(50));
    }
}

/// Called with a request's index before it is answered.
pub type SendHook = Box<dyn Fn(usize)>;

/// What the fake answers to one request.
pub enum Reply {
    Http(u16, Vec<(&'static str, String)>, String),
    Fail(TransportError),
}

pub fn json(status: u16, body: &str) -> Reply {
    Reply::Http(
        status,
        vec![("content-type", "application/json".into())],
        body.into(),
    )
}

/// A transport that answers from a script and advances a virtual clock: each call takes
/// `call_ms`, each sleep advances time instantly.
#[derive(Default)]
pub struct FakeTransport {
    pub replies: RefCell<VecDeque<Reply>>,
    pub sent: RefCell<Vec<HttpRequest>>,
    pub sleeps: RefCell<Vec<u64>>,
    pub now: Cell<f64>,
    pub call_ms: f64,
    /// Called with the request index just before answering (e.g. to abort mid-call).
    pub on_send: RefCell<Option<SendHook>>,
}

impl FakeTransport {
    pub fn new(replies: Vec<Reply>) -> Rc<Self> {
        Self::with_call_ms(replies, 100.0)
    }

    pub fn with_call_ms(replies: Vec<Reply>, call_ms: f64) -> Rc<Self> {
        Rc::new(Self {
            replies: RefCell::new(replies.into()),
            call_ms,
            now: Cell::new(1_000_000.0),
            ..Self::default()
        })
    }
}

impl Transport for FakeTransport {
    fn send(
        &self,
        request: HttpRequest,
        _timeout_ms: u32,
    ) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        let index = self.sent.borrow().len();
        self.sent.borrow_mut().push(request);
        if let Some(hook) = self.on_send.borrow().as_ref() {
            hook(index);
        }
        self.now.set(self.now.get() + self.call_ms);
        let reply = self
            .replies
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("no scripted reply for request #{index}"));
        Box::pin(async move {
            match reply {
                Reply::Http(status, headers, body) => Ok(HttpResponse {
                    status,
                    headers: headers
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                    body: body.into_bytes(),
                }),
                Reply::Fail(e) => Err(e),
            }
        })
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        // Recorded when polled: a sleep cut short by an abort before it ran leaves no trace.
        Box::pin(async move {
            self.sleeps.borrow_mut().push(ms);
            self.now.set(self.now.get() + ms as f64);
        })
    }

    fn now_ms(&self) -> f64 {
        self.now.get()
    }
}
