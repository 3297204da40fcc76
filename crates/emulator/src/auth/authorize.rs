//! `/{tenant}/oauth2/v2.0/authorize`: authorization code + PKCE (S256) with a persona picker.
//!
//! The picker is plain HTML with no script at all (a strict CSP is sent), one submit button per
//! persona. `prompt=none` (MSAL's silent iframe) signs in from the `login_hint` or the sign-in
//! cookie, or answers `login_required`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::oidc::{client_info, unknown_tenant_message};
use super::personas::{self, Persona};
use crate::state::{AppState, TenantData};
use crate::web::{encode_pairs, html_escape};

const SESSION_COOKIE: &str = "emulator_session";
/// `Set-Cookie` value that forgets the sign-in.
pub const CLEAR_SESSION_COOKIE: &str =
    "emulator_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax";
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'";

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f3f2f1;color:#201f1e;margin:0}
main{max-width:34rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 2px 8px rgba(0,0,0,.15)}
h1{font-size:1.5rem;margin-top:0}
.persona{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;border:1px solid #8a8886;border-radius:.25rem;background:#fff;font-size:1rem;cursor:pointer}
.persona:hover,.persona:focus{border-color:#0067b8;outline:2px solid #0067b8;outline-offset:1px}
.persona strong{display:block}
.cancel{margin-top:1rem;background:none;border:none;color:#0067b8;text-decoration:underline;cursor:pointer;font-size:1rem}
.note{color:#605e5c;font-size:.875rem}
";

/// `GET /_idp/picker.css`.
pub async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

/// Whether a redirect URI is acceptable: an absolute http(s) URL without a fragment whose
/// origin may sign in ([`AppState::sign_in_origin_allowed`]). Any other host would turn error
/// and logout replies into open redirects, and a `login_hint` sign-in would hand a code to it
/// without the user seeing anything.
pub fn valid_redirect(st: &AppState, uri: &str) -> bool {
    let well_formed = (uri.starts_with("http://") || uri.starts_with("https://"))
        && !uri.contains('#')
        && uri.len() <= 2048
        && !uri.chars().any(char::is_whitespace);
    well_formed && redirect_origin(uri).is_some_and(|o| st.sign_in_origin_allowed(o))
}

/// `scheme://authority` of an absolute URL: everything up to the first `/`, `?` or `\` after
/// the scheme. Compared whole, so `http://ok@evil` or `http://ok.evil` never pass for `http://ok`.
fn redirect_origin(uri: &str) -> Option<&str> {
    let after_scheme = uri.find("://")? + 3;
    let end = uri[after_scheme..]
        .find(['/', '?', '\\'])
        .map_or(uri.len(), |i| after_scheme + i);
    (end > after_scheme).then(|| &uri[..end])
}

#[cfg(test)]
mod tests {
    use super::redirect_origin;

    #[test]
    fn the_origin_of_a_redirect_uri_is_its_whole_authority() {
        assert_eq!(
            redirect_origin("http://127.0.0.1:8080/app/?x=1"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            redirect_origin("http://127.0.0.1:8080@evil.test/"),
            Some("http://127.0.0.1:8080@evil.test")
        );
        assert_eq!(
            redirect_origin("http://127.0.0.1:8080\\evil.test"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(redirect_origin("http:///x"), None);
        assert_eq!(redirect_origin("javascript:alert(1)"), None);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Query,
    Fragment,
    FormPost,
}

/// A validated authorization request.
struct AuthRequest {
    params: HashMap<String, String>,
    redirect_uri: String,
    mode: Mode,
}

impl AuthRequest {
    fn get(&self, k: &str) -> Option<&str> {
        self.params
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in error</title>\
         <link rel=\"stylesheet\" href=\"/_idp/picker.css\"></head><body><main><h1>Sign-in error</h1>\
         <p role=\"alert\">{}</p></main></body></html>",
        html_escape(message)
    );
    (status, [(header::CONTENT_SECURITY_POLICY, CSP)], Html(body)).into_response()
}

/// Validates what must be valid before we may redirect back (client and redirect URI), then
/// the rest, which is reported to the client through the redirect.
#[allow(clippy::result_large_err)] // built once per sign-in; boxing buys nothing here
fn validate(st: &AppState, params: HashMap<String, String>) -> Result<AuthRequest, Response> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if get("client_id").is_none() {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "AADSTS900144: The request must contain the parameter 'client_id'.",
        ));
    }
    let Some(redirect_uri) = get("redirect_uri").map(str::to_owned) else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "AADSTS900144: The request must contain the parameter 'redirect_uri'.",
        ));
    };
    if !valid_redirect(st, &redirect_uri) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "AADSTS50011: The redirect URI must be an absolute http(s) URL without a fragment, \
             on the emulator's own origin or one given to --cors-origin or --redirect-origin.",
        ));
    }
    let mode = match get("response_mode") {
        None | Some("query") => Mode::Query,
        Some("fragment") => Mode::Fragment,
        Some("form_post") => Mode::FormPost,
        Some(other) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                &format!("AADSTS900144: Unsupported response_mode '{other}'."),
            ));
        }
    };
    let req = AuthRequest {
        params,
        redirect_uri,
        mode,
    };
    if req.get("response_type") != Some("code") {
        return Err(redirect_error(
            &req,
            "unsupported_response_type",
            "AADSTS700054: response_type must be 'code'.",
        ));
    }
    let Some(_) = req.get("code_challenge") else {
        return Err(redirect_error(
            &req,
            "invalid_request",
            "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        ));
    };
    if req.get("code_challenge_method") != Some("S256") {
        return Err(redirect_error(
            &req,
            "invalid_request",
            "AADSTS501491: code_challenge_method must be S256.",
        ));
    }
    Ok(req)
}

/// Sends the client back to its redirect URI with `pairs` (plus `state`).
fn redirect_back(req: &AuthRequest, mut pairs: Vec<(&str, String)>) -> Response {
    if let Some(state) = req.get("state") {
        pairs.push(("state", state.to_owned()));
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let encoded = encode_pairs(&borrowed);
    match req.mode {
        Mode::Fragment => Redirect::to(&format!("{}#{encoded}", req.redirect_uri)).into_response(),
        Mode::Query => {
            let sep = if req.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            Redirect::to(&format!("{}{sep}{encoded}", req.redirect_uri)).into_response()
        }
        Mode::FormPost => {
            // No script may run here, so the user presses Continue.
            let inputs: String = borrowed
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                        html_escape(k),
                        html_escape(v)
                    )
                })
                .collect();
            let body = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Continue</title>\
                 <link rel=\"stylesheet\" href=\"/_idp/picker.css\"></head><body><main><h1>Signed in</h1>\
                 <form method=\"post\" action=\"{}\">{inputs}<button class=\"persona\" type=\"submit\">Continue</button></form>\
                 </main></body></html>",
                html_escape(&req.redirect_uri)
            );
            ([(header::CONTENT_SECURITY_POLICY, CSP)], Html(body)).into_response()
        }
    }
}

