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

impl Reply {
    /// What the transport hands the client for this scripted reply.
    fn into_response(self) -> Result<HttpResponse, TransportError> {
        match self {
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
    }
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
        Box::pin(async move { reply.into_response() })
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

/// Answers a request (its index and the request): the answer's latency in real ms, and the reply.
pub type Responder = Box<dyn Fn(usize, &HttpRequest) -> (f64, Reply)>;

#[derive(Default)]
struct SimState {
    now: f64,
    next_timer: u64,
    /// Due times of the sends and sleeps not yet finished, by timer id.
    timers: std::collections::BTreeMap<u64, f64>,
    in_flight: usize,
    max_in_flight: usize,
}

/// A transport on virtual time where calls take time and overlap: each send answers after its
/// latency, each sleep after its duration, and [`SimTransport::run`] advances the clock to the
/// next due answer or sleep whenever everything is waiting. Records when each request was sent
/// and answered, and how many were in flight at most.
pub struct SimTransport {
    state: RefCell<SimState>,
    responder: Responder,
    /// (sent at, answered at) per request, real ms; answered is NaN until it is.
    pub exchanges: RefCell<Vec<(f64, f64)>>,
    pub sent: RefCell<Vec<HttpRequest>>,
    pub sleeps: RefCell<Vec<u64>>,
    /// Called with a request's index when it is sent.
    pub on_send: RefCell<Option<SendHook>>,
}

impl SimTransport {
    pub fn new(responder: Responder) -> Rc<Self> {
        Rc::new(Self {
            state: RefCell::new(SimState {
                now: 1_000_000.0,
                ..SimState::default()
            }),
            responder,
            exchanges: RefCell::new(Vec::new()),
            sent: RefCell::new(Vec::new()),
            sleeps: RefCell::new(Vec::new()),
            on_send: RefCell::new(None),
        })
    }

    /// Most requests ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.borrow().max_in_flight
    }

    fn timer(&self, after_ms: f64) -> Timer<'_> {
        let mut state = self.state.borrow_mut();
        let id = state.next_timer;
        state.next_timer += 1;
        let due = state.now + after_ms;
        state.timers.insert(id, due);
        Timer { sim: self, id, due }
    }

    /// Runs `future` to completion on virtual time. Panics on a deadlock (nothing due, yet the
    /// future waits).
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            let mut state = self.state.borrow_mut();
            let next = state.timers.values().copied().fold(f64::INFINITY, f64::min);
            assert!(next.is_finite(), "deadlock: the future waits for nothing");
            state.now = state.now.max(next);
        }
    }
}

/// A pending answer or sleep: ready once the virtual clock reaches `due`. Dropped (an abort cut
/// it short), it stops holding the clock back.
struct Timer<'a> {
    sim: &'a SimTransport,
    id: u64,
    due: f64,
}

impl Future for Timer<'_> {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        // No waker needed: `SimTransport::run` polls again after every clock step.
        if self.sim.state.borrow().now >= self.due {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.sim.state.borrow_mut().timers.remove(&self.id);
    }
}

impl Transport for SimTransport {
    fn send(
        &self,
        request: HttpRequest,
        _timeout_ms: u32,
    ) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        let index = self.sent.borrow().len();
        let (latency, reply) = (self.responder)(index, &request);
        self.sent.borrow_mut().push(request);
        let now = self.now_ms();
        self.exchanges.borrow_mut().push((now, f64::NAN));
        {
            let mut state = self.state.borrow_mut();
            state.in_flight += 1;
            state.max_in_flight = state.max_in_flight.max(state.in_flight);
        }
        if let Some(hook) = self.on_send.borrow().as_ref() {
            hook(index);
        }
        let timer = self.timer(latency);
        Box::pin(async move {
            timer.await;
            self.state.borrow_mut().in_flight -= 1;
            if let Some(exchange) = self.exchanges.borrow_mut().get_mut(index) {
                exchange.1 = self.now_ms();
            }
            reply.into_response()
        })
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        let timer = self.timer(ms as f64);
        Box::pin(async move {
            timer.await;
            self.sleeps.borrow_mut().push(ms);
        })
    }

    fn now_ms(&self) -> f64 {
        self.state.borrow().now
    }
}
