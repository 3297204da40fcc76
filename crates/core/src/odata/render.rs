//! Rendering a [`Filter`] to `$filter` text. Parentheses are added exactly where the tree shape
//! needs them, so `parse(render(f)) == f` for every well-typed filter.

use std::fmt;

use super::ast::{Filter, Literal};
use crate::model::datetime::format_datetime;

/// Renders a filter as OData `$filter` text (not yet percent-encoded; `api` does that).
pub fn render(filter: &Filter) -> String {
    let mut out = String::new();
    write_filter(&mut out, filter);
    out
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(self))
    }
}

/// Writes a string literal with `'` doubled, the only escape OData string literals have.
pub fn quote(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
}

fn write_literal(out: &mut String, lit: &Literal) {
    match lit {
        Literal::String(s) => quote(out, s),
        Literal::Number(n) => out.push_str(&n.to_string()),
        Literal::DateTime(dt) => out.push_str(&format_datetime(*dt)),
        Literal::Null => out.push_str("null"),
    }
}

fn write_filter(out: &mut String, f: &Filter) {
    match f {
        Filter::Compare { field, op, value } => {
            out.push_str(field.wire_name());
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_literal(out, value);
        }
        Filter::StartsWith { field, prefix } => {
            out.push_str("startswith(");
            out.push_str(field.wire_name());
            out.push(',');
            quote(out, prefix);
            out.push(')');
        }
        Filter::TagAny { value } => {
            out.push_str("machineTags/any(t: t eq ");
            quote(out, value);
            out.push(')');
        }
        Filter::TagAnyStartsWith { prefix } => {
            out.push_str("machineTags/any(t: startswith(t,");
            quote(out, prefix);
            out.push_str("))");
        }
        Filter::HasAnyTag => out.push_str("machineTags/any()"),
        Filter::And(l, r) => {
            // `and` binds tighter than `or`; both are left-associative.
            write_child(out, l, matches!(**l, Filter::Or(..)));
            out.push_str(" and ");
            write_child(out, r, matches!(**r, Filter::Or(..) | Filter::And(..)));
        }
        Filter::Or(l, r) => {
            write_child(out, l, false);
            out.push_str(" or ");
            write_child(out, r, matches!(**r, Filter::Or(..)));
        }
        Filter::Not(inner) => {
            out.push_str("not ");
            // OData's `not` binds tighter than comparisons (`not a eq b` is `(not a) eq b`), so
            // only function calls may follow it bare.
            // `not not x` is valid and keeps nesting no deeper than the input had it.
            let bare = matches!(
                **inner,
                Filter::StartsWith { .. }
                    | Filter::TagAny { .. }
                    | Filter::TagAnyStartsWith { .. }
                    | Filter::HasAnyTag
                    | Filter::Not(_)
            );
            write_child(out, inner, !bare);
        }
    }
}

fn write_child(out: &mut String, f: &Filter, parens: bool) {
    if parens {
        out.push('(');
        write_filter(out, f);
        out.push(')');
    } else {
        write_filter(out, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::ast::{CmpOp, Field};

    #[test]
    fn doubles_quotes() {
        let f = Filter::eq(Field::ComputerDnsName, "o'brien's pc");
        assert_eq!(render(&f), "computerDnsName eq 'o''brien''s pc'");
    }

    #[test]
    fn parenthesises_only_where_needed() {
        let a = Filter::eq(Field::RiskScore, "High");
        let b = Filter::compare(Field::RbacGroupId, CmpOp::Ge, 5);
        let c = Filter::has_tag("vip");
        assert_eq!(
            render(&a.clone().or(b.clone()).and(c.clone())),
            "(riskScore eq 'High' or rbacGroupId ge 5) and machineTags/any(t: t eq 'vip')"
        );
        assert_eq!(
            render(&a.clone().and(b.clone()).or(c.clone())),
            "riskScore eq 'High' and rbacGroupId ge 5 or machineTags/any(t: t eq 'vip')"
        );
        assert_eq!(
            render(&a.clone().and(b.clone().and(c.clone()))),
            "riskScore eq 'High' and (rbacGroupId ge 5 and machineTags/any(t: t eq 'vip'))"
        );
        assert_eq!(render(&a.not()), "not (riskScore eq 'High')");
        assert_eq!(render(&c.not()), "not machineTags/any(t: t eq 'vip')");
    }
}
