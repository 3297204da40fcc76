//! The instant, in-browser narrowing of loaded machines while the server is asked: core's
//! [`MachineQuery`] decides what matches ([`Matcher`]); this module only makes it fast on a
//! [`Loaded`] listing (pre-folded columns, reuse of earlier results).

use std::sync::Arc;

use defender_tags_core::Machine;
use defender_tags_core::query::{MachineQuery, Matcher, TextQuery, fold};

use memchr::memmem::Finder;

use crate::table::{Loaded, MachineSet};

/// A short description of what the search box's text is taken to mean, shown under it.
pub fn describe(text: &TextQuery) -> String {
    match text {
        TextQuery::Empty => String::new(),
        TextQuery::MachineId(_) => "Machine id".to_owned(),
        TextQuery::IpAddress(ip) => format!("IP address {ip}"),
        TextQuery::IpPrefix(ip) => format!("Any IP address starting with {ip}"),
        TextQuery::NamePart(p) if defender_tags_core::query::looks_in_ids(&fold(p)) => {
            format!("Computer names or machine ids containing \u{201c}{p}\u{201d}")
        }
        TextQuery::NamePart(p) => format!("Computer names containing \u{201c}{p}\u{201d}"),
    }
}

/// Indices of the machines in `machines` that match `query`.
pub fn narrow(query: &MachineQuery, machines: &[Machine], now_ms: i64) -> Vec<u32> {
    let all: Vec<u32> = (0..machines.len() as u32).collect();
    narrow_within(query, machines, &all, now_ms)
}

/// The entries of `candidates` (indices into `machines`) that match `query`, in the order given.
/// The search page passes a pre-sorted order (or the previous, broader result), so the answer
/// comes out sorted without sorting again.
pub fn narrow_within(
    query: &MachineQuery,
    machines: &[Machine],
    candidates: &[u32],
    now_ms: i64,
) -> Vec<u32> {
    if query.is_empty() {
        return candidates.to_vec();
    }
    let matcher = query.matcher(now_ms);
    candidates
        .iter()
        .copied()
        .filter(|&i| machines.get(i as usize).is_some_and(|m| matcher.matches(m)))
        .collect()
}

/// Listings at least this large are searched by whole-column scans when the candidates are
/// many (see [`narrow_loaded`]); smaller ones always test candidate by candidate (a few thousand
/// short strings take microseconds either way).
pub const SCAN_MIN_MACHINES: usize = 2_000;

/// [`narrow_within`] over a [`Loaded`] listing, with the same answer, faster: the search box's
/// text is checked against the listing's packed, pre-folded columns (see
/// [`crate::table::FoldedColumn`]) before any machine is touched, and only the other filters
/// (usually none) look at the machines themselves.
///
/// Two ways, same answer: with many candidates (a first keystroke, a text that no earlier
/// result covers) each column is scanned once, start to end, and the matching machines marked;
/// with few (typing on from a narrow result) only the candidates' values are tested. Both use
/// one substring searcher built per call.
pub fn narrow_loaded(
    query: &MachineQuery,
    loaded: &Loaded,
    candidates: &[u32],
    now_ms: i64,
) -> Narrowed {
    let way = if uses_scan(loaded.len(), candidates.len()) {
        Way::Scan
    } else {
        Way::PerCandidate
    };
    narrow_loaded_by(way, query, loaded, candidates, now_ms)
}

/// How [`narrow_loaded`] looks at the columns (the answer is the same either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// One pass over each whole column, marking the machines hit.
    Scan,
    /// Each candidate's own values.
    PerCandidate,
}

/// What [`narrow_loaded`] found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowed {
    /// The matching candidates, in the candidates' order.
    pub rows: Vec<u32>,
    /// Whether whole columns were scanned (the search page marks it for tests and profiles).
    pub scanned: bool,
}

