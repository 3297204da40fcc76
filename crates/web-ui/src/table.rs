//! The results table's logic: loaded rows, sorting, duplicate names and the virtual window.
//!
//! Kept out of the components so it runs (and is tested) natively. The table must stay smooth at
//! 100k rows, so rows are never cloned for display: the view works on `u32` indices into
//! [`Loaded::machines`], and only the rows inside the [`Window`] are rendered.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;

use defender_tags_core::Machine;
use defender_tags_core::query::{addresses, canonical_ip};

/// Height of one table row in CSS pixels. Fixed: the virtual window depends on it (`app.css`
/// sets the same value on `.row`).
pub const ROW_HEIGHT_PX: f64 = 40.0;

/// Rows rendered above and below the visible ones, so fast scrolling shows no blank band.
pub const OVERSCAN_ROWS: usize = 6;

/// Upper bound of DOM rows: enough to fill a 1,600px tall viewport plus the overscan. The DOM
/// row count is this constant whatever the number of results.
pub const MAX_SLOTS: usize = 40 + 2 * OVERSCAN_ROWS;

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

/// One text column of every loaded machine, case-folded the way core's OData matching folds
/// (`defender_tags_core::query::fold`) and packed into one buffer. Narrowing 100k machines per
/// keystroke then scans a few MB in one place instead of chasing a pointer per machine into
/// 40+ MB of machines (which, in sorted order, is a cache miss each).
#[derive(Debug, Clone, Default)]
pub struct FoldedColumn {
    text: String,
    /// End offset in `text` of each value (a missing value is empty).
    ends: Vec<u32>,
}

impl FoldedColumn {
    fn new<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Self {
        let mut column = Self::default();
        for v in values {
            column.push(v.unwrap_or("").chars().flat_map(char::to_lowercase));
        }
        column.text.shrink_to_fit();
        column
    }

    fn push(&mut self, value: impl Iterator<Item = char>) {
        self.text.extend(value);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// The folded value at `index` (empty when missing or out of range).
    pub fn get(&self, index: usize) -> &str {
        let end = self.ends.get(index).map_or(0, |&e| e as usize);
        let start = match index.checked_sub(1) {
            Some(prev) => self.ends.get(prev).map_or(0, |&e| e as usize),
            None => 0,
        };
        self.text.get(start..end).unwrap_or("")
    }
}

/// Every address of every loaded machine (its last IP address, then its interfaces'; see
/// `defender_tags_core::query::addresses`), packed like [`FoldedColumn`]: an address is stored
/// in its canonical form when it parses (what an exact address is compared by) and folded
/// otherwise (what a prefix is compared with; the two agree for IPv4, the only prefixes).
#[derive(Debug, Clone, Default)]
pub struct AddressColumn {
    values: FoldedColumn,
    /// End index in `values` of each machine's addresses.
    machine_ends: Vec<u32>,
}

impl AddressColumn {
    fn new(machines: &[Machine]) -> Self {
        let mut column = Self::default();
        for m in machines {
            for a in addresses(m) {
                match canonical_ip(a) {
                    Some(c) => column.values.push(c.chars()),
                    None => column.values.push(a.chars().flat_map(char::to_lowercase)),
                }
            }
            column
                .machine_ends
                .push(u32::try_from(column.values.ends.len()).unwrap_or(u32::MAX));
        }
        column.values.text.shrink_to_fit();
        column
    }

    /// The stored addresses of machine `index` (none when out of range).
    pub fn values(&self, index: usize) -> impl Iterator<Item = &str> {
        let end = self.machine_ends.get(index).map_or(0, |&e| e as usize);
        let start = match index.checked_sub(1) {
            Some(prev) => self.machine_ends.get(prev).map_or(0, |&e| e as usize),
            None => 0,
        };
        (start..end.max(start)).map(|v| self.values.get(v))
    }
}

/// The machines of one server reply, with what the table derives from them once.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The machines, in server order.
    pub machines: Vec<Machine>,
    /// Folded computer names (the search box; sorting by name without allocating).
    pub names: FoldedColumn,
    /// Every machine's addresses (the search box).
    pub ips: AddressColumn,
    /// Per machine: another loaded machine has the same name, or the API flags it. Computed once
    /// so the per-keystroke summary is a plain count, not 100k hash lookups.
    duplicates: Vec<bool>,
}

