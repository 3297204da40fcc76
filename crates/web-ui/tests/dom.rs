//! DOM tests of the non-trivial components, in headless Chromium (wasm-bindgen-test), against the
//! in-memory `FakeBackend`. Run with `cargo test --target wasm32-unknown-unknown -p
//! defender-tags-wasm -p defender-tags-web-ui` (xtask's "wasm tests" step).
#![cfg(target_arch = "wasm32")]
// clippy.toml allows unwrap in #[test] fns only; wasm_bindgen_test fns and helpers are test code too.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::rc::Rc;
use std::sync::Arc;

use defender_tags_core::Machine;
use defender_tags_web_ui::access::Access;
use defender_tags_web_ui::api::{BackendRef, FakeBackend, UiError, UiErrorKind};
use defender_tags_web_ui::components::machine_table::MachineTable;
use defender_tags_web_ui::components::notice::NoticeRegion;
use defender_tags_web_ui::components::tag_editor::TagEditor;
use defender_tags_web_ui::routes::search::SearchPage;
use defender_tags_web_ui::search::SearchState;
use defender_tags_web_ui::settings::demo_settings;
use defender_tags_web_ui::state::{AppState, Session};
use defender_tags_web_ui::table::{Loaded, MAX_SLOTS};
use defender_tags_web_ui::tags::TagCatalog;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, HtmlInputElement};

mod common;

use common::{container, machine, query_all, settle, texts, type_into, user};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn table_keeps_a_constant_number_of_dom_rows_for_100k_machines() {
    let root = container();
    let machines: Vec<Machine> = (0..100_000)
        .map(|n| machine(n + 1, &format!("host{n:06}"), &[]))
        .collect();
    let loaded = Arc::new(Loaded::new(machines));
    let indices: Arc<Vec<u32>> = Arc::new((0..100_000).collect());
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        AppState::provide(demo_settings(), user(&["Machine.Read"]), None);
        let loaded = loaded.clone();
        let indices = indices.clone();
        view! {
            <MachineTable
                loaded=Signal::derive(move || Some(loaded.clone()))
                indices=Signal::derive(move || indices.clone())
                search=Signal::derive(SearchState::default)
                on_sort=Callback::new(|_| {})
            />
        }
    });
    settle().await;
    // No stylesheet here: give the scroll container the height app.css gives it, and let the
    // table measure it again (it listens to window resizes).
    let scroller = query_all(&root, ".table-scroll").remove(0);
    scroller.style().set_property("height", "600px").unwrap();
    scroller.style().set_property("overflow-y", "auto").unwrap();
    web_sys::window()
        .unwrap()
        .dispatch_event(&web_sys::Event::new("resize").unwrap())
        .unwrap();
    settle().await;
    let rows = query_all(&root, ".body-row");
    assert_eq!(rows.len(), MAX_SLOTS, "DOM row slots are constant");
    let visible = query_all(&root, ".body-row:not([hidden])");
    assert!(!visible.is_empty() && visible.len() < MAX_SLOTS);
    assert_eq!(
        texts(&root, ".body-row:not([hidden]) .machine-link")[0],
        "host000000"
    );

    // Scroll far down: same number of DOM rows, other machines in them.
    scroller.set_scroll_top(40 * 50_000);
    scroller
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    settle().await;
    assert_eq!(query_all(&root, ".body-row").len(), MAX_SLOTS);
    let names = texts(&root, ".body-row:not([hidden]) .machine-link");
    assert!(names.iter().any(|n| n == "host050000"), "{names:?}");
    assert_eq!(
        root.query_selector("[role=table]")
            .unwrap()
            .unwrap()
            .get_attribute("aria-rowcount")
            .as_deref(),
        Some("100001")
    );
}

