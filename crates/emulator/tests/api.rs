//! The Defender API endpoints against a real server and a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use defender_tags_emulator::Config;
use serde_json::{Value, json};

const ODATA_CT: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";

#[tokio::test]
async fn list_pages_with_next_link_and_enforces_top_limit() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let visible = raw.iter().filter(|m| recent(m)).count();
    assert!(visible < raw.len(), "some machines are beyond retention");

    let all = emu.get("/api/machines", &t).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.header("content-type"), Some(ODATA_CT));
    assert_eq!(all.header("odata-version"), Some("4.0"));
    assert_eq!(
        all.body["@odata.context"],
        format!("{}/api/$metadata#Machines", emu.url)
    );
    assert_eq!(
        all.body["value"].as_array().unwrap().len(),
        visible,
        "beyond-retention machines are not listed"
    );
    assert!(all.body.get("@odata.nextLink").is_none());

    let p1 = emu.get("/api/machines?$top=1000", &t).await;
    let next = p1.body["@odata.nextLink"].as_str().unwrap().to_owned();
    assert_eq!(
        next,
        format!("{}/api/machines?$top=1000&$skip=1000", emu.url)
    );
    let mut seen: Vec<String> = p1.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    let mut link = Some(next);
    while let Some(l) = link {
        let page = emu.send(emu.http.get(&l).bearer_auth(&t)).await;
        assert_eq!(page.status, 200);
        seen.extend(page.body["value"].as_array().unwrap().iter().map(id));
        link = page.body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(
        (seen.len(), unique.len()),
        (visible, visible),
        "paging returns every machine once"
    );

    let skip = emu
        .get(&format!("/api/machines?$top=5&$skip={}", visible - 2), &t)
        .await;
    assert_eq!(skip.body["value"].as_array().unwrap().len(), 2);
    assert!(skip.body.get("@odata.nextLink").is_none());
    let zero = emu.get("/api/machines?$top=0", &t).await;
    assert_eq!(zero.body["value"].as_array().unwrap().len(), 0);
    assert!(
        zero.body.get("@odata.nextLink").is_none(),
        "$top=0 has no next page"
    );

    let m = emu
        .get("/api/machines?$top=10001", &t)
        .await
        .error(400, "ODataError");
    assert!(m.contains("10000") && m.contains("10001"), "{m}");
    emu.get("/api/machines?$top=-1", &t)
        .await
        .error(400, "ODataError");
    emu.get("/api/machines?$skip=x", &t)
        .await
        .error(400, "ODataError");
    emu.get("/api/machines?$orderby=id", &t)
        .await
        .error(400, "ODataError");
    emu.get("/api/machines?$top=1&$top=2", &t)
        .await
        .error(400, "ODataError");
    assert_eq!(emu.get("/api/machines?$top=10000", &t).await.status, 200);
    emu.stop().await;
}

