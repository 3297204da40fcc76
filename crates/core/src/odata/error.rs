//! `$filter` limits and parse errors.

use thiserror::Error;

use super::ast::Field;

/// Longest `$filter` accepted, in characters. URLs beyond ~8 KB are refused by most servers.
pub const MAX_FILTER_CHARS: usize = 8_192;
/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Why `$filter` text could not be parsed. Positions are 1-based character columns.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ODataError {
    /// Nothing but whitespace.
    #[error("filter is empty; write a condition such as riskScore eq 'High'")]
    Empty,
    /// Longer than [`MAX_FILTER_CHARS`], as typed or once written out in canonical form.
    #[error("filter has {len} characters (written out in full); the maximum is {max}")]
    TooLong {
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nested deeper than [`MAX_FILTER_DEPTH`].
    #[error(
        "at position {position}: filter nests parentheses or `not` more than {max} levels deep; \
         simplify it"
    )]
    TooDeep {
        /// Where the limit was crossed.
        position: usize,
        /// The limit.
        max: usize,
    },
    /// Something other than what the grammar allows here.
    #[error("at position {position}: expected {expected}, found {found}")]
    Syntax {
        /// Where.
        position: usize,
        /// What would have been valid.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A name that is not a filterable machine property.
    #[error(
        "at position {position}: {name:?} is not a filterable machine property; \
         use one of {}",
        field_list()
    )]
    UnknownField {
        /// Where.
        position: usize,
        /// The name found.
        name: String,
    },
    /// A literal of the wrong type for the field.
    #[error("at position {position}: {field} expects {expected}, found {found}")]
    TypeMismatch {
        /// Where the literal starts.
        position: usize,
        /// The field compared.
        field: Field,
        /// The kind of literal the field takes.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// An operation the field does not support.
    #[error("at position {position}: {field} does not support {operation}; {hint}")]
    Unsupported {
        /// Where.
        position: usize,
        /// The field.
        field: Field,
        /// The attempted operation.
        operation: String,
        /// What to write instead.
        hint: &'static str,
    },
    /// A string literal without its closing quote.
    #[error(
        "at position {position}: string literal is not closed; end it with ' \
         (write '' for a quote inside it)"
    )]
    UnterminatedString {
        /// Where the literal starts.
        position: usize,
    },
    /// An integer that does not fit in 64 bits.
    #[error("at position {position}: number {text} is out of range")]
    NumberOutOfRange {
        /// Where.
        position: usize,
        /// The digits.
        text: String,
    },
    /// Something that looks like a date-time but is not one.
    #[error(
        "at position {position}: {text:?} is not a valid date-time; \
         write e.g. 2024-05-01T00:00:00Z (unquoted)"
    )]
    InvalidDateTime {
        /// Where.
        position: usize,
        /// The text.
        text: String,
    },
    /// A character that cannot start any token.
    #[error("at position {position}: unexpected character {found:?}")]
    UnexpectedCharacter {
        /// Where.
        position: usize,
        /// The character.
        found: char,
    },
}

impl ODataError {
    /// The 1-based character position the error refers to, when there is one.
    pub fn position(&self) -> Option<usize> {
        match self {
            ODataError::Empty | ODataError::TooLong { .. } => None,
            ODataError::TooDeep { position, .. }
            | ODataError::Syntax { position, .. }
            | ODataError::UnknownField { position, .. }
            | ODataError::TypeMismatch { position, .. }
            | ODataError::Unsupported { position, .. }
            | ODataError::UnterminatedString { position }
            | ODataError::NumberOutOfRange { position, .. }
            | ODataError::InvalidDateTime { position, .. }
            | ODataError::UnexpectedCharacter { position, .. } => Some(*position),
        }
    }
}

fn field_list() -> String {
    Field::ALL
        .iter()
        .map(|f| f.wire_name())
        .collect::<Vec<_>>()
        .join(", ")
}
