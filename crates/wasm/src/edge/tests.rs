//! The proxy's allow-list, tested natively.

use super::*;

const ID: &str = "34e83ca3feea4dae2353006ba389262c033a025e";

fn get(path: &str, query: &[(&str, &str)]) -> Result<ApiRequest, Refusal> {
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    route(&EdgeRequest {
        method: "GET",
        path,
        query: &query,
        body: None,
    })
}

fn post(path: &str, body: &str) -> Result<ApiRequest, Refusal> {
    route(&EdgeRequest {
        method: "POST",
        path,
        query: &[],
        body: Some(body),
    })
}

fn refused(result: Result<ApiRequest, Refusal>) -> (u16, &'static str) {
    match result {
        Ok(r) => panic!("forwarded {r:?}"),
        Err(refusal) => (refusal.status, refusal.code),
    }
}

#[test]
fn the_five_endpoints_are_forwarded_as_core_builds_them() {
    let list = get(
        "/api/machines",
        &[("$filter", "healthStatus eq 'Active'"), ("$top", "50")],
    )
    .unwrap();
    assert_eq!(list.method.as_str(), "GET");
    assert_eq!(list.path, "/api/machines");
    assert!(list.query.iter().any(|(k, v)| k == "$top" && v == "50"));
    assert!(list.query.iter().any(|(k, _)| k == "$filter"));

    let find = get(
        "/api/machines/findbytag",
        &[("tag", "Finance"), ("useStartsWithFilter", "true")],
    )
    .unwrap();
    assert_eq!(find.path, "/api/machines/findbytag");

    let one = get(&format!("/api/machines/{ID}"), &[]).unwrap();
    assert_eq!(one.path, format!("/api/machines/{ID}"));
    let by_name = get("/api/machines/pc-01.contoso.com", &[]).unwrap();
    assert!(by_name.path.ends_with("pc-01.contoso.com"));

    let tag = post(
        &format!("/api/machines/{ID}/tags"),
        r#"{"Value":"Finance","Action":"Add"}"#,
    )
    .unwrap();
    assert_eq!(tag.method.as_str(), "POST");
    assert!(tag.body.as_deref().unwrap_or_default().contains("Finance"));

    let bulk = post(
        "/api/machines/AddOrRemoveTagForMultipleMachines",
        &format!(r#"{{"Value":"Finance","Action":"Remove","MachineIds":["{ID}"]}}"#),
    )
    .unwrap();
    assert_eq!(bulk.path, "/api/machines/AddOrRemoveTagForMultipleMachines");
}

#[test]
fn other_paths_traversal_and_encoded_slashes_are_refused() {
    for path in [
        "/api/alerts",
        "/api/machines/",
        "/api/machines//tags",
        "/api/machines/../alerts",
        "/api/machines/./findbytag",
        "/api/machines%2F..%2Falerts",
        &format!("/api/machines/{ID}%2Ftags"),
        "/api/machines/findbytag%00",
        "/api/machines\\..\\alerts",
        "/api/machines/a;b",
        "api/machines",
        "/",
        "/_emulator/faults",
        "//evil.example/api/machines",
    ] {
        let (status, _) = refused(get(path, &[]));
        assert!(status == 400 || status == 404, "{path} -> {status}");
    }
    let (status, code) = refused(post(
        &format!("/api/machines/{}/tags", "z".repeat(40)),
        "{}",
    ));
    assert_eq!((status, code), (400, "InvalidMachineId"));
}

#[test]
fn wrong_methods_are_refused() {
    assert_eq!(refused(post("/api/machines", "{}")).0, 405);
    assert_eq!(
        refused(get(&format!("/api/machines/{ID}/tags"), &[])).0,
        405
    );
    let delete = route(&EdgeRequest {
        method: "DELETE",
        path: &format!("/api/machines/{ID}"),
        query: &[],
        body: None,
    });
    assert_eq!(refused(delete).0, 405);
}

#[test]
fn queries_are_allow_listed_and_validated() {
    assert_eq!(
        refused(get("/api/machines", &[("$expand", "x")])).1,
        "QueryRefused"
    );
    assert_eq!(
        refused(get("/api/machines", &[("$top", "10001")])).1,
        "QueryRefused"
    );
    assert_eq!(
        refused(get("/api/machines", &[("$top", "1"), ("$top", "2")])).1,
        "QueryRefused"
    );
    assert_eq!(
        refused(get("/api/machines", &[("$filter", "nonsense((")])).1,
        "ODataError"
    );
    assert_eq!(
        refused(get("/api/machines/findbytag", &[])).1,
        "MissingRequiredParameter"
    );
    assert_eq!(
        refused(get(
            "/api/machines/findbytag",
            &[("tag", "x"), ("useStartsWithFilter", "maybe")]
        ))
        .1,
        "QueryRefused"
    );
    assert_eq!(
        refused(get(&format!("/api/machines/{ID}"), &[("x", "1")])).1,
        "QueryRefused"
    );
}

#[test]
fn bodies_are_validated_before_forwarding() {
    let path = format!("/api/machines/{ID}/tags");
    for body in [
        "",
        "not json",
        r#"{"value":"Finance","action":"Add"}"#,
        r#"{"Value":"","Action":"Add"}"#,
        r#"{"Value":"Finance","Action":"Toggle"}"#,
        &format!(r#"{{"Value":"{}","Action":"Add"}}"#, "x".repeat(201)),
    ] {
        assert_eq!(refused(post(&path, body)).1, "InvalidRequestBody", "{body}");
    }
    let bulk = "/api/machines/AddOrRemoveTagForMultipleMachines";
    assert_eq!(
        refused(post(
            bulk,
            r#"{"Value":"t","Action":"Add","MachineIds":[]}"#
        ))
        .1,
        "InvalidRequestBody"
    );
    let too_many: Vec<String> = (0..501).map(|i| format!("\"{:040x}\"", i)).collect();
    let body = format!(
        r#"{{"Value":"t","Action":"Add","MachineIds":[{}]}}"#,
        too_many.join(",")
    );
    assert_eq!(refused(post(bulk, &body)).1, "InvalidRequestBody");
}

#[test]
fn cors_echoes_only_configured_origins() {
    let allowed = vec!["https://portal.contoso.com".to_owned()];
    assert_eq!(cors(None, &allowed), Cors::NoOrigin);
    assert_eq!(
        cors(Some("https://portal.contoso.com"), &allowed),
        Cors::Allowed("https://portal.contoso.com".into())
    );
    assert_eq!(
        cors(Some("https://portal.contoso.com.evil.example"), &allowed),
        Cors::Denied
    );
    assert_eq!(cors(Some("null"), &allowed), Cors::Denied);
    let preflight = cors_headers("https://portal.contoso.com", Some("POST"));
    assert!(preflight.contains(&("access-control-allow-methods", "POST".to_owned())));
    assert!(
        preflight
            .iter()
            .any(|(k, v)| *k == "access-control-allow-headers" && v.contains("authorization"))
    );
    assert_eq!(allowed_method("/api/machines/findbytag"), Some("GET"));
    assert_eq!(allowed_method("/api/alerts"), None);
}

mod next_link {
    use super::*;

    const UPSTREAM: &str = "http://127.0.0.1:4000";
    const PUBLIC: &str = "https://edge.contoso.com";

    fn bases() -> (BaseUrl, BaseUrl) {
        (
            BaseUrl::parse(UPSTREAM).unwrap(),
            BaseUrl::parse(PUBLIC).unwrap(),
        )
    }

    fn page(link: &str) -> String {
        format!(
            r#"{{"@odata.context":"{UPSTREAM}/api/$metadata#Machines","value":[{{"id":"a","x":1.10}},{{"id":"b","n":{{"@odata.nextLink":"keep"}}}}],"@odata.nextLink":{link}}}"#
        )
    }

    fn rewrite(body: &str, forwarded: &ApiRequest, public: Option<&BaseUrl>) -> Option<String> {
        let (upstream, _) = bases();
        rewrite_next_link(body.as_bytes(), forwarded, &upstream, public)
            .map(|b| String::from_utf8(b).unwrap())
    }

    fn link_of(body: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v.get("@odata.nextLink")
            .and_then(|l| l.as_str())
            .map(str::to_owned)
    }

    #[test]
    fn a_public_url_with_a_path_keeps_the_link_under_that_path() {
        let public = BaseUrl::parse_prefixed("https://portal.contoso.com/defender/").unwrap();
        let forwarded = get("/api/machines", &[("$top", "2")]).unwrap();
        let body = page(&format!(r#""{UPSTREAM}/api/machines?$top=2&$skip=2""#));
        let link = link_of(&rewrite(&body, &forwarded, Some(&public)).unwrap()).unwrap();
        assert_eq!(
            link,
            "https://portal.contoso.com/defender/api/machines?$top=2&$skip=2"
        );
        // A client whose base URL is the prefixed proxy follows it, and stays on the prefix.
        let followed = api::request_from_next_link(&link, &public).unwrap();
        assert_eq!(
            followed.url(&public),
            "https://portal.contoso.com/defender/api/machines?$top=2&$skip=2"
        );
        // An opaque upstream link becomes the $skip continuation, on the prefix too.
        let body = page(&format!(r#""{UPSTREAM}/api/machines?$skiptoken=opaque""#));
        let link = link_of(&rewrite(&body, &forwarded, Some(&public)).unwrap()).unwrap();
        assert!(
            link.starts_with("https://portal.contoso.com/defender/api/machines?"),
            "{link}"
        );
    }

    #[test]
    fn an_upstream_link_moves_to_the_public_origin_and_the_rest_stays_byte_for_byte() {
        let (_, public) = bases();
        let forwarded = get("/api/machines", &[("$top", "2")]).unwrap();
        let body = page(&format!(
            r#""{UPSTREAM}/api/machines?$filter=healthStatus%20eq%20%27Active%27&$top=2&$skip=2""#
        ));
        let out = rewrite(&body, &forwarded, Some(&public)).unwrap();
        let link = link_of(&out).unwrap();
        assert!(
            link.starts_with(&format!("{PUBLIC}/api/machines?")),
            "{link}"
        );
        // The link is one the client accepts for its base, and the proxy forwards as it stands.
        let followed = api::request_from_next_link(&link, &public).unwrap();
        assert_eq!(followed.query_param("$skip"), Some("2"));
        assert_eq!(followed.query_param("$top"), Some("2"));
        assert_eq!(
            followed.query_param("$filter"),
            Some("healthStatus eq 'Active'")
        );
        assert!(forwardable_link(&link.replace(PUBLIC, UPSTREAM), &bases().0).is_some());
        // Machines (numbers as written, a nested member of the same name) are untouched.
        let prefix = &body[..body.find(r#","@odata.nextLink":"h"#).unwrap()];
        assert!(out.starts_with(prefix), "{out}");
        assert!(out.contains(r#""x":1.10"#));
        assert!(out.contains(r#"{"@odata.nextLink":"keep"}"#));
    }

    #[test]
    fn a_link_the_proxy_would_not_forward_becomes_a_skip_continuation() {
        let (_, public) = bases();
        let forwarded = get("/api/machines", &[("$top", "2"), ("$skip", "10")]).unwrap();
        for link in [
            format!(r#""{UPSTREAM}/api/machines?$skiptoken=opaque""#),
            r#""https://elsewhere.example/api/machines?$skip=12""#.to_owned(),
            format!(r#""{UPSTREAM}/api/alerts""#),
            "17".to_owned(),
        ] {
            let out = rewrite(&page(&link), &forwarded, Some(&public)).unwrap();
            let next = link_of(&out).unwrap_or_else(|| panic!("no link for {link}: {out}"));
            let followed = api::request_from_next_link(&next, &public).unwrap();
            assert_eq!(followed.query_param("$skip"), Some("12"), "{link}");
            assert_eq!(followed.query_param("$top"), Some("2"), "{link}");
        }
    }

    #[test]
    fn without_a_public_origin_or_machines_the_link_is_dropped() {
        let (_, public) = bases();
        let forwarded = get("/api/machines", &[]).unwrap();
        let body = page(&format!(r#""{UPSTREAM}/api/machines?$skip=2""#));
        let out = rewrite(&body, &forwarded, None).unwrap();
        assert_eq!(link_of(&out), None);
        assert!(out.ends_with(r#"}}]}"#), "{out}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
        let empty = r#"{"value":[],"@odata.nextLink":"https://elsewhere.example/api/machines"}"#;
        assert_eq!(
            rewrite(empty, &forwarded, Some(&public)).as_deref(),
            Some(r#"{"value":[]}"#)
        );
    }

    #[test]
    fn pages_without_a_link_and_non_objects_pass_unchanged() {
        let (_, public) = bases();
        let forwarded = get("/api/machines", &[]).unwrap();
        for body in [
            r#"{"value":[]}"#,
            r#"{"value":[],"@odata.nextLink":null}"#,
            "[]",
            "not json",
        ] {
            assert_eq!(rewrite(body, &forwarded, Some(&public)), None, "{body}");
        }
        assert!(is_listing(&forwarded));
        assert!(!is_listing(
            &get(&format!("/api/machines/{ID}"), &[]).unwrap()
        ));
    }
}

#[test]
fn precheck_decides_path_and_method_without_a_body() {
    assert_eq!(
        precheck("POST", "/api/machines/AddOrRemoveTagForMultipleMachines"),
        Ok(())
    );
    assert_eq!(precheck("get", "/api/machines"), Ok(()));
    let code = |r: Result<(), Refusal>| r.map_err(|e| (e.status, e.code)).unwrap_err();
    assert_eq!(code(precheck("POST", "/api/alerts")), (404, "PathRefused"));
    assert_eq!(
        code(precheck("POST", &format!("/api/machines/{ID}/offboard"))),
        (404, "PathRefused")
    );
    assert_eq!(
        code(precheck("GET", &format!("/api/machines/{ID}/tags"))),
        (405, "MethodRefused")
    );
    assert_eq!(
        code(precheck("POST", "/api/machines/%2e%2e")),
        (400, "PathRefused")
    );
}
