//! `DefenderClient`: core's requests and decoders + a transport + a token provider + one rate
//! budget shared by every call of the client and, in a browser, by every client of the origin
//! (crate::budget).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use defender_tags_core::api::{self, ApiError, ApiRequest};

use defender_tags_core::throttle::{Acquire, RateLimiter};

use crate::abort::AbortHandle;
use crate::budget::{self, LedgerStore, SharedBudget};
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::policy::{Decision, Policy, as_ms};
use crate::token::{TokenProvider, TokenRequest};
use crate::transport::{HttpRequest, HttpResponse, Transport};

/// Per-call hooks: abort and a report of each wait before it starts (bulk runs), and a report
/// that a request is on its way (a listing starts the next page's request, then decodes).
#[derive(Default)]
pub(crate) struct CallCtx<'a> {
    pub abort: Option<&'a AbortHandle>,
    pub on_wait: Option<&'a dyn Fn(u64)>,
    /// Called once the transport has been handed an attempt and polled once: from then on the
    /// platform (the browser's network stack) carries it without this future being polled.
    pub on_sent: Option<&'a dyn Fn()>,
}

pub(crate) struct Inner {
    pub config: ClientConfig,
    pub api_origin: String,
    pub(crate) tokens: Box<dyn TokenProvider>,
    pub transport: Rc<dyn Transport>,
    policy: RefCell<Policy>,
    /// The budget shared with the other clients of this browser; `None` where there is no
    /// store (then `policy`'s limiter is the only one).
    budget: Option<Rc<SharedBudget>>,
    /// Whether `policy` took over from a shared budget whose store failed.
    fell_back: Cell<bool>,
    /// Sum and count of finished call durations (real ms), for the ETA.
    timing: RefCell<(f64, u32)>,
    /// Advanced hunting's own budget (core's `HUNTING_LIMITS`), apart from the API's.
    pub(crate) hunting: RefCell<RateLimiter>,
}

/// A Defender for Endpoint API client. Cheap to clone (clones share the limiter); `!Send`.
/// In a browser every client of the same API shares one rate budget (see [`crate::budget`]).
#[derive(Clone)]
pub struct DefenderClient {
    pub(crate) inner: Rc<Inner>,
}

impl std::fmt::Debug for DefenderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefenderClient")
            .field("api_origin", &self.inner.api_origin)
            .finish_non_exhaustive()
    }
}

impl DefenderClient {
    /// A client over the runtime's global `fetch`, sharing its rate budget through the
    /// runtime's IndexedDB where there is one (else with no other client). Natively (no
    /// `fetch`), every call fails with a `Network` error; use
    /// [`with_transport`](Self::with_transport) there.
    pub fn new(config: ClientConfig, tokens: impl TokenProvider + 'static) -> Self {
        Self::with_budget_store(
            config,
            tokens,
            Rc::new(crate::default_transport()),
            budget::default_store(),
        )
    }

    /// A client over any [`Transport`] (tests, custom runtimes), with a rate limiter of its own.
    pub fn with_transport(
        config: ClientConfig,
        tokens: impl TokenProvider + 'static,
        transport: Rc<dyn Transport>,
    ) -> Self {
        Self::with_budget_store(config, tokens, transport, None)
    }

