//! A small, documented subset of KQL over in-memory tables, for the emulator's
//! `runHuntingQuery` (crates/emulator/README.md, "Advanced hunting"). Hand-written recursive
//! descent: the KQL crates on crates.io are either early-stage parsers without error positions
//! (`kqlparser` 0.0.x) or bindings needing a .NET native library (`kql-language-tools`).
//!
//! Supported: `Table | op | op ...` with `where` (`==` `!=` `=~` `!~` `<` `<=` `>` `>=`,
//! `has` `contains` `startswith` `endswith` and their `!` forms, `in` `in~` `!in`, `and` `or`
//! `not(...)`, `isempty()` `isnotempty()`, `ago()`, `datetime()`), `project` (with `New = Old`),
//! `summarize arg_max(Col, *) by Col`, `summarize count() [by Col]`, `distinct`, `take`/`limit`,
//! `count`, `sort by`/`order by` (`asc`/`desc`, default `desc`).

mod eval;
mod lex;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use time::OffsetDateTime;

pub use parse::{Query, parse};

/// A column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Text (never null in Kusto: an absent string is "").
    Str,
    /// 64-bit integer.
    Long,
    /// Boolean.
    Bool,
    /// Instant.
    DateTime,
}

impl Type {
    /// The type's name in Graph's `schema` (.NET-style, as the service sends it).
    pub fn graph_name(self) -> &'static str {
        match self {
            Type::Str => "String",
            Type::Long => "Int64",
            Type::Bool => "Boolean",
            Type::DateTime => "DateTime",
        }
    }

    fn kql_name(self) -> &'static str {
        match self {
            Type::Str => "string",
            Type::Long => "long",
            Type::Bool => "bool",
            Type::DateTime => "datetime",
        }
    }
}

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Null (long, bool and datetime columns only).
    Null,
    /// Text.
    Str(String),
    /// Integer.
    Long(i64),
    /// Boolean.
    Bool(bool),
    /// Instant.
    DateTime(OffsetDateTime),
}

/// A table: named, typed columns and rows of values in column order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column names and types.
    pub columns: Vec<(String, Type)>,
    /// Rows.
    pub rows: Vec<Vec<Val>>,
}

/// A query the subset cannot run: a syntax error (with the token) or a semantic one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KqlError {
    /// 0-based character position.
    pub pos: usize,
    /// The offending token's text (syntax errors), if any.
    pub token: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl KqlError {
    pub(crate) fn syntax(pos: usize, token: String, message: impl Into<String>) -> Self {
        Self {
            pos,
            token: Some(token),
            message: message.into(),
        }
    }

    pub(crate) fn semantic(pos: usize, message: impl Into<String>) -> Self {
        Self {
            pos,
            token: None,
            message: message.into(),
        }
    }

    /// 1-based line and column of the error in `src`.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        let (mut line, mut col) = (1, 1);
        for c in src.chars().take(self.pos) {
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        (line, col)
    }

    /// The message the service's 400 carries, with the position in `src`.
    pub fn describe(&self, src: &str) -> String {
        let (line, col) = self.line_col(src);
        match &self.token {
            Some(t) => format!(
                "Query could not be parsed at '{t}' on line [{line},{col}]: {}",
                self.message
            ),
            None => format!("Semantic error on line [{line},{col}]: {}", self.message),
        }
    }
}

impl fmt::Display for KqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.pos + 1)
    }
}

/// Tables a query may name.
pub trait Catalog {
    /// The table called `name` (case-sensitive, as in Kusto).
    fn table(&self, name: &str) -> Option<&Table>;
}

/// Parses and runs `src` against `catalog`; `now` anchors `ago()`.
pub fn run(src: &str, catalog: &dyn Catalog, now: OffsetDateTime) -> Result<Table, KqlError> {
    let q = parse(src, now)?;
    eval::run(&q, catalog)
}
