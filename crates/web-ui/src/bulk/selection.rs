//! Which machines of a search result a bulk change targets: rows picked one by one, or "all N
//! matching this filter" minus the rows unticked since.
//!
//! "All matching" is a scope, not a list: it is resolved against the *complete* result (every
//! page, beyond the API's 10,000-row page) when the preview is built, so a filter matching 40,000
//! machines selects 40,000 without materialising 40,000 checkboxes.

use std::collections::BTreeSet;

use defender_tags_core::{Machine, MachineId};

/// The selection over one search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Exactly these machines.
    Rows(BTreeSet<MachineId>),
    /// Every machine matching the filter, except these.
    AllMatching {
        /// Rows unticked after choosing "all matching".
        excluded: BTreeSet<MachineId>,
    },
}

impl Default for Selection {
    fn default() -> Self {
        Selection::Rows(BTreeSet::new())
    }
}

impl Selection {
    /// Whether `id` is selected.
    pub fn contains(&self, id: &MachineId) -> bool {
        match self {
            Selection::Rows(ids) => ids.contains(id),
            Selection::AllMatching { excluded } => !excluded.contains(id),
        }
    }

    /// Ticks or unticks one row.
    pub fn toggle(&mut self, id: &MachineId) {
        let set = match self {
            Selection::Rows(ids) => ids,
            Selection::AllMatching { excluded } => excluded,
        };
        if !set.remove(id) {
            set.insert(id.clone());
        }
    }

    /// Ticks these rows (e.g. "select the visible page"), keeping the rest.
    pub fn select<'a>(&mut self, ids: impl IntoIterator<Item = &'a MachineId>) {
        for id in ids {
            match self {
                Selection::Rows(set) => {
                    set.insert(id.clone());
                }
                Selection::AllMatching { excluded } => {
                    excluded.remove(id);
                }
            }
        }
    }

    /// Selects every machine matching the filter.
    pub fn select_all_matching(&mut self) {
        *self = Selection::AllMatching {
            excluded: BTreeSet::new(),
        };
    }

    /// Selects nothing.
    pub fn clear(&mut self) {
        *self = Selection::default();
    }

    /// Whether the scope is "all matching".
    pub fn is_all_matching(&self) -> bool {
        matches!(self, Selection::AllMatching { .. })
    }

    /// How many of `matching` are selected.
    pub fn count(&self, matching: &[Machine]) -> usize {
        match self {
            // Rows picked from an older result that no longer match do not count.
            Selection::Rows(ids) => matching.iter().filter(|m| ids.contains(&m.id)).count(),
            Selection::AllMatching { excluded } => matching
                .iter()
                .filter(|m| !excluded.contains(&m.id))
                .count(),
        }
    }

    /// The selected machines among `matching`, in its order.
    pub fn pick<'a>(&self, matching: &'a [Machine]) -> Vec<&'a Machine> {
        matching.iter().filter(|m| self.contains(&m.id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machines(n: u32) -> Vec<Machine> {
        (1..=n)
            .map(|i| Machine::new(MachineId::parse(&format!("{i:040x}")).unwrap()))
            .collect()
    }

    #[test]
    fn rows_are_toggled_one_by_one() {
        let ms = machines(5);
        let mut s = Selection::default();
        assert_eq!(s.count(&ms), 0);
        s.toggle(&ms[1].id);
        s.toggle(&ms[3].id);
        assert_eq!(s.count(&ms), 2);
        s.toggle(&ms[1].id);
        assert_eq!(
            s.pick(&ms).iter().map(|m| &m.id).collect::<Vec<_>>(),
            vec![&ms[3].id]
        );
    }

    #[test]
    fn all_matching_counts_everything_minus_unticked_rows() {
        let ms = machines(20_000);
        let mut s = Selection::default();
        s.toggle(&ms[0].id);
        s.select_all_matching();
        assert!(s.is_all_matching());
        assert_eq!(s.count(&ms), 20_000);
        s.toggle(&ms[7].id);
        assert!(!s.contains(&ms[7].id));
        assert_eq!(s.count(&ms), 19_999);
        s.select([&ms[7].id]);
        assert_eq!(s.count(&ms), 20_000);
        s.clear();
        assert_eq!(s.count(&ms), 0);
    }

    #[test]
    fn stale_rows_outside_the_result_do_not_count() {
        let ms = machines(3);
        let other = Machine::new(MachineId::parse(&format!("{:040x}", 99)).unwrap());
        let mut s = Selection::default();
        s.select([&ms[0].id, &other.id]);
        assert_eq!(s.count(&ms), 1);
        assert_eq!(s.pick(&ms).len(), 1);
    }
}
