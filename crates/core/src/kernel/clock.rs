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
/// text order is time order. Its digits are written into one 24-byte buffer copied once
/// (every event's time passes here; seven appends of two to four digits were a third of a
/// microsecond an event in the wasm); an instant chrono would write otherwise (a year outside
/// 0-9999, a leap second) is left to it.
pub fn format_timestamp(instant: DateTime<Utc>) -> String {
    let time = instant.time();
    let date = instant.date_naive();
    let chrono_form = || instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let year = match u32::try_from(date.year()) {
        Ok(year) if year <= 9999 && time.nanosecond() < 1_000_000_000 => year,
        _ => return chrono_form(),
    };
    let mut text = *b"0000-00-00T00:00:00.000Z";
    for (at, value) in [
        (0..4, year),
        (5..7, date.month()),
        (8..10, date.day()),
        (11..13, time.hour()),
        (14..16, time.minute()),
        (17..19, time.second()),
        (20..23, time.nanosecond() / 1_000_000),
    ] {
        fill_digits(&mut text[at], value);
    }
    // ASCII digits and separators.
    String::from_utf8(text.to_vec()).unwrap_or_else(|_| chrono_form())
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
    // One buffer and one append, as `format_timestamp` writes (every priced event's price id).
    let mut text = *b"0000-00-00";
    fill_digits(&mut text[0..4], year);
    fill_digits(&mut text[5..7], date.month());
    fill_digits(&mut text[8..10], date.day());
    // ASCII digits and dashes.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    true
}

/// Writes the last `digits.len()` decimal digits of `value` into `digits`, zero-padded.
fn fill_digits(digits: &mut [u8], value: u32) {
    let mut rest = value;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// Appends the last `width` (at most 10) decimal digits of `value`, zero-padded: filled from
/// the right in a buffer, one division per digit (no power of ten computed per digit).
pub(crate) fn push_digits(out: &mut String, value: u32, width: u32) {
    let mut digits = [b'0'; 10];
    let width = (width as usize).min(digits.len());
    fill_digits(&mut digits[..width], value);
    // ASCII digits.
    out.push_str(std::str::from_utf8(&digits[..width]).unwrap_or_default());
}

/// Reads an RFC 3339 / ISO 8601 instant with an offset (`Z` or `+02:00`).
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    match utc_stamp(text.trim().as_bytes()) {
        Some(t) => Ok(t),
        None => parse_rfc3339(text),
    }
}

/// The form nearly every event's time comes in, `2026-12-05T10:15:00.123Z` (what JavaScript's
/// `toISOString` writes; 0 to 9 digits of fraction), read without chrono's general parser,
/// which every event of a batch went through; `None` for anything else, which that parser
/// then reads (a test holds the two to the same answers). A second of 60 is left to it too.
fn utc_stamp(b: &[u8]) -> Option<DateTime<Utc>> {
    let (&b'Z', b) = b.split_last()? else {
        return None;
    };
    if b.len() < 19 || [b[4], b[7], b[10], b[13], b[16]] != *b"--T::" {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    let (month, day) = (number(&b[5..7])?, number(&b[8..10])?);
    let (hour, minute, second) = (
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
    );
    if second > 59 {
        return None;
    }
    let time =
        NaiveDate::from_ymd_opt(year, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)?;
    Some(time.and_utc())
}

fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
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
        fn a_utc_time_stamp_is_read_as_chrono_reads_it(
            parts in (0u32..10_000, 0u32..14, 0u32..33, 0u32..26, 0u32..61, 0u32..62),
            fraction in "(\\.[0-9]{0,11})?",
            zone in prop::sample::select(vec!["Z", "z", "+00:00", "+02:30", ""]),
            t in prop::sample::select(vec!["T", "t", " "]),
        ) {
            let (y, mo, d, h, mi, s) = parts;
            let text = format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{fraction}{zone}");
            prop_assert_eq!(super::parse_timestamp(&text), super::parse_rfc3339(&text), "{}", text);
        }

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
