//! What one table row displays, and how values read (humanized enums, ages).

use super::Loaded;

/// What one table row displays, computed for the rows in the window only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowView {
    /// Machine id.
    pub id: defender_tags_core::MachineId,
    /// Computer name, or a placeholder.
    pub name: String,
    /// Whether the name is flagged as a duplicate.
    pub duplicate: bool,
    /// OS platform.
    pub os: String,
    /// Health.
    pub health: String,
    /// Risk.
    pub risk: String,
    /// Exposure.
    pub exposure: String,
    /// Device value.
    pub value: String,
    /// Machine group.
    pub group: String,
    /// "3 h ago".
    pub last_seen: String,
    /// Last seen, exact (UTC), for the tooltip.
    pub last_seen_exact: String,
    /// Last IP.
    pub ip: String,
    /// Tags (with optimistic edits applied by the caller).
    pub tags: Vec<String>,
}

impl RowView {
    /// The row for `loaded.machines[index]`, `tags` being its effective tags.
    pub fn new(loaded: &Loaded, index: usize, tags: Vec<String>, now_ms: i64) -> Option<RowView> {
        let m = loaded.machines.get(index)?;
        let text = |s: Option<&str>| s.unwrap_or("\u{2014}").to_owned();
        let last_ms = m
            .last_seen
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
        Some(RowView {
            id: m.id.clone(),
            name: m
                .computer_dns_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "(no name)".to_owned()),
            duplicate: loaded.is_duplicate(index),
            os: text(m.os_platform.as_deref()),
            health: m
                .health_status
                .as_ref()
                .map_or_else(|| "\u{2014}".to_owned(), |v| humanize(v.as_str())),
            risk: text(m.risk_score.as_ref().map(|v| v.as_str())),
            exposure: text(m.exposure_level.as_ref().map(|v| v.as_str())),
            value: text(m.device_value.as_ref().map(|v| v.as_str())),
            group: crate::search::group_label(m.rbac_group_id, m.rbac_group_name.as_deref()),
            last_seen: format_age(last_ms, now_ms),
            last_seen_exact: m
                .last_seen
                .map(defender_tags_core::model::datetime::format_datetime)
                .unwrap_or_default(),
            ip: text(m.last_ip_address.as_deref()),
            tags,
        })
    }
}

/// `ImpairedCommunication` → `Impaired communication` (enum values as people read them).
pub fn humanize(wire: &str) -> String {
    let mut out = String::with_capacity(wire.len() + 4);
    for (i, c) in wire.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// "just now", "5 min ago", "3 h ago", "12 d ago", "never".
pub fn format_age(then_ms: Option<i64>, now_ms: i64) -> String {
    let Some(then) = then_ms else {
        return "never".to_owned();
    };
    let secs = (now_ms - then).max(0) / 1000;
    match secs {
        0..=59 => "just now".to_owned(),
        60..=3_599 => format!("{} min ago", secs / 60),
        3_600..=86_399 => format!("{} h ago", secs / 3_600),
        _ => format!("{} d ago", secs / 86_400),
    }
}
