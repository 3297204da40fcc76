//! Recursive descent over the tokens of [`super::lex`].

use time::OffsetDateTime;

use super::lex::{Spanned, Tok, lex};
use super::{KqlError, Val};
use defender_tags_core::model::datetime::parse_datetime;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The table name and its position.
    pub table: (String, usize),
    /// The tabular operators, each with its position.
    pub ops: Vec<(Op, usize)>,
}

/// A column reference.
#[derive(Debug, Clone, PartialEq)]
pub struct ColRef {
    pub name: String,
    pub pos: usize,
}

/// A tabular operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Where(Expr),
    /// (output name, source column).
    Project(Vec<(String, ColRef)>),
    ArgMax {
        by_max: ColRef,
        by: ColRef,
    },
    CountBy(Option<ColRef>),
    Distinct(Vec<ColRef>),
    Take(usize),
    Count,
    /// (column, descending).
    Sort(Vec<(ColRef, bool)>),
}

/// A scalar operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Col(ColRef),
    Lit(Val, usize),
}

impl Operand {
    pub fn pos(&self) -> usize {
        match self {
            Operand::Col(c) => c.pos,
            Operand::Lit(_, p) => *p,
        }
    }
}

/// A predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        left: Operand,
        op: String,
        right: Operand,
        pos: usize,
    },
    In {
        left: Operand,
        list: Vec<Operand>,
        negate: bool,
        fold: bool,
    },
    IsEmpty(Operand, bool),
    /// A bare boolean column or literal.
    Truth(Operand),
}

/// String operators (word forms), positive spelling.
const WORD_OPS: [&str; 4] = ["has", "contains", "startswith", "endswith"];

/// Deepest nesting of parentheses and `not(...)` accepted: recursion is bounded so a hostile
/// query cannot overflow the stack.
pub const MAX_DEPTH: usize = 64;

struct P {
    toks: Vec<Spanned>,
    i: usize,
    end: usize,
    now: OffsetDateTime,
    depth: usize,
}

/// Parses `src`; `now` fixes `ago()`.
pub fn parse(src: &str, now: OffsetDateTime) -> Result<Query, KqlError> {
    let toks = lex(src)?;
    let end = src.chars().count();
    let mut p = P {
        toks,
        i: 0,
        end,
        now,
        depth: 0,
    };
    let table = p.ident("a table name")?;
    let mut ops = Vec::new();
    while p.i < p.toks.len() {
        p.expect(&Tok::Pipe, "'|'")?;
        let (word, pos) = p.ident("an operator")?;
        let op =
            match word.as_str() {
                "where" | "filter" => Op::Where(p.expr()?),
                "project" => Op::Project(p.project_list()?),
                "summarize" => p.summarize()?,
                "distinct" => Op::Distinct(p.col_list()?),
                "take" | "limit" => {
                    let (n, npos) = p.long()?;
                    Op::Take(usize::try_from(n).map_err(|_| {
                        KqlError::semantic(npos, "take needs a non-negative row count")
                    })?)
                }
                "count" => Op::Count,
                "sort" | "order" => {
                    let (by, bpos) = p.ident("'by'")?;
                    if by != "by" {
                        return Err(KqlError::syntax(bpos, by, "expected 'by'"));
                    }
                    let mut keys = Vec::new();
                    loop {
                        let col = p.col()?;
                        let desc = match p.peek_ident() {
                            Some("asc") => {
                                p.i += 1;
                                false
                            }
                            Some("desc") => {
                                p.i += 1;
                                true
                            }
                            _ => true,
                        };
                        keys.push((col, desc));
                        if !p.eat(&Tok::Comma) {
                            break;
                        }
                    }
                    Op::Sort(keys)
                }
                _ => {
                    return Err(KqlError::syntax(
                        pos,
                        word,
                        "unknown or unsupported operator (supported: where, project, summarize, \
                     distinct, take, limit, count, sort, order)",
                    ));
                }
            };
        ops.push((op, pos));
    }
    Ok(Query { table, ops })
}

