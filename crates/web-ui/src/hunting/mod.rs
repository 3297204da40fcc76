//! Advanced hunting in the app (docs/defender-api.md §14): whether the signed-in user may run
//! hunting queries, running one, its errors as sentences, the queries saved per tenant
//! (`saved`) and where each loaded machine's tags come from (`provenance`).
//!
//! The Graph token is asked for through the same token callback as the API's (`session.rs`),
//! silently only, and the client sends it to the Graph origin only. Hunting is optional: without
//! the permission (or without a Graph token) everything else works as before and the UI says
//! what is missing.

pub mod provenance;
pub mod saved;

use std::cell::RefCell;
use std::rc::Rc;

use defender_tags_core::hunting::{
    Cell, HUNTING_PERMISSION, HuntingError, HuntingQuery, HuntingResult,
};
use defender_tags_wasm::{ClientError, DefenderClient, LocalBoxFuture};

use crate::api::{UiError, UiErrorKind};
use crate::routes::lazy::PageLoadError;
// Kept reachable here: the hunting modules and components spell it `crate::hunting::sentence`.
pub use crate::bulk::format::sentence;

/// Whether hunting can be used, and if not, why (one sentence for the UI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HuntingAccess {
    /// The Graph token carries `ThreatHunting.Read.All`.
    Allowed,
    /// It cannot be used; the text says what is missing.
    Unavailable(String),
}

impl HuntingAccess {
    /// From the permissions of a Graph token (`scp` of a user, `roles` of an app).
    pub fn from_claims(scp: &[String], roles: &[String]) -> HuntingAccess {
        let has = |list: &[String]| {
            list.iter()
                .any(|p| p.eq_ignore_ascii_case(HUNTING_PERMISSION))
        };
        if has(scp) || has(roles) {
            return HuntingAccess::Allowed;
        }
        let held: Vec<&str> = scp.iter().chain(roles).map(String::as_str).collect();
        HuntingAccess::Unavailable(format!(
            "Hunting queries need the Microsoft Graph permission {HUNTING_PERMISSION} (delegated, \
             with admin consent for this app); your Graph token has {}. Ask an administrator to \
             grant it.",
            if held.is_empty() {
                "no permissions".to_owned()
            } else {
                held.join(", ")
            }
        ))
    }
}

/// Whether the signed-in user may hunt, as a signal (`None` while asking), for every page that
/// offers hunting: the bulk page's hunting tab and the rules page's hunting source say the same.
/// The hunter remembers its answer, so this asks once per session.
pub fn use_access() -> leptos::prelude::RwSignal<Option<HuntingAccess>> {
    use leptos::prelude::*;
    let state = crate::components::top_bar::use_app_state();
    let access = RwSignal::new(None::<HuntingAccess>);
    Effect::new(move |_| match state.backend.0.get() {
        None => access.set(Some(HuntingAccess::Unavailable(
            "Sign in to run hunting queries.".to_owned(),
        ))),
        Some(b) => match b.0.hunter() {
            None => access.set(Some(HuntingAccess::Unavailable(
                "This session has no Microsoft Graph access, so hunting queries cannot run here."
                    .to_owned(),
            ))),
            Some(h) => leptos::task::spawn_local(async move {
                let a = h.access().await;
                access.try_set(Some(a));
            }),
        },
    });
    access
}

/// What the pages need for hunting.
pub trait Hunter {
    /// Whether the signed-in user may run hunting queries (asked once per session, then
    /// remembered).
    fn access(&self) -> LocalBoxFuture<'static, HuntingAccess>;
    /// Runs a checked query.
    fn run(&self, query: HuntingQuery) -> LocalBoxFuture<'static, Result<HuntingResult, UiError>>;
}

/// The real thing: `DefenderClient::run_hunting_query` with the session's Graph token.
#[derive(Debug, Clone)]
pub struct ClientHunter {
    client: DefenderClient,
    scopes: Vec<String>,
    known: Rc<RefCell<Option<HuntingAccess>>>,
}

impl ClientHunter {
    /// A hunter over `client` (configured with the Graph origin and `scopes`).
    pub fn new(client: DefenderClient, scopes: Vec<String>) -> Self {
        Self {
            client,
            scopes,
            known: Rc::default(),
        }
    }
}

impl Hunter for ClientHunter {
    fn access(&self) -> LocalBoxFuture<'static, HuntingAccess> {
        let known = self.known.clone();
        let scopes = self.scopes.clone();
        Box::pin(async move {
            if let Some(a) = known.borrow().clone() {
                return a;
            }
            // A silent token only: its claims say whether the permission is there. The token
            // itself is dropped here; the client asks for its own when it calls Graph.
            let access = match crate::msal::get_token_for(&scopes, false).await {
                Ok(t) => HuntingAccess::from_claims(&t.scp, &t.roles),
                Err(e) => HuntingAccess::Unavailable(format!(
                    "Hunting queries need a Microsoft Graph token ({}), which could not be had \
                     silently: {e}.",
                    scopes.join(" ")
                )),
            };
            *known.borrow_mut() = Some(access.clone());
            access
        })
    }

    fn run(&self, query: HuntingQuery) -> LocalBoxFuture<'static, Result<HuntingResult, UiError>> {
        let client = self.client.clone();
        Box::pin(async move {
            #[cfg(feature = "split")]
            let call = dt_hunting_call(client, query).await;
            #[cfg(not(feature = "split"))]
            let call = dt_hunting_call(client, query);
            match call {
                Ok(running) => running.await,
                Err(PageLoadError) => Err(UiError::new(
                    UiErrorKind::Network,
                    "The hunting code could not be downloaded. Check the connection; if the \
                     site was updated meanwhile, reload the page.",
                )),
            }
        })
    }
}

