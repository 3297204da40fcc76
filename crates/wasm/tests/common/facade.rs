//! The JS facade (`DefenderClient` class, `DefenderError`s) driven from Rust through the same
//! JS values a portal would pass.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use defender_tags_wasm::js::{ClientOptions, JsDefenderClient, PlanMachines};

use super::emulator;

fn set(obj: &Object, key: &str, value: &JsValue) {
    Reflect::set(obj, &key.into(), value).expect("set property");
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).expect("get property")
}

/// `new DefenderClient({ baseUrl, getToken })` with a getToken that resolves to `token` and
/// counts its calls in `calls`.
fn client(base: &str, token: String, calls: &Array) -> JsDefenderClient {
    let calls = calls.clone();
    let get_token = Closure::<dyn Fn(JsValue) -> JsValue>::new(move |request: JsValue| {
        calls.push(&request);
        Promise::resolve(&JsValue::from_str(&token)).into()
    });
    let options = Object::new();
    set(&options, "baseUrl", &base.into());
    set(&options, "getToken", get_token.as_ref());
    get_token.forget();
    JsDefenderClient::new(options.unchecked_into::<ClientOptions>()).expect("valid options")
}

async fn rejection(promise: Promise) -> JsValue {
    JsFuture::from(promise)
        .await
        .expect_err("the promise rejects")
}

pub async fn facade_lists_and_rejects_with_defender_errors(base: &str) {
    let token = emulator::token(base, "app").await;
    let calls = Array::new();
    let client = client(base, token, &calls);

    let options = Object::new();
    set(&options, "top", &3.into());
    let page = JsFuture::from(client.list_machines(Some(options.into())))
        .await
        .expect("page");
    let machines = Array::from(&get(&page, "machines"));
    assert_eq!(machines.length(), 3);
    assert!(get(&page, "cursor").is_string());
    let first = machines.get(0);
    assert!(get(&first, "id").is_string());
    assert!(Array::is_array(&get(&first, "machineTags")));
    assert_eq!(calls.length(), 1);
    assert_eq!(get(&calls.get(0), "forceRefresh"), JsValue::FALSE);

    let missing = "0".repeat(40);
    let err = rejection(client.get_machine(missing.clone())).await;
    let error = err.dyn_ref::<js_sys::Error>().expect("a real Error object");
    assert_eq!(String::from(error.name()), "DefenderError");
    assert_eq!(get(&err, "code"), JsValue::from_str("not_found"));
    assert_eq!(get(&err, "status"), JsValue::from(404));
    assert_eq!(get(&err, "machineId"), JsValue::from_str(&missing));

    let before = emulator::counter(base, "calls").await;
    let err = rejection(client.add_tag(missing.clone(), "  ".into())).await;
    assert_eq!(get(&err, "code"), JsValue::from_str("invalid_input"));
    assert!(get(&err, "status").is_undefined());
    assert_eq!(
        emulator::counter(base, "calls").await,
        before,
        "nothing sent"
    );

    let bad = Object::new();
    set(&bad, "baseUrl", &base.into());
    let err =
        JsDefenderClient::new(bad.unchecked_into::<ClientOptions>()).expect_err("no getToken");
    assert_eq!(get(&err, "code"), JsValue::from_str("invalid_input"));
}