#[tokio::test]
async fn filter_uses_core_grammar_and_semantics() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let expect =
        |pred: &dyn Fn(&Value) -> bool| raw.iter().filter(|m| recent(m) && pred(m)).count();

    // The docs' own example, with '+' for spaces.
    let r = emu
        .get("/api/machines?$filter=riskScore+eq+'High'", &t)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.body["value"].as_array().unwrap();
    assert_eq!(v.len(), expect(&|m| m["riskScore"] == "High"));
    assert!(!v.is_empty() && v.iter().all(|m| m["riskScore"] == "High"));

    let r = emu.get("/api/machines?$filter=startswith(computerDnsName,'fin-')%20and%20healthStatus%20ne%20'Active'", &t).await;
    let n = expect(&|m| {
        m["computerDnsName"].as_str().unwrap().starts_with("fin-") && m["healthStatus"] != "Active"
    });
    assert_eq!(r.body["value"].as_array().unwrap().len(), n);
    assert!(n > 0);

    let has = |m: &Value, t: &str| {
        m["machineTags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().eq_ignore_ascii_case(t))
    };
    let r = emu
        .get(
            "/api/machines?$filter=machineTags/any(t:%20t%20eq%20'Finance')",
            &t,
        )
        .await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        expect(&|m| has(m, "finance")),
        "tag filter is case-insensitive (core)"
    );

    let r = emu
        .get("/api/machines?$filter=rbacGroupId%20eq%20101&$top=3", &t)
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 3);
    let next = r.body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("$filter=rbacGroupId%20eq%20101") && next.contains("$skip=3"),
        "{next}"
    );

    let msg = emu
        .get("/api/machines?$filter=riskScore%20eq", &t)
        .await
        .error(400, "ODataError");
    assert!(msg.contains("position"), "{msg}");
    emu.get("/api/machines?$filter=nosuchfield%20eq%201", &t)
        .await
        .error(400, "ODataError");
    emu.get("/api/machines?$filter=", &t)
        .await
        .error(400, "ODataError");

    // A filter matching nothing is an empty page, not a 404.
    let r = emu
        .get("/api/machines?$filter=computerDnsName%20eq%20'nope'", &t)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["value"].as_array().unwrap().len()),
        (200, 0)
    );
    emu.stop().await;
}

#[tokio::test]
async fn select_projects_in_order_and_rejects_unknown_properties() {
    let emu = Emu::start().await;
    let t = emu.token("reader").await;
    let r = emu
        .get("/api/machines?$select=computerDnsName,ID&$top=2", &t)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/api/$metadata#Machines(computerDnsName,id)", emu.url)
    );
    let first = r.body["value"][0].as_object().unwrap();
    assert_eq!(first.keys().collect::<Vec<_>>(), ["computerDnsName", "id"]);
    assert!(
        r.text.find("computerDnsName").unwrap() < r.text.find("\"id\"").unwrap(),
        "$select order is kept"
    );
    assert!(
        r.body["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("$select=computerDnsName%2Cid")
    );
    let m = emu
        .get("/api/machines?$select=bogus", &t)
        .await
        .error(400, "ODataError");
    assert!(m.contains("bogus"));
    emu.stop().await;
}

