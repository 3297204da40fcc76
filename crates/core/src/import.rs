//! Machine lists from pasted text or CSV: one id or computer name per line, or columns
//! `machine,tag,action` (optional header; a header may name its columns in any order and carry
//! extra ones, e.g. a portal export with "Device ID" and "Device Name").
//!
//! Blank lines and lines starting with `#` are skipped. Every problem is reported with its
//! 1-based line number and nothing is dropped silently: a bad row becomes an error, a repeated
//! row a duplicate, and all good rows are kept.

use std::collections::HashMap;

use thiserror::Error;

use crate::model::{
    MachineId, MachineRef, MachineRefError, Tag, TagAction, TagActionError, TagError,
};

/// Most rows read from one input; more is reported as an error on the first row past it.
pub const MAX_IMPORT_ROWS: usize = 100_000;

/// One good row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// 1-based line number in the input.
    pub row: usize,
    /// The machine (id when it is 40 hex characters, else computer name).
    pub machine: MachineRef,
    /// The tag column, when present and non-empty.
    pub tag: Option<Tag>,
    /// The action column, when present and non-empty.
    pub action: Option<TagAction>,
}

/// Why a row was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ImportErrorKind {
    /// The machine cell is not an id or computer name.
    #[error("machine: {0}")]
    Machine(#[from] MachineRefError),
    /// The tag cell is not a valid tag.
    #[error("tag: {0}")]
    Tag(#[from] TagError),
    /// The action cell is not Add/Remove.
    #[error("action: {0}")]
    Action(#[from] TagActionError),
    /// The machine cell is empty but others are not.
    #[error("the machine column is empty; put a machine id or computer name first")]
    MissingMachine,
    /// An action without a tag.
    #[error("an action is given without a tag; fill in the tag column")]
    ActionWithoutTag,
    /// More columns than `machine,tag,action` (without a header naming them).
    #[error(
        "{found} columns; expected at most {max} (machine,tag,action), or add a header row \
         naming the columns"
    )]
    TooManyColumns {
        /// Columns found.
        found: usize,
        /// Columns allowed.
        max: usize,
    },
    /// A carriage return inside the line (old Mac line endings), which would split the row.
    #[error(
        "the row contains a carriage return that splits it; save the file with normal \
         line endings"
    )]
    LineBreakInRow,
    /// The CSV reader could not read the row (e.g. a broken quote).
    #[error("unreadable CSV: {message}")]
    Csv {
        /// The reader's message.
        message: String,
    },
    /// The input has more rows than [`MAX_IMPORT_ROWS`].
    #[error("too many rows; the limit is {max}, split the file")]
    TooManyRows {
        /// The limit.
        max: usize,
    },
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("row {row}: {kind}")]
pub struct ImportError {
    /// 1-based line number.
    pub row: usize,
    /// Why.
    pub kind: ImportErrorKind,
}

/// A row that repeats an earlier one (same machine, tag and action); it is not in `rows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// 1-based line number of the repeat.
    pub row: usize,
    /// 1-based line number of the first occurrence.
    pub first_row: usize,
    /// The machine.
    pub machine: MachineRef,
}

/// How the input was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportFormat {
    /// The column separator found (`,`, `;` or tab), `None` for one machine per line.
    pub delimiter: Option<char>,
    /// Whether the first row was a header.
    pub header: bool,
}

/// Everything read from an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportResult {
    /// Good, distinct rows, in input order.
    pub rows: Vec<ImportRow>,
    /// Rejected rows.
    pub errors: Vec<ImportError>,
    /// Repeated rows (not in `rows`).
    pub duplicates: Vec<Duplicate>,
    /// How the input was read.
    pub format: ImportFormat,
}

