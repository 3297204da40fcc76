use proptest::prelude::*;

use super::*;

const CLIENT: &str = "0b5b6c1e-1111-4222-8333-944445555666";
const TENANT_GUID: &str = "11111111-2222-3333-4444-555555555555";

fn fields(errors: &[ConfigError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

fn parse_err(json: &str) -> Vec<ConfigError> {
    match SiteConfig::parse(json) {
        Ok(c) => panic!("expected errors, parsed {c:?}"),
        Err(e) => e,
    }
}

fn one_error(json: &str) -> ConfigError {
    let errors = parse_err(json);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn minimal_config_takes_commercial_defaults() {
    let c = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "contoso.onmicrosoft.com"}}"#
    ))
    .unwrap();
    assert_eq!(c.client_id, CLIENT);
    assert_eq!(c.base_path, "/");
    assert!(!c.lock_settings);
    assert!(c.frame_ancestors.is_empty());
    assert_eq!(c.tenants.len(), 1);
    let t = &c.tenants[0];
    assert_eq!(t.id, "contoso.onmicrosoft.com");
    assert_eq!(t.name, "contoso.onmicrosoft.com");
    assert_eq!(t.cloud, Cloud::Commercial);
    assert_eq!(t.api_base.as_str(), "https://api.security.microsoft.com");
    assert_eq!(t.scope, crate::DEFAULT_SCOPE);
    assert_eq!(t.authority_origin, "https://login.microsoftonline.com");
    assert_eq!(
        t.authority,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    );
    assert_eq!(
        c.connect_src(),
        vec![
            "https://api.security.microsoft.com",
            "https://graph.microsoft.com",
            "https://login.microsoftonline.com"
        ]
    );
}

#[test]
fn each_cloud_has_its_hosts_and_scope() {
    for cloud in Cloud::ALL {
        let c = SiteConfig::parse(&format!(
            r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "cloud": "{}"}}"#,
            cloud.param()
        ))
        .unwrap();
        let t = &c.tenants[0];
        assert_eq!(t.cloud, cloud);
        assert_eq!(t.api_base, cloud.base_url());
        assert_eq!(t.scope, cloud.default_scope());
        assert_eq!(t.graph_base, cloud.graph_base_url());
        assert_eq!(t.graph_scope, cloud.graph_scope());
        assert_eq!(t.authority, format!("{}/{TENANT_GUID}", cloud.login_host()));
    }
}

#[test]
fn graph_origin_and_scope_are_configurable_per_tenant() {
    let c = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "graphBaseUrl": "http://127.0.0.1:8080",
             "tenants": [{{"id": "{TENANT_GUID}"}},
                         {{"id": "fabrikam.com", "cloud": "gcc-high",
                           "graphBaseUrl": "https://graph.microsoft.us",
                           "graphScope": "https://graph.microsoft.us/ThreatHunting.Read.All"}}]}}"#
    ))
    .unwrap();
    assert_eq!(c.tenants[0].graph_base.as_str(), "http://127.0.0.1:8080");
    assert_eq!(c.tenants[0].graph_scope, crate::cloud::GRAPH_SCOPE);
    assert_eq!(
        c.tenants[1].graph_base.as_str(),
        "https://graph.microsoft.us"
    );
    assert_eq!(
        c.tenants[1].graph_scope,
        "https://graph.microsoft.us/ThreatHunting.Read.All"
    );
    let errors = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "graphBaseUrl": "http://graph.example.test",
             "graphScope": ""}}"#
    ))
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["graphBaseUrl", "graphScope"]);
}

