//! From the search page's state to what is asked of the server, and the instant client-side
//! narrowing of already loaded results while the server is asked.

use defender_tags_core::odata::{CmpOp, Field, Filter};
use defender_tags_core::{Machine, MachineId};
use time::OffsetDateTime;

use crate::search::{SearchState, SeenWithin};
use crate::table::{Loaded, fold};

/// What the search box's text is taken to mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchText {
    /// Nothing typed.
    Empty,
    /// A full 40-hex machine id.
    MachineId(MachineId),
    /// An IPv4 address or the start of one (`10.1.`), or an IPv6 address.
    Ip(String),
    /// The start of a computer name.
    NamePrefix(String),
}

impl SearchText {
    /// Classifies what the user typed.
    pub fn classify(text: &str) -> SearchText {
        let t = text.trim();
        if t.is_empty() {
            return SearchText::Empty;
        }
        if let Ok(id) = MachineId::parse(t) {
            return SearchText::MachineId(id);
        }
        if looks_like_ipv4_prefix(t) || (t.contains(':') && t.parse::<std::net::Ipv6Addr>().is_ok())
        {
            return SearchText::Ip(t.to_owned());
        }
        SearchText::NamePrefix(t.to_owned())
    }

    /// A short description shown under the search box ("Computer names starting with web").
    pub fn describe(&self) -> String {
        match self {
            SearchText::Empty => String::new(),
            SearchText::MachineId(_) => "Machine id".to_owned(),
            SearchText::Ip(ip) if is_full_ip(ip) => {
                format!("Last IP address {ip}")
            }
            SearchText::Ip(ip) => format!("Last IP address starting with {ip}"),
            SearchText::NamePrefix(p) => {
                format!("Computer names starting with \u{201c}{p}\u{201d}")
            }
        }
    }
}

/// `1`, `10.`, `10.1.2`, `10.1.2.3`: digits and dots, at most four groups of up to three digits,
/// starting with a digit and containing at least one dot (so `2019` stays a name prefix).
fn looks_like_ipv4_prefix(t: &str) -> bool {
    let groups: Vec<&str> = t.split('.').collect();
    t.contains('.')
        && groups.len() <= 4
        && groups[0].chars().next().is_some_and(|c| c.is_ascii_digit())
        && groups.iter().enumerate().all(|(i, g)| {
            (g.is_empty() && i == groups.len() - 1)
                || (g.len() <= 3 && g.chars().all(|c| c.is_ascii_digit()) && !g.is_empty())
        })
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl SearchText {
    /// The filter for this text: `id eq`, `lastIpAddress eq`/`startswith`, or
    /// `startswith(computerDnsName, ...)`.
    pub fn filter(&self) -> Option<Filter> {
        match self {
            SearchText::Empty => None,
            SearchText::MachineId(id) => Some(Filter::eq(Field::Id, id.as_str())),
            SearchText::Ip(ip) if is_full_ip(ip) => {
                Some(Filter::eq(Field::LastIpAddress, ip.as_str()))
            }
            SearchText::Ip(ip) => Some(Filter::starts_with(Field::LastIpAddress, ip.as_str())),
            SearchText::NamePrefix(p) => {
                Some(Filter::starts_with(Field::ComputerDnsName, p.as_str()))
            }
        }
    }
}

fn is_full_ip(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>().is_ok()
}

/// The OData filter (core's AST; core renders and encodes it) for everything in `search`.
/// `now_ms` anchors the "last seen" boundary. `None` means every machine.
pub fn filter(search: &SearchState, now_ms: i64) -> Option<Filter> {
    let mut parts = Vec::new();
    parts.extend(SearchText::classify(&search.text).filter());
    if !search.tag.is_empty() {
        parts.push(if search.tag_prefix {
            Filter::TagAnyStartsWith {
                prefix: search.tag.clone(),
            }
        } else {
            Filter::has_tag(search.tag.as_str())
        });
    }
    if let Some(os) = &search.os {
        parts.push(Filter::eq(Field::OsPlatform, os.as_str()));
    }
    if let Some(v) = &search.health {
        parts.push(Filter::eq(Field::HealthStatus, v.as_str()));
    }
    if let Some(v) = &search.risk {
        parts.push(Filter::eq(Field::RiskScore, v.as_str()));
    }
    if let Some(v) = &search.exposure {
        parts.push(Filter::eq(Field::ExposureLevel, v.as_str()));
    }
    if let Some(v) = &search.value {
        parts.push(Filter::eq(Field::DeviceValue, v.as_str()));
    }
    if let Some(g) = search.group {
        parts.push(Filter::eq(Field::RbacGroupId, g));
    }
    if let Some(seen) = search.seen {
        let boundary_ms = now_ms - seen.days() * DAY_MS;
        if let Ok(boundary) = OffsetDateTime::from_unix_timestamp(boundary_ms.div_euclid(1000)) {
            let op = if seen == SeenWithin::Stale {
                CmpOp::Le
            } else {
                CmpOp::Gt
            };
            parts.push(Filter::compare(Field::LastSeen, op, boundary));
        }
    }
    Filter::all(parts)
}

/// What the server is asked for `search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerQuery {
    /// `GET /api/machines?$filter=...` (all pages).
    List(Option<Filter>),
    /// `GET /api/machines/findbytag?tag=...&useStartsWithFilter=true`: the documented way to
    /// search by tag prefix; the rest of the filter is applied to what it returns.
    FindByTagPrefix(String),
}