impl ImportResult {
    /// Whether every row was good and distinct.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty() && self.duplicates.is_empty()
    }

    /// The distinct machine ids among the rows.
    pub fn machine_ids(&self) -> Vec<MachineId> {
        let mut seen = std::collections::HashSet::new();
        self.rows
            .iter()
            .filter_map(|r| match &r.machine {
                MachineRef::Id(id) if seen.insert(id.clone()) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// The distinct computer names among the rows (to resolve with get machine).
    pub fn computer_names(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.rows
            .iter()
            .filter_map(|r| match &r.machine {
                MachineRef::Name(n) if seen.insert(n.to_ascii_lowercase()) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }
}

const MACHINE_ID_HEADERS: &[&str] = &["machineid", "deviceid", "id"];
const MACHINE_NAME_HEADERS: &[&str] = &[
    "machine",
    "computer",
    "computername",
    "computerdnsname",
    "device",
    "devicename",
    "name",
    "host",
    "hostname",
];
// Not "tags": in portal exports that column lists a machine's current tags, not one to apply.
const TAG_HEADERS: &[&str] = &["tag", "value", "machinetag", "devicetag"];
const ACTION_HEADERS: &[&str] = &["action"];

fn header_key(cell: &str) -> String {
    cell.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

struct Columns {
    machine: usize,
    tag: Option<usize>,
    action: Option<usize>,
    /// Whether extra columns are allowed (a header named them).
    extra_ok: bool,
}

fn header_columns(cells: &[&str]) -> Option<Columns> {
    let keys: Vec<String> = cells.iter().map(|c| header_key(c)).collect();
    let find = |names: &[&str]| keys.iter().position(|k| names.contains(&k.as_str()));
    // Prefer an id column over a name column (portal exports carry both).
    let machine = find(MACHINE_ID_HEADERS).or_else(|| find(MACHINE_NAME_HEADERS))?;
    let tag = find(TAG_HEADERS);
    let action = find(ACTION_HEADERS);
    // "device,Finance" is a machine named "device" tagged Finance, not a header: with two or
    // three cells, a header must name another known column too.
    let known_others = keys.iter().enumerate().filter(|(i, k)| {
        *i != machine
            && (TAG_HEADERS.contains(&k.as_str())
                || ACTION_HEADERS.contains(&k.as_str())
                || MACHINE_ID_HEADERS.contains(&k.as_str())
                || MACHINE_NAME_HEADERS.contains(&k.as_str()))
    });
    if (2..=3).contains(&cells.len()) && known_others.count() == 0 {
        return None;
    }
    Some(Columns {
        machine,
        tag,
        action,
        extra_ok: true,
    })
}

fn detect_delimiter(input: &str) -> Option<u8> {
    let content = input
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let mut found = None;
    for line in content {
        if line.contains(',') {
            return Some(b',');
        }
        if found.is_none() {
            if line.contains('\t') {
                found = Some(b'\t');
            } else if line.contains(';') {
                found = Some(b';');
            }
        }
    }
    found
}

/// Reads a machine list. Never fails as a whole: see [`ImportResult`].
///
/// Lines are read one at a time (each through the `csv` reader, for quoting), which gives exact
/// line numbers; a quoted field cannot span lines, which costs nothing since neither names nor
/// tags may contain line breaks. Cells are trimmed, so `ws-01, Finance` works.
pub fn parse_machine_list(input: &str) -> ImportResult {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let delimiter = detect_delimiter(input);
    let mut builder = csv::ReaderBuilder::new();
    builder
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .buffer_capacity(1024)
        .delimiter(delimiter.unwrap_or(b','));

    let mut result = ImportResult {
        rows: Vec::new(),
        errors: Vec::new(),
        duplicates: Vec::new(),
        format: ImportFormat {
            delimiter: delimiter.map(char::from),
            header: false,
        },
    };
    let mut columns: Option<Columns> = None;
    let mut first_seen: HashMap<(String, Option<Tag>, Option<TagAction>), usize> = HashMap::new();
    let mut count = 0usize;

    for (index, line) in input.lines().enumerate() {
        let row = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        if count > MAX_IMPORT_ROWS {
            result.errors.push(ImportError {
                row,
                kind: ImportErrorKind::TooManyRows {
                    max: MAX_IMPORT_ROWS,
                },
            });
            break;
        }
        let mut record = csv::StringRecord::new();
        let mut reader = builder.from_reader(line.as_bytes());
        let read = reader.read_record(&mut record);
        // A lone carriage return ends a CSV record; never drop what follows it on the line.
        let mut rest = csv::StringRecord::new();
        if matches!(read, Ok(true)) && matches!(reader.read_record(&mut rest), Ok(true)) {
            result.errors.push(ImportError {
                row,
                kind: ImportErrorKind::LineBreakInRow,
            });
            continue;
        }
        match read {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                result.errors.push(ImportError {
                    row,
                    kind: ImportErrorKind::Csv {
                        message: e.to_string(),
                    },
                });
                continue;
            }
        }
        let cells: Vec<&str> = record.iter().collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        let cols = match &columns {
            Some(c) => c,
            None => {
                let detected = if MachineId::looks_like_id(cells[0]) {
                    None
                } else {
                    header_columns(&cells)
                };
                match detected {
                    Some(h) => {
                        result.format.header = true;
                        columns = Some(h);
                        continue;
                    }
                    None => columns.insert(Columns {
                        machine: 0,
                        tag: Some(1),
                        action: Some(2),
                        extra_ok: false,
                    }),
                }
            }
        };
        match read_row(row, &cells, cols) {
            Ok(parsed) => {
                let key_machine = match &parsed.machine {
                    MachineRef::Id(id) => id.as_str().to_owned(),
                    MachineRef::Name(n) => n.to_lowercase(),
                };
                let key = (key_machine, parsed.tag.clone(), parsed.action);
                if let Some(&first_row) = first_seen.get(&key) {
                    result.duplicates.push(Duplicate {
                        row,
                        first_row,
                        machine: parsed.machine,
                    });
                } else {
                    first_seen.insert(key, row);
                    result.rows.push(parsed);
                }
            }
            Err(kind) => result.errors.push(ImportError { row, kind }),
        }
    }
    result
}

fn read_row(row: usize, cells: &[&str], cols: &Columns) -> Result<ImportRow, ImportErrorKind> {
    if !cols.extra_ok && cells.len() > 3 {
        return Err(ImportErrorKind::TooManyColumns {
            found: cells.len(),
            max: 3,
        });
    }
    let cell = |i: Option<usize>| {
        i.and_then(|i| cells.get(i))
            .copied()
            .filter(|c| !c.is_empty())
    };
    let machine = cell(Some(cols.machine)).ok_or(ImportErrorKind::MissingMachine)?;
    let machine = MachineRef::parse(machine)?;
    let tag = cell(cols.tag).map(Tag::parse).transpose()?;
    let action = cell(cols.action).map(str::parse::<TagAction>).transpose()?;
    if action.is_some() && tag.is_none() {
        return Err(ImportErrorKind::ActionWithoutTag);
    }
    Ok(ImportRow {
        row,
        machine,
        tag,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07";

    #[test]
    fn pasted_lines_with_comments_and_blanks() {
        let text = format!(
            "# my list\n\n{ID}\n  ws-01.contoso.com  \n   \n# end\n{}\n",
            ID.to_uppercase()
        );
        let r = parse_machine_list(&text);
        assert_eq!(r.format.delimiter, None);
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].row, 3);
        assert!(matches!(r.rows[0].machine, MachineRef::Id(_)));
        assert_eq!(
            r.rows[1].machine,
            MachineRef::Name("ws-01.contoso.com".into())
        );
        assert_eq!(
            r.duplicates,
            vec![Duplicate {
                row: 7,
                first_row: 3,
                machine: r.rows[0].machine.clone()
            }]
        );
        assert!(r.errors.is_empty());
    }

    #[test]
    fn csv_with_header_in_any_order_and_quoted_tags() {
        let text = format!(
            "Action,Device Name,Tag,Extra\nadd,ws-01,\"Finance, EU\",x\nRemove,{ID},VIP,y\n"
        );
        let r = parse_machine_list(&text);
        assert!(r.format.header);
        assert_eq!(r.errors, vec![]);
        assert_eq!(r.rows[0].tag.as_ref().map(Tag::as_str), Some("Finance, EU"));
        assert_eq!(r.rows[0].action, Some(TagAction::Add));
        assert_eq!(r.rows[1].row, 3);
        assert_eq!(r.rows[1].action, Some(TagAction::Remove));
    }

    #[test]
    fn each_bad_row_names_its_line_and_reason() {
        let text = format!(
            "{ID},ok\nbad name,t\n,t\n{ID},t,delete\n{ID},,Add\n{ID},{}\nws,a,Add,extra\n",
            "x".repeat(201)
        );
        let r = parse_machine_list(&text);
        let rows: Vec<usize> = r.errors.iter().map(|e| e.row).collect();
        assert_eq!(rows, vec![2, 3, 4, 5, 6, 7]);
        let kinds: Vec<&ImportErrorKind> = r.errors.iter().map(|e| &e.kind).collect();
        assert!(matches!(
            kinds[0],
            ImportErrorKind::Machine(MachineRefError::Whitespace { .. })
        ));
        assert!(matches!(kinds[1], ImportErrorKind::MissingMachine));
        assert!(matches!(kinds[2], ImportErrorKind::Action(_)));
        assert!(matches!(kinds[3], ImportErrorKind::ActionWithoutTag));
        assert!(matches!(
            kinds[4],
            ImportErrorKind::Tag(TagError::TooLong { chars: 201, .. })
        ));
        assert!(matches!(
            kinds[5],
            ImportErrorKind::TooManyColumns { found: 4, max: 3 }
        ));
        let msg = r.errors[2].to_string();
        assert!(
            msg.starts_with("row 4: action:") && msg.contains("\"delete\""),
            "{msg}"
        );
        assert_eq!(r.rows.len(), 1);
    }

    #[test]
    fn semicolon_and_tab_separated_exports() {
        let r = parse_machine_list("ws-01;Finance\nws-02;Lab\n");
        assert_eq!(r.format.delimiter, Some(';'));
        assert_eq!(r.rows[1].tag.as_ref().map(Tag::as_str), Some("Lab"));
        let r = parse_machine_list("\u{feff}ws-01\tFinance\n");
        assert_eq!(r.format.delimiter, Some('\t'));
        assert_eq!(r.rows.len(), 1);
    }

    #[test]
    fn a_carriage_return_inside_a_line_is_reported_not_dropped() {
        let r = parse_machine_list("ws-01\rws-02\nws-03\r\n");
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].row, 2);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].row, 1);
        assert!(r.errors[0].to_string().contains("carriage return"));
    }
}
