//! From the search page's state to what is asked of the server, and the instant client-side
//! narrowing of already loaded results while the server is asked.

use defender_tags_core::odata::{CmpOp, Field, Filter};
use defender_tags_core::{Machine, MachineId};
use time::OffsetDateTime;

use crate::search::{SearchState, SeenWithin};

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
    match filter(search, now_ms) {
        None => (0..machines.len() as u32).collect(),
        Some(f) => machines
            .iter()
            .enumerate()
            .filter(|(_, m)| f.matches(m))
            .map(|(i, _)| i as u32)
            .collect(),
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
}