/// The server request for `search`.
pub fn server_query(search: &SearchState, now_ms: i64) -> ServerQuery {
    if search.tag_prefix && !search.tag.is_empty() {
        ServerQuery::FindByTagPrefix(search.tag.clone())
    } else {
        ServerQuery::List(filter(search, now_ms))
    }
}

/// Whether a loaded machine satisfies `search`, with core's `Filter::matches` semantics (the same
/// the emulator answers `$filter` with).
pub fn matches(search: &SearchState, m: &Machine, now_ms: i64) -> bool {
    filter(search, now_ms).is_none_or(|f| f.matches(m))
}

/// Indices of the machines in `machines` that match `search`: the instant, client-side narrowing
/// of loaded results.
pub fn narrow(search: &SearchState, machines: &[Machine], now_ms: i64) -> Vec<u32> {
    let all: Vec<u32> = (0..machines.len() as u32).collect();
    narrow_within(search, machines, &all, now_ms)
}

/// The entries of `candidates` (indices into `machines`) that match `search`, in the order given.
/// The search page passes a pre-sorted order (or the previous, broader result), so the answer
/// comes out sorted without sorting again.
pub fn narrow_within(
    search: &SearchState,
    machines: &[Machine],
    candidates: &[u32],
    now_ms: i64,
) -> Vec<u32> {
    match filter(search, now_ms) {
        None => candidates.to_vec(),
        Some(f) => candidates
            .iter()
            .copied()
            .filter(|&i| machines.get(i as usize).is_some_and(|m| f.matches(m)))
            .collect(),
    }
}

/// [`narrow_within`] over a [`Loaded`] listing, with the same answer, faster: the search box's
/// text is checked against the listing's packed, pre-folded columns (see
/// [`crate::table::FoldedColumn`]) before any machine is touched, and only the other filters
/// (usually none) look at the machines themselves.
pub fn narrow_loaded(
    search: &SearchState,
    loaded: &Loaded,
    candidates: &[u32],
    now_ms: i64,
) -> Vec<u32> {
    // The column test for each kind of text has core's semantics for the filter
    // `SearchText::filter` builds: `startswith` is a folded prefix test, `eq` a folded equality.
    enum Needle {
        Prefix(String),
        Exact(String),
    }
    let (column, needle, rest) = match SearchText::classify(&search.text) {
        SearchText::NamePrefix(p) => (
            &loaded.names,
            Needle::Prefix(fold(&p)),
            without_text(search),
        ),
        SearchText::Ip(ip) if is_full_ip(&ip) => {
            (&loaded.ips, Needle::Exact(fold(&ip)), without_text(search))
        }
        SearchText::Ip(ip) => (&loaded.ips, Needle::Prefix(fold(&ip)), without_text(search)),
        SearchText::Empty | SearchText::MachineId(_) => {
            return narrow_within(search, &loaded.machines, candidates, now_ms);
        }
    };
    let rest = filter(&rest, now_ms);
    candidates
        .iter()
        .copied()
        .filter(|&i| {
            let value = column.get(i as usize);
            let text_ok = match &needle {
                Needle::Prefix(p) => value.starts_with(p.as_str()),
                Needle::Exact(e) => value == e.as_str(),
            };
            text_ok
                && rest.as_ref().is_none_or(|f| {
                    loaded
                        .machines
                        .get(i as usize)
                        .is_some_and(|m| f.matches(m))
                })
        })
        .collect()
}

