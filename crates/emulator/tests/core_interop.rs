//! Core's request builders and decoders against the emulator: the wire contract both sides rely
//! on (paths, bodies, casing, envelopes, paging, Retry-After).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use defender_tags_core::api::{
    self, NextPage, decode_error, decode_list_machines, decode_machine, decode_machines,
};
use defender_tags_core::throttle::RetryAfter;
use defender_tags_core::{
    ApiError, ApiRequest, BaseUrl, Field, Filter, ListQuery, MachineId, MachineRef, Method, Tag,
    TagAction,
};
use defender_tags_emulator::Config;
use serde_json::json;

struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn send(emu: &Emu, base: &BaseUrl, req: &ApiRequest, token: &str) -> Raw {
    let url = req.url(base);
    let mut b = match req.method {
        Method::Get => emu.http.get(url),
        Method::Post => emu.http.post(url),
        #[allow(unreachable_patterns)]
        _ => panic!("unexpected method"),
    };
    for (k, v) in &req.headers {
        b = b.header(k, v);
    }
    if let Some(body) = &req.body {
        b = b.body(body.clone());
    }
    let r = b.bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    Raw {
        status,
        headers,
        body: r.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test]
async fn core_client_requests_round_trip_through_the_emulator() {
    let emu = Emu::with(Config {
        machines: 1500,
        ..Config::default()
    })
    .await;
    let base = BaseUrl::parse(&emu.url).unwrap();
    let t = emu.token("app").await;

    // Paged, filtered list: follow core's next_page until the end.
    let query = ListQuery::new()
        .with_filter(Some(Filter::eq(Field::RiskScore, "High")))
        .with_top(40)
        .unwrap();
    let mut req = api::list_machines(&query);
    let mut all = Vec::new();
    loop {
        let r = send(&emu, &base, &req, &t).await;
        let page = decode_list_machines(r.status, &r.headers, &r.body).unwrap();
        all.extend(page.value.iter().cloned());
        match api::next_page(&query, &page, &base).unwrap() {
            Some(NextPage::Link(next)) => req = next,
            Some(NextPage::Query(q)) => req = api::list_machines(&q),
            None => break,
        }
    }
    let raw = emu.raw_machines().await;
    let expected = raw
        .iter()
        .filter(|m| recent(m) && m["riskScore"] == "High")
        .count();
    assert_eq!(all.len(), expected);
    assert!(
        all.iter()
            .all(|m| m.risk_score.as_ref().map(|r| r.as_str()) == Some("High"))
    );

    // Get by name and by id.
    let first = &all[0];
    let by_name = api::get_machine(&MachineRef::Name(first.computer_dns_name.clone().unwrap()));
    let r = send(&emu, &base, &by_name, &t).await;
    let m = decode_machine(r.status, &r.headers, &r.body).unwrap();
    assert_eq!(m.id, first.id);

    // Single tag, then bulk, decoded with core.
    let tag = Tag::parse("Interop (test)").unwrap();
    let r = send(
        &emu,
        &base,
        &api::set_tag(&first.id, &tag, TagAction::Add),
        &t,
    )
    .await;
    let m = decode_machine(r.status, &r.headers, &r.body).unwrap();
    assert!(m.has_tag("Interop (test)"));
    let ids: Vec<MachineId> = all.iter().take(30).map(|m| m.id.clone()).collect();
    let r = send(
        &emu,
        &base,
        &api::bulk_set_tag(&tag, TagAction::Remove, &ids).unwrap(),
        &t,
    )
    .await;
    let ms = decode_machines(r.status, &r.headers, &r.body).unwrap();
    assert_eq!(ms.len(), 30);
    assert!(ms.iter().all(|m| !m.has_tag("Interop (test)")));

    // findbytag.
    let r = send(&emu, &base, &api::find_by_tag("vip", false).unwrap(), &t).await;
    let found = decode_machines(r.status, &r.headers, &r.body).unwrap();
    assert!(
        found
            .iter()
            .all(|m| m.machine_tags.iter().any(|x| x.eq_ignore_ascii_case("vip")))
    );

    // Errors decode to the typed variants with the envelope's details.
    let missing = MachineId::parse("ffffffffffffffffffffffffffffffffffffffff").unwrap();
    let r = send(
        &emu,
        &base,
        &api::set_tag(&missing, &tag, TagAction::Add),
        &t,
    )
    .await;
    let e = decode_machine(r.status, &r.headers, &r.body).unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }));
    assert_eq!(e.code(), Some("ResourceNotFound"));
    let old = raw.iter().find(|m| !recent(m)).unwrap();
    let old_id = MachineId::parse(old["id"].as_str().unwrap()).unwrap();
    let r = send(
        &emu,
        &base,
        &api::set_tag(&old_id, &tag, TagAction::Add),
        &t,
    )
    .await;
    let e = decode_machine(r.status, &r.headers, &r.body).unwrap_err();
    assert!(matches!(e, ApiError::Forbidden { .. }));
    assert_eq!(e.code(), Some("DisallowedOperation"));

    emu.put_faults(json!({"throttle": 1.0, "throttle_retry_after_secs": 12}))
        .await;
    let r = send(&emu, &base, &api::list_machines(&ListQuery::new()), &t).await;
    let e = decode_error(r.status, &r.headers, &r.body);
    assert_eq!(e.retry_after(), Some(RetryAfter::Seconds(12)));
    assert_eq!(e.code(), Some("TooManyRequests"));
    emu.stop().await;
}

#[tokio::test]
async fn empty_tenant_404_decodes_as_an_empty_list() {
    let emu = Emu::with(Config {
        machines: 0,
        ..Config::default()
    })
    .await;
    let base = BaseUrl::parse(&emu.url).unwrap();
    let t = emu.token("app").await;
    let r = send(&emu, &base, &api::list_machines(&ListQuery::new()), &t).await;
    assert_eq!(r.status, 404);
    assert!(
        decode_list_machines(r.status, &r.headers, &r.body)
            .unwrap()
            .value
            .is_empty()
    );
    emu.stop().await;
}