#[test]
fn tenants_inherit_top_level_values_and_may_override_them() {
    let c = SiteConfig::parse(&format!(
        r#"{{
            "clientId": "{CLIENT}",
            "cloud": "gcc",
            "apiBaseUrl": "https://defender-proxy.contoso.com/",
            "tenants": [
                {{"id": "{TENANT_GUID}", "name": " Contoso "}},
                {{"id": "fabrikam.com", "cloud": "dod", "apiBaseUrl": "https://api-gov.securitycenter.microsoft.us",
                  "scope": "https://example.test/.default", "authority": "https://login.example.test/"}}
            ],
            "basePath": "/tools/defender-tags/",
            "lockSettings": true,
            "frameAncestors": ["'self'", "https://portal.contoso.com", "https://portal.contoso.com/"]
        }}"#
    ))
    .unwrap();
    let [a, b] = &c.tenants[..] else {
        panic!("{c:?}")
    };
    assert_eq!(a.name, "Contoso");
    assert_eq!(a.cloud, Cloud::Gcc);
    assert_eq!(a.api_base.as_str(), "https://defender-proxy.contoso.com");
    assert_eq!(a.scope, Cloud::Gcc.default_scope());
    assert_eq!(a.authority_origin, "https://login.microsoftonline.com");
    assert_eq!(b.name, "fabrikam.com");
    assert_eq!(b.cloud, Cloud::DoD);
    assert_eq!(
        b.api_base.as_str(),
        "https://api-gov.securitycenter.microsoft.us"
    );
    assert_eq!(b.scope, "https://example.test/.default");
    assert_eq!(b.authority, "https://login.example.test/fabrikam.com");
    assert_eq!(c.base_path, "/tools/defender-tags/");
    assert!(c.lock_settings);
    assert_eq!(
        c.frame_ancestors,
        vec!["'self'", "https://portal.contoso.com"]
    );
    assert_eq!(
        c.connect_src(),
        vec![
            "https://api-gov.securitycenter.microsoft.us",
            "https://defender-proxy.contoso.com",
            "https://dod-graph.microsoft.us",
            "https://graph.microsoft.com",
            "https://login.example.test",
            "https://login.microsoftonline.com",
        ]
    );
}

#[test]
fn a_loopback_authority_is_the_emulator_with_a_v2_path() {
    let c = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}",
            "authority": "http://127.0.0.1:4000", "apiBaseUrl": "http://127.0.0.1:4000"}}"#
    ))
    .unwrap();
    let t = &c.tenants[0];
    assert_eq!(
        t.authority,
        format!("http://127.0.0.1:4000/{TENANT_GUID}/v2.0")
    );
    assert_eq!(t.authority_origin, "http://127.0.0.1:4000");
    // The same origin twice is one connect-src entry; Graph is the cloud's unless configured.
    assert_eq!(
        c.connect_src(),
        vec!["http://127.0.0.1:4000", "https://graph.microsoft.com"]
    );
    let emulated = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "authority": "http://127.0.0.1:4000",
            "apiBaseUrl": "http://127.0.0.1:4000", "graphBaseUrl": "http://127.0.0.1:4000"}}"#
    ))
    .unwrap();
    assert_eq!(emulated.connect_src(), vec!["http://127.0.0.1:4000"]);
}

#[test]
fn csp_matches_the_contract() {
    let c = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}",
            "frameAncestors": ["https://portal.contoso.com", "'self'"]}}"#
    ))
    .unwrap();
    assert_eq!(
        c.content_security_policy(),
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self' \
         https://api.security.microsoft.com https://graph.microsoft.com \
         https://login.microsoftonline.com; \
         frame-src 'none'; frame-ancestors https://portal.contoso.com 'self'; \
         manifest-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'"
    );
    let none = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "frameAncestors": []}}"#
    ))
    .unwrap();
    assert!(
        none.content_security_policy()
            .contains("; frame-ancestors 'none'; ")
    );
}

#[test]
fn unknown_cloud_names_the_choices() {
    let e = one_error(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "cloud": "azure"}}"#
    ));
    assert_eq!(
        e.to_string(),
        r#"cloud: unknown cloud "azure"; use one of commercial, gcc, gcc-high, dod"#
    );
}

