//! Pre-folded text columns of a listing, scanned per keystroke instead of the machines.

use defender_tags_core::Machine;
use defender_tags_core::query::{addresses, canonical_ip};

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
    pub(super) fn new(machines: &[Machine]) -> Self {
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
