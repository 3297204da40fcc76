//! Two tenants on one emulator: separate datasets, tokens that carry their tenant, the API
//! selecting the dataset by `tid`, per-tenant rate limits, admin `?tenant=`, persistence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use common::*;
use defender_tags_emulator::{Config, DEMO_CLIENT_ID};
use serde_json::{Value, json};

fn two_tenants() -> Config {
    Config {
        machines: 400,
        second_tenant_machines: 150,
        // The page the sign-in tests redirect to.
        redirect_origins: vec!["http://127.0.0.1:9".into()],
        ..Config::default()
    }
}

fn ids(list: &Value) -> HashSet<String> {
    list["value"].as_array().unwrap().iter().map(id).collect()
}

#[tokio::test]
async fn each_tenant_sees_only_its_own_machines() {
    let emu = Emu::with(two_tenants()).await;
    let contoso = emu.token_in(TENANT, "app").await;
    let fabrikam = emu.token_in(SECOND_TENANT, "app").await;
    assert_eq!(jwt_claims(&contoso)["tid"], TENANT);
    assert_eq!(jwt_claims(&fabrikam)["tid"], SECOND_TENANT);
    assert_eq!(
        jwt_claims(&fabrikam)["iss"],
        format!("{}/{SECOND_TENANT}/v2.0", emu.url)
    );

    let raw_c = emu.raw_machines_of(TENANT).await;
    let raw_f = emu.raw_machines_of(SECOND_TENANT).await;
    assert_eq!((raw_c.len(), raw_f.len()), (400, 150));
    assert_eq!(
        raw_c,
        emu.raw_machines().await,
        "no ?tenant= means the demo tenant"
    );
    let names_c: Vec<String> = raw_c.iter().map(name).collect();
    let names_f: Vec<String> = raw_f.iter().map(name).collect();
    assert!(names_c.iter().any(|n| n.ends_with(".contoso.local")));
    assert!(names_f.iter().any(|n| n.ends_with(".fabrikam.local")));
    assert!(names_c.iter().all(|n| !n.contains("fabrikam")));
    assert!(names_f.iter().all(|n| !n.contains("contoso")));
    assert!(
        names_f.iter().all(|n| n.ends_with(".fabrikam.local")),
        "every Fabrikam name tells its tenant"
    );

    let list_c = emu.get("/api/machines", &contoso).await;
    let list_f = emu.get("/api/machines", &fabrikam).await;
    assert_eq!((list_c.status.as_u16(), list_f.status.as_u16()), (200, 200));
    let (seen_c, seen_f) = (ids(&list_c.body), ids(&list_f.body));
    assert_eq!(seen_c.len(), raw_c.iter().filter(|m| recent(m)).count());
    assert_eq!(seen_f.len(), raw_f.iter().filter(|m| recent(m)).count());
    assert!(seen_c.is_disjoint(&seen_f), "no machine in both tenants");
    let all_f: HashSet<String> = raw_f.iter().map(id).collect();
    assert!(
        seen_c.is_disjoint(&all_f),
        "Contoso sees none of Fabrikam's"
    );

    // By id, by name and by tag: the other tenant's machines do not exist.
    let theirs = raw_f.iter().find(|m| recent(m)).unwrap();
    let their_id = id(theirs);
    emu.get(&format!("/api/machines/{their_id}"), &contoso)
        .await
        .error(404, "ResourceNotFound");
    emu.get(&format!("/api/machines/{}", name(theirs)), &contoso)
        .await
        .error(404, "ResourceNotFound");
    let ours = emu
        .get(&format!("/api/machines/{their_id}"), &fabrikam)
        .await;
    assert_eq!(ours.status, 200);
    let found = emu
        .get(
            "/api/machines/findbytag?tag=Pilot&useStartsWithFilter=true",
            &contoso,
        )
        .await;
    assert!(ids(&found.body).is_disjoint(&all_f));
    emu.stop().await;
}

