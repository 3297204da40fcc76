//! The answer of `runHuntingQuery`: `{"schema": [{"name", "type"}], "results": [{...}]}`, read
//! into rows of typed cells in schema order, or a [`HuntingError`] saying what went wrong.

use serde_json::{Map, Value};
use thiserror::Error;
use time::OffsetDateTime;

use super::{MAX_RESPONSE_BYTES, MAX_ROWS};
use crate::api::{error_details, header};
use crate::model::datetime::parse_datetime;
use crate::throttle::RetryAfter;
use crate::wire::ErrorBody;

/// A column's declared type. Graph names them after .NET types (`String`, `DateTime`, `Int64`,
/// `Boolean`, `Double`, `Object`, `Guid`, `TimeSpan`); Kusto's own names (`string`, `datetime`,
/// `long`, `bool`, `real`, `dynamic`) are accepted too, case-insensitively, because the
/// answers seen in the wild mix both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// Text.
    String,
    /// A UTC instant.
    DateTime,
    /// An integer (Int32, Int64, long, int).
    Long,
    /// A floating-point number (Double, real, decimal).
    Real,
    /// True or false (Boolean, bool; SByte is how Kusto's .NET mapping spells bool).
    Boolean,
    /// A GUID, kept as text.
    Guid,
    /// A duration, kept as text.
    TimeSpan,
    /// Any JSON (Object, dynamic): arrays and property bags.
    Dynamic,
    /// A type name we do not know; its cells are kept as JSON.
    Other(String),
}

impl ColumnType {
    /// Reads a type name.
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "string" => Self::String,
            "datetime" | "date" => Self::DateTime,
            "int32" | "int64" | "int" | "long" | "int16" => Self::Long,
            "double" | "real" | "decimal" | "single" => Self::Real,
            "boolean" | "bool" | "sbyte" => Self::Boolean,
            "guid" => Self::Guid,
            "timespan" | "time" => Self::TimeSpan,
            "object" | "dynamic" => Self::Dynamic,
            _ => Self::Other(name.to_owned()),
        }
    }
}

/// One column of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name, as the query produced it (KQL names are case-sensitive).
    pub name: String,
    /// Its declared type.
    pub column_type: ColumnType,
}

/// One cell, typed by its column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Null or absent from the row.
    Null,
    /// String, Guid and TimeSpan columns.
    String(String),
    /// Boolean columns.
    Bool(bool),
    /// Integer columns.
    Long(i64),
    /// Floating-point columns.
    Real(f64),
    /// DateTime columns.
    DateTime(OffsetDateTime),
    /// Dynamic columns and columns of unknown type, as JSON.
    Dynamic(Value),
}

impl Cell {
    /// The text of a string cell (String, Guid, TimeSpan columns).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A decoded answer: the schema, and one row per result with one cell per column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HuntingResult {
    /// The columns, in the service's order.
    pub schema: Vec<Column>,
    /// The rows; `rows[r][c]` is the cell of `schema[c]`.
    pub rows: Vec<Vec<Cell>>,
}

impl HuntingResult {
    /// The index of the column named exactly `name`, else the only column equal to it
    /// ignoring ASCII case (a hand-written `project deviceid` still counts).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.schema.iter().position(|c| c.name == name) {
            return Some(i);
        }
        let mut folded = self
            .schema
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.eq_ignore_ascii_case(name));
        match (folded.next(), folded.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.schema.iter().map(|c| c.name.clone()).collect()
    }
}

/// Which hunting quota a 429 refers to, read from the error body's code and message (Microsoft
/// documents the quotas, not the wording; see docs/defender-api.md §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuntingQuota {
    /// Calls per minute or per hour.
    CallRate,
    /// Query running time (CPU) per hour or per day.
    Cpu,
    /// The body did not say.
    Unspecified,
}

impl HuntingQuota {
    fn from_details(details: Option<&ErrorBody>) -> Self {
        let Some(d) = details else {
            return Self::Unspecified;
        };
        let text = format!("{} {}", d.code, d.message).to_ascii_lowercase();
        if text.contains("cpu") || text.contains("resource") || text.contains("execution time") {
            Self::Cpu
        } else if text.contains("rate") || text.contains("calls") || text.contains("requests") {
            Self::CallRate
        } else {
            Self::Unspecified
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::CallRate => "the hunting call quota (calls per minute or hour)",
            Self::Cpu => "the hunting CPU quota (query running time per hour or day)",
            Self::Unspecified => "a hunting quota",
        }
    }
}