/// One hunting query through the client. In the site's release build (`--features split`) it is
/// a `wasm_split` split point, like the pages of `crate::routes::lazy`: only the machine panel's
/// tag sources, the bulk page's hunting tab and the rules page run queries, so sign-in and search
/// do not download this code; the first query does (a failed download is retried by the next).
#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(dt_hunting, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn dt_hunting_call(
    client: DefenderClient,
    query: HuntingQuery,
) -> Result<LocalBoxFuture<'static, Result<HuntingResult, UiError>>, PageLoadError> {
    Ok(Box::pin(async move {
        client
            .run_hunting_query(&query)
            .await
            .map_err(|e| hunting_error(&e))
    }))
}

/// A result cell as text (datetimes in ISO 8601, JSON as JSON).
pub fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::String(s) => s.clone(),
        Cell::Bool(b) => b.to_string(),
        Cell::Long(n) => n.to_string(),
        Cell::Real(f) => f.to_string(),
        Cell::DateTime(d) => defender_tags_core::model::datetime::format_datetime(*d),
        Cell::Dynamic(v) => v.to_string(),
    }
}

/// A failed hunting call as one or two sentences, each naming what went wrong: the service's
/// refusal with its position, the quota of a 429, the missing permission, the row limit.
pub fn hunting_error(e: &ClientError) -> UiError {
    use UiErrorKind::*;
    match e {
        ClientError::Hunting(h) => {
            let kind = match h {
                HuntingError::BadQuery { .. }
                | HuntingError::TooManyRows { .. }
                | HuntingError::ResponseTooLarge { .. } => Invalid,
                HuntingError::Unauthorized { .. } => Auth,
                HuntingError::MissingPermission { .. } => Forbidden,
                HuntingError::Throttled { .. } => Throttled,
                _ => Server,
            };
            let text = match h {
                // The service's own text carries the position ("... on line [1,14]").
                HuntingError::BadQuery { details: Some(d) } if !d.message.is_empty() => {
                    format!("The query was refused (400): {}", d.message)
                }
                other => sentence(&other.to_string()),
            };
            UiError::new(kind, text)
        }
        ClientError::Token(t) => UiError::new(
            Auth,
            format!("Could not get a Microsoft Graph token for hunting: {t}."),
        ),
        other => UiError::new(
            Network,
            format!("The hunting query could not be sent: {other}."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::hunting::{HuntingQuota, decode_hunting_result};
    use defender_tags_core::throttle::RetryAfter;
    use defender_tags_core::wire::ErrorBody;

    #[test]
    fn access_follows_the_graph_tokens_permission() {
        assert_eq!(
            HuntingAccess::from_claims(&["ThreatHunting.Read.All".into()], &[]),
            HuntingAccess::Allowed
        );
        assert_eq!(
            HuntingAccess::from_claims(&[], &["ThreatHunting.Read.All".into()]),
            HuntingAccess::Allowed
        );
        let HuntingAccess::Unavailable(why) =
            HuntingAccess::from_claims(&["User.Read".into()], &[])
        else {
            panic!("a token without the permission is refused");
        };
        assert!(why.contains("ThreatHunting.Read.All"), "{why}");
        assert!(why.contains("your Graph token has User.Read"), "{why}");
        let HuntingAccess::Unavailable(none) = HuntingAccess::from_claims(&[], &[]) else {
            panic!("no permissions");
        };
        assert!(none.contains("no permissions"), "{none}");
    }

    #[test]
    fn each_hunting_failure_says_what_went_wrong() {
        let body = |code: &str, message: &str| {
            serde_json::json!({"error": {"code": code, "message": message}}).to_string()
        };
        // A syntax error keeps the service's position.
        let e = decode_hunting_result(
            400,
            &[] as &[(&str, &str)],
            body(
                "BadRequest",
                "Query could not be parsed at '|' on line [1,14]: unexpected token",
            )
            .as_bytes(),
        )
        .unwrap_err();
        let ui = hunting_error(&ClientError::Hunting(e));
        assert_eq!(ui.kind, UiErrorKind::Invalid);
        assert!(ui.message.contains("line [1,14]"), "{}", ui.message);
        // A 429 names its quota.
        let throttled = hunting_error(&ClientError::Hunting(HuntingError::Throttled {
            quota: HuntingQuota::Cpu,
            retry_after: RetryAfter::parse("30").ok(),
            details: Some(ErrorBody {
                code: "TooManyRequests".into(),
                message: "CPU quota".into(),
                target: None,
            }),
        }));
        assert_eq!(throttled.kind, UiErrorKind::Throttled);
        assert!(
            throttled.message.contains("hunting CPU quota"),
            "{}",
            throttled.message
        );
        // A token without the permission names it.
        let forbidden = hunting_error(&ClientError::Hunting(HuntingError::MissingPermission {
            details: None,
        }));
        assert_eq!(forbidden.kind, UiErrorKind::Forbidden);
        assert!(forbidden.message.contains("ThreatHunting.Read.All"));
        // More rows than an answer may hold.
        let rows = hunting_error(&ClientError::Hunting(HuntingError::TooManyRows {
            rows: 100_001,
            max: 100_000,
        }));
        assert!(rows.message.contains("100001 rows"), "{}", rows.message);
    }
}
