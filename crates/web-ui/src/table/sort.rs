//! Sorting: the columns the table sorts by, the direction, and how values compare (missing
//! values last either way).

use std::cmp::Ordering;

use defender_tags_core::Machine;

/// A column the table can be sorted by (URL value in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortKey {
    /// Computer name (`name`).
    #[default]
    Name,
    /// OS platform (`os`).
    Os,
    /// Sensor health (`health`).
    Health,
    /// Risk score, documented order (`risk`).
    Risk,
    /// Exposure level, documented order (`exposure`).
    Exposure,
    /// Device value (`value`).
    Value,
    /// Machine group name (`group`).
    Group,
    /// Last seen time (`seen`).
    LastSeen,
    /// Last IP address, numerically for IPv4 (`ip`).
    Ip,
    /// Number of tags (`tags`).
    Tags,
}

impl SortKey {
    /// Every column, in display order.
    pub const ALL: [SortKey; 10] = [
        SortKey::Name,
        SortKey::Os,
        SortKey::Health,
        SortKey::Risk,
        SortKey::Exposure,
        SortKey::Value,
        SortKey::Group,
        SortKey::LastSeen,
        SortKey::Ip,
        SortKey::Tags,
    ];

    /// The URL spelling.
    pub fn as_param(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Os => "os",
            SortKey::Health => "health",
            SortKey::Risk => "risk",
            SortKey::Exposure => "exposure",
            SortKey::Value => "value",
            SortKey::Group => "group",
            SortKey::LastSeen => "seen",
            SortKey::Ip => "ip",
            SortKey::Tags => "tags",
        }
    }

    /// Parses the URL spelling.
    pub fn from_param(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_param() == s)
    }

    /// The column header.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "Computer name",
            SortKey::Os => "OS",
            SortKey::Health => "Health",
            SortKey::Risk => "Risk",
            SortKey::Exposure => "Exposure",
            SortKey::Value => "Value",
            SortKey::Group => "Group",
            SortKey::LastSeen => "Last seen",
            SortKey::Ip => "Last IP",
            SortKey::Tags => "Tags",
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDir {
    /// A→Z, low→high, old→new.
    #[default]
    Asc,
    /// The reverse.
    Desc,
}
pub(super) fn is_missing(key: SortKey, m: &Machine, name_key: &str) -> bool {
    match key {
        SortKey::Name => name_key.is_empty(),
        SortKey::Os => m.os_platform.is_none(),
        SortKey::Health => m.health_status.is_none(),
        SortKey::Risk => m.risk_score.is_none(),
        SortKey::Exposure => m.exposure_level.is_none(),
        SortKey::Value => m.device_value.is_none(),
        SortKey::Group => m.rbac_group_name.is_none(),
        SortKey::LastSeen => m.last_seen.is_none(),
        SortKey::Ip => m.last_ip_address.is_none(),
        SortKey::Tags => false,
    }
}

/// Low < Normal < High, whatever the documented order is.
pub(super) fn value_rank(v: &defender_tags_core::DeviceValue) -> usize {
    use defender_tags_core::DeviceValue;
    match v {
        DeviceValue::Low => 0,
        DeviceValue::Normal => 1,
        DeviceValue::High => 2,
        DeviceValue::Other(_) => 3,
    }
}

/// IPv4 addresses sort numerically (10.0.0.9 before 10.0.0.10); anything else after, as text.
pub(super) fn ip_key(ip: &str) -> (u8, u32, String) {
    match ip.parse::<std::net::Ipv4Addr>() {
        Ok(v4) => (0, u32::from(v4), String::new()),
        Err(_) => (1, 0, ip.to_ascii_lowercase()),
    }
}

/// A string ordered without regard to case ("linux" beside "Linux"), ties broken by the exact
/// text so the order stays total. No allocation: a sort of 100,000 rows compares ~1.7 million
/// times.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Folded<'a>(pub &'a str);

impl Ord for Folded<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.0, other.0);
        let folded = if a.is_ascii() && b.is_ascii() {
            a.bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
        } else {
            a.chars()
                .flat_map(char::to_lowercase)
                .cmp(b.chars().flat_map(char::to_lowercase))
        };
        folded.then_with(|| a.cmp(b))
    }
}

impl PartialOrd for Folded<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub(super) fn opt<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

pub(super) fn present_last(a: &str, b: &str, missing: impl Fn(&str) -> bool) -> Ordering {
    match (missing(a), missing(b)) {
        (false, false) => a.cmp(b),
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (true, true) => Ordering::Equal,
    }
}
