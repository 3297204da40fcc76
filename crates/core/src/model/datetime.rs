//! Date-time parsing and formatting shared by the JSON model and OData literals.
//!
//! Parsing is lenient in the ways the service and its docs are: RFC 3339 with any number of
//! fractional digits (the service sends 7), a missing offset meaning UTC, and a bare date
//! (`2018-08-01` or `2018-08-01Z`, as in the docs' filter example) meaning midnight UTC.
//! Formatting is canonical: UTC, `Z`, fractional digits only when non-zero.

use std::fmt::Write as _;

use thiserror::Error;
use time::format_description::well_known::Rfc3339;
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
    if let Ok(dt) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(dt);
    }
    // No offset at all (`2024-05-01T12:00:00.123`): the service's own timestamps are UTC.
    let time_part = text.split(['T', 't']).nth(1)?;
    if time_part.contains(['Z', 'z', '+', '-']) {
        return None;
    }
    OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339).ok()
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

    #[test]
    fn formats_utc_without_needless_fraction() {
        assert_eq!(
            format_datetime(datetime!(2024-01-02 03:04:05 +01:00)),
            "2024-01-02T02:04:05Z"
        );
    }
}
