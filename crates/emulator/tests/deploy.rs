//! What a deployed UI and its connection check need from the emulator: `GET /config.json`,
//! CORS for a page on another origin (API and sign-in), an expired session and a read-only
//! token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use defender_tags_core::SiteConfig;
use defender_tags_emulator::{Config, DEMO_CLIENT_ID};
use serde_json::{Value, json};

const PAGE: &str = "http://127.0.0.1:45678";
const OTHER: &str = "http://127.0.0.1:45679";

async fn get_config(emu: &Emu, host: Option<&str>) -> (reqwest::header::HeaderMap, Value) {
    let mut req = emu.http.get(format!("{}/config.json", emu.url));
    if let Some(h) = host {
        req = req.header("host", h);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    (headers, r.json().await.unwrap())
}

#[tokio::test]
async fn config_json_describes_the_emulator_on_the_origin_used() {
    let emu = Emu::with(Config {
        machines: 50,
        second_tenant_machines: 20,
        ..Config::default()
    })
    .await;
    let (headers, c) = get_config(&emu, None).await;
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        c,
        json!({
            "clientId": DEMO_CLIENT_ID,
            "tenants": [
                { "id": TENANT, "name": "Contoso", "cloud": "commercial" },
                { "id": SECOND_TENANT, "name": "Fabrikam", "cloud": "commercial" },
            ],
            "authority": emu.url,
            "apiBaseUrl": emu.url,
            "graphBaseUrl": emu.url,
            "basePath": "/",
        })
    );
    // The UI validates it with core's parser: it must pass, with the emulator as both the
    // authority and the API for each tenant.
    let text = emu
        .http
        .get(format!("{}/config.json", emu.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let parsed = SiteConfig::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert_eq!(parsed.client_id, DEMO_CLIENT_ID);
    assert_eq!(parsed.base_path, "/");
    let tenants: Vec<(&str, &str)> = parsed
        .tenants
        .iter()
        .map(|t| (t.id.as_str(), t.name.as_str()))
        .collect();
    assert_eq!(tenants, [(TENANT, "Contoso"), (SECOND_TENANT, "Fabrikam")]);
    for t in &parsed.tenants {
        assert_eq!(t.authority, format!("{}/{}/v2.0", emu.url, t.id));
        assert_eq!(t.api_base.as_str(), emu.url);
        // The emulator is the Graph origin too (advanced hunting).
        assert_eq!(t.graph_base.as_str(), emu.url);
    }
    assert_eq!(parsed.connect_src(), vec![emu.url.as_str()]);

    // Same origin logic as the discovery document: the Host the browser used...
    let port = emu.handle.addr().port();
    let (_, c) = get_config(&emu, Some(&format!("localhost:{port}"))).await;
    assert_eq!(c["authority"], format!("http://localhost:{port}"));
    assert_eq!(c["apiBaseUrl"], format!("http://localhost:{port}"));
    let d: Value = emu
        .http
        .get(format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["issuer"],
        format!("{}/{TENANT}/v2.0", c["authority"].as_str().unwrap())
    );
    emu.stop().await;

    // ...or --public-url.
    let emu = Emu::with(Config {
        machines: 10,
        public_url: Some("https://login.emulator.test".into()),
        ..Config::default()
    })
    .await;
    let (_, c) = get_config(&emu, None).await;
    let parsed = SiteConfig::parse(&c.to_string()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        parsed.tenants[0].authority,
        format!("https://login.emulator.test/{TENANT}")
    );
    assert_eq!(c["authority"], "https://login.emulator.test");
    assert_eq!(c["apiBaseUrl"], "https://login.emulator.test");
    assert_eq!(
        c["tenants"],
        json!([{ "id": TENANT, "name": "Contoso", "cloud": "commercial" }])
    );
    emu.stop().await;
}

#[tokio::test]
async fn a_config_json_in_the_static_dir_wins() {
    let dir = common::temp_dir("site");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>x</title>").unwrap();
    let emu = Emu::with(Config {
        machines: 10,
        static_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await;
    let (headers, c) = get_config(&emu, None).await;
    assert_eq!(c["authority"], emu.url, "no file: the emulator's own");
    assert_eq!(headers["cache-control"], "no-cache");

    let own =
        r#"{"clientId":"0b5b6c1e-1111-4222-8333-944445555666","tenant":"contoso.onmicrosoft.com"}"#;
    std::fs::write(dir.join("config.json"), own).unwrap();
    let r = emu
        .http
        .get(format!("{}/config.json", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.text().await.unwrap(), own, "served verbatim");
    emu.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

fn acao(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn cors_lets_the_allowed_page_see_401s_and_sign_in_and_refuses_others() {
    let emu = Emu::with(Config {
        machines: 50,
        cors_origins: vec![PAGE.into()],
        ..Config::default()
    })
    .await;
    let api = format!("{}/api/machines?$top=1", emu.url);

    // The allowed page sees the 401 itself (the connection check tells it from a CORS refusal).
    let r = emu
        .http
        .get(&api)
        .header("origin", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(acao(&r).as_deref(), Some(PAGE));
    let expired = emu
        .token_with(json!({ "persona": "reader", "ttl_secs": -5 }))
        .await;
    let r = emu
        .http
        .get(&api)
        .header("origin", PAGE)
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(acao(&r).as_deref(), Some(PAGE));
    let preflight = |origin: &'static str| {
        emu.http
            .request(reqwest::Method::OPTIONS, &api)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let r = preflight(PAGE).await.unwrap();
    assert_eq!(acao(&r).as_deref(), Some(PAGE));
    let allowed_headers = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed_headers
            .to_ascii_lowercase()
            .contains("authorization"),
        "{allowed_headers}"
    );

    // Any other page gets no CORS headers at all, so its browser reports a CORS refusal.
    let r = emu
        .http
        .get(&api)
        .header("origin", OTHER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(acao(&r), None);
    let r = preflight(OTHER).await.unwrap();
    assert_eq!(acao(&r), None);
    let good = emu.token("reader").await;
    let r = emu
        .http
        .get(&api)
        .header("origin", OTHER)
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(acao(&r), None);

    // MSAL on the allowed page fetches discovery, keys and the token endpoint cross-origin.
    for path in [
        format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        format!("/{TENANT}/discovery/v2.0/keys"),
    ] {
        let r = emu
            .http
            .get(format!("{}{path}", emu.url))
            .header("origin", PAGE)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let allowed = acao(&r);
        assert!(
            matches!(allowed.as_deref(), Some(PAGE) | Some("*")),
            "{path}: {allowed:?}"
        );
    }
    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.url);
    let r = emu
        .http
        .request(reqwest::Method::OPTIONS, &token_url)
        .header("origin", PAGE)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(matches!(acao(&r).as_deref(), Some(PAGE) | Some("*")));
    let r = emu
        .http
        .post(&token_url)
        .header("origin", PAGE)
        .form(&[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "an OAuth error the page can read");
    assert!(matches!(acao(&r).as_deref(), Some(PAGE) | Some("*")));
    emu.stop().await;
}

fn query_value(location: &str, key: &str) -> Option<String> {
    location
        .split(['?', '&', '#'])
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// The redirect URI of the emulator-served page: its own origin may sign in.
fn redirect(emu: &Emu) -> String {
    format!("{}/", emu.url)
}

/// `/authorize` with a login hint (and a cookie, if any); returns the redirect location and
/// the cookie it sets.
async fn authorize(
    emu: &Emu,
    extra: &[(&str, &str)],
    cookie: Option<&str>,
) -> (String, Option<String>) {
    let redirect = redirect(emu);
    let mut pairs = vec![
        ("client_id", DEMO_CLIENT_ID),
        (
            "scope",
            "https://api.securitycenter.microsoft.com/.default openid offline_access",
        ),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("response_mode", "query"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    let q = defender_tags_emulator::web::encode_pairs(&pairs);
    let mut req = emu
        .http
        .get(format!("{}/{TENANT}/oauth2/v2.0/authorize?{q}", emu.url));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let set = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    (loc, set)
}

async fn token_call(emu: &Emu, form: &[(&str, &str)]) -> (u16, Value) {
    let r = emu
        .http
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", emu.url))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn sign_in(emu: &Emu, persona: &str) -> (Value, String) {
    let (loc, cookie) = authorize(emu, &[("login_hint", persona)], None).await;
    let code = query_value(&loc, "code").expect("a code");
    let redirect = redirect(emu);
    let (status, tokens) = token_call(
        emu,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    (tokens, cookie.expect("sign-in sets the session cookie"))
}

#[tokio::test]
async fn expired_sessions_need_a_new_interactive_sign_in() {
    let emu = Emu::with(Config {
        machines: 50,
        ..Config::default()
    })
    .await;
    let (tokens, cookie) = sign_in(&emu, "analyst").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(emu.get("/api/machines?$top=1", &access).await.status, 200);
    let (silent, _) = authorize(
        &emu,
        &[("prompt", "none"), ("login_hint", "analyst")],
        Some(&cookie),
    )
    .await;
    assert!(
        query_value(&silent, "code").is_some(),
        "silent sign-in works before"
    );

    let r = emu
        .http
        .post(format!("{}/_emulator/sessions/expire", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The access token is refused as expired, the refresh token is gone, and the silent iframe
    // (prompt=none, with MSAL's login_hint and the old cookie) needs the user.
    let r = emu.get("/api/machines?$top=1", &access).await;
    let message = r.error(401, "Unauthorized");
    assert!(message.contains("expired"), "{message}");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    let (status, err) = token_call(
        &emu,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (silent, _) = authorize(
        &emu,
        &[("prompt", "none"), ("login_hint", "analyst")],
        Some(&cookie),
    )
    .await;
    assert_eq!(
        query_value(&silent, "error").as_deref(),
        Some("login_required")
    );
    let (silent, _) = authorize(&emu, &[("prompt", "none")], None).await;
    assert_eq!(
        query_value(&silent, "error").as_deref(),
        Some("login_required")
    );

    // Signing in again (interactively) works, and so does silent renewal with the new cookie.
    let (tokens, cookie) = sign_in(&emu, "analyst").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(emu.get("/api/machines?$top=1", access).await.status, 200);
    let (silent, _) = authorize(
        &emu,
        &[("prompt", "none"), ("login_hint", "analyst")],
        Some(&cookie),
    )
    .await;
    assert!(query_value(&silent, "code").is_some(), "{silent}");
    assert_eq!(
        emu.get("/api/machines?$top=1", &emu.token("app").await)
            .await
            .status,
        200
    );

    // Reset forgets the expiry.
    let r = emu
        .http
        .post(format!("{}/_emulator/reset", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        emu.get("/api/machines?$top=1", &access_of(&emu, "reader").await)
            .await
            .status,
        200
    );
    emu.stop().await;
}

async fn access_of(emu: &Emu, persona: &str) -> String {
    emu.token(persona).await
}

#[tokio::test]
async fn the_reader_signs_in_with_a_read_only_token() {
    let emu = Emu::with(Config {
        machines: 50,
        ..Config::default()
    })
    .await;
    let (tokens, _) = sign_in(&emu, "reader").await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert_eq!(claims["scp"], "Machine.Read");
    assert_eq!(claims["tid"], TENANT);
    let list = emu.get("/api/machines?$top=1", access).await;
    assert_eq!(list.status, 200);
    let mid = id(&list.body["value"][0]);
    let m = emu
        .post(
            &format!("/api/machines/{mid}/tags"),
            access,
            json!({ "Value": "x", "Action": "Add" }),
        )
        .await
        .error(403, "Forbidden");
    assert!(m.contains("Machine.ReadWrite"), "{m}");
    emu.stop().await;
}