/// [`narrow_loaded`], the way chosen by the caller (tests hold both ways to the same answer).
pub fn narrow_loaded_by(
    way: Way,
    query: &MachineQuery,
    loaded: &Loaded,
    candidates: &[u32],
    now_ms: i64,
) -> Narrowed {
    // Each column test has core's semantics for that kind of text (see `Matcher::text_matches`):
    // a folded part of the name (or a long part of the id), a folded prefix or the canonical
    // form of any address.
    #[derive(Clone, Copy, PartialEq)]
    enum Column {
        NamePart,
        IpPrefix,
        IpExact,
    }
    let matcher: Matcher = query.matcher(now_ms);
    let column = match matcher.text() {
        TextQuery::NamePart(_) => Column::NamePart,
        TextQuery::IpPrefix(_) => Column::IpPrefix,
        TextQuery::IpAddress(_) => Column::IpExact,
        TextQuery::Empty | TextQuery::MachineId(_) => {
            return Narrowed {
                rows: narrow_within(query, &loaded.machines, candidates, now_ms),
                scanned: false,
            };
        }
    };
    let needle = matcher.needle();
    let finder = Finder::new(needle.as_bytes());
    let with_ids = column == Column::NamePart && matcher.searches_ids();
    let rest = |i: usize| {
        loaded
            .machines
            .get(i)
            .is_some_and(|m| matcher.rest_matches(m))
    };
    if way == Way::Scan {
        let hits = match column {
            Column::NamePart => {
                let mut hits = MachineSet::empty(loaded.len());
                loaded.names.scan(&finder, |i| hits.insert(i));
                if with_ids {
                    loaded.ids().mark_containing(needle, &mut hits);
                }
                hits
            }
            Column::IpPrefix => loaded.ips().machines_with(needle, false),
            Column::IpExact => loaded.ips().machines_with(needle, true),
        };
        let rows = candidates
            .iter()
            .copied()
            .filter(|&i| hits.contains(i as usize) && rest(i as usize))
            .collect();
        return Narrowed {
            rows,
            scanned: true,
        };
    }
    let has = |hay: &str| finder.find(hay.as_bytes()).is_some();
    let rows = candidates
        .iter()
        .copied()
        .filter(|&i| {
            let i = i as usize;
            let text_ok = match column {
                Column::NamePart => {
                    has(loaded.names.get(i))
                        || (with_ids && loaded.machines.get(i).is_some_and(|m| has(m.id.as_str())))
                }
                Column::IpPrefix => loaded.ips().values(i).any(|a| a.starts_with(needle)),
                Column::IpExact => loaded.ips().values(i).any(|a| a == needle),
            };
            text_ok && rest(i)
        })
        .collect();
    Narrowed {
        rows,
        scanned: false,
    }
}

/// Whether [`narrow_loaded`] scans whole columns: for a large listing when the candidates are at
/// least an eighth of it (below that, testing each candidate's value costs less than a pass
/// over every value).
pub fn uses_scan(listing: usize, candidates: usize) -> bool {
    listing >= SCAN_MIN_MACHINES && candidates.saturating_mul(8) >= listing
}

/// Earlier narrowings of the same listing and order, newest last, so retyping or deleting back
/// to a search already seen is free, and a longer text starts from the narrowest result it
/// refines. Bounded: the oldest entries go first.
#[derive(Debug, Clone, Default)]
pub struct NarrowHistory {
    entries: Vec<(MachineQuery, Arc<Vec<u32>>)>,
}

impl NarrowHistory {
    /// Entries kept (each at most one `u32` per loaded machine).
    pub const MAX: usize = 32;

    /// The result for exactly this query, if narrowed before.
    pub fn exact(&self, query: &MachineQuery) -> Option<Arc<Vec<u32>>> {
        self.entries
            .iter()
            .rev()
            .find(|(q, _)| q == query)
            .map(|(_, r)| r.clone())
    }

    /// The smallest earlier result that `query` refines (see [`MachineQuery::refines_to`]).
    pub fn base_for(&self, query: &MachineQuery) -> Option<Arc<Vec<u32>>> {
        self.entries
            .iter()
            .filter(|(q, _)| q.refines_to(query))
            .min_by_key(|(_, r)| r.len())
            .map(|(_, r)| r.clone())
    }

