//! Machine lists from pasted text or CSV: one id or computer name per line, or columns
//! `machine,tag,action` (optional header; a header may name its columns in any order and carry
//! extra ones, e.g. a portal export with "Device ID" and "Device Name").
//!
//! Blank lines and lines starting with `#` are skipped. Every problem is reported with its
//! 1-based line number and nothing is dropped silently: a bad row becomes an error, a repeated
//! row a duplicate, and all good rows are kept.
//!
//! An input past the [`ImportLimits`] (size, rows, cell length) is refused as a whole
//! ([`ImportRefused`]): half of an oversized list must never be planned as if it were the list,
//! and reading one must not freeze the page.

mod header;

use std::collections::HashMap;
use std::io;

use thiserror::Error;

use crate::model::{
    MachineId, MachineRef, MachineRefError, Tag, TagAction, TagActionError, TagError,
};

use header::{Columns, header_columns};

/// Most content rows (not blank, not `#` comments) in one input.
pub const MAX_IMPORT_ROWS: usize = 100_000;
/// Largest input, in bytes of UTF-8 (a file is checked by its size before it is read): a
/// 100,000-machine portal export with a few extra columns stays well under it.
pub const MAX_IMPORT_BYTES: u64 = 32 * 1024 * 1024;
/// Longest cell, in characters: far above any machine name (255) or tag (200), so only a
/// runaway cell (a quote never closed in a generated file, binary data) reaches it.
pub const MAX_IMPORT_CELL_CHARS: usize = 4096;

/// The bounds an import is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Largest input, in bytes.
    pub bytes: u64,
    /// Most content rows.
    pub rows: usize,
    /// Longest cell, in characters.
    pub cell_chars: usize,
}

impl ImportLimits {
    /// The product's limits.
    pub const DEFAULT: Self = Self {
        bytes: MAX_IMPORT_BYTES,
        rows: MAX_IMPORT_ROWS,
        cell_chars: MAX_IMPORT_CELL_CHARS,
    };
}

/// Why a whole input was refused; nothing of it is imported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ImportRefused {
    /// The input is larger than [`ImportLimits::bytes`].
    #[error(
        "the file is {} (limit {}); split it into smaller files. Nothing was imported",
        megabytes(*bytes),
        megabytes(*max)
    )]
    TooLarge {
        /// The input's size in bytes.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// More content rows than [`ImportLimits::rows`].
    #[error(
        "more than {max} rows (row {row} is past the limit); split the list. Nothing was \
         imported"
    )]
    TooManyRows {
        /// The limit.
        max: usize,
        /// 1-based line number of the first row past it.
        row: usize,
    },
    /// A cell longer than [`ImportLimits::cell_chars`].
    #[error(
        "row {row}, column {column}: a cell of {chars} characters (limit {max}); check the \
         file's quotes and columns. Nothing was imported"
    )]
    CellTooLong {
        /// 1-based line number.
        row: usize,
        /// 1-based column.
        column: usize,
        /// The cell's length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
}

fn megabytes(bytes: u64) -> String {
    // One decimal, never rounded down to the limit: 32.0001 MB shows as 32.1 MB, not 32.0 MB.
    let tenths = bytes.saturating_mul(10).div_ceil(1024 * 1024);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

/// Checks an input's size before reading it (a file's `size`), against the product's limit.
pub fn check_import_size(bytes: u64) -> Result<(), ImportRefused> {
    check_size(bytes, &ImportLimits::DEFAULT)
}

fn check_size(bytes: u64, limits: &ImportLimits) -> Result<(), ImportRefused> {
    if bytes > limits.bytes {
        return Err(ImportRefused::TooLarge {
            bytes,
            max: limits.bytes,
        });
    }
    Ok(())
}

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

/// What the CSV reader made of one line.
enum LineCells {
    /// The line's cells, trimmed.
    Cells,
    /// No record (only record terminators; trimming leaves none, but never assume).
    Nothing,
    /// A carriage return inside the line ended the record early.
    Split,
    /// The reader's error.
    Unreadable(String),
}

/// One `csv` reader for the whole input, pointed at one line at a time.
///
/// Building a reader costs tens of microseconds (its state machine and buffer), far more than
/// reading a line, so the reader is built once and reset for every line by swapping its input
/// and seeking to the start, which clears its buffer and state. The reader still sees exactly
/// one trimmed line, so a line's cells are what a reader of that line alone would give: a
/// quote left open ends with the line and a row number is always the line's.
struct LineReader<'a> {
    reader: csv::Reader<io::Cursor<&'a [u8]>>,
    record: csv::StringRecord,
    rest: csv::StringRecord,
}