#[tokio::test]
async fn routes_are_case_insensitive_and_accept_the_version_prefix() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let m = raw.iter().find(|m| recent(m)).unwrap();
    for path in [
        "/api/v1.0/machines?$top=1",
        "/API/MACHINES?$top=1",
        "/Api/V1.0/Machines?$top=1",
    ] {
        assert_eq!(emu.get(path, &t).await.status, 200, "{path}");
    }
    let r = emu
        .get(&format!("/API/Machines/{}", id(m).to_uppercase()), &t)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["id"].as_str()),
        (200, Some(id(m).as_str()))
    );
    let r = emu.get("/api/MACHINES/FINDBYTAG?TAG=vip", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = emu
        .post(
            &format!("/api/v1.0/Machines/{}/TAGS", id(m)),
            &t,
            json!({"Value": "route", "Action": "Add"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bulk = emu
        .post(
            "/api/machines/addorremovetagformultiplemachines",
            &t,
            json!({"Value": "route", "Action": "Remove", "MachineIds": [id(m)]}),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    let nl = emu.get("/api/v1.0/machines?$top=1", &t).await;
    assert!(
        nl.body["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("/api/v1.0/machines?")
    );
    emu.get("/api/alerts", &t).await.error(404, "NotFound");
    emu.send(
        emu.http
            .delete(format!("{}/api/machines", emu.url))
            .bearer_auth(&t),
    )
    .await
    .error(405, "BadRequest");
    emu.get(&format!("/api/machines/{}/tags", id(m)), &t)
        .await
        .error(405, "BadRequest");
    emu.stop().await;
}

#[tokio::test]
async fn get_machine_by_id_or_name() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let m = raw
        .iter()
        .find(|m| {
            recent(m)
                && m["isPotentialDuplication"] == false
                && m["computerDnsName"]
                    .as_str()
                    .unwrap()
                    .ends_with(".contoso.local")
        })
        .unwrap();
    let name = m["computerDnsName"].as_str().unwrap();
    let r = emu.get(&format!("/api/machines/{}", id(m)), &t).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(ODATA_CT));
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/api/$metadata#Machines/$entity", emu.url)
    );
    assert!(
        r.text.starts_with("{\"@odata.context\""),
        "context comes first"
    );
    assert_eq!(&r.body["machineTags"], &m["machineTags"]);
    for key in [
        name.to_uppercase(),
        name.split('.').next().unwrap().to_owned(),
    ] {
        let r = emu.get(&format!("/api/machines/{key}"), &t).await;
        assert_eq!(r.body["id"].as_str(), Some(id(m).as_str()), "{key}");
    }
    // Duplicated names resolve to the most recently seen machine.
    let dup = raw.iter().find(|d| {
        d["isPotentialDuplication"] == true
            && raw
                .iter()
                .filter(|o| o["computerDnsName"] == d["computerDnsName"] && recent(o))
                .count()
                > 1
    });
    if let Some(d) = dup {
        let name = d["computerDnsName"].as_str().unwrap();
        let newest = raw
            .iter()
            .filter(|o| o["computerDnsName"] == name && recent(o))
            .max_by_key(|o| last_seen(o))
            .unwrap();
        let r = emu.get(&format!("/api/machines/{name}"), &t).await;
        assert_eq!(r.body["id"], newest["id"]);
    }
    let msg1 = emu.get("/api/machines/123123123", &t).await;
    let msg2 = emu.get("/api/machines/123123123", &t).await;
    assert_eq!(
        msg1.error(404, "ResourceNotFound"),
        "Machine 123123123 was not found"
    );
    assert_ne!(
        msg1.body["error"]["target"], msg2.body["error"]["target"],
        "fresh correlation id per error"
    );
    let old = raw.iter().find(|m| !recent(m)).unwrap();
    emu.get(&format!("/api/machines/{}", id(old)), &t)
        .await
        .error(404, "ResourceNotFound");
    // The XSS-named machine is served verbatim (JSON-escaped only); UIs must escape it.
    let xss = raw
        .iter()
        .find(|m| m["computerDnsName"] == "<img src=x onerror=alert(1)>")
        .unwrap();
    assert_eq!(
        emu.get(&format!("/api/machines/{}", id(xss)), &t)
            .await
            .body["computerDnsName"],
        "<img src=x onerror=alert(1)>"
    );
    emu.stop().await;
}

#[tokio::test]
async fn find_by_tag_exact_and_prefix() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let tagged = |pred: &dyn Fn(&str) -> bool| {
        raw.iter()
            .filter(|m| {
                recent(m)
                    && m["machineTags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| pred(x.as_str().unwrap()))
            })
            .count()
    };
    let r = emu.get("/api/machines/findbytag?tag=pilot", &t).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/api/$metadata#Machines", emu.url)
    );
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        tagged(&|x| x.eq_ignore_ascii_case("pilot"))
    );
    let r = emu
        .get(
            "/api/machines/findbytag?tag=Pilot&useStartsWithFilter=true",
            &t,
        )
        .await;
    let n = tagged(&|x| x.to_lowercase().starts_with("pilot"));
    assert_eq!(r.body["value"].as_array().unwrap().len(), n);
    assert!(
        n > tagged(&|x| x.eq_ignore_ascii_case("pilot")),
        "'Pilot Ring 1' also matches the prefix"
    );
    let r = emu
        .get("/api/machines/findbytag?tag=Berlin%2C%20DE", &t)
        .await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        tagged(&|x| x == "Berlin, DE")
    );
    assert_eq!(
        emu.get("/api/machines/findbytag", &t)
            .await
            .error(400, "MissingRequiredParameter"),
        "Parameter tag is missing."
    );
    emu.get("/api/machines/findbytag?tag=", &t)
        .await
        .error(400, "InvalidInput");
    emu.get(
        "/api/machines/findbytag?tag=x&useStartsWithFilter=maybe",
        &t,
    )
    .await
    .error(400, "InvalidInput");
    emu.stop().await;
}

