//! The search page's state, which lives in the URL (shareable links; back/forward and reload keep
//! it): parsing it from query parameters and writing it back.
//!
//! Turning the state into the server's OData filter is core's job ([`crate::query`] calls it).

use defender_tags_core::{DeviceValue, ExposureLevel, HealthStatus, MachineId, RiskScore};

use crate::table::{SortDir, SortKey};

/// How recently machines must have been seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenWithin {
    /// In the last 24 hours (`1d`).
    Day,
    /// In the last 7 days (`7d`).
    Week,
    /// In the last 30 days (`30d`).
    Month,
    /// Not in the last 30 days (`stale`).
    Stale,
}

impl SeenWithin {
    /// Every choice, in display order.
    pub const ALL: [SeenWithin; 4] = [
        SeenWithin::Day,
        SeenWithin::Week,
        SeenWithin::Month,
        SeenWithin::Stale,
    ];

    /// URL spelling.
    pub fn as_param(self) -> &'static str {
        match self {
            SeenWithin::Day => "1d",
            SeenWithin::Week => "7d",
            SeenWithin::Month => "30d",
            SeenWithin::Stale => "stale",
        }
    }

    /// Parses the URL spelling.
    pub fn from_param(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_param() == s)
    }

    /// Display text.
    pub fn label(self) -> &'static str {
        match self {
            SeenWithin::Day => "Last 24 hours",
            SeenWithin::Week => "Last 7 days",
            SeenWithin::Month => "Last 30 days",
            SeenWithin::Stale => "Not in 30 days",
        }
    }

    /// The boundary in days.
    pub fn days(self) -> i64 {
        match self {
            SeenWithin::Day => 1,
            SeenWithin::Week => 7,
            SeenWithin::Month | SeenWithin::Stale => 30,
        }
    }
}

/// Everything that decides which machines are listed and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchState {
    /// The search box: computer-name prefix, IP address (or prefix) or machine id.
    pub text: String,
    /// Tag filter.
    pub tag: String,
    /// Whether [`SearchState::tag`] is a prefix rather than an exact tag.
    pub tag_prefix: bool,
    /// OS platform (e.g. `Windows11`).
    pub os: Option<String>,
    /// Sensor health.
    pub health: Option<HealthStatus>,
    /// Risk score.
    pub risk: Option<RiskScore>,
    /// Exposure level.
    pub exposure: Option<ExposureLevel>,
    /// Device value.
    pub value: Option<DeviceValue>,
    /// Machine (RBAC) group id.
    pub group: Option<i64>,
    /// Last seen.
    pub seen: Option<SeenWithin>,
    /// Sort column.
    pub sort: SortKey,
    /// Sort direction.
    pub dir: SortDir,
    /// The machine whose details panel is open.
    pub selected: Option<MachineId>,
}

/// OS platforms offered in the filter (the API's `osPlatform` values).
pub const OS_PLATFORMS: [&str; 10] = [
    "Windows11",
    "Windows10",
    "WindowsServer2025",
    "WindowsServer2022",
    "WindowsServer2019",
    "WindowsServer2016",
    "Linux",
    "macOS",
    "iOS",
    "Android",
];

