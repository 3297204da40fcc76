//! OData `$filter` for the machines endpoint: an AST ([`Filter`]), a renderer ([`render`]), a
//! bounded parser ([`parse`]) and an evaluator ([`Filter::matches`]). The client renders, the
//! emulator parses and evaluates, the UI evaluates: one grammar and one semantics for all three.

mod ast;
mod error;
mod eval;
mod lex;
mod parse;
mod render;

pub use ast::{CmpOp, Field, FieldKind, Filter, Literal};
pub use error::{MAX_FILTER_CHARS, MAX_FILTER_DEPTH, ODataError};
pub use parse::parse;
pub use render::{quote, render};
