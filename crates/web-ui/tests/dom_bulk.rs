//! DOM tests of the UI part 2 screens (bulk compose → preview → run → report → undo, the filter
//! bar, the tag inventory, the activity log) in headless Chromium (wasm-bindgen-test), against the
//! in-memory `FakeBackend` plus [`FakeRunner`], a `BulkRunner` over the same fake tenant. Run with
//! `cargo test --target wasm32-unknown-unknown -p defender-tags-web-ui --features embed --test dom_bulk` (also part
//! of xtask's "wasm tests" step).
//!
//! Same harness as `dom.rs` (mount into a fresh container, `tick` until the effects ran, query
//! the DOM), plus waiting for an animation frame where the bulk views do work in one (see
//! [`settle_until`]). A separate file, so a separate test page: the URL and sessionStorage (where
//! activity logs are mirrored) are per-page state that these tests change.
#![cfg(target_arch = "wasm32")]
// clippy.toml allows unwrap/expect in #[test] fns only; wasm_bindgen_test fns and helpers are
// test code too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::rc::Rc;

use defender_tags_core::device_value::DeviceValuePlan;
use defender_tags_core::plan::{ExpectedOutcome, Plan};
use defender_tags_core::query::MachineQuery;
use defender_tags_core::{HealthStatus, Machine, MachineId, Tag, TagAction, TaggedMachine};
use defender_tags_wasm::report::ErrorInfo;
use defender_tags_wasm::{
    AbortHandle, LocalBoxFuture, MachineOutcome, OutcomeStatus, Progress, RunReport,
};
use defender_tags_web_ui::activity::logged;
use defender_tags_web_ui::api::{Backend, BackendRef, FakeBackend, UiError};
use defender_tags_web_ui::bulk::flow::Phase;
use defender_tags_web_ui::bulk::job::JobKind;
use defender_tags_web_ui::bulk::runner::{BulkRunner, OnSettled};
use defender_tags_web_ui::components::tag_editor::TagEditor;
use defender_tags_web_ui::embed::EmbeddedManager;
use defender_tags_web_ui::ids::Ids;
use defender_tags_web_ui::routes::activity::ActivityPage;
use defender_tags_web_ui::routes::bulk::BulkPage;
use defender_tags_web_ui::routes::inventory::InventoryPage;
use defender_tags_web_ui::routes::search::SearchPage;
use defender_tags_web_ui::settings::demo_settings;
use defender_tags_web_ui::state::AppState;
use leptos::prelude::*;
use leptos_router::components::Router;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

mod common;

use common::{container, machine, query_all, settle, texts, type_into, user};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    // web-ui does not enable web-sys's `History` feature (the router does its own history
    // calls), and a test should not widen the app's feature set for one call.
    #[wasm_bindgen(js_namespace = history, js_name = replaceState)]
    fn history_replace_state(state: &JsValue, unused: &str, url: &str);
}

fn query<T: JsCast>(root: &HtmlElement, selector: &str) -> T {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
        .unchecked_into()
}

/// The figure of a preview or report statistic (`<Stat>`), e.g. "2".
fn stat(root: &HtmlElement, testid: &str) -> Option<String> {
    texts(root, &format!("[data-testid={testid}] .stat-n"))
        .into_iter()
        .next()
}