impl SearchState {
    /// Reads the state from URL query pairs. Unknown keys and unparsable values are ignored
    /// (a hand-edited link must still open), and enum values keep unknown spellings.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut s = SearchState::default();
        for (key, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match key {
                "q" => s.text = value.to_owned(),
                "tag" => s.tag = value.to_owned(),
                "tagmode" => s.tag_prefix = value == "prefix",
                "os" => s.os = Some(value.to_owned()),
                "health" => s.health = Some(HealthStatus::from_wire(value)),
                "risk" => s.risk = Some(RiskScore::from_wire(value)),
                "exposure" => s.exposure = Some(ExposureLevel::from_wire(value)),
                "value" => s.value = Some(DeviceValue::from_wire(value)),
                "group" => s.group = value.parse().ok(),
                "seen" => s.seen = SeenWithin::from_param(value),
                "sort" => s.sort = SortKey::from_param(value).unwrap_or_default(),
                "dir" => {
                    s.dir = if value == "desc" {
                        SortDir::Desc
                    } else {
                        SortDir::Asc
                    }
                }
                "m" => s.selected = MachineId::parse(value).ok(),
                _ => {}
            }
        }
        s
    }

    /// The query pairs for this state, defaults left out (short, stable URLs).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        let mut push = |k: &'static str, v: &str| {
            if !v.is_empty() {
                p.push((k, v.to_owned()));
            }
        };
        push("q", self.text.trim());
        push("tag", &self.tag);
        if self.tag_prefix && !self.tag.is_empty() {
            push("tagmode", "prefix");
        }
        push("os", self.os.as_deref().unwrap_or(""));
        push("health", self.health.as_ref().map_or("", |v| v.as_str()));
        push("risk", self.risk.as_ref().map_or("", |v| v.as_str()));
        push(
            "exposure",
            self.exposure.as_ref().map_or("", |v| v.as_str()),
        );
        push("value", self.value.as_ref().map_or("", |v| v.as_str()));
        push(
            "group",
            &self.group.map(|g| g.to_string()).unwrap_or_default(),
        );
        push("seen", self.seen.map_or("", SeenWithin::as_param));
        if self.sort != SortKey::default() {
            push("sort", self.sort.as_param());
        }
        if self.dir == SortDir::Desc {
            push("dir", "desc");
        }
        push("m", self.selected.as_ref().map_or("", |m| m.as_str()));
        p
    }

    /// `?a=b&c=d` (or the empty string), percent-encoded.
    pub fn to_query_string(&self) -> String {
        let pairs = self.to_pairs();
        if pairs.is_empty() {
            return String::new();
        }
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        format!("?{body}")
    }

    /// The same search without the parts that do not change which machines the server returns
    /// (sorting, the open panel): the key for re-fetching.
    pub fn server_part(&self) -> SearchState {
        SearchState {
            sort: SortKey::default(),
            dir: SortDir::default(),
            selected: None,
            ..self.clone()
        }
    }

    /// Whether any filter (not sorting or selection) is set.
    pub fn has_filters(&self) -> bool {
        self.server_part() != SearchState::default()
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_state_round_trips_through_pairs() {
        let s = SearchState {
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
            sort: SortKey::LastSeen,
            dir: SortDir::Desc,
            selected: Some(MachineId::parse(&"ab".repeat(20)).unwrap()),
        };
        let pairs = s.to_pairs();
        let back = SearchState::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(back, s);
    }

    #[test]
    fn defaults_make_an_empty_query_string() {
        assert_eq!(SearchState::default().to_query_string(), "");
        assert!(!SearchState::default().has_filters());
    }

    #[test]
    fn values_are_percent_encoded() {
        let s = SearchState {
            text: "a b&c=<x>".into(),
            ..Default::default()
        };
        assert_eq!(s.to_query_string(), "?q=a%20b%26c%3D%3Cx%3E");
    }

    #[test]
    fn bad_values_are_ignored_not_fatal() {
        let s = SearchState::from_pairs([
            ("group", "abc"),
            ("seen", "forever"),
            ("sort", "nope"),
            ("m", "not-an-id"),
            ("unknown", "x"),
            ("q", "  "),
        ]);
        assert_eq!(s, SearchState::default());
    }

    #[test]
    fn tagmode_without_tag_is_dropped() {
        let s = SearchState {
            tag_prefix: true,
            ..Default::default()
        };
        assert_eq!(s.to_query_string(), "");
    }

    #[test]
    fn server_part_ignores_sort_and_selection() {
        let a = SearchState {
            text: "x".into(),
            sort: SortKey::Risk,
            ..Default::default()
        };
        let b = SearchState {
            text: "x".into(),
            ..Default::default()
        };
        assert_eq!(a.server_part(), b.server_part());
        assert!(a.has_filters());
    }
}