    /// A client over any [`Transport`] that shares its rate budget with every client given the
    /// same `store` (and the same API base URL and time scale); `None` keeps it to itself.
    pub fn with_budget_store(
        config: ClientConfig,
        tokens: impl TokenProvider + 'static,
        transport: Rc<dyn Transport>,
        store: Option<Rc<dyn LedgerStore>>,
    ) -> Self {
        let api_origin = config.base_url.as_str().to_owned();
        let policy = Policy::new(config.jitter_seed, config.max_attempts);
        let budget = store.map(|store| {
            // Unanswered longer than the fetch timeout plus a token allowance, a call of this
            // client can only belong to a client that is gone.
            let flight_real_ms = u64::from(config.timeout_ms) + TOKEN_ALLOWANCE_MS;
            let max_flight_ms = as_ms((flight_real_ms as f64 * config.scale()).ceil());
            Rc::new(SharedBudget::new(
                store,
                budget::ledger_key(&api_origin, config.scale()),
                budget::client_id(config.jitter_seed),
                config.budget_scope.clone(),
                max_flight_ms,
            ))
        });
        Self {
            inner: Rc::new(Inner {
                config,
                api_origin,
                tokens: Box::new(tokens),
                transport,
                policy: RefCell::new(policy),
                budget,
                fell_back: Cell::new(false),
                timing: RefCell::new((0.0, 0)),
                hunting: RefCell::new(defender_tags_core::hunting::hunting_rate_limiter()),
            }),
        }
    }