impl<'a> LineReader<'a> {
    fn new(delimiter: u8) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .buffer_capacity(1024)
            .delimiter(delimiter)
            .from_reader(io::Cursor::new(&[][..]));
        LineReader {
            reader,
            record: csv::StringRecord::new(),
            rest: csv::StringRecord::new(),
        }
    }

    /// Reads `line`; on [`LineCells::Cells`] the cells are in `self.record`.
    fn read(&mut self, line: &'a str) -> LineCells {
        *self.reader.get_mut() = io::Cursor::new(line.as_bytes());
        // Before the first line only, `seek_raw` also reads the line once as the reader's header
        // record; with `has_headers(false)` the seek back makes it an ordinary record again.
        if let Err(e) = self
            .reader
            .seek_raw(io::SeekFrom::Start(0), csv::Position::new())
        {
            return LineCells::Unreadable(e.to_string());
        }
        let read = self.reader.read_record(&mut self.record);
        // A lone carriage return ends a CSV record; never drop what follows it on the line.
        if matches!(read, Ok(true)) && matches!(self.reader.read_record(&mut self.rest), Ok(true)) {
            return LineCells::Split;
        }
        match read {
            Ok(true) => LineCells::Cells,
            Ok(false) => LineCells::Nothing,
            Err(e) => LineCells::Unreadable(e.to_string()),
        }
    }
}

/// Reads a machine list within [`ImportLimits::DEFAULT`]. Fails as a whole only past a limit
/// ([`ImportRefused`]); every other problem is a row's, see [`ImportResult`].
///
/// Lines are read one at a time (each through the one `csv` reader, for quoting), which gives
/// exact line numbers; a quoted field cannot span lines, which costs nothing since neither names
/// nor tags may contain line breaks. Cells are trimmed, so `ws-01, Finance` works.
///
/// The first content row is a header when it names a machine column (see
/// `header::header_columns`): the machine, tag and action are then taken from the columns it
/// names, and every other column (`owner`, `notes`, a portal export's `Tags`, ...) is ignored.
/// A 2–3 cell header must name another known column too, unless its machine header is one of
/// `computerDnsName`, `computerName`, `machineId`, `deviceId`, `deviceName` (any case, spaces
/// and punctuation ignored): `owner,computerDnsName,notes` is a header, `device,Finance` is the
/// machine "device" tagged Finance. Without a header the columns are `machine,tag,action`.
pub fn parse_machine_list(input: &str) -> Result<ImportResult, ImportRefused> {
    parse_within(input, &ImportLimits::DEFAULT)
}

