//! The search page's state, which lives in the URL (shareable links; back/forward and reload keep
//! it): core's [`MachineQuery`] (which machines: its URL keys, server filter and in-browser
//! narrowing are core's) plus what only this page has, the sort order and the open machine.

use std::collections::BTreeSet;

use defender_tags_core::query::{
    MachineQuery, OS_ANY_LINUX, QueryParamError, encode_pairs, is_linux_platform,
};
use defender_tags_core::{Machine, MachineId};

use crate::table::{SortDir, SortKey};

pub use defender_tags_core::query::SeenWithin;

/// Everything that decides which machines are listed and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchState {
    /// Which machines (the search box and the filters).
    pub query: MachineQuery,
    /// Sort column.
    pub sort: SortKey,
    /// Sort direction.
    pub dir: SortDir,
    /// The machine whose details panel is open.
    pub selected: Option<MachineId>,
}

/// What the filter lists offer: built from the loaded machines, so they show only values the
/// tenant uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterChoices {
    /// Machine groups: (id, label).
    pub groups: Vec<(i64, String)>,
    /// OS platforms: (`os` value, label), "Linux (any distribution)" first when there is one.
    pub os: Vec<(String, String)>,
}

/// How a machine's group reads in the filter, the table and the panel: its name, or
/// "Unassigned" for the machines in no device group (the API's group 0 without a name).
pub fn group_label(id: Option<i64>, name: Option<&str>) -> String {
    match (id, name.filter(|n| !n.is_empty())) {
        (_, Some(name)) => name.to_owned(),
        (Some(0) | None, None) => UNASSIGNED.to_owned(),
        (Some(id), None) => format!("Group {id}"),
    }
}

/// The label of machines in no device group.
pub const UNASSIGNED: &str = "Unassigned (no device group)";

impl FilterChoices {
    /// The choices `machines` call for.
    pub fn from_machines<'a>(machines: impl IntoIterator<Item = &'a Machine>) -> Self {
        // Distinct values first (borrowed, a few dozen out of 100k machines), then labels and
        // case-insensitive order for those alone: the choices are rebuilt on every load.
        let mut distinct_groups: BTreeSet<(i64, Option<&str>)> = BTreeSet::new();
        let mut distinct_os: BTreeSet<&str> = BTreeSet::new();
        for m in machines {
            if let Some(id) = m.rbac_group_id {
                distinct_groups.insert((id, m.rbac_group_name.as_deref()));
            }
            if let Some(p) = m.os_platform.as_deref().filter(|p| !p.is_empty()) {
                distinct_os.insert(p);
            }
        }
        let mut groups: Vec<(i64, String)> = distinct_groups
            .into_iter()
            .map(|(id, name)| (id, group_label(Some(id), name)))
            .collect();
        groups.sort_by(|a, b| {
            a.1.to_lowercase()
                .cmp(&b.1.to_lowercase())
                .then(a.0.cmp(&b.0))
        });
        groups.dedup();
        let mut os: Vec<String> = distinct_os.into_iter().map(str::to_owned).collect();
        os.sort_by_key(|p| p.to_lowercase());
        let mut os_choices: Vec<(String, String)> = Vec::with_capacity(os.len() + 1);
        if os.iter().any(|p| is_linux_platform(p)) {
            os_choices.push((
                OS_ANY_LINUX.to_owned(),
                "Linux (any distribution)".to_owned(),
            ));
        }
        os_choices.extend(os.into_iter().map(|p| (p.clone(), p)));
        Self {
            groups,
            os: os_choices,
        }
    }
}

/// URL keys of the page's own state (the query's keys are core's `query::keys`).
mod keys {
    pub const SORT: &str = "sort";
    pub const DIR: &str = "dir";
    pub const SELECTED: &str = "m";
}

impl From<MachineQuery> for SearchState {
    fn from(query: MachineQuery) -> Self {
        SearchState {
            query,
            ..SearchState::default()
        }
    }
}