impl Loaded {
    /// Indexes `machines` for searching, sorting and duplicate detection.
    pub fn new(machines: Vec<Machine>) -> Self {
        let names = FoldedColumn::new(machines.iter().map(|m| m.computer_dns_name.as_deref()));
        let ips = AddressColumn::new(&machines);
        let mut name_counts: HashMap<&str, u32> = HashMap::new();
        for i in 0..machines.len() {
            let key = names.get(i);
            if !key.is_empty() {
                *name_counts.entry(key).or_insert(0u32) += 1;
            }
        }
        let duplicates = machines
            .iter()
            .enumerate()
            .map(|(i, m)| {
                name_counts.get(names.get(i)).is_some_and(|&n| n > 1)
                    || m.is_potential_duplication.unwrap_or(false)
            })
            .collect();
        drop(name_counts);
        Self {
            machines,
            names,
            ips,
            duplicates,
        }
    }

    /// Number of loaded machines.
    pub fn len(&self) -> usize {
        self.machines.len()
    }

    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.machines.is_empty()
    }

    /// Whether another loaded machine has the same computer name (ignoring case), or the API
    /// itself marks the machine as a potential duplicate.
    pub fn is_duplicate(&self, index: usize) -> bool {
        self.duplicates.get(index).copied().unwrap_or(false)
    }

    /// Every loaded machine's index, sorted by `key` (see [`Loaded::sort`]). The search page
    /// computes this once per listing and sort order, then narrows it per keystroke: filtering
    /// a sorted list keeps it sorted, so typing never re-sorts 100k rows.
    pub fn sorted(&self, key: SortKey, dir: SortDir) -> Vec<u32> {
        let mut all: Vec<u32> = (0..self.machines.len() as u32).collect();
        self.sort(&mut all, key, dir);
        all
    }

    /// Number of machines flagged by [`Loaded::is_duplicate`] among `indices`.
    pub fn duplicate_count(&self, indices: &[u32]) -> usize {
        indices
            .iter()
            .filter(|&&i| self.is_duplicate(i as usize))
            .count()
    }

    /// Sorts `indices` (into [`Loaded::machines`]) by `key`. Stable, so equal keys keep server
    /// order; machines without a value sort last in either direction.
    pub fn sort(&self, indices: &mut [u32], key: SortKey, dir: SortDir) {
        let cmp = |a: &u32, b: &u32| {
            let (ia, ib) = (*a as usize, *b as usize);
            let (ma, mb) = (&self.machines[ia], &self.machines[ib]);
            let ord = match key {
                SortKey::Name => {
                    present_last(self.names.get(ia), self.names.get(ib), |s| s.is_empty())
                }
                SortKey::Os => opt(ma.os_platform.as_deref(), mb.os_platform.as_deref()),
                SortKey::Health => opt(
                    ma.health_status.as_ref().map(|h| h.as_str()),
                    mb.health_status.as_ref().map(|h| h.as_str()),
                ),
                SortKey::Risk => opt(
                    ma.risk_score
                        .as_ref()
                        .map(|r| r.known_index().unwrap_or(usize::MAX)),
                    mb.risk_score
                        .as_ref()
                        .map(|r| r.known_index().unwrap_or(usize::MAX)),
                ),
                SortKey::Exposure => opt(
                    ma.exposure_level
                        .as_ref()
                        .map(|e| e.known_index().unwrap_or(usize::MAX)),
                    mb.exposure_level
                        .as_ref()
                        .map(|e| e.known_index().unwrap_or(usize::MAX)),
                ),
                SortKey::Value => opt(
                    ma.device_value.as_ref().map(value_rank),
                    mb.device_value.as_ref().map(value_rank),
                ),
                SortKey::Group => opt(ma.rbac_group_name.as_deref(), mb.rbac_group_name.as_deref()),
                SortKey::LastSeen => opt(ma.last_seen, mb.last_seen),
                SortKey::Ip => opt(
                    ma.last_ip_address.as_deref().map(ip_key),
                    mb.last_ip_address.as_deref().map(ip_key),
                ),
                SortKey::Tags => ma.machine_tags.len().cmp(&mb.machine_tags.len()),
            };
            match dir {
                SortDir::Asc => ord,
                // Missing values stay last when descending, too.
                SortDir::Desc => match (
                    is_missing(key, ma, self.names.get(ia)),
                    is_missing(key, mb, self.names.get(ib)),
                ) {
                    (false, false) => ord.reverse(),
                    _ => ord,
                },
            }
        };
        indices.sort_by(cmp);
    }
}