/// Chooses `value` in a `<select>` (or commits an `<input>`'s text) the way a user does: the
/// value, then a `change` event.
fn change_to(el: &HtmlElement, value: &str) {
    if let Some(select) = el.dyn_ref::<HtmlSelectElement>() {
        select.set_value(value);
    } else {
        el.unchecked_ref::<HtmlInputElement>().set_value(value);
    }
    el.dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

/// Resolves at the next animation frame.
async fn next_frame() {
    let frame = js_sys::Promise::new(&mut |resolve, _reject| {
        web_sys::window()
            .unwrap()
            .request_animation_frame(&resolve)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(frame).await.unwrap();
}

/// Settles until `ready` holds (fetches through the fake are spawned tasks), then lets one
/// animation frame pass: each bulk face moves keyboard focus to its heading in the next frame,
/// and a person never acts on a face within the frame it appeared in. Gives up after a while so
/// the assertion that follows fails with what is on screen.
async fn settle_until(ready: impl Fn() -> bool) {
    for _ in 0..20 {
        settle().await;
        if ready() {
            break;
        }
        next_frame().await;
    }
    next_frame().await;
    settle().await;
}

fn location_search() -> String {
    web_sys::window().unwrap().location().search().unwrap()
}

/// Each test starts from a plain URL: it outlives a test's mount (the bulk job does not: each
/// mount has its own).
fn fresh_page() {
    history_replace_state(&JsValue::NULL, "", "/");
}

fn tags_of(fake: &FakeBackend, n: u32) -> Vec<String> {
    let id = MachineId::parse(&format!("{n:040x}")).unwrap();
    fake.machines
        .borrow()
        .iter()
        .find(|m| m.id == id)
        .map(|m| m.machine_tags.clone())
        .unwrap_or_default()
}

/// A `BulkRunner` over the fake tenant, in the shape of the real one: one outcome per planned
/// machine in plan order, no call for machines already in place, each call applied to the
/// tenant; an id the tenant no longer has is skipped (the bulk API ignores unknown ids).
struct FakeRunner {
    fake: Rc<FakeBackend>,
}

impl BulkRunner for FakeRunner {
    fn run(
        &self,
        plan: Plan,
        mut on_progress: Box<dyn FnMut(&Progress)>,
        mut on_settled: OnSettled,
        _abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport> {
        let fake = self.fake.clone();
        Box::pin(async move {
            // A call takes time: at least a frame, as against any real API.
            next_frame().await;
            let mut outcomes = Vec::with_capacity(plan.outcomes.len());
            for o in &plan.outcomes {
                let status = if o.expected == ExpectedOutcome::AlreadyInPlace {
                    OutcomeStatus::AlreadyInPlace
                } else {
                    let mut machines = fake.machines.borrow_mut();
                    match machines.iter_mut().find(|m| m.id == o.id) {
                        Some(m) => {
                            plan.action.apply(&mut m.machine_tags, plan.tag.as_str());
                            OutcomeStatus::Applied
                        }
                        None => OutcomeStatus::Skipped,
                    }
                };
                outcomes.push(MachineOutcome {
                    machine: o.id.to_string(),
                    status,
                    error: (status == OutcomeStatus::Skipped).then(|| ErrorInfo {
                        code: "not_processed".into(),
                        message: "The API did not process this machine.".into(),
                        status: None,
                        retry_after: None,
                    }),
                });
            }
            let sent_rows: Vec<MachineOutcome> = outcomes
                .iter()
                .filter(|o| o.status != OutcomeStatus::AlreadyInPlace)
                .cloned()
                .collect();
            on_settled(&sent_rows);
            let calls = plan.calls.len() as u32;
            let sent = (outcomes.len() - plan.summary().already_in_place) as u32;
            on_progress(&Progress {
                calls_done: calls,
                calls_total: calls,
                machines_done: sent,
                machines_total: sent,
                calls_this_minute: calls,
                calls_this_hour: calls,
                minute_limit: 100,
                hour_limit: 1_500,
                eta_ms: Some(0),
                waiting_ms: None,
            });
            RunReport {
                tag: plan.tag.as_str().to_owned(),
                action: plan.action.as_str().to_owned(),
                outcomes,
                aborted: false,
                stopped_by: None,
                calls_planned: calls,
                calls_made: calls,
            }
        })
    }

    fn run_device_values(
        &self,
        plan: DeviceValuePlan,
        mut on_progress: Box<dyn FnMut(&Progress)>,
        _abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport> {
        let fake = self.fake.clone();
        Box::pin(async move {
            next_frame().await;
            // One call per machine that changes; a machine the tenant no longer has is a 404.
            let outcomes: Vec<MachineOutcome> = plan
                .outcomes
                .iter()
                .map(|o| {
                    let status = if !o.is_called() {
                        OutcomeStatus::AlreadyInPlace
                    } else {
                        let mut machines = fake.machines.borrow_mut();
                        match machines.iter_mut().find(|m| m.id == o.id) {
                            Some(m) => {
                                m.device_value = Some(o.target.clone());
                                OutcomeStatus::Applied
                            }
                            None => OutcomeStatus::Failed,
                        }
                    };
                    MachineOutcome {
                        machine: o.id.to_string(),
                        status,
                        error: None,
                    }
                })
                .collect();
            let calls = plan.calls() as u32;
            on_progress(&Progress {
                calls_done: calls,
                calls_total: calls,
                machines_done: calls,
                machines_total: calls,
                calls_this_minute: calls,
                calls_this_hour: calls,
                minute_limit: 100,
                hour_limit: 1_500,
                eta_ms: Some(0),
                waiting_ms: None,
            });
            RunReport {
                tag: String::new(),
                action: "setDeviceValue".to_owned(),
                outcomes,
                aborted: false,
                stopped_by: None,
                calls_planned: calls,
                calls_made: calls,
            }
        })
    }

    fn holders(&self, tag: &Tag) -> LocalBoxFuture<'static, Result<Vec<TaggedMachine>, String>> {
        let carrying = self
            .fake
            .machines
            .borrow()
            .iter()
            .filter(|m| m.has_tag(tag.as_str()))
            .cloned()
            .map(TaggedMachine::from)
            .collect();
        Box::pin(async move { Ok(carrying) })
    }
}

/// The fake tenant with [`FakeRunner`] as its bulk runner (`FakeBackend` itself has none).
struct FakeWithRunner(Rc<FakeBackend>);

impl Backend for FakeWithRunner {
    fn search(
        &self,
        query: MachineQuery,
        now_ms: i64,
    ) -> LocalBoxFuture<'static, Result<Vec<Machine>, UiError>> {
        self.0.search(query, now_ms)
    }

    fn set_tag(
        &self,
        target: defender_tags_web_ui::api::Target,
        tag: Tag,
        action: TagAction,
    ) -> LocalBoxFuture<'static, Result<(), UiError>> {
        self.0.set_tag(target, tag, action)
    }

    fn bulk(&self) -> Option<Rc<dyn BulkRunner>> {
        Some(Rc::new(FakeRunner {
            fake: self.0.clone(),
        }))
    }
}

/// Mounts the bulk page (inside a router: it keeps its search and source in the URL).
fn mount_bulk_page(root: &HtmlElement, fake: Rc<FakeBackend>) -> impl Drop {
    leptos::mount::mount_to(root.clone(), move || {
        AppState::provide(
            demo_settings(),
            user(&["Machine.ReadWrite"]),
            Some(BackendRef(Rc::new(FakeWithRunner(fake)))),
        );
        view! { <Router><BulkPage/></Router> }
    })
}

#[wasm_bindgen_test]
async fn an_imported_list_previews_counts_and_names_each_left_out_line() {
    fresh_page();
    let root = container();
    let fake = FakeBackend::new(vec![
        machine(1, "web01.contoso.local", &["Pilot"]),
        machine(2, "web02.contoso.local", &[]),
        machine(3, "db01.contoso.local", &[]),
        machine(4, "kiosk7.contoso.local", &[]),
        machine(5, "KIOSK7.fabrikam.local", &[]),
    ]);
    let _handle = mount_bulk_page(&root, fake.clone());
    settle().await;
    query::<HtmlElement>(&root, "#tab-import").click();
    settle_until(|| !query_all(&root, "[data-testid=import-text]").is_empty()).await;
    assert_eq!(
        location_search(),
        "?source=import",
        "the source is in the URL"
    );

    let list: HtmlTextAreaElement = query(&root, "[data-testid=import-text]");
    list.set_value("web01\nweb02\nkiosk7\nbad name\nnope\ndb01\n");
    list.dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    query::<HtmlElement>(&root, "[data-testid=import-check]").click();
    settle_until(|| !query_all(&root, "[data-testid=import-summary]").is_empty()).await;
    assert_eq!(
        texts(&root, "[data-testid=import-summary] p")[0],
        "3 machines found \u{b7} 1 unknown \u{b7} 1 ambiguous \u{b7} 1 unreadable line \u{b7} 0 repeated"
    );
    // Every line left out is listed with its line number and why, in line order.
    let problems = query_all(&root, "[data-testid=import-problems] li");
    let lines: Vec<String> = problems
        .iter()
        .map(|li| texts(li, ".line-no")[0].clone())
        .collect();
    assert_eq!(lines, vec!["Line 3", "Line 4", "Line 5"]);
    let kinds: Vec<String> = problems
        .iter()
        .map(|li| texts(li, ".badge")[0].clone())
        .collect();
    assert_eq!(kinds, vec!["ambiguous", "invalid", "unknown"]);
    let bad_reason = texts(&problems[1], ".line-reason")[0].clone();
    assert!(
        bad_reason.contains("\"bad name\" contains whitespace"),
        "{bad_reason}"
    );
    // The ambiguous name is not guessed: both candidates are named.
    let ambiguous_reason = texts(&problems[0], ".line-reason")[0].clone();
    assert!(
        ambiguous_reason.contains(&format!("{:040x}", 4))
            && ambiguous_reason.contains(&format!("{:040x}", 5)),
        "{ambiguous_reason}"
    );

    type_into(&query(&root, "[data-testid=bulk-tag-input]"), "Pilot");
    query::<HtmlElement>(&root, "[data-testid=preview-button]").click();
    settle_until(|| !query_all(&root, "[data-testid=bulk-preview]").is_empty()).await;
    assert_eq!(
        texts(&root, "#bulk-job-title")[0],
        "Preview: Add \u{201c}Pilot\u{201d} to 3 machines"
    );
    assert_eq!(stat(&root, "preview-will-change").as_deref(), Some("2"));
    assert_eq!(stat(&root, "preview-already").as_deref(), Some("1"));
    assert_eq!(stat(&root, "preview-unresolved").as_deref(), Some("3"));
    let mut will_change = texts(&root, "[data-testid=list-will-change] .line-name");
    will_change.sort();
    assert_eq!(
        will_change,
        vec!["db01.contoso.local", "web02.contoso.local"]
    );
    assert_eq!(
        texts(&root, "[data-testid=list-already] .line-name"),
        vec!["web01.contoso.local"]
    );
    // The bad row's error travels into the preview with its line number.
    let unresolved = query_all(&root, "[data-testid=list-unresolved] li");
    assert_eq!(unresolved.len(), 3);
    assert_eq!(texts(&unresolved[1], ".line-no"), vec!["Line 4"]);
    assert!(
        texts(&unresolved[1], ".line-reason")[0].contains("contains whitespace"),
        "{:?}",
        texts(&unresolved[1], ".line-reason")
    );
    assert_eq!(
        texts(&root, "[data-testid=run-button]")[0],
        "Run: change 2 machines"
    );
    assert!(tags_of(&fake, 2).is_empty(), "a preview changes nothing");
    fresh_page();
}

#[wasm_bindgen_test]
async fn a_run_reports_per_status_counts_and_undo_reverts_only_what_it_changed() {
    fresh_page();
    let root = container();
    let fake = FakeBackend::new(vec![
        machine(1, "web01.contoso.local", &["Pilot"]),
        machine(2, "web02.contoso.local", &["Finance"]),
        machine(3, "db01.contoso.local", &[]),
    ]);
    let _handle = mount_bulk_page(&root, fake.clone());
    let summary = || texts(&root, "[data-testid=bulk-match-summary]");
    settle_until(|| summary().first().is_some_and(|s| s.starts_with("0 of 3"))).await;
    assert_eq!(summary()[0], "0 of 3 matching machines selected");
    // One row by hand, then "all matching" (which takes every match, not only the rows shown).
    query::<HtmlElement>(&root, &format!("#pick-{:040x}", 2)).click();
    settle().await;
    assert_eq!(summary()[0], "1 of 3 matching machines selected");
    query::<HtmlElement>(&root, "[data-testid=select-all-matching]").click();
    settle().await;
    assert_eq!(summary()[0], "3 of 3 matching machines selected");

    type_into(&query(&root, "[data-testid=bulk-tag-input]"), "Pilot");
    query::<HtmlElement>(&root, "[data-testid=preview-button]").click();
    settle_until(|| !query_all(&root, "[data-testid=bulk-preview]").is_empty()).await;
    assert_eq!(stat(&root, "preview-will-change").as_deref(), Some("2"));
    assert_eq!(stat(&root, "preview-already").as_deref(), Some("1"));

    // db01 leaves the tenant between preview and run: the API skips its id, so the report must
    // say so, and undo must not touch it.
    fake.machines
        .borrow_mut()
        .retain(|m| m.computer_dns_name.as_deref() != Some("db01.contoso.local"));
    query::<HtmlElement>(&root, "[data-testid=run-button]").click();
    settle_until(|| !query_all(&root, "[data-testid=bulk-report]").is_empty()).await;
    assert_eq!(
        texts(&root, "[data-testid=report-headline]"),
        vec!["Finished."]
    );
    assert_eq!(stat(&root, "count-applied").as_deref(), Some("1"));
    assert_eq!(stat(&root, "count-skipped").as_deref(), Some("1"));
    assert_eq!(stat(&root, "count-alreadyInPlace").as_deref(), Some("1"));
    assert_eq!(stat(&root, "count-failed"), None, "no failed group");
    assert_eq!(
        texts(&root, "[data-testid=report-applied] .line-name"),
        vec!["web02.contoso.local"]
    );
    assert_eq!(
        texts(&root, "[data-testid=report-skipped] .line-name"),
        vec!["db01.contoso.local"]
    );
    assert_eq!(tags_of(&fake, 2), vec!["Finance", "Pilot"], "applied");

    // Undo offers the inverse for exactly the machine the run changed...
    let undo = query::<HtmlElement>(&root, "[data-testid=undo-button]");
    assert_eq!(undo.text_content().unwrap(), "Undo this run (1 machine)");
    undo.click();
    settle_until(|| !query_all(&root, "[data-testid=bulk-preview]").is_empty()).await;
    let title = texts(&root, "#bulk-job-title")[0].clone();
    assert!(
        title.starts_with("Preview: Undo \u{2014} Remove \u{201c}Pilot\u{201d} on 1 machine"),
        "{title}"
    );
    assert_eq!(stat(&root, "preview-will-change").as_deref(), Some("1"));
    assert_eq!(
        texts(&root, "[data-testid=list-will-change] .line-name"),
        vec!["web02.contoso.local"]
    );
    // ...and running it restores the before-state; web01, which had the tag before the run,
    // keeps it.
    query::<HtmlElement>(&root, "[data-testid=run-button]").click();
    settle_until(|| !query_all(&root, "[data-testid=bulk-report]").is_empty()).await;
    assert_eq!(stat(&root, "count-applied").as_deref(), Some("1"));
    assert_eq!(tags_of(&fake, 2), vec!["Finance"]);
    assert_eq!(tags_of(&fake, 1), vec!["Pilot"]);
    fresh_page();
}

#[wasm_bindgen_test]
async fn changing_filters_puts_them_in_the_url_and_narrows_the_list() {
    fresh_page();
    let root = container();
    let mut a = machine(1, "web01.contoso.local", &["Finance-EU"]);
    a.health_status = Some(HealthStatus::Inactive);
    a.rbac_group_id = Some(7);
    a.rbac_group_name = Some("Servers".into());
    let mut b = machine(2, "web02.contoso.local", &["Finance-US"]);
    b.health_status = Some(HealthStatus::Active);
    b.rbac_group_id = Some(7);
    b.rbac_group_name = Some("Servers".into());
    let mut c = machine(3, "db01.contoso.local", &["Finance-EU"]);
    c.health_status = Some(HealthStatus::Active);
    c.rbac_group_id = Some(9);
    c.rbac_group_name = Some("Databases".into());
    let fake = FakeBackend::new(vec![a, b, c]);
    let backend = fake.clone();
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        AppState::provide(
            demo_settings(),
            user(&["Machine.Read"]),
            Some(BackendRef(Rc::new(backend))),
        );
        view! { <Router><SearchPage/></Router> }
    });
    let names = || {
        let mut n = texts(&root, ".body-row:not([hidden]) .machine-link");
        n.sort();
        n
    };
    settle_until(|| names().len() == 3).await;
    // The group filter offers the tenant's machine groups, by name, alphabetically.
    assert_eq!(
        texts(&root, "#filter-group option"),
        vec!["Any", "Databases", "Servers"]
    );

    change_to(&query(&root, "#filter-health"), "Active");
    settle_until(|| names().len() == 2).await;
    assert_eq!(location_search(), "?health=Active");
    assert_eq!(names(), vec!["db01.contoso.local", "web02.contoso.local"]);

    // A tag prefix: the text, then the mode; each change goes to the URL at once.
    change_to(&query(&root, "#filter-tag"), " Finance-E ");
    settle().await;
    assert_eq!(location_search(), "?tag=Finance-E&health=Active", "trimmed");
    change_to(&query(&root, "#filter-tag-mode"), "prefix");
    settle_until(|| names().len() == 1).await;
    assert_eq!(
        location_search(),
        "?tag=Finance-E&tagmode=prefix&health=Active"
    );
    assert_eq!(names(), vec!["db01.contoso.local"]);

    // Back to "Any" drops the parameter (short URLs); the group filter sends the group's id.
    change_to(&query(&root, "#filter-health"), "");
    settle().await;
    change_to(&query(&root, "#filter-group"), "7");
    settle_until(|| names() == vec!["web01.contoso.local"]).await;
    assert_eq!(location_search(), "?tag=Finance-E&tagmode=prefix&group=7");
    assert_eq!(names(), vec!["web01.contoso.local"]);
    fresh_page();
}

