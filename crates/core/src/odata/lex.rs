//! The `$filter` tokenizer.

use super::error::ODataError;
use crate::model::datetime::parse_datetime;

const GUID_LEN: usize = 36;

/// An unquoted GUID (`8-4-4-4-12` hex digits) starting at `i`, not followed by a name character.
fn guid_at(chars: &[char], i: usize) -> Option<String> {
    let candidate = chars.get(i..i + GUID_LEN)?;
    let dash = |k: usize| matches!(k, 8 | 13 | 18 | 23);
    let shaped = candidate.iter().enumerate().all(|(k, c)| {
        if dash(k) {
            *c == '-'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    let ends = chars
        .get(i + GUID_LEN)
        .is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.')));
    let starts = i == 0
        || chars
            .get(i - 1)
            .is_some_and(|c| !(c.is_alphanumeric() || *c == '_'));
    (shaped && ends && starts).then(|| candidate.iter().collect())
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Date(time::OffsetDateTime),
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
    End,
}

impl Tok {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Int(n) => format!("number {n}"),
            Tok::Date(_) => "a date-time".to_owned(),
            Tok::LParen => "'('".to_owned(),
            Tok::RParen => "')'".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::Slash => "'/'".to_owned(),
            Tok::Colon => "':'".to_owned(),
            Tok::End => "end of input".to_owned(),
        }
    }
}

pub(super) fn lex(chars: &[char]) -> Result<Vec<(Tok, usize)>, ODataError> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '/' => Some(Tok::Slash),
            ':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            toks.push((t, pos));
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(ODataError::UnterminatedString { position: pos }),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            toks.push((Tok::Str(s), pos));
        } else if let Some(guid) = guid_at(chars, i) {
            // OData writes Edm.Guid literals unquoted (aadDeviceId is a GUID). They become
            // string literals, which is how this crate compares and renders GUIDs.
            toks.push((Tok::Str(guid), pos));
            i += GUID_LEN;
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while chars
                .get(i)
                .is_some_and(|ch| ch.is_ascii_alphanumeric() || matches!(ch, ':' | '.' | '+' | '-'))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let digits = text.strip_prefix('-').unwrap_or(&text);
            if digits.bytes().all(|b| b.is_ascii_digit()) {
                let n = text
                    .parse::<i64>()
                    .map_err(|_| ODataError::NumberOutOfRange {
                        position: pos,
                        text: text.clone(),
                    })?;
                toks.push((Tok::Int(n), pos));
            } else {
                let dt = parse_datetime(&text).map_err(|_| ODataError::InvalidDateTime {
                    position: pos,
                    text: text.clone(),
                })?;
                toks.push((Tok::Date(dt), pos));
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|ch| ch.is_alphanumeric() || *ch == '_')
            {
                i += 1;
            }
            toks.push((Tok::Ident(chars[start..i].iter().collect()), pos));
        } else {
            return Err(ODataError::UnexpectedCharacter {
                position: pos,
                found: c,
            });
        }
    }
    toks.push((Tok::End, chars.len() + 1));
    Ok(toks)
}