/// [`parse_machine_list`] held to `limits`.
pub fn parse_within(input: &str, limits: &ImportLimits) -> Result<ImportResult, ImportRefused> {
    check_size(u64::try_from(input.len()).unwrap_or(u64::MAX), limits)?;
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let delimiter = detect_delimiter(input);
    let mut reader = LineReader::new(delimiter.unwrap_or(b','));

    let mut rows = Collector::new(delimiter);
    let mut count = 0usize;

    for (index, line) in input.lines().enumerate() {
        let row = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        if count > limits.rows {
            return Err(ImportRefused::TooManyRows {
                max: limits.rows,
                row,
            });
        }
        match reader.read(line) {
            LineCells::Cells => {}
            LineCells::Nothing => continue,
            LineCells::Split => {
                rows.error(row, ImportErrorKind::LineBreakInRow);
                continue;
            }
            LineCells::Unreadable(message) => {
                rows.error(row, ImportErrorKind::Csv { message });
                continue;
            }
        }
        let cells: Vec<&str> = reader.record.iter().collect();
        // Bytes first: a cell of at most `cell_chars` bytes cannot have more characters.
        if let Some((column, chars)) = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.len() > limits.cell_chars)
            .map(|(i, c)| (i + 1, c.chars().count()))
            .find(|&(_, chars)| chars > limits.cell_chars)
        {
            return Err(ImportRefused::CellTooLong {
                row,
                column,
                chars,
                max: limits.cell_chars,
            });
        }
        rows.take(row, &cells);
    }
    Ok(rows.result)
}

/// What the rows read so far add up to: the result, the columns (a header's, else positional)
/// and where each row was first seen. Shared with the reference parser of the `agreement` test,
/// which differs only in how a line becomes cells.
struct Collector {
    result: ImportResult,
    columns: Option<Columns>,
    first_seen: HashMap<(String, Option<Tag>, Option<TagAction>), usize>,
}

impl Collector {
    fn new(delimiter: Option<u8>) -> Self {
        Self {
            result: ImportResult {
                rows: Vec::new(),
                errors: Vec::new(),
                duplicates: Vec::new(),
                format: ImportFormat {
                    delimiter: delimiter.map(char::from),
                    header: false,
                },
            },
            columns: None,
            first_seen: HashMap::new(),
        }
    }

    fn error(&mut self, row: usize, kind: ImportErrorKind) {
        self.result.errors.push(ImportError { row, kind });
    }

    /// Takes the cells of line `row` (1-based): a header, a row, a duplicate or an error.
    fn take(&mut self, row: usize, cells: &[&str]) {
        if cells.iter().all(|c| c.is_empty()) {
            return;
        }
        let cols = match &self.columns {
            Some(c) => c,
            None => {
                let detected = if MachineId::looks_like_id(cells[0]) {
                    None
                } else {
                    header_columns(cells)
                };
                match detected {
                    Some(h) => {
                        self.result.format.header = true;
                        self.columns = Some(h);
                        return;
                    }
                    None => self.columns.insert(Columns::POSITIONAL),
                }
            }
        };
        match read_row(row, cells, cols) {
            Ok(parsed) => {
                let key_machine = match &parsed.machine {
                    MachineRef::Id(id) => id.as_str().to_owned(),
                    MachineRef::Name(n) => n.to_lowercase(),
                };
                let key = (key_machine, parsed.tag.clone(), parsed.action);
                if let Some(&first_row) = self.first_seen.get(&key) {
                    self.result.duplicates.push(Duplicate {
                        row,
                        first_row,
                        machine: parsed.machine,
                    });
                } else {
                    self.first_seen.insert(key, row);
                    self.result.rows.push(parsed);
                }
            }
            Err(kind) => self.error(row, kind),
        }
    }
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
mod agreement;

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
        let r = parse_machine_list(&text).unwrap();
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
        let r = parse_machine_list(&text).unwrap();
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
        let r = parse_machine_list(&text).unwrap();
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
        let r = parse_machine_list("ws-01;Finance\nws-02;Lab\n").unwrap();
        assert_eq!(r.format.delimiter, Some(';'));
        assert_eq!(r.rows[1].tag.as_ref().map(Tag::as_str), Some("Lab"));
        let r = parse_machine_list("\u{feff}ws-01\tFinance\n").unwrap();
        assert_eq!(r.format.delimiter, Some('\t'));
        assert_eq!(r.rows.len(), 1);
    }

    #[test]
    fn a_carriage_return_inside_a_line_is_reported_not_dropped() {
        let r = parse_machine_list("ws-01\rws-02\nws-03\r\n").unwrap();
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].row, 2);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].row, 1);
        assert!(r.errors[0].to_string().contains("carriage return"));
    }
}