#[test]
fn every_field_error_is_reported_at_once() {
    let errors = parse_err(
        r#"{
            "clientId": "not-a-guid",
            "tenants": [
                {"id": "contoso.com", "cloud": "azure"},
                {"id": "contoso.com", "name": ""},
                {"name": "no id", "scpoe": "x"},
                "fabrikam.com",
                {"id": "bad tenant!", "apiBaseUrl": "http://proxy.contoso.com"}
            ],
            "apiBaseUrl": "ftp://x",
            "scope": "a b",
            "authority": "https://login.microsoftonline.com/common",
            "basePath": "tools",
            "lockSettings": "yes",
            "frameAncestors": ["*", "http://portal.contoso.com", 3, "'none'"],
            "clientID": "x"
        }"#,
    );
    assert_eq!(
        fields(&errors),
        vec![
            "clientId",
            "apiBaseUrl",
            "scope",
            "authority",
            "tenants[0].cloud",
            "tenants[1].id",
            "tenants[1].name",
            "tenants[2].scpoe",
            "tenants[2].id",
            "tenants[3]",
            "tenants[4].id",
            "tenants[4].apiBaseUrl",
            "basePath",
            "lockSettings",
            "frameAncestors[0]",
            "frameAncestors[1]",
            "frameAncestors[2]",
            "frameAncestors[3]",
            "clientID",
        ],
        "{errors:#?}"
    );
    let by_field = |f: &str| {
        errors
            .iter()
            .find(|e| e.field == f)
            .map(|e| e.message.clone())
            .unwrap()
    };
    assert!(by_field("clientId").contains("not a GUID"));
    assert!(by_field("tenants[1].id").contains("listed twice"));
    assert!(by_field("tenants[4].apiBaseUrl").contains("uses http for proxy.contoso.com"));
    assert!(by_field("authority").contains("/common"));
    assert!(by_field("clientID").contains("did you mean \"clientId\""));
    assert!(by_field("tenants[2].scpoe").contains("known keys are id, name"));
    assert!(by_field("frameAncestors[1]").contains("use https"));
}