pub async fn facade_run_plan_with_progress_and_abort_signal(base: &str) {
    let token = emulator::token(base, "app").await;
    let client = client(base, token, &Array::new());
    let options = Object::new();
    set(&options, "top", &4.into());
    let page = JsFuture::from(client.list_machines(Some(options.into())))
        .await
        .expect("page");
    let ids: Vec<String> = Array::from(&get(&page, "machines"))
        .iter()
        .map(|m| get(&m, "id").as_string().expect("id"))
        .collect();
    let machines: Array = ids
        .iter()
        .map(|id| {
            let m = Object::new();
            set(&m, "id", &id.into());
            set(&m, "tags", &Array::new());
            JsValue::from(m)
        })
        .collect();
    let tag = format!("facade-{}", js_sys::Date::now() as u64);
    let plan = client
        .plan_bulk(
            tag.clone(),
            "Add".into(),
            machines.unchecked_into::<PlanMachines>(),
        )
        .expect("plan");
    let summary = plan.summary().expect("summary");
    assert_eq!(get(&summary, "toChange"), JsValue::from(4));
    assert_eq!(get(&summary, "calls"), JsValue::from(1));

    // An already-aborted signal: nothing is sent, everything is notAttempted.
    let controller = web_sys::AbortController::new().expect("AbortController");
    controller.abort();
    let run = Object::new();
    set(&run, "signal", &controller.signal());
    let report = JsFuture::from(client.run_plan(&plan, Some(run.into())))
        .await
        .expect("report");
    assert_eq!(get(&report, "aborted"), JsValue::TRUE);
    let statuses: Vec<String> = Array::from(&get(&report, "outcomes"))
        .iter()
        .map(|o| get(&o, "status").as_string().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["notAttempted"; 4]);

    // A real run with a progress callback that throws: the run still completes.
    let events = Array::new();
    let log = events.clone();
    let on_progress = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| {
        log.push(&p);
        let _ = Function::new_no_args("throw new Error('ui bug')").call0(&JsValue::NULL);
    });
    let run = Object::new();
    set(&run, "onProgress", on_progress.as_ref());
    let report = JsFuture::from(client.run_plan(&plan, Some(run.into())))
        .await
        .expect("report");
    drop(on_progress);
    assert_eq!(get(&report, "aborted"), JsValue::FALSE);
    let applied = Array::from(&get(&report, "outcomes"))
        .iter()
        .filter(|o| get(o, "status").as_string().as_deref() == Some("applied"))
        .count();
    assert_eq!(applied, 4);
    let last = events.get(events.length() - 1);
    assert_eq!(get(&last, "callsDone"), JsValue::from(1));
    assert_eq!(get(&last, "minuteLimit"), JsValue::from(100));
    for id in &ids {
        assert!(emulator::machine_tags(base, id).await.contains(&tag));
    }
}

/// `planBulk` reads the machines array in one JSON crossing when it can, and property by
/// property otherwise: both must accept the same inputs and report the same first bad entry.
pub async fn facade_plan_bulk_reads_every_input_shape(base: &str) {
    let token = emulator::token(base, "app").await;
    let client = client(base, token, &Array::new());
    let id = |n: u32| format!("{n:040x}");
    let plan = |machines: &Array| {
        client.plan_bulk(
            "Finance".into(),
            "Add".into(),
            machines.clone().unchecked_into::<PlanMachines>(),
        )
    };
    let plain = |n: u32, tags: Option<&[&str]>| {
        let m = Object::new();
        set(&m, "id", &id(n).into());
        if let Some(tags) = tags {
            let list: Array = tags.iter().map(|t| JsValue::from_str(t)).collect();
            set(&m, "tags", &list);
        }
        JsValue::from(m)
    };

    // Plain objects: unknown tags, known tags, already tagged, null tags, extra properties.
    let machines = Array::new();
    machines.push(&plain(1, None));
    machines.push(&plain(2, Some(&["x"])));
    machines.push(&plain(3, Some(&["Finance"])));
    let with_null = plain(4, None);
    set(with_null.unchecked_ref(), "tags", &JsValue::NULL);
    set(with_null.unchecked_ref(), "name", &"ws-4".into());
    set(with_null.unchecked_ref(), "other", &5.into());
    machines.push(&with_null);
    let summary = plan(&machines).expect("plan").summary().expect("summary");
    assert_eq!(get(&summary, "toChange"), JsValue::from(3));
    assert_eq!(get(&summary, "alreadyInPlace"), JsValue::from(1));
    assert_eq!(get(&summary, "unknown"), JsValue::from(2));

    // An id JSON cannot see (inherited from a prototype) is still read, as it always was.
    let proto = Object::new();
    set(&proto, "id", &id(5).into());
    machines.push(&Object::create(&proto));
    let p = plan(&machines).expect("plan with an inherited id");
    let ids: Vec<String> = Array::from(&p.machine_ids())
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    assert_eq!(ids, [id(1), id(2), id(4), id(5)]);

    // The first bad entry is named by its index, whichever path found it.
    let bad = plain(6, None);
    set(bad.unchecked_ref(), "id", &"not-an-id".into());
    machines.push(&bad);
    let err = plan(&machines).expect_err("a bad id");
    assert_eq!(get(&err, "code"), JsValue::from_str("invalid_input"));
    let message = get(&err, "message").as_string().unwrap_or_default();
    assert!(message.contains("machines[5].id"), "{message}");
    let tags = Array::of1(&7.into());
    let bad_tags = Array::of1(&plain(7, None));
    set(bad_tags.get(0).unchecked_ref(), "tags", &tags);
    let err = plan(&bad_tags).expect_err("a numeric tag");
    let message = get(&err, "message").as_string().unwrap_or_default();
    assert!(message.contains("machines[0].tags"), "{message}");
}
