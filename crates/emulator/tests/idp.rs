//! The dev identity provider (OIDC code + PKCE, refresh, client credentials) and the API's
//! token checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use defender_tags_emulator::DEMO_CLIENT_ID;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn query_of(location: &str, sep: char) -> Vec<(String, String)> {
    let q = location.split_once(sep).unwrap().1;
    url_pairs(q)
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
    pairs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-long-enough-verifier";
const REDIRECT: &str = "http://127.0.0.1:9/app/";
/// The page origin of `REDIRECT`: allowed to sign in, not to call the API.
const PAGE: &str = "http://127.0.0.1:9";

/// An emulator on which `PAGE` may sign in (`--redirect-origin`).
async fn idp_emu() -> Emu {
    Emu::with(defender_tags_emulator::Config {
        redirect_origins: vec![PAGE.into()],
        ..Default::default()
    })
    .await
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

fn authorize_query(extra: &[(&str, &str)]) -> String {
    let ch = challenge();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("client_id", DEMO_CLIENT_ID),
        (
            "scope",
            "https://api.securitycenter.microsoft.com/.default openid profile offline_access",
        ),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("response_mode", "fragment"),
        ("state", "st@te with spaces"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", &ch),
        ("code_challenge_method", "S256"),
        ("client_info", "1"),
    ];
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    pairs.extend_from_slice(extra);
    defender_tags_emulator::web::encode_pairs(&pairs)
}

async fn discovery(emu: &Emu) -> Value {
    let r = emu
        .http
        .get(format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Sign in through the persona page and return the redirect's parameters.
async fn sign_in(emu: &Emu, persona: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let d = discovery(emu).await;
    let authz = d["authorization_endpoint"].as_str().unwrap();
    let page = emu
        .http
        .get(format!("{authz}?{}", authorize_query(extra)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.to_lowercase().contains("<script"),
        "no script on the sign-in page"
    );
    for p in ["app", "analyst", "reader", "admin"] {
        assert!(html.contains(&format!("value=\"{p}\"")), "button for {p}");
    }
    // Post the form the way a browser would: every hidden field plus the pressed button.
    let mut form: Vec<(String, String)> = html
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|chunk| {
            let name = chunk
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let value = chunk
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let unescape = |s: &str| {
                s.replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            };
            (unescape(name), unescape(value))
        })
        .collect();
    form.push(("persona".into(), persona.into()));
    let r = emu.http.post(authz).form(&form).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("emulator_session=")
    );
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let sep = if extra.contains(&("response_mode", "query")) {
        '?'
    } else {
        '#'
    };
    query_of(&loc, sep)
}

async fn redeem(emu: &Emu, form: &[(&str, &str)]) -> (u16, Value) {
    let d = discovery(emu).await;
    let r = emu
        .http
        .post(d["token_endpoint"].as_str().unwrap())
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn discovery_and_jwks_are_consistent_and_cors_enabled() {
    let emu = idp_emu().await;
    let d = discovery(&emu).await;
    let issuer = format!("{}/{TENANT}/v2.0", emu.url);
    assert_eq!(d["issuer"], issuer);
    for k in [
        "authorization_endpoint",
        "token_endpoint",
        "end_session_endpoint",
        "jwks_uri",
    ] {
        assert!(
            d[k].as_str()
                .unwrap()
                .starts_with(&format!("{}/{TENANT}/", emu.url)),
            "{k}"
        );
    }
    let v1 = emu
        .http
        .get(format!(
            "{}/{TENANT}/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(v1.json::<Value>().await.unwrap()["issuer"], issuer);
    let common = emu
        .http
        .get(format!(
            "{}/common/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(common.status(), 200);
    let bad = emu
        .http
        .get(format!(
            "{}/not-a-tenant/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let jwks: Value = emu
        .http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "no private parts in the JWKS");
    let pre = emu
        .http
        .request(
            reqwest::Method::OPTIONS,
            d["token_endpoint"].as_str().unwrap(),
        )
        .header("origin", PAGE)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-client-current-telemetry",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.headers()["access-control-allow-origin"], PAGE);
    // --public-url changes every advertised URL and the issuer.
    let public = Emu::with(defender_tags_emulator::Config {
        public_url: Some("https://login.emulator.test".into()),
        ..Default::default()
    })
    .await;
    let d = discovery(&public).await;
    assert_eq!(
        d["issuer"],
        format!("https://login.emulator.test/{TENANT}/v2.0")
    );
    assert_eq!(
        d["token_endpoint"],
        format!("https://login.emulator.test/{TENANT}/oauth2/v2.0/token")
    );
    public.stop().await;
    emu.stop().await;
}

#[tokio::test]
async fn code_pkce_flow_then_api_call_then_refresh() {
    let emu = idp_emu().await;
    let p = sign_in(&emu, "analyst", &[]).await;
    assert_eq!(
        param(&p, "state"),
        Some("st@te with spaces"),
        "state echoed verbatim"
    );
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(param(&p, "client_info").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["utid"], TENANT);
    let code = param(&p, "code").unwrap().to_owned();

    let form = [
        ("client_id", DEMO_CLIENT_ID),
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        (
            "scope",
            "https://api.securitycenter.microsoft.com/.default openid profile offline_access",
        ),
    ];
    let (status, tok) = redeem(&emu, &form).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 3599);
    assert_eq!(tok["ext_expires_in"], 3599);
    assert!(tok["scope"].as_str().unwrap().contains("/.default"));
    assert_eq!(tok["client_info"].as_str(), param(&p, "client_info"));
    let id = claims(tok["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["aud"], DEMO_CLIENT_ID);
    assert_eq!(id["iss"], format!("{}/{TENANT}/v2.0", emu.url));
    assert_eq!(id["tid"], TENANT);
    assert_eq!(id["preferred_username"], "analyst@contoso.onmicrosoft.com");
    assert_eq!(id["oid"], info["uid"]);
    for k in ["sub", "name", "iat", "nbf", "exp"] {
        assert!(!id[k].is_null(), "{k}");
    }
    // The ID token verifies against the published JWKS.
    let d = discovery(&emu).await;
    let jwks: Value = emu
        .http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwks["keys"][0]["n"].as_str().unwrap(),
        jwks["keys"][0]["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[DEMO_CLIENT_ID]);
    v.set_issuer(&[d["issuer"].as_str().unwrap()]);
    jsonwebtoken::decode::<Value>(tok["id_token"].as_str().unwrap(), &key, &v).unwrap();

    let at = tok["access_token"].as_str().unwrap();
    let c = claims(at);
    assert_eq!(c["aud"], "https://api.securitycenter.microsoft.com");
    assert_eq!(c["scp"], "Machine.ReadWrite");
    assert_eq!(c["azp"], DEMO_CLIENT_ID);
    let r = emu.get("/api/machines", at).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| [101, 102, 103].contains(&group(m)))
    );

    // Codes are single use; verifier must match.
    let (status, e) = redeem(&emu, &form).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let p2 = sign_in(&emu, "reader", &[]).await;
    let code2 = param(&p2, "code").unwrap();
    let (status, e) = redeem(
        &emu,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code2),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "wrong-verifier-wrong-verifier-wrong-verifier",
            ),
        ],
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );

    // refresh_token
    let rt = tok["refresh_token"].as_str().unwrap();
    let (status, t2) = redeem(
        &emu,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            (
                "scope",
                "https://api.securitycenter.microsoft.com/.default openid offline_access",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{t2}");
    assert_ne!(t2["access_token"], tok["access_token"]);
    assert_eq!(
        emu.get("/api/machines?$top=1", t2["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    let (status, e) = redeem(
        &emu,
        &[
            ("client_id", "other-client"),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, e) = redeem(
        &emu,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", "bogus"),
        ],
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    emu.stop().await;
}

#[tokio::test]
async fn client_credentials_grant() {
    let emu = idp_emu().await;
    let scope = "https://api.securitycenter.microsoft.com/.default";
    let (status, tok) = redeem(
        &emu,
        &[
            ("client_id", "my-daemon"),
            ("client_secret", "s3cret"),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tok}");
    assert!(tok.get("refresh_token").is_none() && tok.get("id_token").is_none());
    let c = claims(tok["access_token"].as_str().unwrap());
    assert_eq!(c["roles"], json!(["Machine.ReadWrite.All"]));
    assert_eq!(c["appid"], "my-daemon");
    assert!(c.get("scp").is_none());
    assert_eq!(
        emu.get(
            "/api/machines?$top=1",
            tok["access_token"].as_str().unwrap()
        )
        .await
        .status,
        200
    );
    let (status, e) = redeem(
        &emu,
        &[
            ("client_id", "my-daemon"),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_client")));
    let (status, e) = redeem(
        &emu,
        &[
            ("client_id", "my-daemon"),
            ("client_secret", "s"),
            ("grant_type", "client_credentials"),
            ("scope", "Machine.Read"),
        ],
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));
    let (status, e) = redeem(&emu, &[("client_id", "x"), ("grant_type", "password")]).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn authorize_modes_prompt_none_login_hint_and_errors() {
    let emu = idp_emu().await;
    let p = sign_in(&emu, "reader", &[("response_mode", "query")]).await;
    assert!(param(&p, "code").is_some());

    let authz = format!("{}/{TENANT}/oauth2/v2.0/authorize", emu.url);
    let go = |q: String| {
        let http = emu.http.clone();
        let authz = authz.clone();
        async move { http.get(format!("{authz}?{q}")).send().await.unwrap() }
    };
    let r = go(authorize_query(&[("prompt", "none")])).await;
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let p = query_of(&loc, '#');
    assert_eq!(param(&p, "error"), Some("login_required"));
    assert_eq!(param(&p, "state"), Some("st@te with spaces"));

    let r = go(authorize_query(&[(
        "login_hint",
        "reader@contoso.onmicrosoft.com",
    )]))
    .await;
    let p = query_of(r.headers()["location"].to_str().unwrap(), '#');
    assert!(
        param(&p, "code").is_some(),
        "a known login_hint skips the chooser"
    );

    // The sign-in cookie makes prompt=none (MSAL's silent iframe) succeed.
    let r = emu
        .http
        .get(format!(
            "{authz}?{}",
            authorize_query(&[("prompt", "none")])
        ))
        .header("cookie", "emulator_session=analyst")
        .send()
        .await
        .unwrap();
    let p = query_of(r.headers()["location"].to_str().unwrap(), '#');
    assert!(param(&p, "code").is_some());

    let r = go(authorize_query(&[("code_challenge", "")])).await;
    let p = query_of(r.headers()["location"].to_str().unwrap(), '#');
    assert_eq!(param(&p, "error"), Some("invalid_request"));
    let r = go(authorize_query(&[("code_challenge_method", "plain")])).await;
    assert_eq!(
        param(
            &query_of(r.headers()["location"].to_str().unwrap(), '#'),
            "error"
        ),
        Some("invalid_request")
    );
    let r = go(authorize_query(&[("redirect_uri", "javascript:alert(1)")])).await;
    assert_eq!(r.status(), 400, "a bad redirect URI is never redirected to");
    let body = r.text().await.unwrap();
    assert!(body.contains("AADSTS50011"));

    // Cancel on the chooser → access_denied.
    let r = emu
        .http
        .post(&authz)
        .form(&url_pairs(&authorize_query(&[("persona", "")])))
        .send()
        .await
        .unwrap();
    let p = query_of(r.headers()["location"].to_str().unwrap(), '#');
    assert_eq!(param(&p, "error"), Some("access_denied"));

    // Logout forgets the cookie and goes back.
    let r = emu
        .http
        .get(format!(
            "{}/{TENANT}/oauth2/v2.0/logout?post_logout_redirect_uri={}",
            emu.url,
            defender_tags_emulator::web::encode_component(REDIRECT)
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], REDIRECT);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    emu.stop().await;
}

#[tokio::test]
async fn api_rejects_bad_tokens_with_401_and_missing_permissions_with_403() {
    let emu = idp_emu().await;
    let other = Emu::start().await;
    let list = "/api/machines?$top=1";

    let r = emu.send(emu.http.get(format!("{}{list}", emu.url))).await;
    r.error(401, "Unauthorized");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    emu.send(
        emu.http
            .get(format!("{}{list}", emu.url))
            .header("authorization", "Basic abc"),
    )
    .await
    .error(401, "Unauthorized");
    emu.get(list, "not.a.jwt").await.error(401, "Unauthorized");
    let forged = other.token("app").await;
    assert!(
        emu.get(list, &forged)
            .await
            .error(401, "Unauthorized")
            .contains("signature"),
        "signed by another key"
    );
    let expired = emu
        .token_with(json!({"persona": "app", "ttl_secs": -30}))
        .await;
    assert!(
        emu.get(list, &expired)
            .await
            .error(401, "Unauthorized")
            .contains("expired")
    );
    let foreign_iss = {
        let r = emu
            .http
            .post(format!("{}/_emulator/token", emu.url))
            .json(&json!({"persona": "app", "issuer_origin": "http://evil.example"}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        emu.get(list, &foreign_iss)
            .await
            .error(401, "Unauthorized")
            .contains("issuer")
    );
    let wrong_aud = emu
        .token_with(json!({"persona": "app", "audience": "https://graph.microsoft.com"}))
        .await;
    assert!(
        emu.get(list, &wrong_aud)
            .await
            .error(403, "Forbidden")
            .contains("audience")
    );
    let new_aud = emu
        .token_with(json!({"persona": "app", "audience": "https://api.security.microsoft.com"}))
        .await;
    assert_eq!(
        emu.get(list, &new_aud).await.status,
        200,
        "the current resource URI is accepted too"
    );

    let no_roles = emu
        .token_with(json!({"persona": "app", "permissions": []}))
        .await;
    let m = emu.get(list, &no_roles).await.error(403, "Forbidden");
    assert!(m.contains("Machine.Read.All"), "{m}");
    let read_all = emu
        .token_with(json!({"persona": "app", "permissions": ["Machine.Read.All"]}))
        .await;
    assert_eq!(emu.get(list, &read_all).await.status, 200);
    let raw = emu.raw_machines().await;
    let target = raw.iter().find(|m| recent(m)).map(id).unwrap();
    let tag = json!({"Value": "x", "Action": "Add"});
    let m = emu
        .post(
            &format!("/api/machines/{target}/tags"),
            &read_all,
            tag.clone(),
        )
        .await
        .error(403, "Forbidden");
    assert!(m.contains("Machine.ReadWrite.All"), "{m}");
    let reader = emu.token("reader").await;
    assert_eq!(emu.get(list, &reader).await.status, 200);
    let m = emu
        .post(
            &format!("/api/machines/{target}/tags"),
            &reader,
            tag.clone(),
        )
        .await
        .error(403, "Forbidden");
    assert!(m.contains("Machine.ReadWrite"), "{m}");
    emu.post(
        "/api/machines/AddOrRemoveTagForMultipleMachines",
        &reader,
        json!({"Value": "x", "Action": "Add", "MachineIds": [target]}),
    )
    .await
    .error(403, "Forbidden");
    other.stop().await;
    emu.stop().await;
}

#[tokio::test]
async fn delegated_users_only_see_their_device_groups() {
    let emu = idp_emu().await;
    let analyst = emu.token("analyst").await;
    let raw = emu.raw_machines().await;
    let mine: Vec<&Value> = raw
        .iter()
        .filter(|m| recent(m) && [101, 102, 103].contains(&group(m)))
        .collect();
    let theirs = raw.iter().find(|m| recent(m) && group(m) == 104).unwrap();
    let r = emu.get("/api/machines", &analyst).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), mine.len());
    emu.get(&format!("/api/machines/{}", id(theirs)), &analyst)
        .await
        .error(404, "ResourceNotFound");
    emu.get(
        &format!(
            "/api/machines/{}",
            theirs["computerDnsName"].as_str().unwrap()
        ),
        &analyst,
    )
    .await
    .error(404, "ResourceNotFound");
    emu.post(
        &format!("/api/machines/{}/tags", id(theirs)),
        &analyst,
        json!({"Value": "x", "Action": "Add"}),
    )
    .await
    .error(404, "ResourceNotFound");
    let r = emu
        .post(
            "/api/machines/AddOrRemoveTagForMultipleMachines",
            &analyst,
            json!({"Value": "mine", "Action": "Add", "MachineIds": [id(mine[0]), id(theirs)]}),
        )
        .await;
    let got: Vec<String> = r.body["value"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(got, vec![id(mine[0])]);
    assert_eq!(
        emu.raw_machine(&id(theirs)).await["machineTags"],
        theirs["machineTags"]
    );
    let ok = emu
        .post(
            &format!("/api/machines/{}/tags", id(mine[1])),
            &analyst,
            json!({"Value": "mine", "Action": "Add"}),
        )
        .await;
    assert_eq!(ok.status, 200);
    let r = emu.get("/api/machines/findbytag?tag=mine", &analyst).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    emu.stop().await;
}

/// Issue #16 item 7: the identity provider redirects, and hands codes and tokens, only to the
/// emulator's own pages and the configured origins; other `Host`s are answered 421.
#[tokio::test]
async fn the_identity_provider_serves_only_its_own_and_configured_origins() {
    let portal = "http://127.0.0.1:7";
    let emu = Emu::with(defender_tags_emulator::Config {
        redirect_origins: vec![PAGE.into()],
        cors_origins: vec![portal.into()],
        public_url: Some("https://login.emulator.test".into()),
        ..Default::default()
    })
    .await;
    let authz = format!("{}/{TENANT}/oauth2/v2.0/authorize", emu.url);
    let get = |url: String| {
        let http = emu.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let own = format!("{}/app/", emu.url);

    // Open redirect and silent code: refused outright (a page, no Location) for foreign hosts,
    // including look-alikes of an allowed origin.
    for foreign in [
        "https://evil.example/cb",
        "http://127.0.0.1:9@evil.example/cb",
        "http://127.0.0.1:9.evil.example/cb",
        "http://127.0.0.1:99/cb",
        "https://127.0.0.1:9/cb",
    ] {
        for extra in [
            vec![("redirect_uri", foreign), ("login_hint", "admin")],
            vec![("redirect_uri", foreign), ("code_challenge", "")],
        ] {
            let r = get(format!("{authz}?{}", authorize_query(&extra))).await;
            assert_eq!(r.status(), 400, "{foreign}: {extra:?}");
            assert!(r.headers().get("location").is_none(), "{foreign}");
            assert!(r.text().await.unwrap().contains("AADSTS50011"));
        }
    }
    // The allowed ones: the emulator's own origin, --redirect-origin, --cors-origin, the
    // public URL.
    let public_cb = "https://login.emulator.test/cb".to_owned();
    for allowed in [
        own.as_str(),
        REDIRECT,
        &format!("{portal}/x"),
        public_cb.as_str(),
    ] {
        let r = get(format!(
            "{authz}?{}",
            authorize_query(&[("redirect_uri", allowed), ("login_hint", "admin")])
        ))
        .await;
        assert!(r.status().is_redirection(), "{allowed}: {}", r.status());
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with(allowed)
        );
    }

    // Logout goes back only to an allowed page.
    let logout = |to: &str| {
        format!(
            "{}/{TENANT}/oauth2/v2.0/logout?post_logout_redirect_uri={}",
            emu.url,
            defender_tags_emulator::web::encode_component(to)
        )
    };
    let r = get(logout("https://evil.example/")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("Signed out"));
    let r = get(logout(&own)).await;
    assert_eq!(r.headers()["location"], own.as_str());

    // The token endpoint: CORS and the request itself only for pages that may sign in.
    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", emu.url);
    let preflight = |origin: &'static str| {
        emu.http
            .request(reqwest::Method::OPTIONS, &token_url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let r = preflight("https://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = preflight(PAGE).await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], PAGE);
    let refresh_form = [
        ("client_id", DEMO_CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", "nope"),
    ];
    let r = emu
        .http
        .post(&token_url)
        .header("origin", "https://evil.example")
        .form(&refresh_form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("--redirect-origin"));
    let r = emu
        .http
        .post(&token_url)
        .header("origin", PAGE)
        .form(&refresh_form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "an allowed page gets to the grant check");

    // client_credentials: loopback tools only, never a browser page (not even an allowed one).
    let cc = [
        ("client_id", "my-daemon"),
        ("client_secret", "anything"),
        ("grant_type", "client_credentials"),
        ("scope", "https://api.securitycenter.microsoft.com/.default"),
    ];
    for origin in [PAGE, emu.url.as_str()] {
        let r = emu
            .http
            .post(&token_url)
            .header("origin", origin)
            .form(&cc)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{origin}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "unauthorized_client");
        assert!(e.get("access_token").is_none());
    }
    let r = emu.http.post(&token_url).form(&cc).send().await.unwrap();
    assert_eq!(r.status(), 200, "a loopback tool without a page");

    // DNS rebinding: a Host that is not ours is 421 everywhere; ours pass.
    let port = emu.url.rsplit(':').next().unwrap().to_owned();
    for path in [
        "/api/machines".to_owned(),
        format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        "/_emulator/info".to_owned(),
        "/config.json".to_owned(),
    ] {
        for host in [
            "evil.example",
            &format!("evil.example:{port}"),
            "127.0.0.1:1",
        ] {
            let r = emu
                .http
                .get(format!("{}{path}", emu.url))
                .header("host", host)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 421, "{host} {path}");
        }
        for host in [
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
            "login.emulator.test".to_owned(),
        ] {
            let r = emu
                .http
                .get(format!("{}{path}", emu.url))
                .header("host", &host)
                .send()
                .await
                .unwrap();
            assert_ne!(r.status(), 421, "{host} {path}");
        }
    }
    emu.stop().await;
}

#[tokio::test]
async fn cors_origin_star_opens_the_api_but_not_sign_in() {
    let emu = Emu::with(defender_tags_emulator::Config {
        cors_origins: vec!["*".into()],
        ..Default::default()
    })
    .await;
    let r = emu
        .http
        .get(format!(
            "{}/{TENANT}/oauth2/v2.0/authorize?{}",
            emu.url,
            authorize_query(&[("login_hint", "admin")])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "REDIRECT's origin is not configured");
    assert!(r.headers().get("location").is_none());
    emu.stop().await;
}