fn redirect_error(req: &AuthRequest, error: &str, description: &str) -> Response {
    redirect_back(
        req,
        vec![
            ("error", error.to_owned()),
            ("error_description", description.to_owned()),
        ],
    )
}

fn issue(st: &AppState, td: &TenantData, req: &AuthRequest, persona: &'static Persona) -> Response {
    let code = st
        .grants
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .issue_code(
            persona.name,
            td.id(),
            req.get("client_id").unwrap_or_default(),
            &req.redirect_uri,
            req.get("code_challenge").unwrap_or_default(),
            req.get("nonce").map(str::to_owned),
            req.get("scope").unwrap_or("openid profile"),
        );
    let mut resp = redirect_back(
        req,
        vec![
            ("code", code),
            ("client_info", client_info(persona, td.tenant())),
            ("session_state", uuid::Uuid::new_v4().to_string()),
        ],
    );
    // The generation lets `POST /_emulator/sessions/expire` end every existing sign-in.
    let cookie = format!(
        "{SESSION_COOKIE}={}.{}; Path=/; HttpOnly; SameSite=Lax",
        persona.name,
        st.session_generation.load(Ordering::Acquire)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The persona of a sign-in cookie of the current session generation (`{persona}.{gen}`).
fn session_persona(headers: &HeaderMap, generation: u64) -> Option<&'static Persona> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)?;
    // A bare `{persona}` (cookies set before sessions had generations) is generation 0.
    let (name, cookie_gen) = match value.rsplit_once('.') {
        Some((name, g)) => (name, g.parse::<u64>().ok()?),
        None => (value, 0),
    };
    (cookie_gen == generation)
        .then(|| personas::by_name(name))
        .flatten()
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub async fn show(
    State(st): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(td) = st.tenant_by_path(&tenant) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("AADSTS90002: {}", unknown_tenant_message(&st, &tenant)),
        );
    };
    let req = match validate(&st, params) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let hinted = req.get("login_hint").and_then(personas::by_hint);
    let prompt = req.get("prompt");
    let generation = st.session_generation.load(Ordering::Acquire);
    let session = session_persona(&headers, generation);
    if prompt == Some("none") && generation > 0 {
        // Sessions were expired (`/_emulator/sessions/expire`): only a sign-in made since then
        // counts, whatever the hint says, as Entra answers once a session has ended. MSAL's
        // silent renewal sends the account's username as login_hint, so honouring the hint
        // here would let an "expired" session renew itself.
        return match session {
            Some(p) if hinted.is_none_or(|h| h.name == p.name) => issue(&st, td, &req, p),
            _ => redirect_error(
                &req,
                "login_required",
                "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
            ),
        };
    }
    if let (Some(p), None | Some("none")) = (hinted, prompt) {
        // A known login_hint skips the chooser (scripted sign-in for tests and demos).
        return issue(&st, td, &req, p);
    }
    if prompt == Some("none") {
        return match session {
            Some(p) => issue(&st, td, &req, p),
            None => redirect_error(
                &req,
                "login_required",
                "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
            ),
        };
    }
    picker(&tenant, td, &req)
}