fn without_text(search: &SearchState) -> SearchState {
    SearchState {
        text: String::new(),
        ..search.clone()
    }
}

/// Earlier narrowings of the same listing and order, newest last, so retyping or deleting back
/// to a search already seen is free, and a longer text starts from the narrowest result it
/// refines. Bounded: the oldest entries go first.
#[derive(Debug, Clone, Default)]
pub struct NarrowHistory {
    entries: Vec<(SearchState, std::sync::Arc<Vec<u32>>)>,
}

impl NarrowHistory {
    /// Entries kept (each at most one `u32` per loaded machine).
    pub const MAX: usize = 32;

    /// The result for exactly this search, if narrowed before.
    pub fn exact(&self, search: &SearchState) -> Option<std::sync::Arc<Vec<u32>>> {
        let key = search.server_part();
        self.entries
            .iter()
            .rev()
            .find(|(s, _)| *s == key)
            .map(|(_, r)| r.clone())
    }

    /// The smallest earlier result that `search` refines (see [`refines`]).
    pub fn base_for(&self, search: &SearchState) -> Option<std::sync::Arc<Vec<u32>>> {
        self.entries
            .iter()
            .filter(|(s, _)| refines(s, search))
            .min_by_key(|(_, r)| r.len())
            .map(|(_, r)| r.clone())
    }

    /// Remembers a result.
    pub fn push(&mut self, search: &SearchState, result: std::sync::Arc<Vec<u32>>) {
        let key = search.server_part();
        self.entries.retain(|(s, _)| *s != key);
        if self.entries.len() >= Self::MAX {
            self.entries.remove(0);
        }
        self.entries.push((key, result));
    }
}

