//! Parsing `$filter` text into a [`Filter`]. Hand-written (no regex, no parser crates) to keep
//! the wasm small; bounded in length and nesting because the emulator parses untrusted input.
//!
//! Grammar (keywords, function names and field names are matched ignoring ASCII case, as the
//! ASP.NET service does; string literal contents are exact):
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" (unary-call | "(" expr ")" | "not" ...) | primary
//! primary := "(" expr ")"
//!          | "startswith" "(" field "," string ")"
//!          | "machineTags" "/" "any" "(" [ var ":" (var "eq" string | "startswith" "(" var "," string ")") ] ")"
//!          | field op literal
//! literal := string | integer | datetime | "null"
//! ```

use super::ast::{CmpOp, Field, FieldKind, Filter, Literal};
use super::error::{MAX_FILTER_CHARS, MAX_FILTER_DEPTH, ODataError};
use super::lex::{Tok, lex};

/// Parses `$filter` text (already percent-decoded) into a [`Filter`].
pub fn parse(input: &str) -> Result<Filter, ODataError> {
    let len = input.chars().count();
    if len > MAX_FILTER_CHARS {
        return Err(ODataError::TooLong {
            len,
            max: MAX_FILTER_CHARS,
        });
    }
    if input.trim().is_empty() {
        return Err(ODataError::Empty);
    }
    let chars: Vec<char> = input.chars().collect();
    let toks = lex(&chars)?;
    let mut p = Parser {
        toks,
        at: 0,
        depth: 0,
    };
    let f = p.expr()?;
    let (tok, pos) = p.peek();
    if *tok != Tok::End {
        return Err(p.syntax(pos, "'and', 'or' or end of input"));
    }
    // The canonical text can be longer than the input (spaces added, `2018-08-01Z` written in
    // full). Refusing here keeps `parse(render(parse(s)?)) == parse(s)` true for every input.
    let canonical = super::render(&f).chars().count();
    if canonical > MAX_FILTER_CHARS {
        return Err(ODataError::TooLong {
            len: canonical,
            max: MAX_FILTER_CHARS,
        });
    }
    Ok(f)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> (&Tok, usize) {
        let i = self.at.min(self.toks.len().saturating_sub(1));
        match self.toks.get(i) {
            Some((t, p)) => (t, *p),
            None => (&Tok::End, 1),
        }
    }

    fn next(&mut self) -> (Tok, usize) {
        let (t, p) = self.peek();
        let out = (t.clone(), p);
        if self.at < self.toks.len() {
            self.at += 1;
        }
        out
    }

    fn syntax(&self, position: usize, expected: &str) -> ODataError {
        let found = self
            .toks
            .iter()
            .find(|(_, p)| *p == position)
            .map_or_else(|| "end of input".to_owned(), |(t, _)| t.describe());
        ODataError::Syntax {
            position,
            expected: expected.to_owned(),
            found,
        }
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek().0, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, want: &Tok, expected: &str) -> Result<usize, ODataError> {
        let (t, p) = self.peek();
        if t == want {
            self.next();
            Ok(p)
        } else {
            Err(self.syntax(p, expected))
        }
    }

    fn enter(&mut self, position: usize) -> Result<(), ODataError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(ODataError::TooDeep {
                position,
                max: MAX_FILTER_DEPTH,
            });
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Filter, ODataError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.next();
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ODataError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.next();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ODataError> {
        if !self.peek_keyword("not") {
            return self.primary();
        }
        let (_, pos) = self.next();
        self.enter(pos)?;
        // `not` binds tighter than comparisons in OData, so only a parenthesised expression, a
        // function call or another `not` may follow it.
        let (tok, p) = self.peek();
        let ok = match tok {
            Tok::LParen => true,
            Tok::Ident(s) => {
                s.eq_ignore_ascii_case("not")
                    || s.eq_ignore_ascii_case("startswith")
                    || Field::from_name(s) == Some(Field::MachineTags)
            }
            _ => false,
        };
        if !ok {
            return Err(self.syntax(
                p,
                "'(' after 'not' (write not (field eq 'value')), or a function call",
            ));
        }
        let inner = self.unary()?;
        self.depth -= 1;
        Ok(Filter::Not(Box::new(inner)))
    }

    fn primary(&mut self) -> Result<Filter, ODataError> {
        let (tok, pos) = self.next();
        match tok {
            Tok::LParen => {
                self.enter(pos)?;
                let inner = self.expr()?;
                self.expect(&Tok::RParen, "')' or 'and'/'or'")?;
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Ident(name) if name.eq_ignore_ascii_case("startswith") => self.starts_with(),
            Tok::Ident(name) => {
                let field = Field::from_name(&name).ok_or(ODataError::UnknownField {
                    position: pos,
                    name: name.clone(),
                })?;
                if field == Field::MachineTags {
                    return self.tag_lambda(pos);
                }
                self.comparison(field)
            }
            other => Err(ODataError::Syntax {
                position: pos,
                expected: "a condition (a field name, startswith(...), 'not' or '(')".to_owned(),
                found: other.describe(),
            }),
        }
    }

    fn starts_with(&mut self) -> Result<Filter, ODataError> {
        self.expect(&Tok::LParen, "'(' after startswith")?;
        let (tok, pos) = self.next();
        let field = match tok {
            Tok::Ident(name) => Field::from_name(&name).ok_or(ODataError::UnknownField {
                position: pos,
                name,
            })?,
            other => {
                return Err(ODataError::Syntax {
                    position: pos,
                    expected: "a field name".to_owned(),
                    found: other.describe(),
                });
            }
        };
        if !matches!(field.kind(), FieldKind::Text | FieldKind::Enum) {
            return Err(ODataError::Unsupported {
                position: pos,
                field,
                operation: "startswith".to_owned(),
                hint: if field == Field::MachineTags {
                    "write machineTags/any(t: startswith(t,'prefix'))"
                } else {
                    "startswith works on text fields only"
                },
            });
        }
        self.expect(&Tok::Comma, "',' after the field name")?;
        let prefix = self.string("a quoted prefix, e.g. 'ws-'")?;
        self.expect(&Tok::RParen, "')' to close startswith")?;
        Ok(Filter::StartsWith { field, prefix })
    }

    fn string(&mut self, expected: &str) -> Result<String, ODataError> {
        let (tok, pos) = self.peek();
        if let Tok::Str(s) = tok {
            let s = s.clone();
            self.next();
            Ok(s)
        } else {
            Err(self.syntax(pos, expected))
        }
    }

    fn tag_lambda(&mut self, field_pos: usize) -> Result<Filter, ODataError> {
        let (tok, pos) = self.peek();
        if *tok != Tok::Slash {
            return Err(ODataError::Unsupported {
                position: pos.max(field_pos),
                field: Field::MachineTags,
                operation: "direct comparison".to_owned(),
                hint: "write machineTags/any(t: t eq 'tag')",
            });
        }
        self.next();
        let (tok, pos) = self.next();
        if !matches!(&tok, Tok::Ident(s) if s.eq_ignore_ascii_case("any")) {
            return Err(ODataError::Syntax {
                position: pos,
                expected: "'any' after machineTags/".to_owned(),
                found: tok.describe(),
            });
        }
        self.expect(&Tok::LParen, "'(' after any")?;
        if *self.peek().0 == Tok::RParen {
            self.next();
            return Ok(Filter::HasAnyTag);
        }
        let var = self.ident("a lambda variable, e.g. t")?;
        self.expect(&Tok::Colon, "':' after the lambda variable")?;
        let (tok, pos) = self.peek();
        let result = match tok {
            Tok::Ident(s) if s.eq_ignore_ascii_case("startswith") => {
                self.next();
                self.expect(&Tok::LParen, "'(' after startswith")?;
                self.lambda_var(&var)?;
                self.expect(&Tok::Comma, "',' after the lambda variable")?;
                let prefix = self.string("a quoted tag prefix")?;
                self.expect(&Tok::RParen, "')' to close startswith")?;
                Filter::TagAnyStartsWith { prefix }
            }
            Tok::Ident(_) => {
                self.lambda_var(&var)?;
                let (op, op_pos) = self.next();
                if !matches!(&op, Tok::Ident(s) if s.eq_ignore_ascii_case("eq")) {
                    return Err(ODataError::Syntax {
                        position: op_pos,
                        expected: "'eq' (tags support equality and startswith only)".to_owned(),
                        found: op.describe(),
                    });
                }
                let value = self.string("a quoted tag, e.g. 'Finance'")?;
                Filter::TagAny { value }
            }
            _ => {
                return Err(self.syntax(
                    pos,
                    &format!("{var} eq 'tag' or startswith({var},'prefix')"),
                ));
            }
        };
        self.expect(&Tok::RParen, "')' to close any(...)")?;
        Ok(result)
    }

    fn ident(&mut self, expected: &str) -> Result<String, ODataError> {
        let (tok, pos) = self.next();
        match tok {
            Tok::Ident(s) => Ok(s),
            other => Err(ODataError::Syntax {
                position: pos,
                expected: expected.to_owned(),
                found: other.describe(),
            }),
        }
    }

    fn lambda_var(&mut self, var: &str) -> Result<(), ODataError> {
        let (tok, pos) = self.next();
        match tok {
            Tok::Ident(s) if s == var => Ok(()),
            other => Err(ODataError::Syntax {
                position: pos,
                expected: format!("the lambda variable '{var}'"),
                found: other.describe(),
            }),
        }
    }

    fn comparison(&mut self, field: Field) -> Result<Filter, ODataError> {
        let (tok, pos) = self.next();
        let op = match &tok {
            Tok::Ident(s) => CmpOp::from_keyword(s),
            _ => None,
        }
        .ok_or_else(|| ODataError::Syntax {
            position: pos,
            expected: "a comparison operator (eq, ne, gt, ge, lt, le)".to_owned(),
            found: tok.describe(),
        })?;
        let (tok, pos) = self.next();
        let value = match tok {
            Tok::Str(s) => Literal::String(s),
            Tok::Int(n) => Literal::Number(n),
            Tok::Date(d) => Literal::DateTime(d),
            Tok::Ident(s) if s.eq_ignore_ascii_case("null") => Literal::Null,
            other => {
                return Err(ODataError::Syntax {
                    position: pos,
                    expected: "a value ('text', a number, a date-time or null)".to_owned(),
                    found: other.describe(),
                });
            }
        };
        check_type(field, &value, pos)?;
        Ok(Filter::Compare { field, op, value })
    }
}

fn check_type(field: Field, value: &Literal, position: usize) -> Result<(), ODataError> {
    let (ok, expected) = match (field.kind(), value) {
        (_, Literal::Null) => (true, ""),
        (FieldKind::Text | FieldKind::Enum, Literal::String(_)) => (true, ""),
        (FieldKind::Text | FieldKind::Enum, _) => (false, "a quoted string, e.g. 'High'"),
        (FieldKind::DateTime, Literal::DateTime(_)) => (true, ""),
        (FieldKind::DateTime, _) => (false, "an unquoted date-time, e.g. 2024-05-01T00:00:00Z"),
        (FieldKind::Integer, Literal::Number(_)) => (true, ""),
        (FieldKind::Integer, Literal::String(s)) => (s.trim().parse::<i64>().is_ok(), "an integer"),
        (FieldKind::Integer, _) => (false, "an integer"),
        (FieldKind::Tags, _) => (false, "machineTags/any(t: t eq 'tag')"),
    };
    if ok {
        Ok(())
    } else {
        Err(ODataError::TypeMismatch {
            position,
            field,
            expected,
            found: describe_literal(value),
        })
    }
}

fn describe_literal(value: &Literal) -> String {
    match value {
        Literal::String(s) => format!("string '{s}'"),
        Literal::Number(n) => format!("number {n}"),
        Literal::DateTime(_) => "a date-time".to_owned(),
        Literal::Null => "null".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parses_every_documented_example() {
        assert_eq!(
            parse("riskScore eq 'High'").unwrap(),
            Filter::eq(Field::RiskScore, "High")
        );
        assert_eq!(
            parse("healthStatus ne 'Active'").unwrap(),
            Filter::compare(Field::HealthStatus, CmpOp::Ne, "Active")
        );
        assert_eq!(
            parse("lastSeen gt 2018-08-01Z").unwrap(),
            Filter::compare(Field::LastSeen, CmpOp::Gt, datetime!(2018-08-01 0:00 UTC))
        );
        assert_eq!(
            parse("startswith(computerDnsName,'mymachine')").unwrap(),
            Filter::starts_with(Field::ComputerDnsName, "mymachine")
        );
        assert_eq!(
            parse("machineTags/any(tag: tag eq 'ExampleTag')").unwrap(),
            Filter::has_tag("ExampleTag")
        );
    }

    #[test]
    fn unquoted_guids_are_string_literals() {
        let guid = "80fe8ff8-2624-418e-9591-41f0491218f9";
        assert_eq!(
            parse(&format!("aadDeviceId eq {guid}")).unwrap(),
            Filter::eq(Field::AadDeviceId, guid)
        );
        assert_eq!(
            parse("aadDeviceId eq A0FE8FF8-2624-418E-9591-41F0491218F9").unwrap(),
            Filter::eq(Field::AadDeviceId, "A0FE8FF8-2624-418E-9591-41F0491218F9")
        );
        // Not GUID-shaped: still a date-time or an error, never silently a string.
        assert!(matches!(
            parse("lastSeen gt 2018-08-01"),
            Ok(Filter::Compare {
                value: Literal::DateTime(_),
                ..
            })
        ));
        assert!(parse("aadDeviceId eq 80fe8ff8-2624-418e-9591-41f0491218f9x").is_err());
    }

    #[test]
    fn field_names_and_keywords_are_case_insensitive() {
        assert_eq!(
            parse("RiskScore EQ 'High' AND RbacGroupId eq 140").unwrap(),
            Filter::eq(Field::RiskScore, "High").and(Filter::eq(Field::RbacGroupId, 140))
        );
    }

    #[test]
    fn precedence_and_grouping() {
        let a = || Filter::eq(Field::Version, "a");
        let b = || Filter::eq(Field::Version, "b");
        let c = || Filter::eq(Field::Version, "c");
        assert_eq!(
            parse("version eq 'a' or version eq 'b' and version eq 'c'").unwrap(),
            a().or(b().and(c()))
        );
        assert_eq!(
            parse("(version eq 'a' or version eq 'b') and version eq 'c'").unwrap(),
            a().or(b()).and(c())
        );
        assert_eq!(parse("not (version eq 'a')").unwrap(), a().not());
    }

    #[test]
    fn errors_say_where_what_and_found() {
        let e = parse("riskScore eq 'High' annd x").unwrap_err();
        assert_eq!(e.position(), Some(21));
        assert!(e.to_string().contains("expected 'and', 'or'"), "{e}");
        assert!(e.to_string().contains("found 'annd'"), "{e}");

        let e = parse("riskScore equals 'High'").unwrap_err();
        assert!(e.to_string().contains("at position 11"), "{e}");
        assert!(e.to_string().contains("comparison operator"), "{e}");
    }

    #[test]
    fn each_error_class_has_its_own_variant() {
        assert_eq!(parse("  "), Err(ODataError::Empty));
        assert!(matches!(
            parse(&"a".repeat(MAX_FILTER_CHARS + 1)),
            Err(ODataError::TooLong { .. })
        ));
        let deep = format!("{}id eq null{}", "(".repeat(40), ")".repeat(40));
        assert!(matches!(
            parse(&deep),
            Err(ODataError::TooDeep { max: 32, .. })
        ));
        assert!(matches!(
            parse("colour eq 'red'"),
            Err(ODataError::UnknownField { position: 1, .. })
        ));
        assert!(matches!(
            parse("rbacGroupId eq 'abc'"),
            Err(ODataError::TypeMismatch { position: 16, .. })
        ));
        assert!(matches!(
            parse("lastSeen gt '2024-01-01'"),
            Err(ODataError::TypeMismatch { .. })
        ));
        assert!(matches!(
            parse("machineTags eq 'x'"),
            Err(ODataError::Unsupported { .. })
        ));
        assert!(matches!(
            parse("version eq 'abc"),
            Err(ODataError::UnterminatedString { position: 12 })
        ));
        assert!(matches!(
            parse("rbacGroupId eq 99999999999999999999"),
            Err(ODataError::NumberOutOfRange { .. })
        ));
        assert!(matches!(
            parse("lastSeen gt 2024-13-01"),
            Err(ODataError::InvalidDateTime { .. })
        ));
        assert!(matches!(
            parse("version eq 'a' & id eq null"),
            Err(ODataError::UnexpectedCharacter { found: '&', .. })
        ));
        assert!(matches!(
            parse("not riskScore eq 'High'"),
            Err(ODataError::Syntax { position: 5, .. })
        ));
    }

    #[test]
    fn messages_are_actionable() {
        let m = |s: &str| parse(s).unwrap_err().to_string();
        assert!(m("colour eq 'red'").contains("computerDnsName"));
        assert!(m("machineTags eq 'x'").contains("machineTags/any(t: t eq 'tag')"));
        assert!(m("lastSeen gt '2024-01-01'").contains("unquoted date-time"));
        assert!(m("version eq 'abc").contains("not closed"));
        assert!(m("not riskScore eq 'High'").contains("not (field eq 'value')"));
    }

    #[test]
    fn deep_but_legal_inputs_do_not_overflow() {
        let long = vec!["id eq null"; 500].join(" and ");
        assert!(parse(&long).is_ok());
        let nots = format!("{}startswith(id,'a')", "not ".repeat(MAX_FILTER_DEPTH));
        assert!(parse(&nots).is_ok());
        let too_many = format!("{}startswith(id,'a')", "not ".repeat(MAX_FILTER_DEPTH + 1));
        assert!(matches!(parse(&too_many), Err(ODataError::TooDeep { .. })));
    }

    #[test]
    fn accepted_input_always_round_trips_through_its_canonical_form() {
        // Regression: `not not x` used to render as `not (not x)`, doubling the nesting, so a
        // legal 32-deep input rendered to text the parser refused.
        let nots = format!("{}startswith(id,'a')", "not ".repeat(MAX_FILTER_DEPTH));
        let f = parse(&nots).unwrap();
        assert_eq!(parse(&crate::odata::render(&f)).unwrap(), f);
        // Compact input whose canonical form would exceed the limit is refused up front.
        let compact = vec!["lastSeen gt 2018-08-01"; 300].join(" or ");
        assert!(compact.chars().count() <= MAX_FILTER_CHARS);
        assert!(matches!(parse(&compact), Err(ODataError::TooLong { .. })));
    }
}
