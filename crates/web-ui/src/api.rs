//! The single place that calls the API client and turns its errors into sentences for the UI.
//!
//! Components talk to a [`Backend`]: in the app that is [`ClientBackend`] over
//! `defender_tags_wasm::DefenderClient`; DOM tests use [`FakeBackend`], an in-memory tenant.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use defender_tags_core::model::keep_listed_fields;
use defender_tags_core::{DeviceValue, Machine, MachineId, Tag, TagAction};
use defender_tags_wasm::{ClientError, DefenderClient, LocalBoxFuture};

use crate::access::Access;
use defender_tags_core::query::{MachineQuery, ServerQuery};

/// What kind of failure, for styling and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiErrorKind {
    /// Sign-in or token problem (401, token provider failure).
    Auth,
    /// The API refused the permission (403).
    Forbidden,
    /// The machine does not exist (any more).
    NotFound,
    /// Rate limited (429).
    Throttled,
    /// The request was invalid (400, or refused before sending).
    Invalid,
    /// No answer: network, timeout.
    Network,
    /// The API failed (5xx) or answered something unreadable.
    Server,
}

/// An error as shown to the user: one or two plain sentences, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    /// Category.
    pub kind: UiErrorKind,
    /// The text shown.
    pub message: String,
}

impl UiError {
    /// An error with a given text.
    pub fn new(kind: UiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Explains a client error. `writing` is true for tag changes (what a 403 means differs),
    /// `access` the permissions from the token (to name the missing one).
    pub fn from_client(e: &ClientError, writing: bool, access: &Access) -> UiError {
        use UiErrorKind::*;
        let status = e.status();
        match (e.code(), status) {
            ("forbidden", _) | (_, Some(403)) => {
                let text = if writing {
                    access.missing_for_write()
                } else {
                    format!(
                        "Permission denied: listing machines needs Machine.Read or \
                         Machine.ReadWrite (you have {}), and a Defender role with \
                         \u{201c}View data\u{201d}.",
                        access.summary()
                    )
                };
                UiError::new(Forbidden, text)
            }
            ("unauthorized", _) | (_, Some(401)) => UiError::new(
                Auth,
                "The API did not accept your sign-in (401). Sign out and sign in again.",
            ),
            ("not_found", _) | (_, Some(404)) => UiError::new(
                NotFound,
                "Defender returned no such machine (404): it may have been removed, merged into \
                 another machine, or not seen within the retention period, or it may be outside \
                 the device groups your Defender role covers (those machines are invisible to you).",
            ),
            ("too_many_requests", _) | (_, Some(429)) => {
                let wait = e
                    .retry_after_secs()
                    .map(|s| format!(" Try again in {s} s."))
                    .unwrap_or_default();
                UiError::new(
                    Throttled,
                    format!("Defender's API rate limit was reached (HTTP 429).{wait}"),
                )
            }
            ("token_unavailable", _) => UiError::new(Auth, format!("Could not get a token: {e}.")),
            ("network", _) => {
                UiError::new(Network, format!("Could not reach the Defender API ({e})."))
            }
            ("cors_refused", _) => UiError::new(
                Network,
                "The Defender API refused this page's origin (CORS), so the browser blocked the \
                 call. Deploy the edge proxy and set apiBaseUrl to it: see the connection check \
                 (Settings \u{2192} Check the connection) and docs/deploy.md.",
            ),
            ("timeout", _) => UiError::new(
                Network,
                format!("The Defender API did not answer in time ({e})."),
            ),
            ("invalid_input", _) | ("bad_request", _) => {
                UiError::new(Invalid, format!("The request was refused: {e}."))
            }
            (_, Some(s)) if s >= 500 => UiError::new(
                Server,
                format!(
                    "Defender's API failed (HTTP {s}).{}",
                    if writing && e.may_have_applied() {
                        " The change may or may not have been applied; reload to check."
                    } else {
                        ""
                    }
                ),
            ),
            _ => UiError::new(Server, format!("The request failed: {e}.")),
        }
    }
}

/// The machine a single change is made to, as the page shows it: the activity log names the
/// change by it and records its earlier device value. The page has the machine at hand, so the
/// log never needs its own copy of every listed machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The machine.
    pub id: MachineId,
    /// Its computer name, when it has one.
    pub name: Option<String>,
    /// Its device value as the page shows it.
    pub device_value: Option<DeviceValue>,
}

impl Target {
    /// A machine known only by its id.
    pub fn id(id: MachineId) -> Self {
        Self {
            id,
            name: None,
            device_value: None,
        }
    }
}

