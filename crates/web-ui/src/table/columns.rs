//! Pre-folded text columns of a listing, scanned per keystroke instead of the machines.
//!
//! Each column is one packed buffer, so a search over a large result can scan the whole buffer
//! once with a prebuilt substring searcher ([`memchr::memmem::Finder`]) and mark the machines it
//! hits ([`MachineSet`]), instead of testing each candidate's value where it lies (in sorted
//! order, a jump through memory per machine).

use defender_tags_core::Machine;
use defender_tags_core::query::{addresses, canonical_ip};
use memchr::memmem::Finder;

/// A set of machine indices of one listing, one bit each (100k machines: 12.5 KB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSet {
    words: Vec<u64>,
}

impl MachineSet {
    /// The empty set over `len` machines.
    pub fn empty(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// Adds machine `index` (ignored when out of range).
    pub fn insert(&mut self, index: usize) {
        if let Some(w) = self.words.get_mut(index / 64) {
            *w |= 1 << (index % 64);
        }
    }

    /// Whether machine `index` is in the set.
    pub fn contains(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }
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
    pub(super) fn new<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Self {
        let mut column = Self::default();
        for v in values {
            column.push_folded(v.unwrap_or(""));
        }
        column.text.shrink_to_fit();
        column
    }

    /// Appends `value` folded as core's `fold` folds it, without a temporary string: ASCII (nearly
    /// every name and address) in place, anything else char by char.
    fn push_folded(&mut self, value: &str) {
        if value.is_ascii() {
            let start = self.text.len();
            self.text.push_str(value);
            if let Some(added) = self.text.get_mut(start..) {
                added.make_ascii_lowercase();
            }
        } else {
            self.text.extend(value.chars().flat_map(char::to_lowercase));
        }
        self.end_value();
    }

    /// Appends `value` as it is (already canonical).
    fn push_as_is(&mut self, value: &str) {
        self.text.push_str(value);
        self.end_value();
    }

    fn end_value(&mut self) {
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// Start offset in the buffer of value `index`.
    fn start(&self, index: usize) -> usize {
        index
            .checked_sub(1)
            .and_then(|prev| self.ends.get(prev))
            .map_or(0, |&e| e as usize)
    }

    /// Calls `hit` with the index of every value that contains `finder`'s needle, in ascending
    /// order, each at most once: one pass over the packed
    /// buffer. A match that runs across the end of a value is not one (values are packed with
    /// no separator), so the search goes on from the next byte.
    pub fn scan(&self, finder: &Finder<'_>, mut hit: impl FnMut(usize)) {
        let hay = self.text.as_bytes();
        let len = finder.needle().len();
        let mut value = 0usize;
        let mut pos = 0usize;
        while pos <= hay.len() {
            let Some(found) = finder.find(&hay[pos..]).map(|o| o + pos) else {
                return;
            };
            // The value the match starts in (ends ascend; matches only move forward).
            while self.ends.get(value).is_some_and(|&e| e as usize <= found) {
                value += 1;
            }
            let Some(&end) = self.ends.get(value) else {
                return;
            };
            let end = end as usize;
            if found + len <= end {
                hit(value);
                pos = end;
                value += 1;
            } else {
                pos = found + 1;
            }
        }
    }

    /// Calls `f` with each value's index and bytes, in storage order: a straight walk over the
    /// packed buffer (one bounds check per value, no lookups).
    pub fn for_each(&self, mut f: impl FnMut(usize, &[u8])) {
        let text = self.text.as_bytes();
        let mut start = 0usize;
        for (i, &end) in self.ends.iter().enumerate() {
            let end = end as usize;
            f(i, text.get(start..end).unwrap_or_default());
            start = end;
        }
    }

    /// The folded value at `index` (empty when missing or out of range).
    pub fn get(&self, index: usize) -> &str {
        let end = self.ends.get(index).map_or(0, |&e| e as usize);
        self.text.get(self.start(index)..end).unwrap_or("")
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
    pub(super) fn new(machines: &[Machine]) -> Self {
        let mut column = Self::default();
        for m in machines {
            for a in addresses(m) {
                // Without a colon an address is IPv4 or not an address: a valid IPv4 address
                // is its own canonical and folded form, so only IPv6 needs parsing here.
                match a.contains(':').then(|| canonical_ip(a)).flatten() {
                    Some(c) => column.values.push_as_is(&c),
                    None => column.values.push_folded(a),
                }
            }
            column
                .machine_ends
                .push(u32::try_from(column.values.ends.len()).unwrap_or(u32::MAX));
        }
        column.values.text.shrink_to_fit();
        column
    }

    /// The machines with an address that starts with `prefix` (`exact`: that equals it), by one
    /// pass over every stored address in storage order. A plain comparison per address, not a
    /// substring searcher: only a match at an address's start counts, and addresses are short.
    pub fn machines_with(&self, prefix: &str, exact: bool) -> MachineSet {
        let mut set = MachineSet::empty(self.machine_ends.len());
        let p = prefix.as_bytes();
        let mut machine = 0usize;
        self.values.for_each(|v, a| {
            // The machine this address belongs to (machine ends ascend with the values).
            while self
                .machine_ends
                .get(machine)
                .is_some_and(|&e| e as usize <= v)
            {
                machine += 1;
            }
            let hit = if exact { a == p } else { a.starts_with(p) };
            if hit {
                set.insert(machine);
            }
        });
        set
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn column(values: &[String]) -> FoldedColumn {
        FoldedColumn::new(values.iter().map(|v| Some(v.as_str())))
    }

    fn scanned(col: &FoldedColumn, needle: &str) -> Vec<usize> {
        let mut hits = Vec::new();
        col.scan(&Finder::new(needle.as_bytes()), |i| hits.push(i));
        hits
    }

    #[test]
    fn a_match_across_two_values_is_not_a_match() {
        let col = column(&["ab".into(), "cd".into(), "".into(), "bc".into()]);
        assert_eq!(scanned(&col, "bc"), vec![3]);
        assert_eq!(scanned(&col, "c"), vec![1, 3]);
        assert!(scanned(&col, "dbc").is_empty());
    }

    proptest! {
        /// One pass over the packed buffer finds exactly the values a per-value test finds,
        /// in order, each once: values with no separator between them, empty values, repeats.
        #[test]
        fn scanning_equals_testing_each_value(
            values in proptest::collection::vec("[ab.1\u{212A}-]{0,6}", 0..40),
            needle in "[ab.1k-]{1,3}",
        ) {
            let col = column(&values);
            let want: Vec<usize> = (0..values.len())
                .filter(|&i| col.get(i).contains(&needle))
                .collect();
            prop_assert_eq!(scanned(&col, &needle), want);
        }

        /// Each stored value is core's `fold` of it, whichever path (ASCII or not) folded it.
        #[test]
        fn stored_values_are_cores_fold(values in proptest::collection::vec("(?s).{0,8}", 0..20)) {
            let col = column(&values);
            for (i, v) in values.iter().enumerate() {
                prop_assert_eq!(col.get(i), defender_tags_core::query::fold(v));
            }
        }
    }
}
