//! The one-reader parser against the previous reader-per-line parser, kept here as the
//! reference: same rows, errors, duplicates and format on any input. The two differ in how a line
//! becomes cells; what cells become (`Collector`) is shared.

use std::fmt::Write;

use proptest::prelude::*;

use super::*;

/// The previous `parse_machine_list`'s line reading, verbatim but for its name and the limits
/// (the inputs here are far below them; `limits` holds the parser to them): a new `csv::Reader`
/// per line.
fn reference(input: &str) -> ImportResult {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let delimiter = detect_delimiter(input);
    let mut builder = csv::ReaderBuilder::new();
    builder
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .buffer_capacity(1024)
        .delimiter(delimiter.unwrap_or(b','));

    let mut rows = Collector::new(delimiter);

    for (index, line) in input.lines().enumerate() {
        let row = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut record = csv::StringRecord::new();
        let mut reader = builder.from_reader(line.as_bytes());
        let read = reader.read_record(&mut record);
        let mut rest = csv::StringRecord::new();
        if matches!(read, Ok(true)) && matches!(reader.read_record(&mut rest), Ok(true)) {
            rows.error(row, ImportErrorKind::LineBreakInRow);
            continue;
        }
        match read {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                rows.error(
                    row,
                    ImportErrorKind::Csv {
                        message: e.to_string(),
                    },
                );
                continue;
            }
        }
        let cells: Vec<&str> = record.iter().collect();
        rows.take(row, &cells);
    }
    rows.result
}

/// Pieces that reach every branch: ids, names, headers, tags, actions, separators, quotes,
/// comments, carriage returns, Unicode whitespace, a BOM, control characters.
const PIECES: &[&str] = &[
    "1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
    "2A398439B4975924E87A65943972BC702469B329",
    "ws-01",
    "WS-01",
    "fin-lt-0001.contoso.com",
    "bad name",
    "Finance",
    "Finance, EU",
    "add",
    "Remove",
    "delete",
    "machine",
    "Device ID",
    "Device Name",
    "computerDnsName",
    "owner",
    "tag",
    "Tags",
    "action",
    ",",
    ",",
    ";",
    "\t",
    "\"",
    "\"\"",
    "\n",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\u{a0}",
    "\u{feff}",
    "#",
    "\u{1}",
    "é",
];

fn pieces() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..48).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn one_reader_agrees_with_a_reader_per_line(text in pieces()) {
        prop_assert_eq!(parse_machine_list(&text).unwrap(), reference(&text));
    }

    #[test]
    fn one_reader_agrees_on_any_text(text in any::<String>()) {
        prop_assert_eq!(parse_machine_list(&text).unwrap(), reference(&text));
    }
}

#[test]
fn the_reference_and_the_parser_see_the_tricky_lines_alike() {
    // An open quote ends with its line; a quote after leading spaces; a split row; a comment
    // after spaces; a header after comments and blank lines.
    let text = "# list\n\n  Device Name ;Tag\n\"ws-01;Finance\nws-02;\"Lab\n  \"ws-03\" ; x\nws-04\rws-05;t\n   # note\nws-06;\"a\"\"b\"\n";
    let r = parse_machine_list(text).unwrap();
    assert_eq!(r, reference(text));
    assert!(r.format.header);
    assert_eq!(r.format.delimiter, Some(';'));
    let rows: Vec<(usize, &str)> = r.rows.iter().map(|r| (r.row, r.machine.as_str())).collect();
    assert_eq!(
        rows,
        vec![
            (4, "ws-01;Finance"),
            (5, "ws-02"),
            (6, "ws-03"),
            (9, "ws-06")
        ]
    );
    assert_eq!(r.rows[1].tag.as_ref().map(Tag::as_str), Some("Lab"));
    assert_eq!(r.rows[3].tag.as_ref().map(Tag::as_str), Some("a\"b"));
    assert_eq!(r.errors.len(), 1);
    assert_eq!(
        (r.errors[0].row, &r.errors[0].kind),
        (7, &ImportErrorKind::LineBreakInRow)
    );
}

#[test]
fn a_hundred_thousand_lines_parse_with_their_line_numbers() {
    // The limit exactly, after a header, a comment and a blank line, with a repeat at the end.
    let mut text = String::from("Device ID,owner,notes\n# export\n\n");
    for i in 0..MAX_IMPORT_ROWS as u64 - 2 {
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        writeln!(text, "{h:016x}{:016x}{i:08x},someone,n{i}", h ^ 0xdead_beef).unwrap();
    }
    let first = text.lines().nth(3).unwrap().to_owned();
    writeln!(text, "{first}").unwrap();
    let r = parse_machine_list(&text).unwrap();
    assert!(r.format.header);
    assert_eq!(r.errors, vec![]);
    assert_eq!(r.rows.len(), MAX_IMPORT_ROWS - 2);
    assert_eq!(r.rows[0].row, 4);
    assert_eq!(r.rows.last().map(|r| r.row), Some(MAX_IMPORT_ROWS + 1));
    assert!(
        r.rows
            .iter()
            .all(|r| matches!(r.machine, MachineRef::Id(_)))
    );
    assert_eq!(
        r.duplicates,
        vec![Duplicate {
            row: MAX_IMPORT_ROWS + 2,
            first_row: 4,
            machine: r.rows[0].machine.clone(),
        }]
    );
    assert_eq!(r.machine_ids().len(), MAX_IMPORT_ROWS - 2);

    // One content row more refuses the whole input: half a list is never imported as the list.
    writeln!(text, "ws-over").unwrap();
    assert_eq!(
        parse_machine_list(&text),
        Err(ImportRefused::TooManyRows {
            max: MAX_IMPORT_ROWS,
            row: MAX_IMPORT_ROWS + 3,
        })
    );
}