fn picker(tenant: &str, td: &TenantData, req: &AuthRequest) -> Response {
    let mut hidden = String::new();
    let mut keys: Vec<&String> = req
        .params
        .keys()
        .filter(|k| k.as_str() != "persona")
        .collect();
    keys.sort();
    for k in keys {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            html_escape(k),
            html_escape(&req.params[k])
        ));
    }
    let hint = req
        .get("login_hint")
        .and_then(personas::by_hint)
        .map(|p| p.name);
    let buttons: String = personas::sign_in_choices()
        .map(|p| {
            let autofocus = if Some(p.name) == hint { " autofocus" } else { "" };
            format!(
                "<button class=\"persona\" type=\"submit\" name=\"persona\" value=\"{}\" id=\"persona-{}\"{autofocus}>\
                 <strong>{}</strong> <span>{} &middot; {}</span><br><span class=\"note\">{}</span></button>",
                p.name,
                p.name,
                p.name,
                html_escape(p.display_name),
                html_escape(&p.username(td.tenant())),
                html_escape(p.description)
            )
        })
        .collect();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in - Defender emulator</title><link rel=\"stylesheet\" href=\"/_idp/picker.css\"></head>\
         <body><main><h1 id=\"title\">Sign in to the Defender emulator</h1>\
         <p class=\"note\">Tenant <strong id=\"tenant\">{}</strong> ({}).</p>\
         <p class=\"note\">Development identity provider. Pick a demo identity; no password is needed.</p>\
         <form method=\"post\" action=\"/{}/oauth2/v2.0/authorize\" aria-labelledby=\"title\">{hidden}\
         <fieldset><legend>Demo identities</legend>{buttons}</fieldset>\
         <button class=\"cancel\" type=\"submit\" name=\"persona\" value=\"\" id=\"cancel\">Cancel</button>\
         </form></main></body></html>",
        html_escape(td.tenant().name),
        html_escape(td.id()),
        html_escape(tenant)
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(body),
    )
        .into_response()
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the picker's form.
pub async fn submit(
    State(st): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Some(td) = st.tenant_by_path(&tenant) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("AADSTS90002: {}", unknown_tenant_message(&st, &tenant)),
        );
    };
    let Ok(Form(mut params)) = form else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The sign-in form could not be read.",
        );
    };
    let chosen = params.remove("persona").unwrap_or_default();
    let req = match validate(&st, params) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if chosen.is_empty() {
        return redirect_error(
            &req,
            "access_denied",
            "AADSTS65004: The user declined to sign in.",
        );
    }
    match personas::by_hint(&chosen) {
        Some(p) => issue(&st, td, &req, p),
        None => error_page(
            StatusCode::BAD_REQUEST,
            &format!("Unknown persona '{chosen}'."),
        ),
    }
}
