//! The `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).

use std::fmt;

use thiserror::Error;
use time::{Date, Month, OffsetDateTime, Time};

/// Longest wait we honour from a `Retry-After`, so a bogus header cannot park a client for days.
pub const MAX_RETRY_AFTER_SECS: u64 = 3_600;

/// A parsed `Retry-After` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this many seconds (the form the Defender API documents).
    Seconds(u64),
    /// Wait until this instant (IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`).
    At(OffsetDateTime),
}

/// A `Retry-After` value we cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "the Retry-After header {value:?} is neither a number of seconds nor an HTTP date \
     like 'Sun, 06 Nov 1994 08:49:37 GMT'"
)]
pub struct RetryAfterError {
    /// The header value.
    pub value: String,
}

impl RetryAfter {
    /// Parses delay-seconds or an IMF-fixdate (the only date form RFC 9110 lets senders use).
    pub fn parse(value: &str) -> Result<Self, RetryAfterError> {
        let v = value.trim();
        let err = || RetryAfterError {
            value: value.to_owned(),
        };
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            // Saturate absurd values instead of failing: a long wait is still the right answer.
            return Ok(Self::Seconds(v.parse().unwrap_or(u64::MAX)));
        }
        parse_imf_fixdate(v).map(Self::At).ok_or_else(err)
    }

    /// Milliseconds to wait from `now_ms` (Unix epoch milliseconds), capped at
    /// [`MAX_RETRY_AFTER_SECS`]; zero for a date in the past.
    pub fn delay_ms(&self, now_ms: u64) -> u64 {
        let cap = MAX_RETRY_AFTER_SECS * 1_000;
        match self {
            Self::Seconds(s) => s.saturating_mul(1_000).min(cap),
            Self::At(at) => {
                let at_ms = at.unix_timestamp_nanos() / 1_000_000;
                let wait = at_ms - i128::from(now_ms);
                u64::try_from(wait.max(0)).unwrap_or(u64::MAX).min(cap)
            }
        }
    }

    /// The Unix-epoch millisecond instant until which to wait, given the time the response
    /// arrived.
    pub fn until_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_add(self.delay_ms(now_ms))
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seconds(s) => write!(f, "{s} s"),
            Self::At(at) => f.write_str(&crate::model::datetime::format_datetime(*at)),
        }
    }
}

fn parse_imf_fixdate(s: &str) -> Option<OffsetDateTime> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let (_, rest) = s.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u8 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => Month::January,
        "Feb" => Month::February,
        "Mar" => Month::March,
        "Apr" => Month::April,
        "May" => Month::May,
        "Jun" => Month::June,
        "Jul" => Month::July,
        "Aug" => Month::August,
        "Sep" => Month::September,
        "Oct" => Month::October,
        "Nov" => Month::November,
        "Dec" => Month::December,
        _ => return None,
    };
    let year_text = parts.next()?;
    if year_text.len() != 4 {
        return None;
    }
    let year: i32 = year_text.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let mut num = || -> Option<u8> { hms.next()?.parse().ok() };
    let (h, m, sec) = (num()?, num()?, num()?);
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(h, m, sec).ok()?;
    Some(date.with_time(time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parses_seconds_and_dates() {
        assert_eq!(RetryAfter::parse(" 30 "), Ok(RetryAfter::Seconds(30)));
        assert_eq!(
            RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT"),
            Ok(RetryAfter::At(datetime!(1994-11-06 08:49:37 UTC)))
        );
        assert_eq!(
            RetryAfter::parse("99999999999999999999999"),
            Ok(RetryAfter::Seconds(u64::MAX))
        );
    }

    #[test]
    fn rejects_other_forms_with_the_value() {
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "06 Nov 1994",
        ] {
            let e = RetryAfter::parse(bad).unwrap_err();
            assert!(e.to_string().contains("HTTP date"), "{bad}: {e}");
        }
    }

    #[test]
    fn delay_is_relative_to_the_injected_clock_and_capped() {
        let at = RetryAfter::At(datetime!(2026-01-01 00:00:10 UTC));
        let now = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(at.delay_ms(now), 10_000);
        assert_eq!(at.delay_ms(now + 20_000), 0);
        assert_eq!(RetryAfter::Seconds(2).delay_ms(now), 2_000);
        assert_eq!(RetryAfter::Seconds(1_000_000).delay_ms(0), 3_600_000);
        assert_eq!(at.until_ms(now), now + 10_000);
    }
}
