//! OData query options for `GET /api/machines`: `$filter` (core's grammar and evaluator),
//! `$top` (<= 10,000), `$skip`, `$select`.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::Uri;
use defender_tags_core::{MAX_PAGE_SIZE, Machine, MachineId};
use serde_json::{Map, Value};

use super::errors::ApiError;

/// Parsed query options.
pub(crate) struct ListOptions {
    pub filter: Option<Filter>,
    pub filter_text: Option<String>,
    pub top: usize,
    pub skip: usize,
    pub select: Option<Vec<&'static str>>,
}

/// A compiled `$filter`: core's AST, evaluated with core's semantics (the UI shares them).
pub(crate) struct Filter(defender_tags_core::odata::Filter);

impl Filter {
    pub fn matches(&self, m: &Machine) -> bool {
        self.0.matches(m)
    }
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    defender_tags_core::odata::parse(text)
        .map(Filter)
        .map_err(|e| e.to_string())
}

/// Decoded query pairs (`+` is a space, as in the docs' `$filter=riskScore+eq+'High'`).
pub(crate) fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, ApiError> {
    match uri.query() {
        None => Ok(Vec::new()),
        Some(q) => axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|axum::extract::Query(v)| v)
            .map_err(|_| ApiError::odata(format!("The query string {q:?} is malformed."))),
    }
}

/// Parses the list endpoint's options. Option names are matched case-insensitively; unknown
/// `$` options and repeated options are rejected with `ODataError`.
pub(crate) fn list_options(uri: &Uri) -> Result<ListOptions, ApiError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (k, v) in query_pairs(uri)? {
        let lower = k.to_ascii_lowercase();
        if !lower.starts_with('$') {
            continue; // non-OData parameters are ignored, as ASP.NET does
        }
        if !["$filter", "$top", "$skip", "$select"].contains(&lower.as_str()) {
            return Err(ApiError::odata(format!(
                "Query option '{k}' is not supported on Machines. Supported: $filter, $top, $skip, $select."
            )));
        }
        if seen.insert(lower, v).is_some() {
            return Err(ApiError::odata(format!(
                "Query option '{k}' was specified more than once, but it must be specified at most once."
            )));
        }
    }
    let top = match seen.get("$top") {
        None => MAX_PAGE_SIZE as usize,
        Some(t) => {
            let n: u64 = t.trim().parse().map_err(|_| {
                ApiError::odata(format!("Invalid value '{t}' for $top query option found. The $top query option requires a non-negative integer value."))
            })?;
            if n > u64::from(MAX_PAGE_SIZE) {
                return Err(ApiError::odata(format!(
                    "The limit of '{MAX_PAGE_SIZE}' for Top query has been exceeded. The value from the incoming request is '{n}'."
                )));
            }
            n as usize
        }
    };
    let skip = match seen.get("$skip") {
        None => 0,
        Some(s) => s.trim().parse::<usize>().map_err(|_| {
            ApiError::odata(format!("Invalid value '{s}' for $skip query option found. The $skip query option requires a non-negative integer value."))
        })?,
    };
    let select = match seen.get("$select") {
        None => None,
        Some(s) => Some(parse_select(s)?),
    };
    let filter_text = seen.get("$filter").cloned();
    let filter = match &filter_text {
        None => None,
        Some(f) if f.trim().is_empty() => {
            return Err(ApiError::odata(
                "The $filter query option must not be empty.",
            ));
        }
        Some(f) => {
            Some(parse_filter(f).map_err(|e| ApiError::odata(format!("Invalid $filter: {e}")))?)
        }
    };
    Ok(ListOptions {
        filter,
        filter_text,
        top,
        skip,
        select,
    })
}

/// The Machine property names, in wire order, taken from core's serialisation.
pub(crate) fn machine_fields() -> &'static [String] {
    static FIELDS: OnceLock<Vec<String>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let Ok(id) = MachineId::parse("0000000000000000000000000000000000000000") else {
            return Vec::new();
        };
        match serde_json::to_value(Machine::new(id)) {
            Ok(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    })
}

fn parse_select(s: &str) -> Result<Vec<&'static str>, ApiError> {
    let fields = machine_fields();
    let mut out: Vec<&'static str> = Vec::new();
    for raw in s.split(',') {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ApiError::odata("$select contains an empty property name."));
        }
        if name == "*" {
            return Ok(fields.iter().map(String::as_str).collect());
        }
        let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(name)) else {
            return Err(ApiError::odata(format!(
                "Could not find a property named '{name}' on type 'Machine'."
            )));
        };
        if !out.contains(&f.as_str()) {
            out.push(f.as_str());
        }
    }
    Ok(out)
}

/// A machine reduced to the selected properties, in `$select` order.
pub(crate) struct Projected(Vec<(&'static str, Value)>);

impl serde::Serialize for Projected {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Keeps only the selected properties.
pub(crate) fn project(m: &Machine, select: &[&'static str]) -> Projected {
    let mut all = match serde_json::to_value(m) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    Projected(
        select
            .iter()
            .filter_map(|f| all.remove(*f).map(|v| (*f, v)))
            .collect(),
    )
}