#[test]
fn tenant_and_client_are_required_and_exclusive() {
    assert_eq!(fields(&parse_err("{}")), vec!["clientId", "tenant"]);
    let e = one_error(&format!(
        r#"{{"clientId": "{CLIENT}", "tenant": "a.com", "tenants": [{{"id": "b.com"}}]}}"#
    ));
    assert_eq!(e.field, "tenants");
    let e = one_error(&format!(r#"{{"clientId": "{CLIENT}", "tenants": []}}"#));
    assert_eq!(
        (e.field.as_str(), e.message.contains("is empty")),
        ("tenants", true)
    );
    let e = one_error(&format!(r#"{{"clientId": "{CLIENT}", "tenant": 42}}"#));
    assert_eq!(e.to_string(), "tenant: expected a string, found a number");
}

#[test]
fn long_tenant_names_are_refused() {
    let long = "x".repeat(MAX_TENANT_NAME_CHARS + 1);
    let ok = "é".repeat(MAX_TENANT_NAME_CHARS);
    let e = one_error(&format!(
        r#"{{"clientId": "{CLIENT}", "tenants": [{{"id": "a.com", "name": "{long}"}}]}}"#
    ));
    assert_eq!(e.field, "tenants[0].name");
    let c = SiteConfig::parse(&format!(
        r#"{{"clientId": "{CLIENT}", "tenants": [{{"id": "a.com", "name": "{ok}"}}]}}"#
    ))
    .unwrap();
    assert_eq!(c.tenants[0].name, ok);
}

#[test]
fn syntax_errors_and_non_objects_have_an_empty_field() {
    let e = one_error(r#"{"clientId": "#);
    assert_eq!(e.field, "");
    assert!(
        e.message.starts_with("config.json is not valid JSON"),
        "{e}"
    );
    let e = one_error("[1, 2]");
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("", "config.json must be a JSON object, found an array")
    );
}

#[test]
fn api_base_url_rules_are_base_urls() {
    for (url, ok) in [
        ("https://api.security.microsoft.com", true),
        ("https://proxy.contoso.com:8443/", true),
        ("http://localhost:4000", true),
        ("http://[::1]:4000", true),
        ("http://10.0.0.5", false),
        ("https://proxy.contoso.com/defender", false),
        ("api.security.microsoft.com", false),
    ] {
        let r = SiteConfig::parse(&format!(
            r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "apiBaseUrl": "{url}"}}"#
        ));
        match r {
            Ok(c) => assert!(ok, "{url} accepted: {c:?}"),
            Err(e) => {
                assert!(!ok, "{url} refused: {e:?}");
                assert_eq!(fields(&e), vec!["apiBaseUrl"]);
            }
        }
    }
}

#[test]
fn authority_must_be_an_https_or_loopback_origin() {
    for (auth, expect) in [
        (
            "https://login.microsoftonline.us/",
            Ok("https://login.microsoftonline.us"),
        ),
        ("http://localhost:8080", Ok("http://localhost:8080")),
        (
            "http://login.contoso.com",
            Err("uses http for login.contoso.com"),
        ),
        (
            "https://login.microsoftonline.com/tenant",
            Err("has the path"),
        ),
        ("https://login.microsoftonline.com?x=1", Err("query")),
        ("login.microsoftonline.com", Err("no scheme")),
        ("https://user@login.microsoftonline.com", Err("credentials")),
    ] {
        let r = SiteConfig::parse(&format!(
            r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "authority": "{auth}"}}"#
        ));
        match (r, expect) {
            (Ok(c), Ok(origin)) => assert_eq!(c.tenants[0].authority_origin, origin),
            (Err(e), Err(text)) => {
                assert_eq!(fields(&e), vec!["authority"]);
                assert!(e[0].message.contains(text), "{auth}: {}", e[0]);
            }
            (r, expect) => panic!("{auth}: {r:?}, expected {expect:?}"),
        }
    }
}

#[test]
fn base_path_rules() {
    for ok in ["/", "/tools/", "/tools/defender-tags/", "/a.b_c~d/"] {
        assert_eq!(check_base_path(ok), Ok(()), "{ok}");
    }
    for (bad, text) in [
        ("", "must start and end"),
        ("tools/", "must start and end"),
        ("/tools", "must start and end"),
        ("//", "empty segment"),
        ("/a//b/", "empty segment"),
        ("/a/../", "\"..\" segment"),
        ("/a b/", "' '"),
        ("/a;b/", "';'"),
        ("/a?b/", "'?'"),
        ("/é/", "'é'"),
    ] {
        let e = check_base_path(bad).unwrap_err();
        assert!(e.contains(text), "{bad:?}: {e}");
        let e = one_error(&format!(
            r#"{{"clientId": "{CLIENT}", "tenant": "{TENANT_GUID}", "basePath": "{bad}"}}"#
        ));
        assert_eq!(e.field, "basePath");
    }
}

#[test]
fn guids_and_domains() {
    assert!(is_guid(CLIENT));
    assert!(is_guid("0B5B6C1E-1111-4222-8333-944445555666"));
    assert!(!is_guid("0b5b6c1e-1111-4222-8333-94444555566"));
    assert!(!is_guid("0b5b6c1e11114222833394444555566600"));
    assert!(!is_guid("0b5b6c1e-1111-4222-8333-94444555566g"));
    assert!(is_domain("contoso.onmicrosoft.com"));
    assert!(is_domain("a-b.example"));
    assert!(!is_domain("localhost"));
    assert!(!is_domain("-a.example"));
    assert!(!is_domain("a..example"));
    assert!(!is_domain("bad tenant.com"));
    // A client id is normalised to lowercase (MSAL and Entra compare case-insensitively).
    let c = SiteConfig::parse(
        r#"{"clientId": "0B5B6C1E-1111-4222-8333-944445555666", "tenant": "a.com"}"#,
    )
    .unwrap();
    assert_eq!(c.client_id, CLIENT);
}