/// A hunting call that failed or whose answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HuntingError {
    /// 400: the service refused the query (syntax, unknown table or column...).
    #[error("the hunting query was refused (400){}", suffix(.details))]
    BadQuery {
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 401: no, invalid or expired Graph token.
    #[error(
        "unauthorized (401): the Microsoft Graph token is missing, invalid or expired; sign in \
         again{}",
        suffix(.details)
    )]
    Unauthorized {
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 403: the token lacks `ThreatHunting.Read.All` (or is not a Graph token).
    #[error(
        "forbidden (403): hunting needs the delegated Microsoft Graph permission \
         ThreatHunting.Read.All, consented for this app, and a token for \
         https://graph.microsoft.com{}",
        suffix(.details)
    )]
    MissingPermission {
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 429: a hunting quota is used up.
    #[error(
        "too many requests (429): {} is used up; {}{}",
        .quota.describe(),
        match .retry_after {
            Some(r) => format!("retry after {r}"),
            None => "wait before retrying".to_owned(),
        },
        suffix(.details)
    )]
    Throttled {
        /// Which quota, as far as the body said.
        quota: HuntingQuota,
        /// `Retry-After`, when present and readable.
        retry_after: Option<RetryAfter>,
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 5xx.
    #[error("server error ({status}): the hunting service failed; try again{}", suffix(.details))]
    Server {
        /// The status code.
        status: u16,
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// Any other non-success status.
    #[error("unexpected HTTP status {status} from the hunting service{}", suffix(.details))]
    UnexpectedStatus {
        /// The status code.
        status: u16,
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// A success whose body is not a hunting answer.
    #[error("the hunting answer (HTTP {status}) could not be read: {reason}")]
    Undecodable {
        /// The status code.
        status: u16,
        /// What was wrong.
        reason: String,
    },
    /// More rows than one answer may hold: the result is likely truncated.
    #[error(
        "the hunting query returned {rows} rows; at most {max} are accepted, because the \
         service cuts answers there. Narrow the query (a `where`, `summarize ... by DeviceId`, \
         or `take`)"
    )]
    TooManyRows {
        /// Rows in the answer.
        rows: usize,
        /// The limit.
        max: usize,
    },
    /// An answer body larger than we decode.
    #[error("the hunting answer is {bytes} bytes; at most {max} are read. Project fewer columns")]
    ResponseTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

fn suffix(details: &Option<ErrorBody>) -> String {
    match details {
        Some(d) if !d.code.is_empty() || !d.message.is_empty() => {
            let sep = if d.code.is_empty() || d.message.is_empty() {
                ""
            } else {
                ": "
            };
            format!("; the service said: {}{sep}{}", d.code, d.message)
        }
        _ => String::new(),
    }
}

impl HuntingError {
    /// The HTTP status (200 for answers refused after decoding).
    pub fn status(&self) -> u16 {
        match self {
            Self::BadQuery { .. } => 400,
            Self::Unauthorized { .. } => 401,
            Self::MissingPermission { .. } => 403,
            Self::Throttled { .. } => 429,
            Self::Server { status, .. }
            | Self::UnexpectedStatus { status, .. }
            | Self::Undecodable { status, .. } => *status,
            Self::TooManyRows { .. } | Self::ResponseTooLarge { .. } => 200,
        }
    }

    /// A stable machine-readable code for the UI and the JS API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadQuery { .. } => "bad_query",
            Self::Unauthorized { .. } => "unauthorized",
            Self::MissingPermission { .. } => "forbidden",
            Self::Throttled { .. } => "too_many_requests",
            Self::Server { .. } => "server_error",
            Self::UnexpectedStatus { .. } => "unexpected_status",
            Self::Undecodable { .. } => "undecodable",
            Self::TooManyRows { .. } => "too_many_rows",
            Self::ResponseTooLarge { .. } => "response_too_large",
        }
    }

    /// `Retry-After` of a 429.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The service's error, if it sent one.
    pub fn details(&self) -> Option<&ErrorBody> {
        match self {
            Self::BadQuery { details }
            | Self::Unauthorized { details }
            | Self::MissingPermission { details }
            | Self::Throttled { details, .. }
            | Self::Server { details, .. }
            | Self::UnexpectedStatus { details, .. } => details.as_ref(),
            _ => None,
        }
    }
}

/// Graph sends fractional seconds (`Retry-After: 2.128`), which the Defender-API parser refuses;
/// they are rounded up to whole seconds.
fn retry_after_header<K: AsRef<str>, V: AsRef<str>>(headers: &[(K, V)]) -> Option<RetryAfter> {
    let raw = header(headers, "retry-after")?;
    if let Ok(r) = RetryAfter::parse(raw) {
        return Some(r);
    }
    let secs: f64 = raw.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Bounded above so the cast cannot saturate to nonsense; RetryAfter caps delays anyway.
    Some(RetryAfter::Seconds(secs.min(86_400.0).ceil() as u64))
}