#[tokio::test]
async fn single_tag_add_remove_and_body_errors() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let m = raw.iter().find(|m| recent(m)).unwrap();
    let path = format!("/api/machines/{}/tags", id(m));

    let r = emu
        .post(&path, &t, json!({"Value": "test Tag 2", "Action": "Add"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/api/$metadata#Machines/$entity", emu.url)
    );
    assert!(
        r.body["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("test Tag 2"))
    );
    let again = emu
        .post(&path, &t, json!({"Value": "test Tag 2", "Action": "Add"}))
        .await;
    let count = again.body["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| *x == "test Tag 2")
        .count();
    assert_eq!(count, 1, "adding twice is a no-op");
    assert!(
        emu.raw_machine(&id(m)).await["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("test Tag 2"))
    );
    // Case-sensitive storage: removing another casing leaves the tag.
    let r = emu
        .post(
            &path,
            &t,
            json!({"Value": "TEST TAG 2", "Action": "Remove"}),
        )
        .await;
    assert!(
        r.body["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("test Tag 2"))
    );
    let r = emu
        .post(
            &path,
            &t,
            json!({"Value": "test Tag 2", "Action": "Remove"}),
        )
        .await;
    assert!(
        !r.body["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("test Tag 2"))
    );
    assert_eq!(emu.stats().await["tag_changes"], 2);

    assert_eq!(
        emu.post(&path, &t, json!({"Action": "Add"}))
            .await
            .error(400, "MissingRequiredParameter"),
        "Parameter Value is missing."
    );
    assert_eq!(
        emu.post(&path, &t, json!({"Value": "x"}))
            .await
            .error(400, "MissingRequiredParameter"),
        "Parameter Action is missing."
    );
    let m1 = emu
        .post(&path, &t, json!({"value": "x", "Action": "Add"}))
        .await
        .error(400, "InvalidRequestBody");
    assert!(
        m1.contains("case-sensitive") && m1.contains("'value'"),
        "{m1}"
    );
    emu.post(&path, &t, json!({"Value": "x", "action": "Add"}))
        .await
        .error(400, "InvalidRequestBody");
    emu.post(&path, &t, json!({"Value": "x", "Action": "Toggle"}))
        .await
        .error(400, "InvalidInput");
    emu.post(&path, &t, json!({"Value": "  ", "Action": "Add"}))
        .await
        .error(400, "InvalidInput");
    emu.post(
        &path,
        &t,
        json!({"Value": "x".repeat(201), "Action": "Add"}),
    )
    .await
    .error(400, "InvalidInput");
    emu.post(&path, &t, json!({"Value": 5, "Action": "Add"}))
        .await
        .error(400, "InvalidRequestBody");
    emu.post(&path, &t, json!(["Value"]))
        .await
        .error(400, "InvalidRequestBody");
    let not_json = emu
        .http
        .post(format!("{}{path}", emu.url))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{nope");
    emu.send(not_json).await.error(400, "InvalidRequestBody");
    let plain = emu
        .http
        .post(format!("{}{path}", emu.url))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body(r#"{"Value":"x","Action":"Add"}"#);
    emu.send(plain).await.error(400, "InvalidRequestBody");
    assert_eq!(
        emu.raw_machine(&id(m)).await["machineTags"],
        m["machineTags"],
        "failed calls changed nothing"
    );

    emu.post(
        "/api/machines/0000000000000000000000000000000000000000/tags",
        &t,
        json!({"Value": "x", "Action": "Add"}),
    )
    .await
    .error(404, "ResourceNotFound");
    let name = m["computerDnsName"].as_str().unwrap();
    emu.post(
        &format!("/api/machines/{name}/tags"),
        &t,
        json!({"Value": "x", "Action": "Add"}),
    )
    .await
    .error(404, "ResourceNotFound");
    emu.stop().await;
}

#[tokio::test]
async fn machines_beyond_retention_cannot_be_tagged() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let old = raw.iter().find(|m| !recent(m)).unwrap();
    let msg = emu
        .post(
            &format!("/api/machines/{}/tags", id(old)),
            &t,
            json!({"Value": "x", "Action": "Add"}),
        )
        .await
        .error(403, "DisallowedOperation");
    assert!(msg.contains("retention") && msg.contains("180"), "{msg}");
    let fresh = raw.iter().find(|m| recent(m)).unwrap();
    let r = emu
        .post(
            "/api/machines/AddOrRemoveTagForMultipleMachines",
            &t,
            json!({"Value": "x", "Action": "Add", "MachineIds": [id(old), id(fresh)]}),
        )
        .await;
    let ids: Vec<String> = r.body["value"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(
        ids,
        vec![id(fresh)],
        "beyond-retention ids are skipped in bulk"
    );
    assert_eq!(
        emu.raw_machine(&id(old)).await["machineTags"],
        old["machineTags"]
    );
    emu.stop().await;
}

#[tokio::test]
async fn bulk_tags_up_to_500_and_validates_everything_first() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let ids: Vec<String> = raw.iter().filter(|m| recent(m)).map(id).take(501).collect();
    let path = "/api/machines/AddOrRemoveTagForMultipleMachines";

    let msg = emu
        .post(
            path,
            &t,
            json!({"Value": "Bulk", "Action": "Add", "MachineIds": ids}),
        )
        .await
        .error(400, "MaximumBatchSizeExceeded");
    assert_eq!(
        msg,
        "Maximum batch size exceeded. Received: 501, allowed: 500."
    );

    let five_hundred = &ids[..500];
    let r = emu
        .post(
            path,
            &t,
            json!({"Value": "Bulk", "Action": "Add", "MachineIds": five_hundred}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/api/$metadata#Machines", emu.url)
    );
    let updated = r.body["value"].as_array().unwrap();
    assert_eq!(updated.len(), 500);
    assert!(updated.iter().all(|m| {
        m["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("Bulk"))
    }));
    assert!(
        emu.raw_machine(&ids[499]).await["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("Bulk"))
    );
    let s = emu.stats().await;
    assert_eq!(
        (s["tag_operations"].as_u64(), s["tag_changes"].as_u64()),
        (Some(500), Some(500))
    );

    // Unknown ids and duplicates: skipped / de-duplicated, the rest applied.
    let unknown = "ffffffffffffffffffffffffffffffffffffffff";
    let r = emu.post(path, &t, json!({"Value": "Bulk", "Action": "Remove", "MachineIds": [ids[0], unknown, ids[0].to_uppercase()]})).await;
    let got: Vec<String> = r.body["value"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(got, vec![ids[0].clone()]);

    // A malformed id rejects the whole call: nothing is applied.
    let bad = json!({"Value": "Never", "Action": "Add", "MachineIds": [ids[1], "not-an-id"]});
    let msg = emu.post(path, &t, bad).await.error(400, "InvalidInput");
    assert!(
        msg.contains("MachineIds[1]") && msg.contains("not-an-id"),
        "{msg}"
    );
    assert!(
        !emu.raw_machine(&ids[1]).await["machineTags"]
            .as_array()
            .unwrap()
            .contains(&json!("Never"))
    );

    assert_eq!(
        emu.post(path, &t, json!({"Value": "x", "Action": "Add"}))
            .await
            .error(400, "MissingRequiredParameter"),
        "Parameter MachineIds is missing."
    );
    emu.post(
        path,
        &t,
        json!({"Value": "x", "Action": "Add", "machineIds": []}),
    )
    .await
    .error(400, "InvalidRequestBody");
    emu.post(
        path,
        &t,
        json!({"Value": "x", "Action": "Add", "MachineIds": []}),
    )
    .await
    .error(400, "InvalidInput");
    emu.post(
        path,
        &t,
        json!({"Value": "x", "Action": "Add", "MachineIds": "abc"}),
    )
    .await
    .error(400, "InvalidRequestBody");
    emu.post(
        path,
        &t,
        json!({"Value": "x", "Action": "Add", "MachineIds": [1]}),
    )
    .await
    .error(400, "InvalidInput");
    emu.stop().await;
}

#[tokio::test]
async fn empty_tenant_lists_404_as_documented() {
    let emu = Emu::with(Config {
        machines: 0,
        ..Config::default()
    })
    .await;
    let t = emu.token("app").await;
    emu.get("/api/machines", &t)
        .await
        .error(404, "ResourceNotFound");
    let r = emu.get("/api/machines/findbytag?tag=x", &t).await;
    assert_eq!(
        (r.status.as_u16(), r.body["value"].as_array().unwrap().len()),
        (200, 0)
    );
    emu.stop().await;
}

#[tokio::test]
async fn unknown_non_api_path_is_a_json_404_without_static_dir() {
    let emu = Emu::start().await;
    let r = emu
        .send(emu.http.get(format!("{}/settings", emu.url)))
        .await;
    r.error(404, "NotFound");
    emu.stop().await;
}

#[tokio::test]
async fn set_device_value_is_exact_scoped_and_needs_write() {
    let emu = Emu::start().await;
    let t = emu.token("app").await;
    let raw = emu.raw_machines().await;
    let m = raw
        .iter()
        .find(|m| recent(m) && m["deviceValue"] != "High")
        .unwrap();
    let path = format!("/api/machines/{}/setDeviceValue", id(m));

    let r = emu.post(&path, &t, json!({"DeviceValue": "High"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["deviceValue"], "High");
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/api/$metadata#Machines/$entity", emu.url)
    );
    assert_eq!(emu.raw_machine(&id(m)).await["deviceValue"], "High");

    // Value and parameter name are case-sensitive; nothing changes on a refused call.
    emu.post(&path, &t, json!({"DeviceValue": "low"}))
        .await
        .error(400, "InvalidInput");
    emu.post(&path, &t, json!({"deviceValue": "Low"}))
        .await
        .error(400, "InvalidRequestBody");
    emu.post(&path, &t, json!({}))
        .await
        .error(400, "MissingRequiredParameter");
    let reader = emu.token("reader").await;
    emu.post(&path, &reader, json!({"DeviceValue": "Low"}))
        .await
        .error(403, "Forbidden");
    assert_eq!(emu.raw_machine(&id(m)).await["deviceValue"], "High");

    // The analyst sees device groups 101-103 only: another group's machine is not found.
    let analyst = emu.token("analyst").await;
    let other = raw
        .iter()
        .find(|m| recent(m) && !(101..=103).contains(&group(m)))
        .unwrap();
    emu.post(
        &format!("/api/machines/{}/setDeviceValue", id(other)),
        &analyst,
        json!({"DeviceValue": "Low"}),
    )
    .await
    .error(404, "ResourceNotFound");
    let old = raw.iter().find(|m| !recent(m)).unwrap();
    emu.post(
        &format!("/api/machines/{}/setDeviceValue", id(old)),
        &t,
        json!({"DeviceValue": "Low"}),
    )
    .await
    .error(403, "DisallowedOperation");
    let stats = emu
        .send(emu.http.get(format!("{}/_emulator/stats", emu.url)))
        .await;
    assert_eq!(stats.body["endpoints"]["setDeviceValue"]["calls"], 7);
    emu.stop().await;
}
