//! OData `$filter` AST → text → AST: every well-typed filter the client can build renders to
//! text the parser reads back as the same filter (the emulator and the UI evaluate what the
//! client meant).
#![no_main]

use defender_tags_core::odata::{self, CmpOp, Field, FieldKind, Filter, Literal};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

/// Nesting kept well under the parser's `MAX_FILTER_DEPTH`.
const MAX_DEPTH: u32 = 8;

fn text(u: &mut Unstructured<'_>) -> Result<String> {
    // Mostly short strings, biased towards the characters that need quoting care.
    if u.ratio(1, 2)? {
        let len = u.int_in_range(0..=10)?;
        let alphabet = [
            'a', 'Z', '\'', ' ', '(', ')', ',', '/', ':', '-', '0', 'é', '\u{7f}',
        ];
        (0..len)
            .map(|_| u.choose(&alphabet).copied())
            .collect::<Result<String>>()
    } else {
        u.arbitrary::<String>()
    }
}

fn literal_for(u: &mut Unstructured<'_>, kind: FieldKind) -> Result<Literal> {
    if u.ratio(1, 5)? {
        return Ok(Literal::Null);
    }
    Ok(match kind {
        FieldKind::Text | FieldKind::Enum => Literal::String(text(u)?),
        FieldKind::DateTime => {
            // Years 0000..=9999 (what RFC 3339 can write), nanosecond precision.
            let secs = u.int_in_range(-62_167_219_200_i64..=253_402_300_799_i64)?;
            let nanos = u.int_in_range(0_i64..=999_999_999)?;
            let at = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
            match OffsetDateTime::from_unix_timestamp_nanos(at) {
                Ok(dt) => Literal::DateTime(dt),
                Err(_) => Literal::Null,
            }
        }
        FieldKind::Integer => Literal::Number(u.arbitrary()?),
        FieldKind::Tags => Literal::Null,
    })
}

fn leaf(u: &mut Unstructured<'_>) -> Result<Filter> {
    Ok(match u.int_in_range(0..=9)? {
        0..=3 => {
            let fields: Vec<Field> = Field::ALL
                .into_iter()
                .filter(|f| f.kind() != FieldKind::Tags)
                .collect();
            let field = *u.choose(&fields)?;
            let op = *u.choose(&CmpOp::ALL)?;
            let value = literal_for(u, field.kind())?;
            Filter::Compare { field, op, value }
        }
        4 | 5 => {
            let fields: Vec<Field> = Field::ALL
                .into_iter()
                .filter(|f| matches!(f.kind(), FieldKind::Text | FieldKind::Enum))
                .collect();
            Filter::StartsWith {
                field: *u.choose(&fields)?,
                prefix: text(u)?,
            }
        }
        6 | 7 => Filter::TagAny { value: text(u)? },
        8 => Filter::TagAnyStartsWith { prefix: text(u)? },
        _ => Filter::HasAnyTag,
    })
}

fn filter(u: &mut Unstructured<'_>, depth: u32) -> Result<Filter> {
    if depth >= MAX_DEPTH || u.ratio(1, 2)? {
        return leaf(u);
    }
    Ok(match u.int_in_range(0..=2)? {
        0 => filter(u, depth + 1)?.and(filter(u, depth + 1)?),
        1 => filter(u, depth + 1)?.or(filter(u, depth + 1)?),
        _ => filter(u, depth + 1)?.not(),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(f) = filter(&mut u, 0) else {
        return;
    };
    let rendered = odata::render(&f);
    if rendered.chars().count() > odata::MAX_FILTER_CHARS {
        // Refusing over-long filters is the parser's documented limit, not a round-trip bug.
        assert!(odata::parse(&rendered).is_err());
        return;
    }
    assert_eq!(
        odata::parse(&rendered).as_ref(),
        Ok(&f),
        "rendered: {rendered}"
    );
});
