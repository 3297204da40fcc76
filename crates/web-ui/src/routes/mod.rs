//! One file per page. [`NAV`] lists the pages in the top bar; a new page adds a route in
//! `lib.rs`'s `Shell` and an entry here.

pub mod activity;
pub mod bulk;
pub mod check;
pub mod inventory;
pub mod not_found;
pub mod rules;
pub mod search;
pub mod settings;

/// An entry of the top navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavItem {
    /// Path (`/`, `/settings`).
    pub path: &'static str,
    /// Link text.
    pub label: &'static str,
}

/// The top navigation, in order.
pub const NAV: &[NavItem] = &[
    NavItem {
        path: "/",
        label: "Machines",
    },
    NavItem {
        path: "/bulk",
        label: "Bulk change",
    },
    NavItem {
        path: "/inventory",
        label: "Tag inventory",
    },
    NavItem {
        path: "/rules",
        label: "Tag rules",
    },
    NavItem {
        path: "/activity",
        label: "Activity",
    },
    NavItem {
        path: "/settings",
        label: "Settings",
    },
];
