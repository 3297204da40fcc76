//! Helpers shared by the DOM test files (`dom.rs`, `dom_bulk.rs`): mount into a fresh container,
//! let effects run, query the DOM, act like a user.
// Each test binary uses its own subset.
#![allow(dead_code)]

use defender_tags_core::{Machine, MachineId};
use defender_tags_web_ui::access::Access;
use defender_tags_web_ui::state::{Session, User};
use leptos::task::tick;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement};

pub fn machine(n: u32, name: &str, tags: &[&str]) -> Machine {
    let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
    m.computer_dns_name = Some(name.to_owned());
    m.machine_tags = tags.iter().map(|t| t.to_string()).collect();
    m
}

pub fn user(scopes: &[&str]) -> Session {
    Session::SignedIn(User {
        name: "Test User".into(),
        username: "test@example.com".into(),
        access: Access::new(scopes.iter().map(|s| s.to_string()).collect(), vec![]),
    })
}

/// A fresh container in the document.
pub fn container() -> HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div.unchecked_into()
}

pub fn query_all(root: &HtmlElement, selector: &str) -> Vec<HtmlElement> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.unchecked_into::<HtmlElement>())
        .collect()
}

pub fn texts(root: &HtmlElement, selector: &str) -> Vec<String> {
    query_all(root, selector)
        .into_iter()
        .map(|e| e.text_content().unwrap_or_default().trim().to_owned())
        .collect()
}

pub fn type_into(input: &HtmlInputElement, text: &str) {
    input.set_value(text);
    let ev = web_sys::Event::new("input").unwrap();
    input.dispatch_event(&ev).unwrap();
}

/// Lets spawned tasks and effects run.
pub async fn settle() {
    for _ in 0..4 {
        tick().await;
    }
}