fn is_missing(key: SortKey, m: &Machine, name_key: &str) -> bool {
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
fn value_rank(v: &defender_tags_core::DeviceValue) -> usize {
    use defender_tags_core::DeviceValue;
    match v {
        DeviceValue::Low => 0,
        DeviceValue::Normal => 1,
        DeviceValue::High => 2,
        DeviceValue::Other(_) => 3,
    }
}

/// IPv4 addresses sort numerically (10.0.0.9 before 10.0.0.10); anything else after, as text.
fn ip_key(ip: &str) -> (u8, u32, String) {
    match ip.parse::<std::net::Ipv4Addr>() {
        Ok(v4) => (0, u32::from(v4), String::new()),
        Err(_) => (1, 0, ip.to_ascii_lowercase()),
    }
}

fn opt<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn present_last(a: &str, b: &str, missing: impl Fn(&str) -> bool) -> Ordering {
    match (missing(a), missing(b)) {
        (false, false) => a.cmp(b),
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (true, true) => Ordering::Equal,
    }
}

/// A shared, immutable set of loaded machines that compares by identity: memos over it notice
/// a new listing without comparing 100k machines field by field.
#[derive(Debug, Clone)]
pub struct SharedLoaded(pub std::sync::Arc<Loaded>);

impl PartialEq for SharedLoaded {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Which rows to render for a scroll position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First rendered row (position in the sorted, narrowed list).
    pub start: usize,
    /// Number of DOM row slots; constant for a given viewport height.
    pub slots: usize,
}

impl Window {
    /// The window for a scroll container scrolled to `scroll_top` px, `viewport_px` tall, over
    /// `total` rows of [`ROW_HEIGHT_PX`].
    pub fn at(scroll_top: f64, viewport_px: f64, total: usize) -> Window {
        let visible = (viewport_px.max(0.0) / ROW_HEIGHT_PX).ceil() as usize + 1;
        let slots = (visible + 2 * OVERSCAN_ROWS).min(MAX_SLOTS);
        let first_visible = (scroll_top.max(0.0) / ROW_HEIGHT_PX).floor() as usize;
        let max_start = total.saturating_sub(slots);
        let start = first_visible.saturating_sub(OVERSCAN_ROWS).min(max_start);
        Window { start, slots }
    }

    /// The row positions this window shows, clipped to `total`.
    pub fn rows(&self, total: usize) -> Range<usize> {
        self.start.min(total)..(self.start + self.slots).min(total)
    }

    /// Vertical offset of the first rendered row, in px.
    pub fn offset_px(&self) -> f64 {
        self.start as f64 * ROW_HEIGHT_PX
    }
}

/// Total scroll height for `total` rows, in px.
pub fn content_height_px(total: usize) -> f64 {
    total as f64 * ROW_HEIGHT_PX
}

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
            group: text(m.rbac_group_name.as_deref()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::{MachineId, RiskScore};

    fn machine(n: u32, name: Option<&str>) -> Machine {
        let id = MachineId::parse(&format!("{n:040x}")).unwrap();
        let mut m = Machine::new(id);
        m.computer_dns_name = name.map(str::to_owned);
        m
    }

    fn names(loaded: &Loaded, idx: &[u32]) -> Vec<Option<String>> {
        idx.iter()
            .map(|&i| loaded.machines[i as usize].computer_dns_name.clone())
            .collect()
    }

    #[test]
    fn duplicate_names_are_flagged_case_insensitively() {
        let loaded = Loaded::new(vec![
            machine(1, Some("WEB01.contoso.com")),
            machine(2, Some("web01.contoso.com")),
            machine(3, Some("db01")),
            machine(4, None),
            machine(5, None),
        ]);
        assert!(loaded.is_duplicate(0));
        assert!(loaded.is_duplicate(1));
        assert!(!loaded.is_duplicate(2));
        // Two machines without a name are not "duplicates" of each other.
        assert!(!loaded.is_duplicate(3));
        assert_eq!(loaded.duplicate_count(&[0, 1, 2, 3, 4]), 2);
    }

    #[test]
    fn api_duplicate_flag_counts_too() {
        let mut m = machine(1, Some("solo"));
        m.is_potential_duplication = Some(true);
        let loaded = Loaded::new(vec![m]);
        assert!(loaded.is_duplicate(0));
    }

    #[test]
    fn sort_by_name_puts_missing_names_last_both_ways() {
        let loaded = Loaded::new(vec![
            machine(1, Some("beta")),
            machine(2, None),
            machine(3, Some("Alpha")),
        ]);
        let mut idx = vec![0, 1, 2];
        loaded.sort(&mut idx, SortKey::Name, SortDir::Asc);
        assert_eq!(
            names(&loaded, &idx),
            vec![Some("Alpha".into()), Some("beta".into()), None]
        );
        loaded.sort(&mut idx, SortKey::Name, SortDir::Desc);
        assert_eq!(
            names(&loaded, &idx),
            vec![Some("beta".into()), Some("Alpha".into()), None]
        );
    }

    #[test]
    fn sort_by_risk_uses_severity_not_alphabet() {
        let mut a = machine(1, Some("a"));
        a.risk_score = Some(RiskScore::High);
        let mut b = machine(2, Some("b"));
        b.risk_score = Some(RiskScore::Low);
        let mut c = machine(3, Some("c"));
        c.risk_score = Some(RiskScore::Medium);
        let loaded = Loaded::new(vec![a, b, c]);
        let mut idx = vec![0, 1, 2];
        loaded.sort(&mut idx, SortKey::Risk, SortDir::Desc);
        assert_eq!(idx, vec![0, 2, 1]);
    }

    #[test]
    fn sort_by_ip_is_numeric_for_ipv4() {
        let mut a = machine(1, Some("a"));
        a.last_ip_address = Some("10.0.0.10".into());
        let mut b = machine(2, Some("b"));
        b.last_ip_address = Some("10.0.0.9".into());
        let loaded = Loaded::new(vec![a, b]);
        let mut idx = vec![0, 1];
        loaded.sort(&mut idx, SortKey::Ip, SortDir::Asc);
        assert_eq!(idx, vec![1, 0]);
    }

    #[test]
    fn sort_keys_round_trip_through_the_url() {
        for key in SortKey::ALL {
            assert_eq!(SortKey::from_param(key.as_param()), Some(key));
        }
        assert_eq!(SortKey::from_param("bogus"), None);
    }

    #[test]
    fn window_keeps_a_constant_number_of_slots() {
        let at_top = Window::at(0.0, 600.0, 100_000);
        let deep = Window::at(2_000_000.0, 600.0, 100_000);
        assert_eq!(at_top.slots, deep.slots);
        assert!(at_top.slots <= MAX_SLOTS);
        assert_eq!(at_top.start, 0);
        assert_eq!(deep.start, 50_000 - OVERSCAN_ROWS);
        assert_eq!(deep.rows(100_000).len(), deep.slots);
    }

    #[test]
    fn window_at_the_bottom_does_not_run_past_the_end() {
        let total = 1_000;
        let w = Window::at(content_height_px(total), 600.0, total);
        assert_eq!(w.rows(total).end, total);
        assert_eq!(w.rows(total).len(), w.slots);
    }

    #[test]
    fn window_over_few_rows_shows_them_all() {
        let w = Window::at(0.0, 600.0, 3);
        assert_eq!(w.rows(3), 0..3);
        assert_eq!(w.offset_px(), 0.0);
    }

    #[test]
    fn enum_values_are_humanized() {
        assert_eq!(humanize("ImpairedCommunication"), "Impaired communication");
        assert_eq!(humanize("Active"), "Active");
        assert_eq!(
            humanize("NoSensorDataImpairedCommunication"),
            "No sensor data impaired communication"
        );
    }

    #[test]
    fn ages_read_naturally() {
        let now = 1_000_000_000_000;
        assert_eq!(format_age(None, now), "never");
        assert_eq!(format_age(Some(now - 5_000), now), "just now");
        assert_eq!(format_age(Some(now - 5 * 60_000), now), "5 min ago");
        assert_eq!(format_age(Some(now - 3 * 3_600_000), now), "3 h ago");
        assert_eq!(format_age(Some(now - 12 * 86_400_000), now), "12 d ago");
        // A clock slightly behind the server's is not "in the future".
        assert_eq!(format_age(Some(now + 10_000), now), "just now");
    }

    #[test]
    fn row_view_shows_placeholders_for_missing_values() {
        let loaded = Loaded::new(vec![machine(1, None)]);
        let row = RowView::new(&loaded, 0, vec![], 0).unwrap();
        assert_eq!(row.name, "(no name)");
        assert_eq!(row.os, "\u{2014}");
        assert_eq!(row.last_seen, "never");
        assert!(RowView::new(&loaded, 1, vec![], 0).is_none());
    }

    #[test]
    fn huge_viewport_is_capped() {
        let w = Window::at(0.0, 100_000.0, 1_000_000);
        assert_eq!(w.slots, MAX_SLOTS);
    }
}