#[wasm_bindgen_test]
async fn inventory_lists_case_variants_and_portal_breakers_and_merges_into_the_chosen_spelling() {
    fresh_page();
    let root = container();
    let fake = FakeBackend::new(vec![
        machine(1, "a1", &["Finance", "Berlin, DE"]),
        machine(2, "a2", &["Finance"]),
        machine(3, "a3", &["finance"]),
        machine(4, "a4", &["Ops (EU)"]),
        machine(5, "a5", &[]),
    ]);
    let backend = fake.clone();
    let flow_of_mount = Rc::new(std::cell::Cell::new(None));
    let flow_slot = flow_of_mount.clone();
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        let state = AppState::provide(
            demo_settings(),
            user(&["Machine.ReadWrite"]),
            Some(BackendRef(Rc::new(backend))),
        );
        flow_slot.set(Some(state.bulk));
        view! { <Router><InventoryPage/></Router> }
    });
    settle_until(|| !query_all(&root, "[data-testid=inventory-summary]").is_empty()).await;
    assert_eq!(
        texts(&root, "[data-testid=inventory-summary]")[0],
        "4 tags on 5 machines \u{b7} 1 machines without tags \u{b7} 1 case-variant groups \u{b7} 2 tags that break the portal filter"
    );

    let clusters = query_all(&root, "[data-testid=variant-cluster]");
    assert_eq!(clusters.len(), 1);
    assert_eq!(
        texts(&clusters[0], "legend"),
        vec!["Spellings of \u{201c}finance\u{201d}"]
    );
    assert_eq!(
        texts(&clusters[0], "label"),
        vec![
            "Keep \u{201c}Finance\u{201d} \u{b7} 2 machines",
            "Keep \u{201c}finance\u{201d} \u{b7} 1 machines"
        ]
    );
    // The most used spelling is proposed.
    let radios: Vec<HtmlInputElement> = query_all(&clusters[0], "input[type=radio]")
        .into_iter()
        .map(JsCast::unchecked_into)
        .collect();
    assert!(radios[0].checked() && !radios[1].checked());

    let mut breakers: Vec<String> = query_all(&root, "[data-testid=portal-breakers] li")
        .iter()
        .map(|li| {
            format!(
                "{} | {}",
                texts(li, ".chip")[0],
                texts(li, ".small.muted")[0]
            )
        })
        .collect();
    breakers.sort();
    assert_eq!(
        breakers,
        vec![
            "Berlin, DE | 1 machines \u{b7} contains \u{201c},\u{201d}",
            "Ops (EU) | 1 machines \u{b7} contains \u{201c}(\u{201d} \u{201c})\u{201d}",
        ]
    );
    // The table flags both kinds of problem.
    let notes: Vec<(String, String)> = query_all(&root, "[data-testid=inventory-table] tbody tr")
        .iter()
        .map(|tr| (texts(tr, "th")[0].clone(), texts(tr, "td.small")[0].clone()))
        .collect();
    assert!(
        notes.contains(&("finance".into(), "case variants".into())),
        "{notes:?}"
    );
    assert!(
        notes.contains(&("Berlin, DE".into(), "breaks the portal filter".into())),
        "{notes:?}"
    );

    // Choosing the other spelling and merging prepares the bulk preview for exactly that.
    radios[1].click();
    settle().await;
    let merge = query::<HtmlElement>(&clusters[0], "[data-testid=merge-button]");
    assert_eq!(
        merge.text_content().unwrap(),
        "Merge into \u{201c}finance\u{201d}\u{2026}"
    );
    merge.click();
    settle().await;
    let job = flow_of_mount
        .get()
        .unwrap()
        .phase()
        .with_untracked(|p| match p {
            Phase::Preview(job) => Some(job.clone()),
            _ => None,
        });
    let job = job.expect("a merge preview is waiting");
    assert_eq!(job.kind, JobKind::Merge);
    let steps: Vec<(String, Vec<String>)> = job
        .steps
        .iter()
        .map(|s| {
            let mut ids: Vec<String> = s.plan.outcomes.iter().map(|o| o.id.to_string()).collect();
            ids.sort();
            (s.label(), ids)
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (
                "Add \u{201c}finance\u{201d}".to_owned(),
                vec![format!("{:040x}", 1), format!("{:040x}", 2)]
            ),
            (
                "Remove \u{201c}Finance\u{201d}".to_owned(),
                vec![format!("{:040x}", 1), format!("{:040x}", 2)]
            ),
        ]
    );
    assert_eq!(
        web_sys::window().unwrap().location().pathname().unwrap(),
        "/bulk",
        "the app goes to the preview"
    );
    assert_eq!(
        fake.machines.borrow()[0].machine_tags,
        vec!["Finance", "Berlin, DE"],
        "nothing sent before the preview is confirmed"
    );
    fresh_page();
}