/// A CSP source that is an exact origin or a quoted keyword, nothing that could widen or break
/// the policy (paths, wildcards, separators).
fn is_source(s: &str) -> bool {
    if matches!(s, "'self'" | "'none'") {
        return true;
    }
    let rest = s.split_once("://").map_or("", |(_, r)| r);
    BaseUrl::parse(s).is_ok_and(|u| u.as_str() == s && (u.is_https() || u.is_loopback()))
        && !rest.contains(['/', ';', ',', ' ', '*', '\'', '?', '#', '@'])
}

fn url_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "(https?|ftp)://[a-z0-9.:\\-\\[\\]@/?#;* ]{0,30}",
        "https://[a-z]{1,10}\\.[a-z]{2,5}(:[0-9]{1,5})?/?",
        "http://(localhost|127\\.0\\.0\\.1|\\[::1\\]|[a-z]{1,8}\\.com)(:[0-9]{1,5})?",
        ".{0,20}",
    ]
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in ".{0,200}") {
        let _ = SiteConfig::parse(&text);
    }

    #[test]
    fn csp_never_contains_a_non_origin(
        api in url_strategy(),
        authority in url_strategy(),
        ancestors in proptest::collection::vec(prop_oneof![url_strategy(), Just("'self'".to_owned())], 0..4),
        tenant_api in proptest::option::of(url_strategy()),
    ) {
        let config = serde_json::json!({
            "clientId": CLIENT,
            "apiBaseUrl": api,
            "authority": authority,
            "frameAncestors": ancestors,
            "tenants": [
                {"id": TENANT_GUID},
                match &tenant_api {
                    Some(u) => serde_json::json!({"id": "b.com", "apiBaseUrl": u}),
                    None => serde_json::json!({"id": "b.com"}),
                },
            ],
        });
        match SiteConfig::parse(&config.to_string()) {
            Ok(c) => {
                let csp = c.content_security_policy();
                let directives: Vec<&str> = csp.split("; ").collect();
                prop_assert_eq!(directives.len(), 12, "{}", csp);
                for d in directives {
                    let mut words = d.split(' ');
                    let name = words.next().unwrap_or_default();
                    if matches!(name, "connect-src" | "frame-ancestors") {
                        for source in words {
                            prop_assert!(is_source(source), "{:?} in {}", source, csp);
                        }
                    }
                }
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(
                        e.field == "apiBaseUrl" || e.field == "authority"
                            || e.field.starts_with("frameAncestors[")
                            || e.field == "tenants[1].apiBaseUrl",
                        "{}", e
                    );
                }
            }
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_json_shapes(
        keys in proptest::collection::vec(prop_oneof![
            Just("clientId".to_owned()), Just("tenant".to_owned()), Just("tenants".to_owned()),
            Just("cloud".to_owned()), Just("basePath".to_owned()), Just("frameAncestors".to_owned()),
            Just("lockSettings".to_owned()), "[a-zA-Z]{1,8}",
        ], 0..6),
        values in proptest::collection::vec(prop_oneof![
            Just(serde_json::json!(null)), Just(serde_json::json!(1)), Just(serde_json::json!("")),
            Just(serde_json::json!([])), Just(serde_json::json!([{}])), Just(serde_json::json!({})),
            Just(serde_json::json!(["'self'", 2])), Just(serde_json::json!([{"id": 5, "name": []}])),
            ".{0,12}".prop_map(serde_json::Value::String),
        ], 6),
    ) {
        let obj: serde_json::Map<String, serde_json::Value> =
            keys.into_iter().zip(values).collect();
        if let Err(errors) = SiteConfig::parse(&serde_json::Value::Object(obj).to_string()) {
            prop_assert!(errors.iter().all(|e| !e.message.is_empty()));
        }
    }
}