#[wasm_bindgen_test]
async fn duplicate_names_are_flagged_and_text_is_not_html() {
    let root = container();
    let machines = vec![
        machine(1, "web01", &[]),
        machine(2, "WEB01", &[]),
        machine(
            3,
            "<img src=x onerror=alert(1)>",
            &["<script>alert(1)</script>"],
        ),
    ];
    let loaded = Arc::new(Loaded::new(machines));
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        AppState::provide(demo_settings(), user(&["Machine.Read"]), None);
        let loaded = loaded.clone();
        view! {
            <MachineTable
                loaded=Signal::derive(move || Some(loaded.clone()))
                indices=Signal::derive(|| Arc::new(vec![0, 1, 2]))
                search=Signal::derive(SearchState::default)
                on_sort=Callback::new(|_| {})
            />
        }
    });
    settle().await;
    assert_eq!(
        query_all(&root, ".body-row:not([hidden]) .badge-warn").len(),
        2
    );
    assert!(root.query_selector("img").unwrap().is_none());
    assert!(texts(&root, ".machine-link").contains(&"<img src=x onerror=alert(1)>".to_owned()));
    assert!(texts(&root, ".chip").contains(&"<script>alert(1)</script>".to_owned()));
}

fn mount_editor(root: &HtmlElement, fake: Rc<FakeBackend>, session: Session) {
    let m = fake.machines.borrow()[0].clone();
    let handle = leptos::mount::mount_to(root.clone(), move || {
        let state = AppState::provide(demo_settings(), session, Some(BackendRef(Rc::new(fake))));
        let mut tagged = m.clone();
        tagged.machine_tags = vec!["finance".to_owned()];
        state.catalog.0.set(TagCatalog::of([&tagged]));
        let initial = m.machine_tags.clone();
        view! {
            <NoticeRegion/>
            <TagEditor
                id=m.id.clone()
                machine_name=Some("web01".to_owned())
                server_tags=Signal::derive(move || initial.clone())
            />
        }
    });
    handle.forget();
}

#[wasm_bindgen_test]
async fn invalid_tags_are_refused_inline_before_sending() {
    let root = container();
    let fake = FakeBackend::new(vec![machine(1, "web01", &["a"])]);
    mount_editor(&root, fake.clone(), user(&["Machine.ReadWrite"]));
    settle().await;
    let input: HtmlInputElement = root
        .query_selector("#add-tag-input")
        .unwrap()
        .unwrap()
        .unchecked_into();
    type_into(&input, " padded");
    settle().await;
    let error = texts(&root, "[data-testid=tag-error]");
    assert_eq!(error.len(), 1);
    assert!(error[0].contains("whitespace"), "{error:?}");
    query_all(&root, "[data-testid=add-tag-button]")[0].click();
    settle().await;
    assert_eq!(
        fake.machines.borrow()[0].machine_tags,
        vec!["a".to_owned()],
        "nothing was sent"
    );

    // A case variant of a tenant tag is allowed, with a warning.
    type_into(&input, "Finance");
    settle().await;
    let warnings = texts(&root, "[data-testid=tag-warnings] li");
    assert!(
        warnings.iter().any(|w| w.contains("finance")),
        "{warnings:?}"
    );
}

#[wasm_bindgen_test]
async fn adding_is_optimistic_and_a_failure_rolls_back_with_a_message() {
    let root = container();
    let fake = FakeBackend::new(vec![machine(1, "web01", &["a"])]);
    mount_editor(&root, fake.clone(), user(&["Machine.ReadWrite"]));
    settle().await;
    let input: HtmlInputElement = root
        .query_selector("#add-tag-input")
        .unwrap()
        .unwrap()
        .unchecked_into();
    type_into(&input, "new-tag");
    query_all(&root, "[data-testid=add-tag-button]")[0].click();
    settle().await;
    assert_eq!(texts(&root, ".chip .chip-text"), vec!["a", "new-tag"]);
    assert!(
        fake.machines.borrow()[0]
            .machine_tags
            .contains(&"new-tag".to_owned())
    );

    *fake.fail_next_change.borrow_mut() = Some(UiError::new(
        UiErrorKind::Server,
        "Defender's API failed (HTTP 500).",
    ));
    type_into(&input, "doomed");
    query_all(&root, "[data-testid=add-tag-button]")[0].click();
    settle().await;
    assert_eq!(
        texts(&root, ".chip .chip-text"),
        vec!["a", "new-tag"],
        "rolled back"
    );
    let notice = texts(&root, "[data-testid=notice]");
    assert!(
        notice[0].contains("Could not add \u{201c}doomed\u{201d}"),
        "{notice:?}"
    );
    assert!(notice[0].contains("undone"), "{notice:?}");

    // Remove with one click.
    query_all(&root, "button[aria-label='Remove tag a']")[0].click();
    settle().await;
    assert_eq!(texts(&root, ".chip .chip-text"), vec!["new-tag"]);
    assert_eq!(
        fake.machines.borrow()[0].machine_tags,
        vec!["new-tag".to_owned()]
    );
}

