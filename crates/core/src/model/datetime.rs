//! Date-time parsing and formatting shared by the JSON model and OData literals.
//!
//! Parsing is lenient in the ways the service and its docs are: RFC 3339 with any number of
//! fractional digits (the service sends 7), a missing offset meaning UTC, and a bare date
//! (`2018-08-01` or `2018-08-01Z`, as in the docs' filter example) meaning midnight UTC.
//! Formatting is canonical: UTC, `Z`, fractional digits only when non-zero.

use std::fmt::Write as _;

use thiserror::Error;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// A string that is not a date-time we understand.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{text:?} is not a date-time; expected e.g. 2024-05-01T12:00:00Z or 2024-05-01")]
pub struct DateTimeError {
    /// The rejected text.
    pub text: String,
}

/// Parses an RFC 3339 date-time, an offset-less date-time (UTC) or a bare date (midnight UTC).
///
/// The result is normalised to UTC, and instants whose UTC year falls outside 0000–9999 are
/// rejected: RFC 3339 cannot write them, so accepting them would break every round trip.
pub fn parse_datetime(text: &str) -> Result<OffsetDateTime, DateTimeError> {
    let err = || DateTimeError {
        text: text.to_owned(),
    };
    parse_any(text)
        .and_then(|dt| dt.checked_to_offset(UtcOffset::UTC))
        .filter(|utc| (0..=9999).contains(&utc.year()))
        .ok_or_else(err)
}

fn parse_any(text: &str) -> Option<OffsetDateTime> {
    let date_only = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    if date_only.len() == 10 && !date_only.contains(['T', 't']) {
        let date = parse_date(date_only)?;
        return Some(date.with_time(Time::MIDNIGHT).assume_utc());
    }
    if let Some(dt) = parse_rfc3339(text.as_bytes(), None) {
        return Some(dt);
    }
    // No offset at all (`2024-05-01T12:00:00.123`): the service's own timestamps are UTC.
    let time_part = text.split(['T', 't']).nth(1)?;
    if time_part.contains(['Z', 'z', '+', '-']) {
        return None;
    }
    parse_rfc3339(text.as_bytes(), Some(UtcOffset::UTC))
}

/// RFC 3339 as the `time` crate's `Rfc3339` parser reads it (the tests hold the two equal):
/// `YYYY-MM-DD`, any one separator byte, `HH:MM:SS`, an optional fraction of any length (digits
/// past the ninth ignored), then `Z`/`z` or `±HH:MM` (hour ≤ 23). A leap second (`:60`) stands
/// for the nanosecond before it, and only where one can occur: the last second of a month in
/// UTC. `offset` is used instead of a written one when given (then none may be written).
///
/// Written out rather than calling `time`'s parser: that one brings its generic parsing machinery
/// into every wasm build, about 10 KB, for this one format.
fn parse_rfc3339(b: &[u8], offset: Option<UtcOffset>) -> Option<OffsetDateTime> {
    fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
        b.get(at..at + n)?.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    }
    let lit = |at: usize, c: u8| (b.get(at) == Some(&c)).then_some(());
    let year = i32::try_from(digits(b, 0, 4)?).ok()?;
    lit(4, b'-')?;
    let month = Month::try_from(u8::try_from(digits(b, 5, 2)?).ok()?).ok()?;
    lit(7, b'-')?;
    let day = u8::try_from(digits(b, 8, 2)?).ok()?;
    // Byte 10 is the separator: any byte (RFC 3339 names `T` and allows others, e.g. a space).
    b.get(10)?;
    let hour = u8::try_from(digits(b, 11, 2)?).ok()?;
    lit(13, b':')?;
    let minute = u8::try_from(digits(b, 14, 2)?).ok()?;
    lit(16, b':')?;
    let mut second = u8::try_from(digits(b, 17, 2)?).ok()?;
    let mut at = 19;
    let mut nanosecond = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        let mut scale = 100_000_000u32;
        while let Some(d) = b.get(at).filter(|d| d.is_ascii_digit()) {
            nanosecond += u32::from(d - b'0') * scale;
            scale /= 10;
            at += 1;
        }
        if at == start {
            return None;
        }
    }
    let offset = match (offset, b.get(at)) {
        (Some(given), None) => given,
        (Some(_), Some(_)) => return None,
        (None, Some(b'Z' | b'z')) => {
            at += 1;
            UtcOffset::UTC
        }
        (None, Some(&sign @ (b'+' | b'-'))) => {
            let h = i8::try_from(digits(b, at + 1, 2)?)
                .ok()
                .filter(|h| *h <= 23)?;
            lit(at + 3, b':')?;
            let m = i8::try_from(digits(b, at + 4, 2)?).ok()?;
            at += 6;
            let (h, m) = if sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).ok()?
        }
        (None, _) => return None,
    };
    if at != b.len() {
        return None;
    }
    let leap = second == 60;
    if leap {
        second = 59;
        nanosecond = 999_999_999;
    }
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanosecond).ok()?;
    let dt = date.with_time(time).assume_offset(offset);
    if leap {
        let utc = dt.checked_to_offset(UtcOffset::UTC)?;
        let last_second = (utc.hour(), utc.minute(), utc.second()) == (23, 59, 59);
        if !last_second || utc.day() != utc.month().length(utc.year()) {
            return None;
        }
    }
    Some(dt)
}

fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u16>().ok();
    let year = i32::from(num(0..4)?);
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Formats as `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z` in UTC (trailing zero digits trimmed).
///
/// Never panics. Values whose UTC form is outside years 0000–9999 (only constructible by hand;
/// [`parse_datetime`] never returns one) are written in their own offset, or with a signed year,
/// and will not parse back.
pub fn format_datetime(dt: OffsetDateTime) -> String {
    let (dt, utc) = match dt.checked_to_offset(UtcOffset::UTC) {
        Some(u) => (u, true),
        None => (dt, false),
    };
    let mut out = String::with_capacity(30);
    let year = dt.year();
    // Writing to a String cannot fail.
    let _ = if (0..=9999).contains(&year) {
        write!(out, "{year:04}")
    } else {
        write!(out, "{year:+}")
    };
    let _ = write!(
        out,
        "-{:02}-{:02}T{:02}:{:02}:{:02}",
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    if utc {
        out.push('Z');
    } else {
        let (h, m, _) = dt.offset().as_hms();
        let sign = if dt.offset().is_negative() { '-' } else { '+' };
        let _ = write!(out, "{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs());
    }
    out
}

/// Serde adapter for `Option<OffsetDateTime>` fields using [`parse_datetime`]/[`format_datetime`].
pub(crate) mod option {
    use serde::{Deserializer, Serializer};
    use time::OffsetDateTime;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(dt) => serializer.serialize_str(&super::format_datetime(*dt)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        // An empty string means "not set", like null.
        super::super::wire_str::parse_opt_str(deserializer, |s| {
            if s.is_empty() {
                Ok(None)
            } else {
                super::parse_datetime(s).map(Some)
            }
        })
        .map(Option::flatten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::format_description::well_known::Rfc3339;
    use time::macros::datetime;

    #[test]
    fn parses_service_timestamps_with_seven_digits() {
        let dt = parse_datetime("2023-04-19T13:27:53.1618923Z").unwrap();
        assert_eq!(dt, datetime!(2023-04-19 13:27:53.1618923 UTC));
        assert_eq!(format_datetime(dt), "2023-04-19T13:27:53.1618923Z");
    }

    #[test]
    fn parses_docs_shortcuts() {
        assert_eq!(
            parse_datetime("2018-08-01Z").unwrap(),
            datetime!(2018-08-01 0:00 UTC)
        );
        assert_eq!(
            parse_datetime("2018-08-01").unwrap(),
            datetime!(2018-08-01 0:00 UTC)
        );
        assert_eq!(
            parse_datetime("2018-08-01T10:00:00").unwrap(),
            datetime!(2018-08-01 10:00 UTC)
        );
        assert_eq!(
            parse_datetime("2018-08-01T12:00:00+02:00").unwrap(),
            datetime!(2018-08-01 10:00 UTC)
        );
    }

    #[test]
    fn rejects_garbage_with_the_text() {
        for bad in ["2018-13-01", "yesterday", "2018-08-01T25:00:00Z", ""] {
            let e = parse_datetime(bad).unwrap_err();
            assert_eq!(e.text, bad);
            assert!(e.to_string().contains("not a date-time"));
        }
    }

    #[test]
    fn edge_instants_never_panic_and_always_round_trip() {
        for text in [
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:00:00-05:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2016-12-31T23:59:60Z",
            "2024-02-29T12:00:00.1234567891234Z",
            "2024-01-01t00:00:00z",
        ] {
            match parse_datetime(text) {
                Ok(dt) => {
                    let out = format_datetime(dt);
                    assert_eq!(parse_datetime(&out), Ok(dt), "{text} -> {out}");
                    assert_eq!(format_datetime(parse_datetime(&out).unwrap()), out);
                }
                Err(e) => assert_eq!(e.text, text),
            }
        }
        assert!(
            parse_datetime("0000-01-01T00:00:00+01:00").is_err(),
            "UTC year -1"
        );
        assert!(
            parse_datetime("9999-12-31T23:00:00-05:00").is_err(),
            "UTC year 10000"
        );
        let hand_built = time::macros::datetime!(9999-12-31 23:00 -05:00);
        assert_eq!(format_datetime(hand_built), "9999-12-31T23:00:00-05:00");
    }

    /// Text shaped like RFC 3339, each part sometimes out of range or malformed.
    fn rfc3339_like() -> impl Strategy<Value = String> {
        // Mostly in range (so the whole text is often valid and the later parts get compared),
        // sometimes just past it, sometimes malformed.
        let num = |width: usize, lo: u32, hi: u32| {
            let pad = move |n: u32| format!("{n:0width$}");
            prop_oneof![
                12 => (lo..=hi).prop_map(pad),
                2 => (0..=hi + 2).prop_map(pad),
                1 => "[0-9]{0,5}",
                1 => "[0-9a ]{1,3}",
            ]
        };
        let fraction = prop_oneof![
            2 => Just(String::new()),
            3 => "[.][0-9]{1,12}",
            1 => Just(".".to_owned()),
        ];
        let offset = prop_oneof![
            Just(String::new()),
            Just("Z".to_owned()),
            Just("z".to_owned()),
            (
                prop_oneof![Just('+'), Just('-')],
                num(2, 0, 25),
                num(2, 0, 59)
            )
                .prop_map(|(s, h, m)| format!("{s}{h}:{m}")),
            "[+-]?[0-9:Zz]{0,6}",
        ];
        (
            num(4, 0, 9999),
            num(2, 1, 12),
            num(2, 1, 28),
            prop_oneof![
                Just("T"),
                Just("t"),
                Just(" "),
                Just("x"),
                Just("é"),
                Just("")
            ],
            (num(2, 0, 23), num(2, 0, 59), num(2, 0, 60)),
            fraction,
            offset,
            prop_oneof![8 => Just(String::new()), 1 => "[ Z0-9]{1,2}"],
        )
            .prop_map(|(y, mo, d, sep, (h, mi, s), f, o, tail)| {
                format!("{y}-{mo}-{d}{sep}{h}:{mi}:{s}{f}{o}{tail}")
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The hand-written parser reads exactly what `time`'s RFC 3339 parser reads.
        #[test]
        fn rfc3339_agrees_with_the_time_crate(text in prop_oneof![
            8 => rfc3339_like(),
            1 => "[0-9T:.Zz+ -]{0,32}",
            // Leap seconds around month ends, in and out of UTC.
            1 => ("(1998-12-31|2016-12-31|2024-02-29|2024-03-31|2024-06-30|2024-06-29)", "(23:59|00:59|22:59|23:58)", "(Z|\\+01:00|-01:00|\\+00:00)")
                .prop_map(|(d, hm, o)| format!("{d}T{hm}:60{o}")),
        ]) {
            let ours = parse_rfc3339(text.as_bytes(), None);
            let reference = OffsetDateTime::parse(&text, &Rfc3339).ok();
            prop_assert_eq!(ours, reference, "{:?}", text);
            // The offset-less form is read as if `Z` followed.
            let utc = parse_rfc3339(text.as_bytes(), Some(UtcOffset::UTC));
            let reference = OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339).ok();
            prop_assert_eq!(utc, reference, "{:?} + Z", text);
        }
    }

    #[test]
    fn the_agreement_test_sees_both_answers() {
        // Accepted: a leap second at a month's end in UTC, and one an hour earlier at +01:00.
        for text in ["2016-12-31T23:59:60Z", "2017-01-01T00:59:60+01:00"] {
            assert_eq!(
                parse_rfc3339(text.as_bytes(), None),
                OffsetDateTime::parse(text, &Rfc3339).ok()
            );
            assert!(parse_rfc3339(text.as_bytes(), None).is_some(), "{text}");
        }
        // Refused: a leap second mid-month, an offset hour of 24, a trailing byte.
        for text in [
            "2016-12-30T23:59:60Z",
            "2016-12-31T23:59:00+24:00",
            "2016-12-31T23:59:00Z ",
        ] {
            assert!(parse_rfc3339(text.as_bytes(), None).is_none(), "{text}");
            assert!(OffsetDateTime::parse(text, &Rfc3339).is_err(), "{text}");
        }
    }

    #[test]
    fn formats_utc_without_needless_fraction() {
        assert_eq!(
            format_datetime(datetime!(2024-01-02 03:04:05 +01:00)),
            "2024-01-02T02:04:05Z"
        );
    }
}