/// What the pages need from the API.
pub trait Backend {
    /// The machines matching `query` (all pages). `now_ms` anchors "last seen" filters.
    fn search(
        &self,
        query: MachineQuery,
        now_ms: i64,
    ) -> LocalBoxFuture<'static, Result<Vec<Machine>, UiError>>;
    /// Adds or removes one tag on one machine.
    fn set_tag(
        &self,
        target: Target,
        tag: Tag,
        action: TagAction,
    ) -> LocalBoxFuture<'static, Result<(), UiError>>;
    /// Sets one machine's device value (one API call; there is no bulk form).
    fn set_device_value(
        &self,
        target: Target,
        value: DeviceValue,
    ) -> LocalBoxFuture<'static, Result<(), UiError>> {
        let _ = (target, value);
        Box::pin(async {
            Err(UiError::new(
                UiErrorKind::Invalid,
                "Device values cannot be changed here.",
            ))
        })
    }
    /// Runs bulk plans (UI part 2, `crate::bulk`); `None` where the backend cannot.
    fn bulk(&self) -> Option<Rc<dyn crate::bulk::runner::BulkRunner>> {
        None
    }
    /// Calls counted in the current (minute, hour) rate windows; `None` where not counted.
    fn rate_usage(&self) -> Option<(u32, u32)> {
        None
    }
    /// Advanced hunting (`crate::hunting`); `None` where the backend has no Graph access.
    fn hunter(&self) -> Option<Rc<dyn crate::hunting::Hunter>> {
        None
    }
}

/// Shared handle to the backend in use.
#[derive(Clone)]
pub struct BackendRef(pub Rc<dyn Backend>);

impl fmt::Debug for BackendRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackendRef")
    }
}

/// The real thing: `DefenderClient` from `defender-tags-wasm`.
#[derive(Debug, Clone)]
pub struct ClientBackend {
    client: DefenderClient,
    access: Access,
    hunter: Option<Rc<crate::hunting::ClientHunter>>,
}

impl ClientBackend {
    /// Wraps a client; `access` names permissions in error messages.
    pub fn new(client: DefenderClient, access: Access) -> Self {
        Self {
            client,
            access,
            hunter: None,
        }
    }

    /// With advanced hunting through `hunter`.
    pub fn with_hunter(mut self, hunter: crate::hunting::ClientHunter) -> Self {
        self.hunter = Some(Rc::new(hunter));
        self
    }
}

impl Backend for ClientBackend {
    fn search(
        &self,
        query: MachineQuery,
        now_ms: i64,
    ) -> LocalBoxFuture<'static, Result<Vec<Machine>, UiError>> {
        let this = self.clone();
        Box::pin(async move {
            let to_ui = |e: ClientError| UiError::from_client(&e, false, &this.access);
            // What the server request cannot express (the rest of the query after a tag-prefix
            // `findbytag`) is narrowed here with core's matcher, the same as the instant
            // narrowing; each page is trimmed as it arrives, so a 100k listing never holds every
            // full machine at once. Built once, not per machine.
            // Listing pages decode only the fields the UI reads (core's `keep_listed_fields`);
            // `findbytag` answers are trimmed to the same after decoding.
            let matcher = query.matcher(now_ms);
            let mut kept = Vec::new();
            let mut keep = |page: Vec<Machine>| {
                kept.extend(page.into_iter().filter(|m| matcher.matches(m)));
            };
            match query.server_query(now_ms) {
                ServerQuery::List(filter) => {
                    let mut pages = this.client.list_all_machines(filter).listed();
                    while let Some(page) = pages.next().await {
                        keep(page.map_err(to_ui)?);
                    }
                }
                ServerQuery::FindByTagPrefix(prefix) => {
                    let found = this
                        .client
                        .find_by_tag(&prefix, true)
                        .await
                        .map_err(to_ui)?;
                    keep(found.into_iter().map(keep_listed_fields).collect());
                }
            }
            // The vector grew by doubling, so up to half of it is spare room: give it back
            // (in place, at the top of wasm memory) for the search columns built next, rather
            // than grow memory for them; wasm memory never shrinks below its high-water mark.
            kept.shrink_to_fit();
            Ok(kept)
        })
    }

    fn set_tag(
        &self,
        target: Target,
        tag: Tag,
        action: TagAction,
    ) -> LocalBoxFuture<'static, Result<(), UiError>> {
        let this = self.clone();
        Box::pin(async move {
            this.client
                .set_tag(&target.id, &tag, action)
                .await
                .map(|_| ())
                .map_err(|e| UiError::from_client(&e, true, &this.access))
        })
    }

    fn set_device_value(
        &self,
        target: Target,
        value: DeviceValue,
    ) -> LocalBoxFuture<'static, Result<(), UiError>> {
        let this = self.clone();
        Box::pin(async move {
            this.client
                .set_device_value(&target.id, &value)
                .await
                .map(|_| ())
                .map_err(|e| UiError::from_client(&e, true, &this.access))
        })
    }

    fn bulk(&self) -> Option<Rc<dyn crate::bulk::runner::BulkRunner>> {
        Some(Rc::new(crate::bulk::runner::ClientRunner::new(
            self.client.clone(),
        )))
    }

    fn rate_usage(&self) -> Option<(u32, u32)> {
        Some(self.client.rate_usage())
    }

    fn hunter(&self) -> Option<Rc<dyn crate::hunting::Hunter>> {
        self.hunter
            .clone()
            .map(|h| h as Rc<dyn crate::hunting::Hunter>)
    }
}