#[wasm_bindgen_test]
async fn the_activity_page_lists_a_change_as_it_is_made() {
    fresh_page();
    let root = container();
    let fake = FakeBackend::new(vec![machine(1, "web01.contoso.local", &[])]);
    let id = fake.machines.borrow()[0].id.clone();
    let fake_check = fake.clone();
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        let state = AppState::provide(demo_settings(), user(&["Machine.ReadWrite"]), None);
        // As the app wires it: single edits go through the logging backend.
        let logged = defender_tags_web_ui::activity::logged(
            BackendRef(Rc::new(fake)),
            state.session.0,
            state.activity,
        );
        // The app lists machines before anyone edits one; the log names machines from that
        // listing.
        let listing = logged.0.search(MachineQuery::default(), 0);
        leptos::task::spawn_local(async move {
            listing.await.unwrap();
        });
        state.backend.0.set(Some(logged));
        view! {
            <TagEditor id=id machine_name=Some("web01.contoso.local".to_owned())
                server_tags=Signal::derive(Vec::new)/>
            <ActivityPage/>
        }
    });
    settle().await;
    // The log is read back from sessionStorage, which earlier tests wrote to: count what is
    // there already.
    let before = query_all(&root, "[data-testid=activity-row]").len();
    assert_eq!(
        query_all(&root, "[data-testid=activity-empty]").len(),
        usize::from(before == 0)
    );

    type_into(&query(&root, "#add-tag-input"), "audited");
    query::<HtmlElement>(&root, "[data-testid=add-tag-button]").click();
    settle_until(|| query_all(&root, "[data-testid=activity-row]").len() > before).await;
    assert!(query_all(&root, "[data-testid=activity-empty]").is_empty());
    assert!(
        !query::<HtmlElement>(&root, "[data-testid=activity-export-csv]").has_attribute("disabled"),
        "export is offered once there is something to export"
    );
    query::<HtmlElement>(&root, "button[aria-label='Remove tag audited']").click();
    settle_until(|| query_all(&root, "[data-testid=activity-row]").len() > before + 1).await;

    let rows = query_all(&root, "[data-testid=activity-row]");
    assert_eq!(rows.len(), before + 2);
    let cells: Vec<Vec<String>> = rows[..2]
        .iter()
        .map(|row| texts(row, ":scope > td"))
        .collect();
    // Newest first, numbered in order.
    assert_eq!(cells[0][0], (before + 2).to_string());
    assert_eq!(cells[1][0], (before + 1).to_string());
    assert!(
        cells[0][3].starts_with("single Remove \u{201c}audited\u{201d} from web01.contoso.local"),
        "{cells:?}"
    );
    assert!(
        cells[1][3].starts_with("single Add \u{201c}audited\u{201d} to web01.contoso.local"),
        "{cells:?}"
    );
    for row in &cells {
        assert_eq!(row[2], "Test User (test@example.com)");
        assert_eq!(row[4], "1", "machines");
        assert_eq!(row[5], "Changed");
    }
    assert!(tags_of(&fake_check, 1).is_empty(), "added, then removed");
}

