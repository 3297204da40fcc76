//! One file per page. [`NAV`] lists the pages in the top bar; a new page adds a route in
//! `lib.rs`'s `Shell` and an entry here, and unless it is part of the first load, a split point
//! in [`lazy`].

pub mod activity;
pub mod bulk;
pub mod check;
pub mod inventory;
pub mod lazy;
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
        label: bulk::FRAME.title,
    },
    NavItem {
        path: "/inventory",
        label: inventory::FRAME.title,
    },
    NavItem {
        path: "/rules",
        label: rules::FRAME.title,
    },
    NavItem {
        path: "/activity",
        label: activity::FRAME.title,
    },
    NavItem {
        path: "/settings",
        label: settings::FRAME.title,
    },
];