/// An in-memory tenant for DOM tests and offline UI work.
#[derive(Debug, Default)]
pub struct FakeBackend {
    /// The machines.
    pub machines: RefCell<Vec<Machine>>,
    /// When set, the next tag change fails with this error (then the flag clears).
    pub fail_next_change: RefCell<Option<UiError>>,
    /// Number of `search` calls (tests check re-fetching).
    pub searches: Cell<u32>,
}

impl FakeBackend {
    /// A tenant with these machines.
    pub fn new(machines: Vec<Machine>) -> Rc<Self> {
        Rc::new(Self {
            machines: RefCell::new(machines),
            ..Self::default()
        })
    }
}

impl Backend for Rc<FakeBackend> {
    fn search(
        &self,
        query: MachineQuery,
        now_ms: i64,
    ) -> LocalBoxFuture<'static, Result<Vec<Machine>, UiError>> {
        self.searches.set(self.searches.get() + 1);
        let matcher = query.matcher(now_ms);
        let found = self
            .machines
            .borrow()
            .iter()
            .filter(|m| matcher.matches(m))
            .cloned()
            .collect();
        Box::pin(async move { Ok(found) })
    }

    fn set_tag(
        &self,
        target: Target,
        tag: Tag,
        action: TagAction,
    ) -> LocalBoxFuture<'static, Result<(), UiError>> {
        let id = target.id;
        let result = match self.fail_next_change.borrow_mut().take() {
            Some(e) => Err(e),
            None => {
                let mut machines = self.machines.borrow_mut();
                match machines.iter_mut().find(|m| m.id == id) {
                    Some(m) => {
                        action.apply(&mut m.machine_tags, tag.as_str());
                        Ok(())
                    }
                    None => Err(UiError::new(UiErrorKind::NotFound, "No such machine.")),
                }
            }
        };
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::api::ApiError;

    fn block_on<T>(f: LocalBoxFuture<'static, T>) -> T {
        // The fake's futures are ready at once; poll them with a no-op waker.
        use std::task::{Context, Poll, Waker};
        let mut f = f;
        let mut cx = Context::from_waker(Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("fake backend future was not ready"),
        }
    }

    fn machine(n: u32, name: &str) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.computer_dns_name = Some(name.into());
        m
    }

    #[test]
    fn fake_backend_searches_and_changes_tags() {
        let fake = FakeBackend::new(vec![machine(1, "web01"), machine(2, "db01")]);
        let found = block_on(fake.search(
            MachineQuery {
                text: "web".into(),
                ..Default::default()
            },
            0,
        ))
        .unwrap();
        assert_eq!(found.len(), 1);
        let id = found[0].id.clone();
        block_on(fake.set_tag(
            Target::id(id.clone()),
            Tag::parse("x").unwrap(),
            TagAction::Add,
        ))
        .unwrap();
        assert_eq!(fake.machines.borrow()[0].machine_tags, vec!["x".to_owned()]);
        *fake.fail_next_change.borrow_mut() = Some(UiError::new(UiErrorKind::Server, "boom"));
        let err = block_on(fake.set_tag(Target::id(id), Tag::parse("y").unwrap(), TagAction::Add))
            .unwrap_err();
        assert_eq!(err.message, "boom");
        assert_eq!(fake.machines.borrow()[0].machine_tags, vec!["x".to_owned()]);
    }

    #[test]
    fn a_403_on_a_tag_change_names_the_missing_permission() {
        let reader = Access::new(vec!["Machine.Read".into()], vec![]);
        let e = ClientError::Api(ApiError::Forbidden { details: None });
        let ui = UiError::from_client(&e, true, &reader);
        assert_eq!(ui.kind, UiErrorKind::Forbidden);
        assert!(ui.message.contains("Machine.ReadWrite"), "{}", ui.message);
        assert!(
            ui.message.contains("you have Machine.Read"),
            "{}",
            ui.message
        );
    }

    #[test]
    fn network_and_token_errors_are_explained() {
        let access = Access::default();
        let net = UiError::from_client(
            &ClientError::Network {
                message: "Failed to fetch".into(),
            },
            false,
            &access,
        );
        assert_eq!(net.kind, UiErrorKind::Network);
        assert!(net.message.contains("Failed to fetch"));
        let timeout =
            UiError::from_client(&ClientError::Timeout { after_ms: 30_000 }, false, &access);
        assert_eq!(timeout.kind, UiErrorKind::Network);
    }
}