#[wasm_bindgen_test]
async fn read_only_users_see_tags_without_edit_controls() {
    let root = container();
    let fake = FakeBackend::new(vec![machine(1, "web01", &["a", "b"])]);
    mount_editor(&root, fake, user(&["Machine.Read"]));
    settle().await;
    assert_eq!(texts(&root, ".chip .chip-text"), vec!["a", "b"]);
    assert!(root.query_selector("#add-tag-input").unwrap().is_none());
    assert!(root.query_selector(".chip-remove").unwrap().is_none());
    assert_eq!(query_all(&root, "[data-testid=read-only-note]").len(), 1);
}

#[wasm_bindgen_test]
async fn search_page_lists_and_narrows_at_once_while_typing() {
    let root = container();
    let fake = FakeBackend::new(vec![
        machine(1, "web01.contoso.local", &["Finance"]),
        machine(2, "web02.contoso.local", &[]),
        machine(3, "db01.contoso.local", &[]),
    ]);
    let backend = fake.clone();
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        AppState::provide(
            demo_settings(),
            user(&["Machine.ReadWrite"]),
            Some(BackendRef(Rc::new(backend))),
        );
        view! { <leptos_router::components::Router><SearchPage/></leptos_router::components::Router> }
    });
    for _ in 0..20 {
        settle().await;
        if texts(&root, "[data-testid=results-summary]")
            .first()
            .is_some_and(|t| t.starts_with("3 machines"))
        {
            break;
        }
    }
    assert_eq!(
        texts(&root, "[data-testid=results-summary]")[0],
        "3 machines"
    );
    let searches = fake.searches.get();

    // Typing narrows what is loaded immediately, before the debounced server search.
    let input: HtmlInputElement = root
        .query_selector("#search-input")
        .unwrap()
        .unwrap()
        .unchecked_into();
    type_into(&input, "WEB");
    settle().await;
    let mut names = texts(&root, ".body-row:not([hidden]) .machine-link");
    names.sort();
    assert_eq!(names, vec!["web01.contoso.local", "web02.contoso.local"]);
    assert_eq!(fake.searches.get(), searches, "no server call yet");
    assert!(texts(&root, "[data-testid=search-hint]")[0].contains("Computer names containing"));
}

#[wasm_bindgen_test]
async fn a_refused_change_says_which_permission_is_missing() {
    use defender_tags_core::api::ApiError;
    use defender_tags_wasm::ClientError;
    let root = container();
    let fake = FakeBackend::new(vec![machine(1, "web01", &[])]);
    // The token claims Machine.ReadWrite, but Defender refuses (e.g. no access to the device
    // group): the message says the sign-in has the permission and names the Defender role
    // setting and group access that are missing.
    let access = Access::new(vec!["Machine.ReadWrite".into()], vec![]);
    *fake.fail_next_change.borrow_mut() = Some(UiError::from_client(
        &ClientError::Api(ApiError::Forbidden { details: None }),
        true,
        &access,
    ));
    mount_editor(&root, fake, user(&["Machine.ReadWrite"]));
    settle().await;
    let input: HtmlInputElement = root
        .query_selector("#add-tag-input")
        .unwrap()
        .unwrap()
        .unchecked_into();
    type_into(&input, "x");
    query_all(&root, "[data-testid=add-tag-button]")[0].click();
    settle().await;
    let notice = texts(&root, "[data-testid=notice]");
    assert!(notice[0].contains("Permission denied"), "{notice:?}");
    assert!(
        notice[0].contains("your sign-in has Machine.ReadWrite but Defender refused"),
        "{notice:?}"
    );
    assert!(notice[0].contains("device group"), "{notice:?}");
    assert!(texts(&root, ".chip .chip-text").is_empty(), "rolled back");
}