impl P {
    fn peek(&self) -> Option<&Spanned> {
        self.toks.get(self.i)
    }

    fn peek_ident(&self) -> Option<&str> {
        match self.peek().map(|s| &s.tok) {
            Some(Tok::Ident(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn err_here(&self, wanted: &str) -> KqlError {
        match self.peek() {
            Some(s) => KqlError::syntax(s.pos, s.text.clone(), format!("expected {wanted}")),
            None => KqlError::syntax(
                self.end,
                "<end of query>".to_owned(),
                format!("expected {wanted}"),
            ),
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek().is_some_and(|s| s.tok == *t) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok, wanted: &str) -> Result<usize, KqlError> {
        match self.peek() {
            Some(s) if s.tok == *t => {
                let pos = s.pos;
                self.i += 1;
                Ok(pos)
            }
            _ => Err(self.err_here(wanted)),
        }
    }

    fn ident(&mut self, wanted: &str) -> Result<(String, usize), KqlError> {
        match self.peek() {
            Some(Spanned {
                tok: Tok::Ident(w),
                pos,
                ..
            }) if !w.starts_with('!') => {
                let out = (w.clone(), *pos);
                self.i += 1;
                Ok(out)
            }
            _ => Err(self.err_here(wanted)),
        }
    }

    fn long(&mut self) -> Result<(i64, usize), KqlError> {
        match self.peek() {
            Some(Spanned {
                tok: Tok::Long(n),
                pos,
                ..
            }) => {
                let out = (*n, *pos);
                self.i += 1;
                Ok(out)
            }
            _ => Err(self.err_here("a number")),
        }
    }

    fn col(&mut self) -> Result<ColRef, KqlError> {
        let (name, pos) = self.ident("a column name")?;
        Ok(ColRef { name, pos })
    }

    fn col_list(&mut self) -> Result<Vec<ColRef>, KqlError> {
        let mut cols = vec![self.col()?];
        while self.eat(&Tok::Comma) {
            cols.push(self.col()?);
        }
        Ok(cols)
    }

    fn project_list(&mut self) -> Result<Vec<(String, ColRef)>, KqlError> {
        let mut out = Vec::new();
        loop {
            let first = self.col()?;
            if self.eat(&Tok::Assign) {
                let src = self.col()?;
                out.push((first.name, src));
            } else {
                out.push((first.name.clone(), first));
            }
            if !self.eat(&Tok::Comma) {
                return Ok(out);
            }
        }
    }

    fn summarize(&mut self) -> Result<Op, KqlError> {
        let (f, fpos) = self.ident("an aggregation (arg_max or count)")?;
        self.expect(&Tok::LParen, "'('")?;
        match f.as_str() {
            "arg_max" => {
                let by_max = self.col()?;
                self.expect(&Tok::Comma, "','")?;
                self.expect(&Tok::Star, "'*' (only arg_max(Column, *) is supported)")?;
                self.expect(&Tok::RParen, "')'")?;
                let (kw, kpos) = self.ident("'by'")?;
                if kw != "by" {
                    return Err(KqlError::syntax(kpos, kw, "expected 'by'"));
                }
                let by = self.col()?;
                Ok(Op::ArgMax { by_max, by })
            }
            "count" => {
                self.expect(&Tok::RParen, "')'")?;
                if self.peek_ident() == Some("by") {
                    self.i += 1;
                    Ok(Op::CountBy(Some(self.col()?)))
                } else {
                    Ok(Op::CountBy(None))
                }
            }
            _ => Err(KqlError::syntax(
                fpos,
                f,
                "unsupported aggregation (supported: arg_max(Column, *), count())",
            )),
        }
    }

    fn expr(&mut self) -> Result<Expr, KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_here(&format!("at most {MAX_DEPTH} levels of nesting")));
        }
        let out = self.or_expr();
        self.depth -= 1;
        out
    }

    fn or_expr(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.and_expr()?;
        while self.peek_ident() == Some("or") {
            self.i += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.unary()?;
        while self.peek_ident() == Some("and") {
            self.i += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, KqlError> {
        if matches!(self.peek_ident(), Some("not" | "isempty" | "isnotempty"))
            && matches!(self.toks.get(self.i + 1).map(|s| &s.tok), Some(Tok::LParen))
        {
            let (f, _) = self.ident("a function")?;
            self.i += 1; // '('
            let e = if f == "not" {
                Expr::Not(Box::new(self.expr()?))
            } else {
                Expr::IsEmpty(self.operand()?, f == "isempty")
            };
            self.expect(&Tok::RParen, "')'")?;
            return Ok(e);
        }
        if self.eat(&Tok::LParen) {
            let e = self.expr()?;
            self.expect(&Tok::RParen, "')'")?;
            return Ok(e);
        }
        let left = self.operand()?;
        let Some(next) = self.peek().cloned() else {
            return Ok(Expr::Truth(left));
        };
        match &next.tok {
            Tok::Op(op) => {
                self.i += 1;
                let right = self.operand()?;
                Ok(Expr::Cmp {
                    left,
                    op: (*op).to_owned(),
                    right,
                    pos: next.pos,
                })
            }
            Tok::Ident(w) if matches!(w.as_str(), "in" | "in~" | "!in" | "!in~") => {
                self.i += 1;
                self.expect(&Tok::LParen, "'(' after in")?;
                let mut list = vec![self.operand()?];
                while self.eat(&Tok::Comma) {
                    list.push(self.operand()?);
                }
                self.expect(&Tok::RParen, "')'")?;
                Ok(Expr::In {
                    left,
                    list,
                    negate: w.starts_with('!'),
                    fold: w.ends_with('~'),
                })
            }
            Tok::Ident(w) if WORD_OPS.contains(&w.trim_start_matches('!')) => {
                self.i += 1;
                let right = self.operand()?;
                Ok(Expr::Cmp {
                    left,
                    op: w.clone(),
                    right,
                    pos: next.pos,
                })
            }
            Tok::Ident(w) if w.starts_with('!') => Err(KqlError::syntax(
                next.pos,
                w.clone(),
                "unknown negated operator",
            )),
            _ => Ok(Expr::Truth(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, KqlError> {
        let Some(s) = self.peek().cloned() else {
            return Err(self.err_here("a value or column"));
        };
        let lit = |v: Val| Ok(Operand::Lit(v, s.pos));
        match s.tok {
            Tok::Str(v) => {
                self.i += 1;
                lit(Val::Str(v))
            }
            Tok::Long(n) => {
                self.i += 1;
                lit(Val::Long(n))
            }
            Tok::DateTime(text) => {
                self.i += 1;
                let dt = parse_datetime(&text).map_err(|_| {
                    KqlError::syntax(s.pos, s.text.clone(), "not a valid datetime literal")
                })?;
                lit(Val::DateTime(dt))
            }
            Tok::Ident(w) if w == "true" || w == "false" => {
                self.i += 1;
                lit(Val::Bool(w == "true"))
            }
            Tok::Ident(w) if w == "ago" => {
                self.i += 1;
                self.expect(&Tok::LParen, "'(' after ago")?;
                let span = match self.peek().map(|t| &t.tok) {
                    Some(Tok::Span(ms)) => *ms,
                    _ => return Err(self.err_here("a timespan such as 7d or 12h")),
                };
                self.i += 1;
                self.expect(&Tok::RParen, "')'")?;
                let at = self
                    .now
                    .checked_sub(time::Duration::milliseconds(span))
                    .ok_or_else(|| KqlError::semantic(s.pos, "ago() goes out of range"))?;
                lit(Val::DateTime(at))
            }
            Tok::Ident(w) if !w.starts_with('!') => {
                self.i += 1;
                Ok(Operand::Col(ColRef {
                    name: w,
                    pos: s.pos,
                }))
            }
            _ => Err(self.err_here("a value or column")),
        }
    }
}
