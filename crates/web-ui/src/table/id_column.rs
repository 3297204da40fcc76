//! Every loaded machine's id packed as its 20 bytes, for the search box's id-part search
//! (8+ hex characters, see `defender_tags_core::query::looks_in_ids`).
//!
//! Reading 100k ids where they lie (one heap string per machine) took 23–28 ms per keystroke
//! in the search benchmark; one contiguous 2 MB buffer scans in a few. Bytes rather than the
//! hex text keep the column at half the size (the 100k-machine memory goal has little room).
//! A hex part can start on either half of a byte, so each search looks for the whole bytes the
//! part spells from both starting points and then checks the half-bytes at its two ends.

use defender_tags_core::Machine;
use defender_tags_core::model::MACHINE_ID_LEN;
use memchr::memmem::Finder;

use super::MachineSet;

const ID_BYTES: usize = MACHINE_ID_LEN / 2;

/// Machine `i`'s id is `bytes[i * 20..(i + 1) * 20]`.
#[derive(Debug, Clone, Default)]
pub struct IdColumn {
    bytes: Vec<u8>,
}

impl IdColumn {
    pub(super) fn new(machines: &[Machine]) -> Self {
        let mut bytes = Vec::with_capacity(machines.len() * ID_BYTES);
        for m in machines {
            bytes.extend_from_slice(&m.id.to_bytes());
        }
        Self { bytes }
    }

    /// Adds to `hits` every machine whose id contains `part` (lowercase hex; anything else, or
    /// an empty part, matches nothing).
    pub fn mark_containing(&self, part: &str, hits: &mut MachineSet) {
        let Some(nibbles) = part
            .bytes()
            .map(|c| {
                char::from(c)
                    .to_digit(16)
                    .and_then(|d| u8::try_from(d).ok())
            })
            .collect::<Option<Vec<u8>>>()
        else {
            return;
        };
        if nibbles.is_empty()
            || nibbles.len() > MACHINE_ID_LEN
            || part.bytes().any(|c| c.is_ascii_uppercase())
        {
            return;
        }
        // `lead`: the part starts on the low half of a byte.
        for lead in [false, true] {
            let (first, body) = match (lead, nibbles.split_first()) {
                (true, Some((&n, rest))) => (Some(n), rest),
                _ => (None, nibbles.as_slice()),
            };
            let whole: Vec<u8> = body.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect();
            let last = (body.len() % 2 == 1).then(|| body[body.len() - 1]);
            if whole.is_empty() {
                self.mark_by_record(first, last, hits);
                continue;
            }
            let finder = Finder::new(&whole);
            let mut from = 0;
            // Overlapping occurrences count (one may fail the end checks and the next pass),
            // so the search resumes one byte after each hit.
            while let Some(at) = self.bytes.get(from..).and_then(|hay| finder.find(hay)) {
                let pos = from + at;
                from = pos + 1;
                let record = pos / ID_BYTES;
                let record_end = (record + 1) * ID_BYTES;
                let end = pos + whole.len();
                let starts = first
                    .is_none_or(|n| pos > record * ID_BYTES && self.bytes[pos - 1] & 0x0f == n);
                let ends = match last {
                    None => end <= record_end,
                    Some(n) => end < record_end && self.bytes[end] >> 4 == n,
                };
                if starts && ends {
                    hits.insert(record);
                }
            }
        }
    }

    /// A part of at most two hex characters that spells no whole byte at this alignment: test
    /// each id's neighbouring half-bytes.
    fn mark_by_record(&self, first: Option<u8>, last: Option<u8>, hits: &mut MachineSet) {
        for (record, id) in self.bytes.chunks_exact(ID_BYTES).enumerate() {
            let found = match (first, last) {
                (Some(a), Some(b)) => id.windows(2).any(|w| w[0] & 0x0f == a && w[1] >> 4 == b),
                (Some(a), None) => id.iter().any(|x| x & 0x0f == a),
                (None, Some(b)) => id.iter().any(|x| x >> 4 == b),
                (None, None) => false,
            };
            if found {
                hits.insert(record);
            }
        }
    }
}

// Two attributes, not `all(test, ...)`: clippy's allow-unwrap-in-tests only recognises a
// plain `cfg(test)` module.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use defender_tags_core::MachineId;
    use proptest::prelude::*;

    fn column(ids: &[String]) -> IdColumn {
        let machines: Vec<Machine> = ids
            .iter()
            .map(|i| Machine::new(MachineId::parse(i).unwrap()))
            .collect();
        IdColumn::new(&machines)
    }

    fn marked(col: &IdColumn, part: &str) -> Vec<usize> {
        let len = col.bytes.len() / ID_BYTES;
        let mut hits = MachineSet::empty(len);
        col.mark_containing(part, &mut hits);
        (0..len).filter(|&i| hits.contains(i)).collect()
    }

    #[test]
    fn finds_a_part_on_either_half_of_a_byte_and_not_across_two_ids() {
        let ids = vec![
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
            "fedcba9876543210fedcba9876543210fedcba98".to_owned(),
        ];
        let col = column(&ids);
        assert_eq!(col.bytes.len(), 40);
        assert_eq!(marked(&col, "23456789"), vec![0]);
        assert_eq!(marked(&col, "3456789a"), vec![0]);
        assert_eq!(marked(&col, "456789abc"), vec![0]);
        assert_eq!(marked(&col, "56789abcd"), vec![0]);
        assert_eq!(marked(&col, "76543210"), vec![1]);
        assert_eq!(marked(&col, "0123"), vec![0]);
        assert_eq!(marked(&col, "10fed"), vec![1]);
        assert_eq!(marked(&col, "7"), vec![0, 1]);
        assert_eq!(marked(&col, "98"), vec![1]);
        // The end of the first id and the start of the second are not one id.
        assert_eq!(marked(&col, "34567fed"), Vec::<usize>::new());
        assert_eq!(marked(&col, "4567fedc"), Vec::<usize>::new());
        // A whole id, and one character more than an id holds.
        assert_eq!(marked(&col, &ids[1]), vec![1]);
        assert_eq!(marked(&col, &format!("{}0", ids[1])), Vec::<usize>::new());
        // Not lowercase hex: nothing.
        assert_eq!(marked(&col, "0123456G"), Vec::<usize>::new());
        assert_eq!(marked(&col, "ABCDEF01"), Vec::<usize>::new());
        assert_eq!(marked(&col, ""), Vec::<usize>::new());
    }

    proptest! {
        #[test]
        fn marking_equals_substring_search(
            ids in proptest::collection::vec("[0-9a-c]{40}", 1..12),
            pick in 0usize..12,
            start in 0usize..40,
            len in 1usize..41,
            other in "[0-9a-c]{1,12}",
        ) {
            let col = column(&ids);
            let id = &ids[pick % ids.len()];
            let start = start.min(39);
            let taken = &id[start..(start + len).min(40)];
            for part in [taken, other.as_str()] {
                let want: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].contains(part)).collect();
                prop_assert_eq!(marked(&col, part), want, "{}", part);
            }
        }
    }
}
