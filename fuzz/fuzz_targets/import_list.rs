//! Pasted lists and CSV imports: never a panic; every row, error and duplicate names a real,
//! non-blank, non-comment line, no line is reported twice, rows keep their order, and what is
//! accepted is already validated (ids, names and tags parse back to themselves). An input
//! refused as a whole names a limit it really breaks.
#![no_main]

use std::collections::HashSet;

use defender_tags_core::model::MachineRef;
use defender_tags_core::import::MAX_IMPORT_CELL_CHARS;
use defender_tags_core::{ImportRefused, Tag, parse_machine_list};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_machine_list(text);
    assert_eq!(parsed, parse_machine_list(text), "parsing is deterministic");
    let result = match parsed {
        Ok(result) => result,
        // Fuzz inputs are far below the size and row limits; only a long cell can refuse one.
        Err(ImportRefused::CellTooLong { chars, max, .. }) => {
            assert!(chars > max && max == MAX_IMPORT_CELL_CHARS);
            return;
        }
        Err(e) => panic!("refused below the limits: {e}"),
    };

    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = body.lines().collect();
    let real_line = |row: usize| {
        row >= 1
            && lines
                .get(row - 1)
                .is_some_and(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
    };
    let mut reported = HashSet::new();
    let mut last = 0;
    for r in &result.rows {
        assert!(real_line(r.row), "row {} is not a content line", r.row);
        assert!(r.row > last, "rows out of order");
        last = r.row;
        assert!(reported.insert(r.row), "line {} reported twice", r.row);
        assert_eq!(
            MachineRef::parse(r.machine.as_str()).as_ref(),
            Ok(&r.machine)
        );
        if let Some(tag) = &r.tag {
            assert_eq!(Tag::parse(tag.as_str()).as_ref(), Ok(tag));
        }
    }
    for e in &result.errors {
        assert!(
            real_line(e.row),
            "error row {} is not a content line: {e}",
            e.row
        );
        assert!(reported.insert(e.row), "line {} reported twice", e.row);
        assert!(e.to_string().starts_with(&format!("row {}: ", e.row)));
    }
    for d in &result.duplicates {
        assert!(
            real_line(d.row) && d.first_row < d.row,
            "duplicate {} of {}",
            d.row,
            d.first_row
        );
        assert!(reported.insert(d.row), "line {} reported twice", d.row);
        assert!(
            result.rows.iter().any(|r| r.row == d.first_row),
            "a duplicate points at a kept row"
        );
    }
    let ids = result.machine_ids();
    assert_eq!(ids.len(), ids.iter().collect::<HashSet<_>>().len());
});
