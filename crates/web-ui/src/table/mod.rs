//! The results table's logic: loaded rows, sorting, duplicate names and the virtual window.
//!
//! Kept out of the components so it runs (and is tested) natively. The table must stay smooth at
//! 100k rows, so rows are never cloned for display: the view works on `u32` indices into
//! [`Loaded::machines`], and only the rows inside the [`Window`] are rendered.

//! Split by concept: `columns` (pre-folded search columns), `sort`, `window` (the virtual
//! window), `row` (what a row shows); the listing itself ([`Loaded`]) is here.

use defender_tags_core::Machine;

mod columns;
mod id_column;
mod row;
mod sort;
mod window;

pub use columns::{AddressColumn, FoldedColumn, MachineSet};
pub use id_column::IdColumn;
pub use row::{RowView, format_age, humanize};
pub use sort::{SortDir, SortKey};
pub use window::{MAX_SLOTS, OVERSCAN_ROWS, ROW_HEIGHT_PX, Window, content_height_px};

use sort::{ip_key, is_missing, opt, present_last, value_rank};

/// The machines of one server reply, with what the table derives from them once.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The machines, in server order.
    pub machines: Vec<Machine>,
    /// Folded computer names (the search box; sorting by name without allocating).
    pub names: FoldedColumn,
    /// Every machine's addresses (the search box): built on first use (see [`Loaded::ips`]).
    ips: std::sync::OnceLock<AddressColumn>,
    /// Every machine's id, packed (the search box's id-part search): built on first use.
    ids: std::sync::OnceLock<IdColumn>,

    /// Per machine: another loaded machine has the same name, or the API flags it. Computed once
    /// so the per-keystroke summary is a plain count, not 100k hash lookups.
    duplicates: Vec<bool>,
    /// Every machine's index sorted by name, ascending (the table's default order): computed
    /// once here, where equal names then sit side by side for [`Loaded::is_duplicate`].
    by_name: Vec<u32>,
}

impl Loaded {
    /// Indexes `machines` for searching, sorting and duplicate detection.
    pub fn new(machines: Vec<Machine>) -> Self {
        let names = FoldedColumn::new(machines.iter().map(|m| m.computer_dns_name.as_deref()));
        let count = u32::try_from(machines.len()).unwrap_or(u32::MAX);
        // Each name beside its index, so comparing two does not look both up in the column;
        // unstable with the index as the last key is the stable order.
        let mut keyed: Vec<(&str, u32)> = (0..count).map(|i| (names.get(i as usize), i)).collect();
        keyed.sort_unstable_by(|a, b| present_last(a.0, b.0, str::is_empty).then(a.1.cmp(&b.1)));
        let mut duplicates: Vec<bool> = machines
            .iter()
            .map(|m| m.is_potential_duplication.unwrap_or(false))
            .collect();
        for run in keyed.chunk_by(|a, b| a.0 == b.0) {
            let named = run.first().is_some_and(|k| !k.0.is_empty());
            if named && run.len() > 1 {
                for k in run {
                    duplicates[k.1 as usize] = true;
                }
            }
        }
        let by_name: Vec<u32> = keyed.iter().map(|k| k.1).collect();
        drop(keyed);
        Self {
            machines,
            names,
            ips: std::sync::OnceLock::new(),
            ids: std::sync::OnceLock::new(),
            duplicates,
            by_name,
        }
    }

    /// Every machine's addresses, packed for the search box. Built on first use, not with the
    /// listing: only an address search reads it, and at 100k machines building it (parsing
    /// every IPv6 address) took about 30 ms of the time before the results could show. The
    /// search page builds it right after they show ([`Loaded::prepare_search`]).
    pub fn ips(&self) -> &AddressColumn {
        self.ips.get_or_init(|| AddressColumn::new(&self.machines))
    }

    /// Every machine's id, packed for the search box's id-part search; built on first use, as
    /// [`Loaded::ips`].
    pub fn ids(&self) -> &IdColumn {
        self.ids.get_or_init(|| IdColumn::new(&self.machines))
    }

    /// Builds the columns only a search reads ([`Loaded::ips`], [`Loaded::ids`]), so the first
    /// keystroke does not pay for them.
    pub fn prepare_search(&self) {
        self.ips();
        self.ids();
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
        if (key, dir) == (SortKey::Name, SortDir::Asc) {
            return self.by_name.clone();
        }
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
                SortKey::Os => opt(
                    ma.os_platform.as_deref().map(sort::Folded),
                    mb.os_platform.as_deref().map(sort::Folded),
                ),
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
/// A shared, immutable set of loaded machines that compares by identity: memos over it notice
/// a new listing without comparing 100k machines field by field.
#[derive(Debug, Clone)]
pub struct SharedLoaded(pub std::sync::Arc<Loaded>);

impl PartialEq for SharedLoaded {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
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

    // proptest is a native dev-dependency (these tests also build for wasm32).
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// The name order computed at load equals sorting by name, and duplicates are exactly
        /// the machines whose folded name another machine shares (or that the API flags).
        #[test]
        fn the_precomputed_name_order_and_duplicates_match_their_definitions(
            specs in proptest::collection::vec(
                (proptest::option::of("[aAbB\u{212A}k]{0,3}"), proptest::bool::weighted(0.1)),
                0..40,
            ),
        ) {
            let machines: Vec<Machine> = specs
                .iter()
                .enumerate()
                .map(|(i, (name, flagged))| {
                    let mut m = machine(i as u32, name.as_deref());
                    m.is_potential_duplication = Some(*flagged);
                    m
                })
                .collect();
            let loaded = Loaded::new(machines);
            let mut want: Vec<u32> = (0..specs.len() as u32).collect();
            loaded.sort(&mut want, SortKey::Name, SortDir::Asc);
            proptest::prop_assert_eq!(loaded.sorted(SortKey::Name, SortDir::Asc), want);
            for i in 0..specs.len() {
                let folded = defender_tags_core::query::fold(specs[i].0.as_deref().unwrap_or(""));
                let shared = !folded.is_empty()
                    && specs.iter().enumerate().any(|(j, (other, _))| {
                        j != i && defender_tags_core::query::fold(other.as_deref().unwrap_or("")) == folded
                    });
                proptest::prop_assert_eq!(loaded.is_duplicate(i), shared || specs[i].1, "machine {}", i);
            }
        }
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
    fn sorting_by_os_ignores_case() {
        let machines: Vec<Machine> = ["ubuntu", "Windows10", "Linux", "macOS", "linux"]
            .iter()
            .enumerate()
            .map(|(i, os)| {
                let mut m = Machine::new(
                    defender_tags_core::MachineId::parse(&format!("{i:040x}")).unwrap(),
                );
                m.os_platform = Some((*os).into());
                m
            })
            .collect();
        let loaded = Loaded::new(machines);
        let mut idx: Vec<u32> = (0..5).collect();
        loaded.sort(&mut idx, SortKey::Os, SortDir::Asc);
        let order: Vec<&str> = idx
            .iter()
            .map(|&i| loaded.machines[i as usize].os_platform.as_deref().unwrap())
            .collect();
        assert_eq!(order, ["Linux", "linux", "macOS", "ubuntu", "Windows10"]);
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
