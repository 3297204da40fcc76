//! Tokens of the KQL subset, each with its 0-based character position.

use super::KqlError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or keyword (`where`, `DeviceName`, `!in`, `in~`, `!contains`...).
    Ident(String),
    /// A string literal, unescaped.
    Str(String),
    /// An integer literal.
    Long(i64),
    /// A timespan literal (`30d`, `2h`, `15m`, `10s`, `500ms`), in milliseconds.
    Span(i64),
    /// The raw text inside `datetime(...)`.
    DateTime(String),
    /// `|`
    Pipe,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `*`
    Star,
    /// `=` (renaming in `project`)
    Assign,
    /// `==` `!=` `=~` `!~` `<` `<=` `>` `>=`
    Op(&'static str),
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub tok: Tok,
    pub pos: usize,
    /// The source text of the token (for error messages).
    pub text: String,
}

pub fn lex(src: &str) -> Result<Vec<Spanned>, KqlError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let tok = match c {
            '|' => {
                i += 1;
                Tok::Pipe
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '*' => {
                i += 1;
                Tok::Star
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len): (Option<&'static str>, usize) = match (c, next) {
                    ('=', Some('=')) => (Some("=="), 2),
                    ('=', Some('~')) => (Some("=~"), 2),
                    ('=', _) => (None, 1),
                    ('!', Some('=')) => (Some("!="), 2),
                    ('!', Some('~')) => (Some("!~"), 2),
                    ('<', Some('=')) => (Some("<="), 2),
                    ('<', _) => (Some("<"), 1),
                    ('>', Some('=')) => (Some(">="), 2),
                    ('>', _) => (Some(">"), 1),
                    ('!', Some(n)) if n.is_ascii_alphabetic() => {
                        // `!in`, `!has`, `!contains`...: one negated keyword.
                        i += 1;
                        let word = read_word(&chars, &mut i);
                        out.push(Spanned {
                            tok: Tok::Ident(format!("!{word}")),
                            pos: start,
                            text: format!("!{word}"),
                        });
                        continue;
                    }
                    _ => {
                        return Err(KqlError::syntax(
                            start,
                            c.to_string(),
                            "unexpected character",
                        ));
                    }
                };
                i += len;
                match op {
                    Some(op) => Tok::Op(op),
                    None => Tok::Assign,
                }
            }
            '"' | '\'' => Tok::Str(read_string(&chars, &mut i, false)?),
            '@' if matches!(chars.get(i + 1), Some('"' | '\'')) => {
                i += 1;
                Tok::Str(read_string(&chars, &mut i, true).map_err(|mut e| {
                    e.pos = start;
                    e
                })?)
            }
            d if d.is_ascii_digit() => {
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                let n: i64 = digits
                    .parse()
                    .map_err(|_| KqlError::syntax(start, digits.clone(), "number too large"))?;
                let unit_start = i;
                while i < chars.len() && chars[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let unit: String = chars[unit_start..i].iter().collect();
                let ms = match unit.as_str() {
                    "" => None,
                    "d" => Some(86_400_000),
                    "h" => Some(3_600_000),
                    "m" => Some(60_000),
                    "s" => Some(1_000),
                    "ms" => Some(1),
                    _ => {
                        return Err(KqlError::syntax(
                            start,
                            chars[start..i].iter().collect::<String>(),
                            "unknown timespan unit (use d, h, m, s or ms)",
                        ));
                    }
                };
                match ms {
                    None => Tok::Long(n),
                    Some(ms) => Tok::Span(n.saturating_mul(ms)),
                }
            }
            a if a.is_alphabetic() || a == '_' => {
                let word = read_word(&chars, &mut i);
                if word == "in" && chars.get(i) == Some(&'~') {
                    i += 1;
                    Tok::Ident("in~".to_owned())
                } else if word.eq_ignore_ascii_case("datetime") {
                    // The inside of datetime(...) is not KQL tokens (`2026-12-01T10:00:00Z`).
                    let mut j = i;
                    while j < chars.len() && chars[j].is_whitespace() {
                        j += 1;
                    }
                    if chars.get(j) != Some(&'(') {
                        return Err(KqlError::syntax(start, word, "expected '(' after datetime"));
                    }
                    let open = j;
                    while j < chars.len() && chars[j] != ')' {
                        j += 1;
                    }
                    if j >= chars.len() {
                        return Err(KqlError::syntax(open, "(".to_owned(), "missing ')'"));
                    }
                    let inner: String = chars[open + 1..j].iter().collect();
                    i = j + 1;
                    Tok::DateTime(inner.trim().trim_matches(['"', '\'']).to_owned())
                } else {
                    Tok::Ident(word)
                }
            }
            other => {
                return Err(KqlError::syntax(
                    start,
                    other.to_string(),
                    "unexpected character",
                ));
            }
        };
        out.push(Spanned {
            tok,
            pos: start,
            text: chars[start..i].iter().collect(),
        });
    }
    Ok(out)
}

fn read_word(chars: &[char], i: &mut usize) -> String {
    let start = *i;
    while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

/// Reads a quoted string starting at `*i` (the quote). `verbatim`: `@"..."`, no escapes.
fn read_string(chars: &[char], i: &mut usize, verbatim: bool) -> Result<String, KqlError> {
    let start = *i;
    let quote = chars[*i];
    *i += 1;
    let mut s = String::new();
    while *i < chars.len() {
        let c = chars[*i];
        if c == quote {
            *i += 1;
            return Ok(s);
        }
        if c == '\\' && !verbatim {
            let esc = chars.get(*i + 1).copied();
            let ch = match esc {
                Some('n') => '\n',
                Some('t') => '\t',
                Some('\\') => '\\',
                Some('"') => '"',
                Some('\'') => '\'',
                _ => {
                    return Err(KqlError::syntax(
                        *i,
                        "\\".to_owned(),
                        "unknown escape sequence",
                    ));
                }
            };
            s.push(ch);
            *i += 2;
            continue;
        }
        s.push(c);
        *i += 1;
    }
    Err(KqlError::syntax(
        start,
        quote.to_string(),
        "unterminated string literal",
    ))
}
