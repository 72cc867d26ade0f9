//! Time and randomness are inputs to the core, never read deep inside it, so that tests can
//! fix them.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use crate::kernel::error::CoreError;

pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
}

/// A clock that always answers the same instant; for tests and for replaying a request.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub trait Entropy {
    fn fill(&self, buffer: &mut [u8]) -> Result<(), CoreError>;
}

/// The platform's cryptographic random source (Web Crypto on Workers, the OS on the host).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, buffer: &mut [u8]) -> Result<(), CoreError> {
        getrandom::getrandom(buffer)
            .map_err(|e| CoreError::Misconfigured(format!("no random source: {e}")))
    }
}

/// `prefix` followed by `bytes` random bytes in lower-case hex.
pub fn random_token(
    entropy: &impl Entropy,
    prefix: &str,
    bytes: usize,
) -> Result<String, CoreError> {
    let mut buffer = vec![0u8; bytes];
    entropy.fill(&mut buffer)?;
    Ok(format!("{prefix}{}", hex::encode(buffer)))
}

/// The one text form of an instant in storage: RFC 3339 in UTC with milliseconds, so that
/// text order is time order. Written digit by digit (every event's time passes here); an
/// instant chrono would write otherwise (a year outside 0-9999, a leap second) is left to it.
pub fn format_timestamp(instant: DateTime<Utc>) -> String {
    let time = instant.time();
    let mut out = String::with_capacity(24);
    if time.nanosecond() >= 1_000_000_000 || !push_date(&mut out, instant.date_naive()) {
        return instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    out.push('T');
    push_digits(&mut out, time.hour(), 2);
    out.push(':');
    push_digits(&mut out, time.minute(), 2);
    out.push(':');
    push_digits(&mut out, time.second(), 2);
    out.push('.');
    push_digits(&mut out, time.nanosecond() / 1_000_000, 3);
    out.push('Z');
    out
}

/// Appends `YYYY-MM-DD`, as `NaiveDate` writes it, for a year in 0-9999; `false` (nothing
/// written) for any other year.
pub fn push_date(out: &mut String, date: NaiveDate) -> bool {
    let Ok(year) = u32::try_from(date.year()) else {
        return false;
    };
    if year > 9999 {
        return false;
    }
    push_digits(out, year, 4);
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
    true
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
pub(crate) fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// Reads an RFC 3339 / ISO 8601 instant with an offset (`Z` or `+02:00`).
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not an ISO 8601 timestamp with an offset"))?;
    // chrono reads any `:60` as a leap second; stored times (and JavaScript) have none.
    if t.nanosecond() >= 1_000_000_000 {
        return Err(format!(
            "`{text}` has a leap second (:60); send :59.999 or the next second"
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use proptest::prelude::*;

    use super::{format_timestamp, push_date};

    proptest! {
        #[test]
        fn an_instant_is_written_as_chrono_writes_it_with_milliseconds(
            millis in -80_000_000_000_000i64..300_000_000_000_000i64,
        ) {
            if let Some(instant) = Utc.timestamp_millis_opt(millis).single() {
                prop_assert_eq!(
                    format_timestamp(instant),
                    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                );
            }
        }

        #[test]
        fn a_date_is_written_as_chrono_writes_it_or_left_to_it(days in -1_000_000i32..4_000_000i32) {
            if let Some(date) = NaiveDate::from_num_days_from_ce_opt(days) {
                let mut out = String::new();
                if push_date(&mut out, date) {
                    prop_assert_eq!(out, date.to_string());
                } else {
                    prop_assert!(out.is_empty());
                }
            }
        }
    }

    #[test]
    fn the_edges_of_the_four_digit_years_and_a_leap_second_are_written_as_chrono_writes_them() {
        let chrono_form =
            |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut instants = vec![
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap(),
            Utc.timestamp_millis_opt(1_764_000_000_999).unwrap(),
        ];
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
            .unwrap();
        instants.push(Utc.from_utc_datetime(&leap));
        for instant in instants {
            assert_eq!(format_timestamp(instant), chrono_form(instant));
        }
        let example = Utc.with_ymd_and_hms(2026, 11, 20, 12, 5, 9).unwrap()
            + chrono::Duration::milliseconds(42);
        assert_eq!(format_timestamp(example), "2026-11-20T12:05:09.042Z");
    }
}
