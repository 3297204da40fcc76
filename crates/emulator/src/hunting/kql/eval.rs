//! Runs a parsed [`Query`]: columns are resolved and types checked per operator, before any
//! row is read, so a bad column is reported with its position whatever the data.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::parse::{ColRef, Expr, Op, Operand, Query};
use super::{Catalog, KqlError, Table, Type, Val};

pub fn run(q: &Query, catalog: &dyn Catalog) -> Result<Table, KqlError> {
    let (name, pos) = &q.table;
    let mut t = catalog
        .table(name)
        .cloned()
        .ok_or_else(|| KqlError::semantic(*pos, format!("Failed to resolve table '{name}'")))?;
    for (op, _) in &q.ops {
        t = apply(op, t)?;
    }
    Ok(t)
}

fn col_index(t: &Table, c: &ColRef) -> Result<(usize, Type), KqlError> {
    t.columns
        .iter()
        .position(|(n, _)| *n == c.name)
        .map(|i| (i, t.columns[i].1))
        .ok_or_else(|| {
            KqlError::semantic(
                c.pos,
                format!("Failed to resolve scalar expression named '{}'", c.name),
            )
        })
}

fn apply(op: &Op, t: Table) -> Result<Table, KqlError> {
    match op {
        Op::Where(e) => {
            let b = bind(e, &t)?;
            let rows = t.rows.into_iter().filter(|r| b.eval(r)).collect();
            Ok(Table {
                columns: t.columns,
                rows,
            })
        }
        Op::Project(items) => {
            let mut idx = Vec::new();
            let mut columns: Vec<(String, Type)> = Vec::new();
            for (out, src) in items {
                let (i, ty) = col_index(&t, src)?;
                if columns.iter().any(|(n, _)| n == out) {
                    return Err(KqlError::semantic(
                        src.pos,
                        format!("column '{out}' is projected twice"),
                    ));
                }
                idx.push(i);
                columns.push((out.clone(), ty));
            }
            let rows = t
                .rows
                .into_iter()
                .map(|r| idx.iter().map(|&i| r[i].clone()).collect())
                .collect();
            Ok(Table { columns, rows })
        }
        Op::ArgMax { by_max, by } => {
            let (mi, _) = col_index(&t, by_max)?;
            let (bi, _) = col_index(&t, by)?;
            // Groups in order of first appearance; within a group the first row with the
            // greatest value wins (nulls never win over a value).
            let mut order: Vec<Vec<Val>> = Vec::new();
            let mut best: HashMap<KeyVal, usize> = HashMap::new();
            for r in t.rows {
                let key = KeyVal::of(&r[bi]);
                match best.get(&key) {
                    Some(&slot) => {
                        if compare(&r[mi], &order[slot][mi]) == Some(Ordering::Greater)
                            || (order[slot][mi] == Val::Null && r[mi] != Val::Null)
                        {
                            order[slot] = r;
                        }
                    }
                    None => {
                        best.insert(key, order.len());
                        order.push(r);
                    }
                }
            }
            // Output: the by column, the arg_max column, then the rest in table order.
            let mut idx = vec![bi];
            if mi != bi {
                idx.push(mi);
            }
            idx.extend((0..t.columns.len()).filter(|i| *i != bi && *i != mi));
            let columns = idx.iter().map(|&i| t.columns[i].clone()).collect();
            let rows = order
                .into_iter()
                .map(|r| idx.iter().map(|&i| r[i].clone()).collect())
                .collect();
            Ok(Table { columns, rows })
        }
        Op::CountBy(by) => match by {
            None => Ok(count_table("count_", t.rows.len())),
            Some(c) => {
                let (bi, ty) = col_index(&t, c)?;
                let mut order: Vec<(Val, i64)> = Vec::new();
                let mut slot: HashMap<KeyVal, usize> = HashMap::new();
                for r in &t.rows {
                    let key = KeyVal::of(&r[bi]);
                    match slot.get(&key) {
                        Some(&s) => order[s].1 += 1,
                        None => {
                            slot.insert(key, order.len());
                            order.push((r[bi].clone(), 1));
                        }
                    }
                }
                Ok(Table {
                    columns: vec![(c.name.clone(), ty), ("count_".to_owned(), Type::Long)],
                    rows: order
                        .into_iter()
                        .map(|(v, n)| vec![v, Val::Long(n)])
                        .collect(),
                })
            }
        },
        Op::Distinct(cols) => {
            let mut idx = Vec::new();
            for c in cols {
                idx.push(col_index(&t, c)?.0);
            }
            let mut seen = HashSet::new();
            let mut rows = Vec::new();
            for r in t.rows {
                let key: Vec<KeyVal> = idx.iter().map(|&i| KeyVal::of(&r[i])).collect();
                if seen.insert(key) {
                    rows.push(idx.iter().map(|&i| r[i].clone()).collect());
                }
            }
            Ok(Table {
                columns: idx.iter().map(|&i| t.columns[i].clone()).collect(),
                rows,
            })
        }
        Op::Take(n) => {
            let mut t = t;
            t.rows.truncate(*n);
            Ok(t)
        }
        Op::Count => Ok(count_table("Count", t.rows.len())),
        Op::Sort(keys) => {
            let mut idx = Vec::new();
            for (c, desc) in keys {
                idx.push((col_index(&t, c)?.0, *desc));
            }
            let mut t = t;
            // Stable: equal keys keep their order. Nulls go last either way, as in Kusto's
            // default for `desc` and `asc` here alike.
            t.rows.sort_by(|a, b| {
                for &(i, desc) in &idx {
                    let o = match (&a[i], &b[i]) {
                        (Val::Null, Val::Null) => Ordering::Equal,
                        (Val::Null, _) => Ordering::Greater,
                        (_, Val::Null) => Ordering::Less,
                        (x, y) => {
                            let o = compare(x, y).unwrap_or(Ordering::Equal);
                            if desc { o.reverse() } else { o }
                        }
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
            Ok(t)
        }
    }
}

fn count_table(name: &str, n: usize) -> Table {
    Table {
        columns: vec![(name.to_owned(), Type::Long)],
        rows: vec![vec![Val::Long(i64::try_from(n).unwrap_or(i64::MAX))]],
    }
}

/// A hashable form of a value, for grouping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyVal {
    Null,
    Str(String),
    Long(i64),
    Bool(bool),
    Time(i128),
}

impl KeyVal {
    fn of(v: &Val) -> Self {
        match v {
            Val::Null => KeyVal::Null,
            Val::Str(s) => KeyVal::Str(s.clone()),
            Val::Long(n) => KeyVal::Long(*n),
            Val::Bool(b) => KeyVal::Bool(*b),
            Val::DateTime(d) => KeyVal::Time(d.unix_timestamp_nanos()),
        }
    }
}

fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Long(x), Val::Long(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::DateTime(x), Val::DateTime(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// An operand bound to a column index or a literal.
#[derive(Debug, Clone)]
enum B {
    Col(usize),
    Lit(Val),
}

impl B {
    fn get<'a>(&'a self, row: &'a [Val]) -> &'a Val {
        match self {
            B::Col(i) => &row[*i],
            B::Lit(v) => v,
        }
    }
}

/// A predicate with columns resolved.
#[derive(Debug, Clone)]
enum Bound {
    And(Box<Bound>, Box<Bound>),
    Or(Box<Bound>, Box<Bound>),
    Not(Box<Bound>),
    Cmp(B, String, B),
    In(B, Vec<Val>, bool, bool),
    IsEmpty(B, bool),
    Truth(B),
}

fn type_of(v: &Val) -> Option<Type> {
    match v {
        Val::Null => None,
        Val::Str(_) => Some(Type::Str),
        Val::Long(_) => Some(Type::Long),
        Val::Bool(_) => Some(Type::Bool),
        Val::DateTime(_) => Some(Type::DateTime),
    }
}

fn bind_operand(o: &Operand, t: &Table) -> Result<(B, Option<Type>), KqlError> {
    match o {
        Operand::Col(c) => {
            let (i, ty) = col_index(t, c)?;
            Ok((B::Col(i), Some(ty)))
        }
        Operand::Lit(v, _) => Ok((B::Lit(v.clone()), type_of(v))),
    }
}

fn bind(e: &Expr, t: &Table) -> Result<Bound, KqlError> {
    Ok(match e {
        Expr::And(a, b) => Bound::And(Box::new(bind(a, t)?), Box::new(bind(b, t)?)),
        Expr::Or(a, b) => Bound::Or(Box::new(bind(a, t)?), Box::new(bind(b, t)?)),
        Expr::Not(a) => Bound::Not(Box::new(bind(a, t)?)),
        Expr::Cmp {
            left,
            op,
            right,
            pos,
        } => {
            let (l, lt) = bind_operand(left, t)?;
            let (r, rt) = bind_operand(right, t)?;
            let string_only = !matches!(op.as_str(), "==" | "!=" | "<" | "<=" | ">" | ">=");
            let ordered = matches!(op.as_str(), "<" | "<=" | ">" | ">=");
            // String operators first: `OSBuild has "1"` is about the operator, not a mismatch.
            if string_only
                && let Some(bad) = [lt, rt].into_iter().flatten().find(|t| *t != Type::Str)
            {
                return Err(KqlError::semantic(
                    *pos,
                    format!(
                        "operator '{op}' needs string operands, not {}",
                        bad.kql_name()
                    ),
                ));
            }
            if let (Some(lt), Some(rt)) = (lt, rt) {
                if lt != rt {
                    return Err(KqlError::semantic(
                        *pos,
                        format!(
                            "Cannot compare values of types {} and {}",
                            lt.kql_name(),
                            rt.kql_name()
                        ),
                    ));
                }
                if ordered && matches!(lt, Type::Str | Type::Bool) {
                    return Err(KqlError::semantic(
                        *pos,
                        format!(
                            "operator '{op}' needs long or datetime operands, not {}",
                            lt.kql_name()
                        ),
                    ));
                }
            }
            Bound::Cmp(l, op.clone(), r)
        }
        Expr::In {
            left,
            list,
            negate,
            fold,
        } => {
            let (l, lt) = bind_operand(left, t)?;
            let mut vals = Vec::new();
            for o in list {
                let Operand::Lit(v, p) = o else {
                    return Err(KqlError::semantic(
                        o.pos(),
                        "in (...) takes literal values only",
                    ));
                };
                if let (Some(lt), Some(vt)) = (lt, type_of(v))
                    && lt != vt
                {
                    return Err(KqlError::semantic(
                        *p,
                        format!(
                            "Cannot compare values of types {} and {}",
                            lt.kql_name(),
                            vt.kql_name()
                        ),
                    ));
                }
                vals.push(v.clone());
            }
            Bound::In(l, vals, *negate, *fold)
        }
        Expr::IsEmpty(o, empty) => Bound::IsEmpty(bind_operand(o, t)?.0, *empty),
        Expr::Truth(o) => {
            let (b, ty) = bind_operand(o, t)?;
            if ty.is_some_and(|ty| ty != Type::Bool) {
                return Err(KqlError::semantic(
                    o.pos(),
                    "a where clause needs a boolean expression",
                ));
            }
            Bound::Truth(b)
        }
    })
}

/// Kusto's `has`: `needle` occurs in `hay` on term boundaries (a term is a run of letters and
/// digits), ignoring case.
fn has_term(hay: &str, needle: &str) -> bool {
    let hay = hay.to_lowercase();
    let needle = needle.to_lowercase();
    if needle.is_empty() {
        return true;
    }
    let is_term = |c: char| c.is_alphanumeric();
    let mut from = 0;
    while let Some(off) = hay[from..].find(&needle) {
        let start = from + off;
        let end = start + needle.len();
        let before_ok =
            !needle.starts_with(is_term) || !hay[..start].chars().next_back().is_some_and(is_term);
        let after_ok =
            !needle.ends_with(is_term) || !hay[end..].chars().next().is_some_and(is_term);
        if before_ok && after_ok {
            return true;
        }
        from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

impl Bound {
    fn eval(&self, row: &[Val]) -> bool {
        match self {
            Bound::And(a, b) => a.eval(row) && b.eval(row),
            Bound::Or(a, b) => a.eval(row) || b.eval(row),
            Bound::Not(a) => !a.eval(row),
            Bound::Truth(b) => matches!(b.get(row), Val::Bool(true)),
            Bound::IsEmpty(b, empty) => {
                let is_empty = match b.get(row) {
                    Val::Null => true,
                    Val::Str(s) => s.is_empty(),
                    _ => false,
                };
                is_empty == *empty
            }
            Bound::In(b, list, negate, fold) => {
                let v = b.get(row);
                if *v == Val::Null {
                    return false;
                }
                let found = list.iter().any(|x| match (v, x, fold) {
                    (Val::Str(a), Val::Str(b), true) => a.to_lowercase() == b.to_lowercase(),
                    _ => v == x,
                });
                found != *negate
            }
            Bound::Cmp(l, op, r) => {
                let (a, b) = (l.get(row), r.get(row));
                if *a == Val::Null || *b == Val::Null {
                    return false;
                }
                let (negated, base) = match op.strip_prefix('!') {
                    Some(rest) if rest != "=" && rest != "~" => (true, rest),
                    _ => (false, op.as_str()),
                };
                let result = match base {
                    "==" => a == b,
                    "!=" => a != b,
                    "<" => compare(a, b) == Some(Ordering::Less),
                    "<=" => matches!(compare(a, b), Some(Ordering::Less | Ordering::Equal)),
                    ">" => compare(a, b) == Some(Ordering::Greater),
                    ">=" => matches!(compare(a, b), Some(Ordering::Greater | Ordering::Equal)),
                    _ => {
                        let (Val::Str(a), Val::Str(b)) = (a, b) else {
                            return false;
                        };
                        let (al, bl) = (a.to_lowercase(), b.to_lowercase());
                        match base {
                            "=~" => al == bl,
                            "!~" => al != bl,
                            "has" => has_term(a, b),
                            "contains" => al.contains(&bl),
                            "startswith" => al.starts_with(&bl),
                            "endswith" => al.ends_with(&bl),
                            _ => false,
                        }
                    }
                };
                result != negated
            }
        }
    }
}