/// Two managers on one page, as two `mountTagManager` calls make them: each has its own bulk
/// run, its own activity log and its own element ids.
#[wasm_bindgen_test]
async fn two_managers_on_one_page_work_independently() {
    fresh_page();
    let fake = FakeBackend::new(vec![
        machine(1, "web01.contoso.local", &[]),
        machine(2, "web02.contoso.local", &[]),
    ]);
    let mount = |root: &HtmlElement| {
        let fake = fake.clone();
        leptos::mount::mount_to(root.clone(), move || {
            let state = AppState::provide_for(
                demo_settings(),
                user(&["Machine.ReadWrite"]),
                None,
                Ids::next_mount(),
            );
            let backend = BackendRef(Rc::new(FakeWithRunner(fake)));
            state
                .backend
                .0
                .set(Some(logged(backend, state.session.0, state.activity)));
            view! { <EmbeddedManager/> }
        })
    };
    let (a, b) = (container(), container());
    let _mounted = (mount(&a), mount(&b));
    let composing = |root: &HtmlElement| {
        texts(root, "[data-testid=bulk-match-summary]")
            .first()
            .is_some_and(|s| s.starts_with("0 of 2"))
    };
    settle_until(|| composing(&a) && composing(&b)).await;

    // No id twice on the page, and every label names an input of its own manager.
    let document = web_sys::window().unwrap().document().unwrap();
    let with_id = document.query_selector_all("[id]").unwrap();
    let ids: Vec<String> = (0..with_id.length())
        .map(|i| {
            with_id
                .item(i)
                .unwrap()
                .unchecked_into::<web_sys::Element>()
                .id()
        })
        .collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "an id repeats: {ids:?}");
    for root in [&a, &b] {
        let labels = query_all(root, "label[for]");
        assert!(!labels.is_empty());
        for label in labels {
            let target = label.get_attribute("for").unwrap();
            assert!(
                root.query_selector(&format!("#{target}"))
                    .unwrap()
                    .is_some(),
                "label for {target} points outside its manager"
            );
        }
    }

    // A run in the first manager...
    query::<HtmlElement>(&a, "[data-testid=select-all-matching]").click();
    settle().await;
    type_into(&query(&a, "[data-testid=bulk-tag-input]"), "Pilot");
    query::<HtmlElement>(&a, "[data-testid=preview-button]").click();
    settle_until(|| !query_all(&a, "[data-testid=bulk-preview]").is_empty()).await;
    // ...leaves the second one composing, before and after it ran.
    assert!(query_all(&b, "[data-testid=bulk-preview]").is_empty());
    assert!(composing(&b));
    query::<HtmlElement>(&a, "[data-testid=run-button]").click();
    settle_until(|| !query_all(&a, "[data-testid=bulk-report]").is_empty()).await;
    assert_eq!(stat(&a, "count-applied").as_deref(), Some("2"));
    assert!(query_all(&b, "[data-testid=bulk-report]").is_empty());
    assert!(composing(&b));

    // The run is in the first manager's activity log only.
    for root in [&a, &b] {
        for tab in query_all(root, "[role=tab]") {
            if tab.text_content().unwrap() == "Activity" {
                tab.click();
            }
        }
    }
    settle().await;
    assert_eq!(query_all(&a, "[data-testid=activity-row]").len(), 1);
    assert!(query_all(&b, "[data-testid=activity-row]").is_empty());
    assert_eq!(query_all(&b, "[data-testid=activity-empty]").len(), 1);
}