    /// The shared budget while its store works. The first time it is found failed, this
    /// client's limiter takes over from the last ledger it read, so the calls it knew of keep
    /// their slots.
    fn shared(&self) -> Option<&Rc<SharedBudget>> {
        let budget = self.inner.budget.as_ref()?;
        if budget.active() {
            return Some(budget);
        }
        if !self.inner.fell_back.replace(true) {
            let now = as_ms(self.api_now());
            self.inner
                .policy
                .borrow_mut()
                .replace_limiter(budget.fallback_limiter(now));
        }
        None
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Calls counted in the current (minute, hour) rate windows: with a shared budget, those of
    /// every client sharing it, as of this client's last look at the ledger.
    pub fn rate_usage(&self) -> (u32, u32) {
        let now = self.api_now();
        match self.shared() {
            Some(shared) => shared.usage(as_ms(now)),
            None => self.inner.policy.borrow_mut().usage(now),
        }
    }

    /// Mean real duration of the calls finished so far.
    pub(crate) fn mean_call_ms(&self) -> Option<f64> {
        let (sum, n) = *self.inner.timing.borrow();
        (n > 0).then(|| sum / f64::from(n))
    }

    pub(crate) fn api_now(&self) -> f64 {
        self.inner.transport.now_ms() * self.inner.config.scale()
    }

    pub(crate) fn to_real_ms(&self, api_ms: u64) -> u64 {
        // `as` saturates; the ceil keeps a 1 ms API wait from becoming a 0 ms busy loop.
        (api_ms as f64 / self.inner.config.scale()).ceil() as u64
    }

    /// Builds the URL of a core request. Core owns the URL grammar.
    pub(crate) fn http_request(&self, request: &ApiRequest) -> HttpRequest {
        HttpRequest {
            method: request.method.as_str().to_owned(),
            url: request.url(&self.inner.config.base_url),
            headers: request.headers.clone(),
            body: request.body.clone(),
        }
    }

    async fn wait(&self, real_ms: u64, ctx: &CallCtx<'_>) -> bool {
        if let Some(on_wait) = ctx.on_wait {
            on_wait(real_ms);
        }
        let sleep = self.inner.transport.sleep(real_ms);
        match ctx.abort {
            Some(abort) => abort.or_abort(sleep).await.is_some(),
            None => {
                sleep.await;
                true
            }
        }
    }

    /// Waits for a slot in the shared rate windows and returns the API time it was granted at.
    /// None when aborted while waiting.
    async fn acquire_slot(&self, ctx: &CallCtx<'_>) -> Option<u64> {
        loop {
            if ctx.abort.is_some_and(AbortHandle::is_aborted) {
                return None;
            }
            let now = self.api_now();
            let waited = match self.shared() {
                Some(shared) => match shared.try_begin(as_ms(now)).await {
                    Some(Acquire::Granted) => Ok(as_ms(now)),
                    Some(Acquire::Wait { ms }) => Err(ms),
                    // The store failed: ask again, from this client's own limiter.
                    None => continue,
                },
                None => self.inner.policy.borrow_mut().acquire(now),
            };
            match waited {
                Ok(granted) => return Some(granted),
                Err(api_ms) => {
                    if !self.wait(self.to_real_ms(api_ms).max(1), ctx).await {
                        return None;
                    }
                }
            }
        }
    }

    /// One logical call: rate limit, token, origin check, fetch, decode, and the retry policy.
    ///
    /// Retrying is safe for every request this client makes: GETs are reads, and adding or
    /// removing a tag is idempotent in effect (adding a present tag or removing an absent one
    /// leaves the machine as the first attempt would have), so a POST whose response was lost
    /// may be sent again.
    pub(crate) async fn execute<T>(
        &self,
        request: HttpRequest,
        decode: impl Fn(&HttpResponse) -> Result<T, ApiError>,
        ctx: &CallCtx<'_>,
    ) -> Result<T, ClientError> {
        let response = self.exchange(request, ctx).await?;
        decode(&response).map_err(ClientError::Api)
    }

    /// The retry loop, not generic over the result type (one copy in the wasm): returns the
    /// final response (success, or a failure core says not to retry, which the caller's
    /// decoder turns into the typed error) or the transport failure.
    pub(crate) async fn exchange(
        &self,
        request: HttpRequest,
        ctx: &CallCtx<'_>,
    ) -> Result<HttpResponse, ClientError> {
        let inner = &self.inner;
        // Before anything else: a URL off the API origin never gets a token.
        self.check_origin(&request.url)?;
        let mut attempt: u32 = 0;
        let mut force_refresh = false;
        let mut refreshed = false;
        // The failure of the previous attempt: an abort before the next one is sent must still
        // say that an earlier attempt may have applied (e.g. a 503).
        let mut last_error: Option<ClientError> = None;
        // Sticky for a write: the first failure that may have applied it. A later attempt's
        // 429, 401 or abort says only that *that* attempt changed nothing, so whatever ends
        // the call is reported through `ClientError::after` and never reads as "not applied".
        let write = request.method != "GET";
        let mut uncertain: Option<ClientError> = None;
        let aborted = |last_error: Option<ClientError>, uncertain: &Option<ClientError>| {
            ClientError::after(
                ClientError::Aborted {
                    last_error: last_error.map(Box::new),
                },
                uncertain.as_ref(),
            )
        };
        loop {
            attempt += 1;
            let Some(granted) = self.acquire_slot(ctx).await else {
                return Err(aborted(last_error, &uncertain));
            };
            let mut slot = Slot {
                client: self,
                granted,
                sent: false,
            };
            let token = match inner
                .tokens
                .token(TokenRequest {
                    scopes: inner.config.scopes.clone(),
                    force_refresh,
                })
                .await
            {
                Ok(token) => token,
                Err(e) => {
                    return Err(ClientError::after(
                        ClientError::Token(e),
                        uncertain.as_ref(),
                    ));
                }
            };
            // The token may take a while (a silent MSAL refresh): an abort meanwhile means this
            // call is not sent at all.
            if ctx.abort.is_some_and(AbortHandle::is_aborted) {
                return Err(aborted(last_error, &uncertain));
            }
            let mut http = request.clone();
            http.headers
                .push(("Authorization".to_owned(), token.bearer_header()));
            drop(token);
            // Asserted again right before the fetch that carries the token.
            self.check_origin(&http.url)?;
            let started = inner.transport.now_ms();
            slot.sent = true;
            let mut send = inner.transport.send(http, inner.config.timeout_ms);
            let mut reported = false;
            let sent = std::future::poll_fn(|cx| {
                let polled = send.as_mut().poll(cx);
                if !std::mem::replace(&mut reported, true)
                    && let Some(on_sent) = ctx.on_sent
                {
                    on_sent();
                }
                polled
            })
            .await;
            // Count the call from its answer: the service saw it somewhere in between, after a
            // token and network latency that vary from call to call.
            drop(slot);
            {
                let mut timing = inner.timing.borrow_mut();
                timing.0 += (inner.transport.now_ms() - started).max(0.0);
                timing.1 += 1;
            }
            let (error, response) = match sent {
                Ok(response) if (200..300).contains(&response.status) => return Ok(response),
                Ok(response) => (
                    ClientError::Api(api::decode_error(
                        response.status,
                        &response.headers,
                        &response.body,
                    )),
                    Some(response),
                ),
                Err(e) => (ClientError::from(e), None),
            };
            if write && uncertain.is_none() && error.may_have_applied() {
                uncertain = Some(error.clone());
            }
            let (decision, blocked) = inner.policy.borrow_mut().decide(
                &error,
                attempt,
                refreshed,
                self.api_now(),
                inner.transport.now_ms(),
            );
            // A Retry-After pauses every client of this budget, not only this one.
            if let (Some(until), Some(shared)) = (blocked, self.shared()) {
                shared.block(until);
            }
            match decision {
                Decision::GiveUp => {
                    return match (response, &uncertain) {
                        // The caller's decoder turns the answer into the same typed error;
                        // only when an earlier attempt may have applied must it be wrapped here.
                        (Some(_), Some(_)) if !error.may_have_applied() => {
                            Err(ClientError::after(error, uncertain.as_ref()))
                        }
                        (Some(response), _) => Ok(response),
                        (None, _) => Err(ClientError::after(error, uncertain.as_ref())),
                    };
                }
                Decision::RefreshToken => {
                    force_refresh = true;
                    refreshed = true;
                }
                Decision::Retry { api_ms } => {
                    force_refresh = false;
                    if !self.wait(self.to_real_ms(api_ms), ctx).await {
                        return Err(aborted(Some(error), &uncertain));
                    }
                }
            }
            last_error = Some(error);
        }
    }

    /// The token guard: `url` must be on the configured API origin (scheme, host and port,
    /// compared by core's `BaseUrl`), or nothing is sent and no token is even requested.
    fn check_origin(&self, url: &str) -> Result<(), ClientError> {
        if self.inner.config.base_url.same_origin(url) {
            Ok(())
        } else {
            Err(ClientError::foreign_origin(url, &self.inner.api_origin))
        }
    }

    /// Sends a core-built request and decodes the answer with `decode`.
    pub(crate) async fn call<T>(
        &self,
        request: &ApiRequest,
        decode: impl Fn(&HttpResponse) -> Result<T, ApiError>,
        ctx: &CallCtx<'_>,
    ) -> Result<T, ClientError> {
        self.execute(self.http_request(request), decode, ctx).await
    }
}

/// A granted rate-limit slot of one attempt, released when dropped: counted from that moment
/// (the answer's arrival, in the normal case) once the request was handed to the transport, or
/// cancelled if it never was (an abort or a token failure first). Dropping the whole call future
/// mid-flight therefore still counts the request the service may have seen, and no attempt holds
/// a slot forever.
struct Slot<'a> {
    client: &'a DefenderClient,
    granted: u64,
    sent: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let now = self.client.api_now();
        if let Some(shared) = self.client.shared() {
            if self.sent {
                shared.settle(self.granted, as_ms(now));
            } else {
                shared.cancel(self.granted);
            }
            return;
        }
        let mut policy = self.client.inner.policy.borrow_mut();
        if self.sent {
            policy.settle(self.granted, now);
        } else {
            policy.cancel(self.granted);
        }
    }
}

/// Real milliseconds a granted call may wait for its token before it is sent (a silent
/// refresh); beyond them plus the timeout, other clients no longer keep its slot.
const TOKEN_ALLOWANCE_MS: u64 = 30_000;

/// Core's decoder shape: `(status, headers, body)`.
pub(crate) type Decoder<T> = fn(u16, &[(String, String)], &[u8]) -> Result<T, ApiError>;

/// Adapts core's `(status, headers, body)` decoders to [`HttpResponse`].
pub(crate) fn with_response<T>(
    decode: Decoder<T>,
) -> impl Fn(&HttpResponse) -> Result<T, ApiError> {
    move |r: &HttpResponse| decode(r.status, &r.headers, &r.body)
}
