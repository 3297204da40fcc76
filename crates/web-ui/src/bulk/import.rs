//! Reading a pasted list or an uploaded CSV of machines (ids or computer names).
//!
//! Accepted shapes: one id or name per line; or CSV whose first row is a header naming the machine
//! column (`machine`, `id`, `machineId`, `name`, `computerDnsName`, `deviceName`, `deviceId`, any
//! case); without a header the first column is the machine. Other columns are ignored (the tag
//! and the action are chosen in the UI, for the whole list). Every problem names its 1-based line.
//! Blank lines are skipped; repeated machines are kept once and reported.
//!
//! Core's contract (`docs/design.md`) lists `import::parse_machine_list`, which does not exist
//! yet; this module stands in for it and can delegate once it lands.

use std::collections::HashMap;

use defender_tags_core::MachineRef;

/// At most this many rows are read: well above any tenant, low enough to keep the tab responsive.
pub const MAX_ROWS: usize = 200_000;

/// Header names that mark the machine column.
const MACHINE_HEADERS: [&str; 9] = [
    "machine",
    "machineid",
    "id",
    "name",
    "computer",
    "computername",
    "computerdnsname",
    "devicename",
    "deviceid",
];

/// One machine reference read from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// 1-based line in the input.
    pub line: usize,
    /// What the line names.
    pub machine: MachineRef,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based line in the input.
    pub line: usize,
    /// The text of the cell, as found (trimmed, shortened).
    pub text: String,
    /// Why, as a sentence.
    pub reason: String,
}

/// A line naming a machine an earlier line already named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// 1-based line of the repeat.
    pub line: usize,
    /// 1-based line that named it first.
    pub first_line: usize,
}

/// What came out of an input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportResult {
    /// Distinct machine references, in input order.
    pub rows: Vec<ImportRow>,
    /// Lines that could not be read.
    pub errors: Vec<ImportError>,
    /// Lines repeating an earlier machine (kept once).
    pub repeats: Vec<Repeat>,
    /// The header row's line, if the input had one.
    pub header_line: Option<usize>,
    /// True when the input was cut at [`MAX_ROWS`].
    pub truncated: bool,
}

fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() > MAX {
        s.chars().take(MAX).collect::<String>() + "\u{2026}"
    } else {
        s.to_owned()
    }
}

fn header_column(record: &csv::StringRecord) -> Option<usize> {
    record.iter().position(|cell| {
        let key: String = cell
            .trim()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        MACHINE_HEADERS.contains(&key.as_str())
    })
}

/// Parses `input` (a pasted list or a CSV file's text).
pub fn parse_machine_list(input: &str) -> ImportResult {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    // Pasted lists from spreadsheets use tabs; a CSV uses commas. A tab on the first line decides.
    let first_line = input.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delimiter = if first_line.contains('\t') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(input.as_bytes());

    // The csv crate's own line counter skips blank lines; count from byte offsets instead.
    let newlines: Vec<usize> = input
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let bytes = input.as_bytes();
    let line_at = |byte: u64| {
        // A record's position can be the start of the blank lines skipped before it.
        let mut at = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        newlines.partition_point(|&nl| nl < at) + 1
    };
    let mut result = ImportResult::default();
    let mut column = 0usize;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut first_record = true;
    let mut record = csv::StringRecord::new();
    loop {
        let line = line_at(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| line_at(p.byte()));
                result.errors.push(ImportError {
                    line,
                    text: String::new(),
                    reason: format!("This line is not valid CSV: {e}."),
                });
                // A broken quote swallows the rest of the input; stop rather than guess.
                if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    continue;
                }
                break;
            }
        }
        let line = record.position().map_or(line, |p| line_at(p.byte()));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if first_record {
            first_record = false;
            if let Some(c) = header_column(&record) {
                column = c;
                result.header_line = Some(line);
                continue;
            }
        }
        if result.rows.len() + result.errors.len() >= MAX_ROWS {
            result.truncated = true;
            break;
        }
        let cell = record.get(column).unwrap_or("").trim();
        if cell.is_empty() {
            result.errors.push(ImportError {
                line,
                text: String::new(),
                reason: format!("The machine column (column {}) is empty.", column + 1),
            });
            continue;
        }
        match MachineRef::parse(cell) {
            Ok(machine) => {
                let key = match &machine {
                    MachineRef::Id(id) => id.as_str().to_owned(),
                    MachineRef::Name(n) => n.to_lowercase(),
                };
                if let Some(&first_line) = seen.get(&key) {
                    result.repeats.push(Repeat { line, first_line });
                } else {
                    seen.insert(key, line);
                    result.rows.push(ImportRow { line, machine });
                }
            }
            Err(e) => result.errors.push(ImportError {
                line,
                text: shorten(cell),
                reason: capitalise(&e.to_string()),
            }),
        }
    }
    result
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_pasted_list_gives_one_row_per_line_and_skips_blanks() {
        let r = parse_machine_list(
            "web01\n\n  DB02.contoso.com  \r\n0123456789ABCDEF0123456789ABCDEF01234567\n",
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.header_line, None);
        let lines: Vec<usize> = r.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![1, 3, 4]);
        assert_eq!(r.rows[0].machine, MachineRef::Name("web01".into()));
        assert_eq!(
            r.rows[1].machine,
            MachineRef::Name("DB02.contoso.com".into())
        );
        assert!(matches!(&r.rows[2].machine, MachineRef::Id(id) if id.as_str() == ID));
    }

    #[test]
    fn a_csv_with_a_header_uses_the_named_column_and_numbers_bad_rows() {
        let input = "owner,computerDnsName,notes\nann,web01,x\nbob,,y\ncy,\"bad name\",z\ndee,web01,again\n";
        let r = parse_machine_list(input);
        assert_eq!(r.header_line, Some(1));
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].line, 2);
        assert_eq!(r.errors.len(), 2);
        assert_eq!(r.errors[0].line, 3);
        assert!(
            r.errors[0].reason.contains("column 2"),
            "{}",
            r.errors[0].reason
        );
        assert_eq!(r.errors[1].line, 4);
        assert_eq!(r.errors[1].text, "bad name");
        assert!(
            r.errors[1].reason.to_lowercase().contains("whitespace"),
            "{}",
            r.errors[1].reason
        );
        assert_eq!(
            r.repeats,
            vec![Repeat {
                line: 5,
                first_line: 2
            }]
        );
    }

    #[test]
    fn repeats_ignore_name_case_and_tabs_split_columns() {
        let r = parse_machine_list("Web01\tx\nWEB01\ty\n");
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.repeats.len(), 1);
        assert_eq!(r.rows[0].machine, MachineRef::Name("Web01".into()));
    }

    #[test]
    fn control_characters_and_long_names_are_refused_with_their_line() {
        let long = "a".repeat(300);
        let r = parse_machine_list(&format!("ok\nbad\u{7}name\n{long}\n"));
        assert_eq!(r.rows.len(), 1);
        assert_eq!(
            r.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(r.errors[1].text.ends_with('\u{2026}'));
    }

    #[test]
    fn an_unterminated_quote_is_reported_not_guessed() {
        let r = parse_machine_list("a\n\"b\nc\n");
        assert_eq!(r.rows.len(), 1);
        // csv reads the rest as one quoted field spanning lines: nothing after it is guessed.
        assert!(r.rows.iter().all(|row| row.machine.as_str() == "a"));
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_header() {
        let r = parse_machine_list("\u{feff}machineId\nweb01\n");
        assert_eq!(r.header_line, Some(1));
        assert_eq!(r.rows.len(), 1);
    }
}
