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