#[tokio::test]
async fn a_token_cannot_tag_the_other_tenants_machines() {
    let emu = Emu::with(two_tenants()).await;
    let contoso = emu.token_in(TENANT, "app").await;
    let raw_f = emu.raw_machines_of(SECOND_TENANT).await;
    let theirs: Vec<String> = raw_f.iter().filter(|m| recent(m)).take(3).map(id).collect();
    let tag = json!({ "Value": "cross-tenant", "Action": "Add" });

    emu.post(
        &format!("/api/machines/{}/tags", theirs[0]),
        &contoso,
        tag.clone(),
    )
    .await
    .error(404, "ResourceNotFound");
    let bulk = emu
        .post(
            "/api/machines/AddOrRemoveTagForMultipleMachines",
            &contoso,
            json!({ "Value": "cross-tenant", "Action": "Add", "MachineIds": theirs }),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(
        bulk.body["value"].as_array().unwrap().len(),
        0,
        "unknown ids are skipped"
    );
    for m in emu.raw_machines_of(SECOND_TENANT).await {
        assert!(
            !m.to_string().contains("cross-tenant"),
            "Fabrikam unchanged"
        );
    }

    // The same call with a Fabrikam token changes Fabrikam only.
    let fabrikam = emu.token_in(SECOND_TENANT, "app").await;
    let r = emu
        .post(&format!("/api/machines/{}/tags", theirs[0]), &fabrikam, tag)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = emu
        .http
        .get(format!(
            "{}/_emulator/machines/{}?tenant={SECOND_TENANT}",
            emu.url, theirs[0]
        ))
        .send()
        .await
        .unwrap();
    assert!(after.text().await.unwrap().contains("cross-tenant"));
    let in_contoso = emu
        .http
        .get(format!("{}/_emulator/machines/{}", emu.url, theirs[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(in_contoso.status(), 404);
    emu.stop().await;
}

#[tokio::test]
async fn rate_limits_are_counted_per_tenant() {
    let emu = Emu::with(two_tenants()).await;
    let contoso = emu.token_in(TENANT, "app").await;
    let fabrikam = emu.token_in(SECOND_TENANT, "app").await;
    assert_eq!(
        jwt_claims(&contoso)["appid"],
        jwt_claims(&fabrikam)["appid"],
        "the same application in both tenants"
    );
    for _ in 0..100 {
        assert_eq!(emu.get("/api/machines?$top=1", &contoso).await.status, 200);
    }
    emu.get("/api/machines?$top=1", &contoso)
        .await
        .error(429, "TooManyRequests");
    let other = emu.get("/api/machines?$top=1", &fabrikam).await;
    assert_eq!(other.status, 200, "Fabrikam's budget is its own");
    emu.stop().await;
}

/// Signs in with a known `login_hint` (no chooser) under `/{tenant}` and redeems the code there.
async fn sign_in_tokens(emu: &Emu, tenant: &str, persona: &str) -> (u16, Value) {
    let (code, _cookie) = code_for(emu, tenant, persona).await;
    redeem(emu, tenant, &code).await
}

async fn code_for(emu: &Emu, tenant: &str, persona: &str) -> (String, String) {
    let q = defender_tags_emulator::web::encode_pairs(&[
        ("client_id", DEMO_CLIENT_ID),
        (
            "scope",
            "https://api.securitycenter.microsoft.com/.default openid",
        ),
        ("redirect_uri", "http://127.0.0.1:9/"),
        ("response_type", "code"),
        ("response_mode", "query"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("login_hint", persona),
    ]);
    let r = emu
        .http
        .get(format!("{}/{tenant}/oauth2/v2.0/authorize?{q}", emu.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let loc = r.headers()["location"].to_str().unwrap();
    let code = loc
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap()
        .to_owned();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    (code, cookie)
}

/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn redeem(emu: &Emu, tenant: &str, code: &str) -> (u16, Value) {
    let r = emu
        .http
        .post(format!("{}/{tenant}/oauth2/v2.0/token", emu.url))
        .form(&[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:9/"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn identity_provider_issues_tokens_for_the_authority_paths_tenant() {
    let emu = Emu::with(two_tenants()).await;
    // Discovery per tenant, by id and by domain.
    for path in [SECOND_TENANT, "fabrikam.onmicrosoft.com"] {
        let d: Value = emu
            .http
            .get(format!(
                "{}/{path}/v2.0/.well-known/openid-configuration",
                emu.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["issuer"], format!("{}/{SECOND_TENANT}/v2.0", emu.url));
        assert_eq!(
            d["token_endpoint"],
            format!("{}/{SECOND_TENANT}/oauth2/v2.0/token", emu.url)
        );
    }
    let unknown = emu
        .http
        .get(format!(
            "{}/33333333-4444-5555-6666-777777777777/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 90002);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Fabrikam")
    );

    // A user signs in to Fabrikam: every token names Fabrikam and the API shows its machines.
    let (status, tokens) = sign_in_tokens(&emu, SECOND_TENANT, "reader").await;
    assert_eq!(status, 200, "{tokens}");
    let at = jwt_claims(tokens["access_token"].as_str().unwrap());
    let idt = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (&at["tid"], &idt["tid"]),
        (&json!(SECOND_TENANT), &json!(SECOND_TENANT))
    );
    assert_eq!(at["upn"], "reader@fabrikam.onmicrosoft.com");
    assert_eq!(idt["iss"], format!("{}/{SECOND_TENANT}/v2.0", emu.url));
    let list = emu
        .get(
            "/api/machines?$top=5",
            tokens["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(list.status, 200);
    let listed: Vec<String> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(name)
        .collect();
    assert!(
        listed.iter().all(|n| n.ends_with(".fabrikam.local")),
        "{listed:?}"
    );

    // A code from one tenant is not redeemed at another's token endpoint.
    let (code, _) = code_for(&emu, TENANT, "analyst").await;
    let (status, err) = redeem(&emu, SECOND_TENANT, &code).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_grant");

    // Client credentials at Fabrikam's endpoint.
    let r: Value = emu
        .http
        .post(format!("{}/{SECOND_TENANT}/oauth2/v2.0/token", emu.url))
        .form(&[
            ("client_id", "d43f5e7c-0000-4000-8000-00000000a991"),
            ("grant_type", "client_credentials"),
            ("client_secret", "x"),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwt_claims(r["access_token"].as_str().unwrap())["tid"],
        SECOND_TENANT
    );
    emu.stop().await;
}

#[tokio::test]
async fn one_tenant_unless_asked_and_the_second_is_then_unknown() {
    let emu = Emu::with(Config {
        machines: 100,
        ..Config::default()
    })
    .await;
    let r = emu
        .http
        .get(format!(
            "{}/{SECOND_TENANT}/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 90002);
    let r = emu
        .http
        .post(format!(
            "{}/_emulator/token?tenant={SECOND_TENANT}",
            emu.url
        ))
        .json(&json!({ "persona": "app" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains(SECOND_TENANT));
    let info: Value = emu
        .http
        .get(format!("{}/_emulator/info", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["tenants"].as_array().unwrap().len(), 1);
    assert_eq!(info["tenants"][0]["name"], "Contoso");
    emu.stop().await;
}

#[tokio::test]
async fn admin_endpoints_take_a_tenant() {
    let emu = Emu::with(two_tenants()).await;
    let info: Value = emu
        .http
        .get(format!(
            "{}/_emulator/info?tenant=fabrikam.onmicrosoft.com",
            emu.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["tenant"], SECOND_TENANT);
    assert_eq!(info["tenant_name"], "Fabrikam");
    assert_eq!(info["machines"], 150);
    assert_eq!(info["seed"], 43);
    assert_eq!(
        info["authority"],
        format!("{}/{SECOND_TENANT}/v2.0", emu.url)
    );
    let names: Vec<&str> = info["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Contoso", "Fabrikam"]);

    let bad = emu
        .http
        .get(format!("{}/_emulator/machines?tenant=nope", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let msg = bad.text().await.unwrap();
    assert!(msg.contains("tenant") && msg.contains("nope"), "{msg}");

    // Reset with a tenant regenerates that tenant only; without, every tenant.
    let c_token = emu.token_in(TENANT, "app").await;
    let f_token = emu.token_in(SECOND_TENANT, "app").await;
    let c_id = id(&emu.raw_machines_of(TENANT).await[0]);
    let f_id = id(&emu.raw_machines_of(SECOND_TENANT).await[0]);
    let tag = json!({ "Value": "before-reset", "Action": "Add" });
    for (mid, t) in [(&c_id, &c_token), (&f_id, &f_token)] {
        let r = emu
            .post(&format!("/api/machines/{mid}/tags"), t, tag.clone())
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let has_tag = |ms: Vec<Value>| ms.iter().any(|m| m.to_string().contains("before-reset"));
    let r = emu
        .http
        .post(format!(
            "{}/_emulator/reset?tenant={SECOND_TENANT}",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!has_tag(emu.raw_machines_of(SECOND_TENANT).await));
    assert!(has_tag(emu.raw_machines_of(TENANT).await), "Contoso kept");
    let r = emu
        .http
        .post(format!("{}/_emulator/reset", emu.url))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["tenants"].as_array().unwrap().len(), 2);
    assert!(!has_tag(emu.raw_machines_of(TENANT).await));
    emu.stop().await;
}

#[tokio::test]
async fn data_file_keeps_every_tenant_and_reads_the_old_format() {
    let dir = common::temp_dir("tenants");
    let data = dir.join("state.json");
    let config = Config {
        data_file: Some(data.clone()),
        ..two_tenants()
    };

    // Tag one machine in each tenant, stop, start again: both tags are back.
    let emu = Emu::with(config.clone()).await;
    let c_id = id(&emu.raw_machines_of(TENANT).await[1]);
    let f_id = id(&emu.raw_machines_of(SECOND_TENANT).await[1]);
    for (tenant, mid, tag) in [
        (TENANT, &c_id, "saved-c"),
        (SECOND_TENANT, &f_id, "saved-f"),
    ] {
        let t = emu.token_in(tenant, "app").await;
        let r = emu
            .post(
                &format!("/api/machines/{mid}/tags"),
                &t,
                json!({ "Value": tag, "Action": "Add" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    emu.stop().await;
    let emu = Emu::with(config.clone()).await;
    assert!(
        emu.raw_machines_of(TENANT).await[1]
            .to_string()
            .contains("saved-c")
    );
    assert!(
        emu.raw_machines_of(SECOND_TENANT).await[1]
            .to_string()
            .contains("saved-f")
    );
    emu.stop().await;

    // Started once without the second tenant: Fabrikam stays in the file, untouched.
    let emu = Emu::with(Config {
        second_tenant_machines: 0,
        ..config.clone()
    })
    .await;
    let t = emu.token_in(TENANT, "app").await;
    let r = emu
        .post(
            &format!("/api/machines/{c_id}/tags"),
            &t,
            json!({ "Value": "one-tenant-run", "Action": "Add" }),
        )
        .await;
    assert_eq!(r.status, 200);
    emu.stop().await;
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    let tenants = saved["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 2);
    assert!(tenants[1].to_string().contains("saved-f"));

    // A format-1 file (one tenant) loads as the demo tenant; the second is generated.
    let old_machines = saved["tenants"][0]["machines"].clone();
    std::fs::write(
        &data,
        json!({ "format": 1, "machines": old_machines }).to_string(),
    )
    .unwrap();
    let emu = Emu::with(config).await;
    assert!(
        emu.raw_machines_of(TENANT).await[1]
            .to_string()
            .contains("one-tenant-run")
    );
    let f = emu.raw_machines_of(SECOND_TENANT).await;
    assert_eq!(f.len(), 150);
    assert!(!f[1].to_string().contains("saved-f"));
    emu.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