/// Whether every machine matching `next` also matches `prev`, judged from the searches alone, so
/// `next` can be narrowed from `prev`'s result instead of from every loaded machine: the usual
/// case while typing (`web` → `web0`). Only the text may differ; anything unsure answers `false`
/// (a full narrowing is always correct, just slower).
pub fn refines(prev: &SearchState, next: &SearchState) -> bool {
    // Sorting and the open panel do not change which machines match.
    let same_rest = SearchState {
        text: String::new(),
        ..prev.server_part()
    } == SearchState {
        text: String::new(),
        ..next.server_part()
    };
    if !same_rest {
        return false;
    }
    match (
        SearchText::classify(&prev.text),
        SearchText::classify(&next.text),
    ) {
        (SearchText::Empty, _) => true,
        (a, b) if a == b => true,
        // A longer prefix of the same kind: `startswith(x, "web0")` implies
        // `startswith(x, "web")` under the same case folding core's matching uses.
        (SearchText::NamePrefix(a), SearchText::NamePrefix(b)) => fold(&b).starts_with(&fold(&a)),
        // An IP prefix (`startswith`) covers a longer prefix and a full address (`eq`) it
        // starts; a full address (`eq`) covers only itself (handled above).
        (SearchText::Ip(a), SearchText::Ip(b)) if !is_full_ip(&a) => {
            fold(&b).starts_with(&fold(&a))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::odata::render;
    use defender_tags_core::{HealthStatus, RiskScore};

    const NOW_MS: i64 = 1_800_000_000_000;

    fn machine(n: u32, name: &str, ip: &str) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.computer_dns_name = Some(name.to_owned());
        m.last_ip_address = Some(ip.to_owned());
        m
    }

    #[test]
    fn the_search_box_understands_ids_ips_and_names() {
        let id = "a".repeat(40);
        assert!(matches!(
            SearchText::classify(&id),
            SearchText::MachineId(_)
        ));
        assert_eq!(
            SearchText::classify("10.1."),
            SearchText::Ip("10.1.".into())
        );
        assert_eq!(
            SearchText::classify(" 10.1.2.3 "),
            SearchText::Ip("10.1.2.3".into())
        );
        assert_eq!(
            SearchText::classify("fe80::1"),
            SearchText::Ip("fe80::1".into())
        );
        assert_eq!(
            SearchText::classify("web01"),
            SearchText::NamePrefix("web01".into())
        );
        // A bare number is a name prefix, not an IP.
        assert_eq!(
            SearchText::classify("2019"),
            SearchText::NamePrefix("2019".into())
        );
        assert_eq!(
            SearchText::classify("1.2.3.4.5"),
            SearchText::NamePrefix("1.2.3.4.5".into())
        );
        assert_eq!(
            SearchText::classify("10..1"),
            SearchText::NamePrefix("10..1".into())
        );
        assert_eq!(SearchText::classify("   "), SearchText::Empty);
    }

    #[test]
    fn descriptions_say_what_is_searched() {
        assert_eq!(
            SearchText::classify("10.1.").describe(),
            "Last IP address starting with 10.1."
        );
        assert_eq!(
            SearchText::classify("10.1.2.3").describe(),
            "Last IP address 10.1.2.3"
        );
        assert!(SearchText::classify("web").describe().contains("web"));
    }

    #[test]
    fn narrowing_by_name_prefix_ignores_case() {
        let ms = vec![
            machine(1, "WEB01.contoso.com", "10.0.0.1"),
            machine(2, "db01", "10.0.1.1"),
        ];
        let s = SearchState {
            text: "web".into(),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = SearchState {
            text: "10.0.1".into(),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![1]);
    }

    #[test]
    fn tag_filters_exact_or_prefix() {
        let mut a = machine(1, "a", "1.1.1.1");
        a.machine_tags = vec!["Finance-EU".into()];
        let ms = vec![a, machine(2, "b", "1.1.1.2")];
        let mut s = SearchState {
            tag: "finance-eu".into(),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        s.tag = "Finance".into();
        assert!(narrow(&s, &ms, NOW_MS).is_empty());
        s.tag_prefix = true;
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
    }

    #[test]
    fn the_server_filter_is_core_odata() {
        let s = SearchState {
            text: "web".into(),
            tag: "Finance".into(),
            health: Some(HealthStatus::Active),
            group: Some(101),
            ..Default::default()
        };
        assert_eq!(
            render(&filter(&s, NOW_MS).unwrap()),
            "startswith(computerDnsName,'web') and machineTags/any(t: t eq 'Finance') \
             and healthStatus eq 'Active' and rbacGroupId eq 101"
        );
        assert_eq!(filter(&SearchState::default(), NOW_MS), None);
        let ip = SearchState {
            text: "10.1.2.3".into(),
            ..Default::default()
        };
        assert_eq!(
            render(&filter(&ip, NOW_MS).unwrap()),
            "lastIpAddress eq '10.1.2.3'"
        );
    }

    #[test]
    fn tag_prefix_uses_findbytag() {
        let s = SearchState {
            tag: "Fin".into(),
            tag_prefix: true,
            ..Default::default()
        };
        assert_eq!(
            server_query(&s, NOW_MS),
            ServerQuery::FindByTagPrefix("Fin".into())
        );
        let s = SearchState {
            tag: "Fin".into(),
            ..Default::default()
        };
        assert!(matches!(
            server_query(&s, NOW_MS),
            ServerQuery::List(Some(_))
        ));
    }

    #[test]
    fn enum_filters_and_last_seen() {
        let mut a = machine(1, "a", "1.1.1.1");
        a.health_status = Some(HealthStatus::Active);
        a.risk_score = Some(RiskScore::High);
        a.last_seen = OffsetDateTime::from_unix_timestamp(NOW_MS / 1000 - 3600).ok();
        let mut b = machine(2, "b", "1.1.1.2");
        b.health_status = Some(HealthStatus::Inactive);
        b.last_seen = OffsetDateTime::from_unix_timestamp(NOW_MS / 1000 - 40 * 86_400).ok();
        let c = machine(3, "c", "1.1.1.3"); // never seen
        let ms = vec![a, b, c];
        let s = SearchState {
            health: Some(HealthStatus::Active),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = SearchState {
            risk: Some(RiskScore::High),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = SearchState {
            seen: Some(SeenWithin::Day),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = SearchState {
            seen: Some(SeenWithin::Stale),
            ..Default::default()
        };
        // Never-seen machines are not "stale": they were never seen at all.
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![1]);
    }

    /// Every (previous text, next text) pair that `refines` accepts must narrow to exactly what a
    /// full narrowing finds; the pairs it refuses are checked to be the unsafe kinds.
    #[test]
    fn narrowing_from_the_previous_result_equals_a_full_narrowing() {
        let names = [
            "web01",
            "WEB02",
            "web10",
            "we",
            "\u{212A}-srv",
            "k-srv",
            "dc-1",
            "10.host",
            "db",
        ];
        let ips = [
            "10.1.2.3",
            "10.1.2.30",
            "10.1.20.3",
            "10.10.1.1",
            "192.168.0.1",
            "fe80::1",
        ];
        let mut ms = Vec::new();
        for (n, name) in names.iter().enumerate() {
            for (k, ip) in ips.iter().enumerate() {
                ms.push(machine((n * ips.len() + k) as u32, name, ip));
            }
        }
        let texts = [
            "",
            " ",
            "w",
            "we",
            "Web",
            "web0",
            "web01",
            "web1",
            "k",
            "K-",
            "\u{212A}-s",
            "1",
            "10",
            "10.",
            "10.1",
            "10.1.",
            "10.1.2",
            "10.1.2.",
            "10.1.2.3",
            "10.1.2.30",
            "fe80::1",
            "d",
            "dc",
            "db",
        ];
        let mut refined = 0;
        for prev in texts {
            for next in texts {
                let p = SearchState {
                    text: prev.into(),
                    ..Default::default()
                };
                let n = SearchState {
                    text: next.into(),
                    ..Default::default()
                };
                if refines(&p, &n) {
                    refined += 1;
                    let from_prev = narrow_within(&n, &ms, &narrow(&p, &ms, NOW_MS), NOW_MS);
                    assert_eq!(from_prev, narrow(&n, &ms, NOW_MS), "{prev:?} -> {next:?}");
                }
            }
        }
        assert!(refined > 60, "typing forward is the common case: {refined}");
        let st = |t: &str| SearchState {
            text: t.into(),
            ..Default::default()
        };
        // A full address (`eq`) does not cover a longer one; names and IPs do not mix; deleting
        // a character widens; any other filter change starts over.
        assert!(!refines(&st("10.1.2.3"), &st("10.1.2.30")));
        assert!(!refines(&st("10"), &st("10.")));
        assert!(!refines(&st("web0"), &st("web")));
        assert!(!refines(
            &st("web"),
            &SearchState {
                risk: Some(RiskScore::High),
                ..st("web0")
            }
        ));
        assert!(refines(&st("Web"), &st("wEB0")));
    }

    #[test]
    fn narrowing_within_a_sorted_order_keeps_that_order() {
        let ms = vec![
            machine(1, "web-b", "10.0.0.1"),
            machine(2, "db", "10.0.0.2"),
            machine(3, "web-a", "10.0.0.3"),
        ];
        let s = SearchState {
            text: "web".into(),
            ..Default::default()
        };
        assert_eq!(narrow_within(&s, &ms, &[2, 1, 0], NOW_MS), vec![2, 0]);
        // Out-of-range candidates are dropped, never a panic.
        assert_eq!(narrow_within(&s, &ms, &[7, 0], NOW_MS), vec![0]);
    }

    /// The packed-column narrowing must answer exactly what core's `Filter::matches` answers,
    /// for every kind of search text, with and without other filters, and in any order given.
    #[test]
    fn narrowing_over_folded_columns_equals_core_matching() {
        let names = [
            "web01",
            "WEB02",
            "We",
            "\u{212A}-srv",
            "k-srv",
            "\u{130}stanbul",
            "i\u{307}x",
            "ΣΟΦΙΑ",
            "σοφια",
            "",
        ];
        let ips = [
            "10.1.2.3",
            "10.1.2.30",
            "FE80::1",
            "fe80::1",
            "",
            "192.168.0.1",
        ];
        let mut ms = Vec::new();
        for (n, name) in names.iter().enumerate() {
            for (k, ip) in ips.iter().enumerate() {
                let mut m = machine((n * ips.len() + k) as u32, name, ip);
                if name.is_empty() {
                    m.computer_dns_name = None;
                }
                if ip.is_empty() {
                    m.last_ip_address = None;
                }
                m.risk_score = Some(if k % 2 == 0 {
                    RiskScore::High
                } else {
                    RiskScore::Low
                });
                ms.push(m);
            }
        }
        let loaded = Loaded::new(ms.clone());
        let reversed: Vec<u32> = (0..ms.len() as u32).rev().collect();
        let texts = [
            "",
            "w",
            "WE",
            "web0",
            "k",
            "k-",
            "i",
            "i\u{307}",
            "\u{130}",
            "σο",
            "ΣΟΦ",
            "1",
            "10.",
            "10.1.2.3",
            "10.1.2.30",
            "fe80::1",
            "FE80::1",
            "10.1.2",
            "zzz",
        ];
        let id = ms[7].id.to_string();
        for text in texts.iter().copied().chain([id.as_str()]) {
            for risk in [None, Some(RiskScore::High)] {
                let s = SearchState {
                    text: text.into(),
                    risk: risk.clone(),
                    ..Default::default()
                };
                let want = narrow(&s, &ms, NOW_MS);
                let all: Vec<u32> = (0..ms.len() as u32).collect();
                assert_eq!(
                    narrow_loaded(&s, &loaded, &all, NOW_MS),
                    want,
                    "{text:?} {risk:?}"
                );
                let mut want_rev = want.clone();
                want_rev.reverse();
                assert_eq!(narrow_loaded(&s, &loaded, &reversed, NOW_MS), want_rev);
            }
        }
        // The Kelvin sign folds to `k`; the name column must find it for `k`.
        let k = SearchState {
            text: "k-".into(),
            ..Default::default()
        };
        assert_eq!(narrow_loaded(&k, &loaded, &[18, 24], NOW_MS), vec![18, 24]);
    }

    #[test]
    fn history_reuses_exact_results_and_picks_the_narrowest_base() {
        let st = |t: &str| SearchState {
            text: t.into(),
            ..Default::default()
        };
        let mut h = NarrowHistory::default();
        h.push(&st("w"), std::sync::Arc::new(vec![1, 2, 3, 4]));
        h.push(&st("we"), std::sync::Arc::new(vec![1, 2]));
        h.push(&st("10."), std::sync::Arc::new(vec![9]));
        assert_eq!(*h.exact(&st("we")).unwrap(), vec![1, 2]);
        // Sorting is not part of the key: the same machines match.
        let sorted = SearchState {
            sort: crate::table::SortKey::Risk,
            ..st("we")
        };
        assert_eq!(*h.exact(&sorted).unwrap(), vec![1, 2]);
        assert!(h.exact(&st("web")).is_none());
        assert_eq!(*h.base_for(&st("web")).unwrap(), vec![1, 2]);
        assert!(h.base_for(&st("x")).is_none(), "no entry covers x");
        assert_eq!(*h.base_for(&st("10.1")).unwrap(), vec![9]);
        for i in 0..NarrowHistory::MAX {
            h.push(&st(&format!("q{i}")), std::sync::Arc::new(vec![]));
        }
        assert!(h.exact(&st("w")).is_none(), "oldest entries are dropped");
    }
}