    /// Remembers a result.
    pub fn push(&mut self, query: &MachineQuery, result: Arc<Vec<u32>>) {
        self.entries.retain(|(q, _)| q != query);
        if self.entries.len() >= Self::MAX {
            self.entries.remove(0);
        }
        self.entries.push((query.clone(), result));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::query::{SeenWithin, classify};
    use defender_tags_core::{HealthStatus, MachineId, RiskScore};
    use time::OffsetDateTime;

    const NOW_MS: i64 = 1_800_000_000_000;

    fn machine(n: u32, name: &str, ip: &str) -> Machine {
        let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
        m.computer_dns_name = Some(name.to_owned());
        m.last_ip_address = Some(ip.to_owned());
        m
    }

    #[test]
    fn descriptions_say_what_is_searched() {
        assert_eq!(
            describe(&classify("10.1.")),
            "Any IP address starting with 10.1."
        );
        assert_eq!(describe(&classify("10.1.2.3")), "IP address 10.1.2.3");
        assert_eq!(
            describe(&classify("web")),
            "Computer names containing \u{201c}web\u{201d}"
        );
        assert!(describe(&classify("4E156817")).contains("or machine ids"));
        // Not hex: no id can contain it.
        assert!(!describe(&classify("sales-ws")).contains("ids"));
    }

    #[test]
    fn narrowing_by_name_prefix_ignores_case() {
        let ms = vec![
            machine(1, "WEB01.contoso.com", "10.0.0.1"),
            machine(2, "db01", "10.0.1.1"),
        ];
        let s = MachineQuery {
            text: "web".into(),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = MachineQuery {
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
        let mut s = MachineQuery {
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
        let s = MachineQuery {
            health: Some(HealthStatus::Active),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = MachineQuery {
            risk: Some(RiskScore::High),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = MachineQuery {
            seen: Some(SeenWithin::Day),
            ..Default::default()
        };
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![0]);
        let s = MachineQuery {
            seen: Some(SeenWithin::Stale),
            ..Default::default()
        };
        // Never-seen machines are not "stale": they were never seen at all.
        assert_eq!(narrow(&s, &ms, NOW_MS), vec![1]);
    }

    /// Every (previous text, next text) pair that `refines_to` accepts must narrow to exactly what
    /// a full narrowing finds.
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
                let p = MachineQuery {
                    text: prev.into(),
                    ..Default::default()
                };
                let n = MachineQuery {
                    text: next.into(),
                    ..Default::default()
                };
                if p.refines_to(&n) {
                    refined += 1;
                    let from_prev = narrow_within(&n, &ms, &narrow(&p, &ms, NOW_MS), NOW_MS);
                    assert_eq!(from_prev, narrow(&n, &ms, NOW_MS), "{prev:?} -> {next:?}");
                }
            }
        }
        // Which pairs `refines_to` refuses is core's test; here, that what it accepts is safe.
        assert!(refined > 60, "typing forward is the common case: {refined}");
    }

    #[test]
    fn narrowing_within_a_sorted_order_keeps_that_order() {
        let ms = vec![
            machine(1, "web-b", "10.0.0.1"),
            machine(2, "db", "10.0.0.2"),
            machine(3, "web-a", "10.0.0.3"),
        ];
        let s = MachineQuery {
            text: "web".into(),
            ..Default::default()
        };
        assert_eq!(narrow_within(&s, &ms, &[2, 1, 0], NOW_MS), vec![2, 0]);
        // Out-of-range candidates are dropped, never a panic.
        assert_eq!(narrow_within(&s, &ms, &[7, 0], NOW_MS), vec![0]);
    }

    /// The packed-column narrowing must answer exactly what core's `Matcher` answers, for every
    /// kind of search text, with and without other filters, and in any order given.
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
                // Interfaces: none, or a Wi-Fi IPv4, a non-canonical IPv6 and junk.
                if n % 2 == 1 {
                    m.ip_addresses = ["172.16.5.9", "FE80:0:0::2", "not an ip", "10.9.8.7"]
                        .iter()
                        .map(|a| serde_json::from_value(serde_json::json!({ "ipAddress": a })))
                        .collect::<Result<_, _>>()
                        .unwrap();
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
            "172.16.",
            "172.16.5.9",
            "fe80::2",
            "10.9",
            "not",
        ];
        let id = ms[7].id.to_string();
        // A long part of an id (searched in ids too) and one of a name's parts that long.
        let id_part = id[20..30].to_uppercase();
        for text in
            texts
                .iter()
                .copied()
                .chain([id.as_str(), id_part.as_str(), "stanbul", "00000000"])
        {
            for risk in [None, Some(RiskScore::High)] {
                let s = MachineQuery {
                    text: text.into(),
                    risk: risk.clone(),
                    ..Default::default()
                };
                let want = narrow(&s, &ms, NOW_MS);
                let all: Vec<u32> = (0..ms.len() as u32).collect();
                let mut want_rev = want.clone();
                want_rev.reverse();
                for way in [Way::Scan, Way::PerCandidate] {
                    assert_eq!(
                        narrow_loaded_by(way, &s, &loaded, &all, NOW_MS).rows,
                        want,
                        "{text:?} {risk:?} {way:?}"
                    );
                    assert_eq!(
                        narrow_loaded_by(way, &s, &loaded, &reversed, NOW_MS).rows,
                        want_rev,
                        "{text:?} {risk:?} {way:?} reversed"
                    );
                }
            }
        }
        // Interface addresses are found, exactly and by prefix (five names carry them).
        let all: Vec<u32> = (0..ms.len() as u32).collect();
        for text in ["172.16.5.9", "fe80::2", "10.9."] {
            let s = MachineQuery {
                text: text.into(),
                ..Default::default()
            };
            assert_eq!(
                narrow_loaded(&s, &loaded, &all, NOW_MS).rows.len(),
                5 * ips.len()
            );
        }
        // The Kelvin sign folds to `k`; the name column must find it for `k`.
        let k = MachineQuery {
            text: "k-".into(),
            ..Default::default()
        };
        assert_eq!(
            narrow_loaded(&k, &loaded, &[18, 24], NOW_MS),
            Narrowed {
                rows: vec![18, 24],
                scanned: false
            }
        );
    }

    #[test]
    fn narrowing_says_when_it_scanned_whole_columns() {
        let ms: Vec<Machine> = (0..SCAN_MIN_MACHINES as u32)
            .map(|n| {
                machine(
                    n,
                    &format!("host-{n:05}"),
                    &format!("10.0.{}.{}", n / 256, n % 256),
                )
            })
            .collect();
        let loaded = Loaded::new(ms);
        let all: Vec<u32> = (0..SCAN_MIN_MACHINES as u32).collect();
        let q = |t: &str| MachineQuery {
            text: t.into(),
            ..Default::default()
        };
        // Many candidates and a column text: scanned.
        let many = narrow_loaded(&q("host-0001"), &loaded, &all, NOW_MS);
        assert!(many.scanned);
        assert_eq!(many.rows, (10..20).collect::<Vec<u32>>());
        assert!(narrow_loaded(&q("10.0.1."), &loaded, &all, NOW_MS).scanned);
        // Few candidates: each one's own value, same answer.
        let few = narrow_loaded(&q("host-0001"), &loaded, &many.rows, NOW_MS);
        assert!(!few.scanned);
        assert_eq!(few.rows, many.rows);
        // No column text (empty, a whole id): never a column scan.
        assert!(!narrow_loaded(&q(""), &loaded, &all, NOW_MS).scanned);
        let id = loaded.machines[7].id.as_str().to_owned();
        let by_id = narrow_loaded(&q(&id), &loaded, &all, NOW_MS);
        assert!(!by_id.scanned);
        assert_eq!(by_id.rows, vec![7]);
    }

    #[test]
    fn history_reuses_exact_results_and_picks_the_narrowest_base() {
        let st = |t: &str| MachineQuery {
            text: t.into(),
            ..Default::default()
        };
        let mut h = NarrowHistory::default();
        h.push(&st("w"), Arc::new(vec![1, 2, 3, 4]));
        h.push(&st("we"), Arc::new(vec![1, 2]));
        h.push(&st("10."), Arc::new(vec![9]));
        assert_eq!(*h.exact(&st("we")).unwrap(), vec![1, 2]);
        assert!(h.exact(&st("web")).is_none());
        assert_eq!(*h.base_for(&st("web")).unwrap(), vec![1, 2]);
        assert!(h.base_for(&st("x")).is_none(), "no entry covers x");
        assert_eq!(*h.base_for(&st("10.1")).unwrap(), vec![9]);
        for i in 0..NarrowHistory::MAX {
            h.push(&st(&format!("q{i}")), Arc::new(vec![]));
        }
        assert!(h.exact(&st("w")).is_none(), "oldest entries are dropped");
    }
}