/// Decodes `(status, headers, body)` of a `runHuntingQuery` call.
pub fn decode_hunting_result<K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<HuntingResult, HuntingError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    if !(200..300).contains(&status) {
        let details = error_details(body);
        return Err(match status {
            400 => HuntingError::BadQuery { details },
            401 => HuntingError::Unauthorized { details },
            403 => HuntingError::MissingPermission { details },
            429 => HuntingError::Throttled {
                quota: HuntingQuota::from_details(details.as_ref()),
                retry_after: retry_after_header(headers),
                details,
            },
            500..=599 => HuntingError::Server { status, details },
            _ => HuntingError::UnexpectedStatus { status, details },
        });
    }
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(HuntingError::ResponseTooLarge {
            bytes: body.len(),
            max: MAX_RESPONSE_BYTES,
        });
    }
    let undecodable = |reason: String| HuntingError::Undecodable { status, reason };
    let json: Value =
        serde_json::from_slice(body).map_err(|e| undecodable(format!("not JSON: {e}")))?;
    let Value::Object(mut top) = json else {
        return Err(undecodable("not a JSON object".to_owned()));
    };
    // Graph answers `{schema, results}`; the retired Defender call used `Schema`/`Results` and a
    // proxy may forward either, so both spellings are read.
    let schema = take_key(&mut top, "schema")
        .ok_or_else(|| undecodable("no \"schema\" in the answer".to_owned()))?;
    let results = take_key(&mut top, "results")
        .ok_or_else(|| undecodable("no \"results\" in the answer".to_owned()))?;
    let schema = decode_schema(schema).map_err(undecodable)?;
    let Value::Array(results) = results else {
        return Err(undecodable("\"results\" is not an array".to_owned()));
    };
    if results.len() > MAX_ROWS {
        return Err(HuntingError::TooManyRows {
            rows: results.len(),
            max: MAX_ROWS,
        });
    }
    let mut rows = Vec::with_capacity(results.len());
    for (r, row) in results.into_iter().enumerate() {
        let Value::Object(mut row) = row else {
            return Err(undecodable(format!(
                "result row {} is not an object",
                r + 1
            )));
        };
        let mut cells = Vec::with_capacity(schema.len());
        for col in &schema {
            let value = row.remove(&col.name).unwrap_or(Value::Null);
            let cell = typed_cell(&col.column_type, value).map_err(|why| {
                undecodable(format!("row {}, column {:?}: {why}", r + 1, col.name))
            })?;
            cells.push(cell);
        }
        rows.push(cells);
    }
    Ok(HuntingResult { schema, rows })
}

fn take_key(map: &mut Map<String, Value>, lower: &str) -> Option<Value> {
    if let Some(v) = map.remove(lower) {
        return Some(v);
    }
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(lower))?.clone();
    map.remove(&key)
}

fn decode_schema(schema: Value) -> Result<Vec<Column>, String> {
    let Value::Array(items) = schema else {
        return Err("\"schema\" is not an array".to_owned());
    };
    let mut columns: Vec<Column> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut item) = item else {
            return Err(format!("schema entry {} is not an object", i + 1));
        };
        let name = match take_key(&mut item, "name") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => return Err(format!("schema entry {} has no name", i + 1)),
        };
        let column_type = match take_key(&mut item, "type") {
            Some(Value::String(t)) => ColumnType::from_name(&t),
            _ => return Err(format!("schema entry {name:?} has no type")),
        };
        if columns.iter().any(|c| c.name == name) {
            return Err(format!("column {name:?} appears twice in the schema"));
        }
        columns.push(Column { name, column_type });
    }
    Ok(columns)
}

fn typed_cell(ty: &ColumnType, value: Value) -> Result<Cell, String> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    match ty {
        ColumnType::String | ColumnType::Guid | ColumnType::TimeSpan => match value {
            Value::String(s) => Ok(Cell::String(s)),
            other => Err(format!("expected text, found {}", kind(&other))),
        },
        ColumnType::DateTime => match value {
            Value::String(s) => parse_datetime(&s)
                .map(Cell::DateTime)
                .map_err(|_| format!("{s:?} is not a date and time")),
            other => Err(format!("expected a date and time, found {}", kind(&other))),
        },
        ColumnType::Long => match &value {
            Value::Number(n) => n
                .as_i64()
                .map(Cell::Long)
                .ok_or_else(|| format!("{n} is not a 64-bit integer")),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Cell::Long)
                .map_err(|_| format!("{s:?} is not an integer")),
            other => Err(format!("expected an integer, found {}", kind(other))),
        },
        ColumnType::Real => match &value {
            Value::Number(n) => n
                .as_f64()
                .map(Cell::Real)
                .ok_or_else(|| format!("{n} is not a number")),
            // Kusto writes NaN and infinities as strings.
            Value::String(s) => s
                .trim()
                .parse()
                .map(Cell::Real)
                .map_err(|_| format!("{s:?} is not a number")),
            other => Err(format!("expected a number, found {}", kind(other))),
        },
        ColumnType::Boolean => match &value {
            Value::Bool(b) => Ok(Cell::Bool(*b)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Cell::Bool(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Cell::Bool(true)),
            other => Err(format!("expected true or false, found {}", kind(other))),
        },
        ColumnType::Dynamic | ColumnType::Other(_) => Ok(Cell::Dynamic(value)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