impl SearchState {
    /// Reads the state from URL query pairs. A hand-edited link must still open: malformed
    /// query values are left unset and returned (each names its key), and a bad sort, direction
    /// or machine id falls back to the default.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (Self, Vec<QueryParamError>) {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        let (query, errors) = MachineQuery::from_query_pairs_lenient(&pairs);
        let mut s = SearchState::from(query);
        for (key, value) in pairs {
            let value = value.trim();
            match key {
                keys::SORT => s.sort = SortKey::from_param(value).unwrap_or_default(),
                keys::DIR => {
                    s.dir = if value == "desc" {
                        SortDir::Desc
                    } else {
                        SortDir::Asc
                    }
                }
                keys::SELECTED => s.selected = MachineId::parse(value).ok(),
                _ => {}
            }
        }
        (s, errors)
    }

    /// The query pairs for this state, defaults left out (short, stable URLs).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = self.query.to_query_pairs();
        if self.sort != SortKey::default() {
            p.push((keys::SORT, self.sort.as_param().to_owned()));
        }
        if self.dir == SortDir::Desc {
            p.push((keys::DIR, "desc".to_owned()));
        }
        if let Some(m) = &self.selected {
            p.push((keys::SELECTED, m.as_str().to_owned()));
        }
        p
    }

    /// `?a=b&c=d` (or the empty string), percent-encoded.
    pub fn to_query_string(&self) -> String {
        let pairs = self.to_pairs();
        if pairs.is_empty() {
            return String::new();
        }
        format!("?{}", encode_pairs(&pairs))
    }

    /// Whether any filter (not sorting or selection) is set.
    pub fn has_filters(&self) -> bool {
        !self.query.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::{DeviceValue, ExposureLevel, HealthStatus, RiskScore};

    fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> SearchState {
        SearchState::from_pairs(pairs).0
    }

    #[test]
    fn filter_choices_are_distinct_labelled_and_in_case_insensitive_order() {
        let machine = |n: u32, group: Option<(i64, Option<&str>)>, os: Option<&str>| {
            let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
            m.rbac_group_id = group.map(|g| g.0);
            m.rbac_group_name = group.and_then(|g| g.1).map(str::to_owned);
            m.os_platform = os.map(str::to_owned);
            m
        };
        let machines = [
            machine(1, Some((5, Some("sales"))), Some("Windows11")),
            machine(2, Some((3, Some("Berlin"))), Some("Ubuntu")),
            machine(3, Some((5, Some("sales"))), Some("windows10")),
            machine(4, Some((0, None)), Some("")),
            machine(5, Some((9, None)), None),
            machine(6, None, Some("Windows11")),
            machine(7, Some((3, Some("Berlin"))), Some("Ubuntu")),
        ];
        let choices = FilterChoices::from_machines(machines.iter());
        assert_eq!(
            choices.groups,
            [
                (3, "Berlin".to_owned()),
                (9, "Group 9".to_owned()),
                (5, "sales".to_owned()),
                (0, UNASSIGNED.to_owned()),
            ]
        );
        let os: Vec<&str> = choices.os.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(os, [OS_ANY_LINUX, "Ubuntu", "windows10", "Windows11"]);
    }

    #[test]
    fn full_state_round_trips_through_pairs() {
        let s = SearchState {
            query: MachineQuery {
                text: "web".into(),
                tag: "Fin".into(),
                tag_prefix: true,
                os: Some("Windows11".into()),
                health: Some(HealthStatus::Active),
                risk: Some(RiskScore::High),
                exposure: Some(ExposureLevel::Medium),
                value: Some(DeviceValue::High),
                group: Some(42),
                seen: Some(SeenWithin::Week),
            },
            sort: SortKey::LastSeen,
            dir: SortDir::Desc,
            selected: Some(MachineId::parse(&"ab".repeat(20)).unwrap()),
        };
        let pairs = s.to_pairs();
        let (back, errors) = SearchState::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(back, s);
        assert!(errors.is_empty());
    }

    #[test]
    fn defaults_make_an_empty_query_string() {
        assert_eq!(SearchState::default().to_query_string(), "");
        assert!(!SearchState::default().has_filters());
    }

    #[test]
    fn values_are_percent_encoded() {
        let s = SearchState::from(MachineQuery {
            text: "a b&c=<x>".into(),
            ..Default::default()
        });
        assert_eq!(s.to_query_string(), "?q=a%20b%26c%3D%3Cx%3E");
    }

    #[test]
    fn bad_values_open_the_page_and_are_reported() {
        let (s, errors) = SearchState::from_pairs([
            ("group", "abc"),
            ("seen", "forever"),
            ("sort", "nope"),
            ("m", "not-an-id"),
            ("unknown", "x"),
            ("q", "  "),
        ]);
        assert_eq!(s, SearchState::default());
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].contains("group=\"abc\""), "{text:?}");
        assert!(text[1].contains("seen=\"forever\""), "{text:?}");
    }

    #[test]
    fn links_written_before_keep_opening() {
        let s = parse([
            ("q", "web"),
            ("tag", "Fin"),
            ("tagmode", "prefix"),
            ("seen", "7d"),
        ]);
        assert_eq!(s.query.text, "web");
        assert!(s.query.tag_prefix);
        assert_eq!(s.query.seen, Some(SeenWithin::Week));
    }

    #[test]
    fn tagmode_without_tag_is_dropped() {
        let s = SearchState::from(MachineQuery {
            tag_prefix: true,
            ..Default::default()
        });
        assert_eq!(s.to_query_string(), "");
    }
}
