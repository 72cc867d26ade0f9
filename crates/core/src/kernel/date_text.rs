//! Days, months and instants as text, written and read by hand instead of through chrono's
//! `format`/`parse_from_str` and its serde readers: those interpret lists of format items at
//! run time, and keeping them out keeps chrono's whole format machinery (some 30 KB) out of
//! the wasm. Each writer gives byte for byte what chrono's `format` gives for its format
//! string, and each reader accepts exactly the texts chrono's reader accepts, as the same
//! value; the tests hold them to chrono. Only a refusal says less: `None` (or one message)
//! where chrono names what was wrong.

use std::fmt::Write as _;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

use crate::kernel::clock::push_digits;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Weekdays from Monday, as `Weekday::num_days_from_monday` counts them.
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// `YYYY-MM-DD` (chrono's `%Y-%m-%d`): a day in storage, rollups, keys and reports.
pub fn date_text(date: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_ymd(&mut out, date, "-");
    out
}

/// `YYYY-MM` (chrono's `%Y-%m`): the month a day falls in.
pub fn month_text(date: NaiveDate) -> String {
    let mut out = String::with_capacity(7);
    push_year(&mut out, date.year());
    out.push('-');
    push_digits(&mut out, date.month(), 2);
    out
}

/// `November 2026` (chrono's `%B %Y`): a month as a monthly digest names it.
pub fn month_name_text(date: NaiveDate) -> String {
    let mut out = String::with_capacity(14);
    out.push_str(MONTHS[date.month0() as usize]);
    out.push(' ');
    push_year(&mut out, date.year());
    out
}

/// `YYYY-MM-DDTHH` (chrono's `%Y-%m-%dT%H`): an hour rollup bucket.
pub fn hour_text(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(13);
    push_ymd(&mut out, t.date_naive(), "-");
    out.push('T');
    push_digits(&mut out, t.hour(), 2);
    out
}

/// `YYYY-MM-DDTHH:MM` (chrono's `%Y-%m-%dT%H:%M`): a quarter-hour bucket or a minute label.
pub fn minute_text(t: DateTime<Utc>) -> String {
    let mut out = hour_text(t);
    out.push(':');
    push_digits(&mut out, t.minute(), 2);
    out
}

/// `YYYYMMDDTHHMMSSmmmZ` (chrono's `%Y%m%dT%H%M%S%3fZ`): a sortable instant in an object
/// key. As chrono writes it, a leap second is second 60 with its milliseconds past it.
pub fn compact_stamp(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(19);
    push_ymd(&mut out, t.date_naive(), "");
    out.push('T');
    push_digits(&mut out, t.hour(), 2);
    push_digits(&mut out, t.minute(), 2);
    push_digits(&mut out, t.second() + t.nanosecond() / 1_000_000_000, 2);
    push_digits(&mut out, t.nanosecond() / 1_000_000 % 1000, 3);
    out.push('Z');
    out
}

/// `Fri, 20 Nov 2026 12:05:09 +0000` (chrono's `%a, %d %b %Y %H:%M:%S +0000`): the `Date`
/// header of an e-mail.
pub fn email_date(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(31);
    out.push_str(WEEKDAYS[t.weekday().num_days_from_monday() as usize]);
    out.push_str(", ");
    push_digits(&mut out, t.day(), 2);
    out.push(' ');
    out.push_str(&MONTHS[t.month0() as usize][..3]);
    out.push(' ');
    push_year(&mut out, t.year());
    out.push(' ');
    push_digits(&mut out, t.hour(), 2);
    out.push(':');
    push_digits(&mut out, t.minute(), 2);
    out.push(':');
    push_digits(&mut out, t.second() + t.nanosecond() / 1_000_000_000, 2);
    out.push_str(" +0000");
    out
}

/// Appends year, month and day with `separator` between them.
fn push_ymd(out: &mut String, date: NaiveDate, separator: &str) {
    push_year(out, date.year());
    out.push_str(separator);
    push_digits(out, date.month(), 2);
    out.push_str(separator);
    push_digits(out, date.day(), 2);
}

/// Appends a year as chrono's `%Y` does: four digits for 0-9999, else signed and at least four
/// digits (`+10000`, `-0001`).
fn push_year(out: &mut String, year: i32) {
    match u32::try_from(year) {
        Ok(y) if y <= 9999 => push_digits(out, y, 4),
        // Writing to a `String` cannot fail.
        _ => {
            let _ = write!(out, "{year:+05}");
        }
    }
}

/// Reads a day as chrono's `NaiveDate::parse_from_str(text, "%Y-%m-%d")` does, accepting
/// exactly what it accepts: whitespace before each number, a year of up to four digits or
/// signed (`+`/`-`) with any number, a month and day of one or two digits, nothing after.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let (date, rest) = date_prefix(text, false)?;
    rest.is_empty().then_some(date)
}

/// Reads a date and time as chrono's `NaiveDateTime::parse_from_str(text,
/// "%Y-%m-%dT%H:%M:%S")` does: the day as [`parse_date`] reads it, `T`, then hour, minute and
/// second of one or two digits, each after any whitespace. Second 60 is a leap second, as
/// chrono reads it.
pub fn parse_date_time(text: &str) -> Option<NaiveDateTime> {
    let (date, rest) = date_prefix(text, false)?;
    let rest = rest.strip_prefix('T')?;
    let (hour, rest) = unsigned(rest, 2)?;
    let (minute, rest) = unsigned(rest.strip_prefix(':')?, 2)?;
    let (second, rest) = unsigned(rest.strip_prefix(':')?, 2)?;
    if !rest.is_empty() {
        return None;
    }
    let time = match second {
        0..=59 => NaiveTime::from_hms_opt(hour, minute, second)?,
        60 => NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000)?,
        _ => return None,
    };
    Some(date.and_time(time))
}

/// Reads a day as chrono's `NaiveDate` `FromStr` (its serde form) does: as [`parse_date`],
/// and also with whitespace before each `-` and at the end.
pub fn read_date(text: &str) -> Option<NaiveDate> {
    let (date, rest) = date_prefix(text, true)?;
    rest.trim_start().is_empty().then_some(date)
}

/// Reads an instant as chrono's `DateTime<Utc>` `FromStr` (its serde form) does, which is
/// looser than RFC 3339: the day as [`read_date`] reads it, then `T`, `t` or a space; hour,
/// minute and second of one or two digits, with whitespace around each `:`; an optional
/// fraction (`.` and digits, the first nine kept); whitespace; then `UTC` in any case, `Z`,
/// `z`, or an offset: `+`, `-` or `−`, two digits, any colons and whitespace, two digits; then
/// only whitespace. Second 60 is a leap second.
pub fn read_instant(text: &str) -> Option<DateTime<Utc>> {
    let (date, rest) = date_prefix(text, true)?;
    let rest = match rest.as_bytes().first()? {
        b'T' | b't' | b' ' => &rest[1..],
        _ => return None,
    };
    let (hour, rest) = unsigned(rest, 2)?;
    let (minute, rest) = unsigned(rest.trim_start().strip_prefix(':')?, 2)?;
    let (second, mut rest) = unsigned(rest.trim_start().strip_prefix(':')?, 2)?;
    let mut nano = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let (digits, after) = digits_up_to(fraction, 9)?;
        let scale = 10i64.pow(9 - (fraction.len() - after.len()) as u32);
        nano = u32::try_from(digits * scale).ok()?;
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let (offset, rest) = offset_seconds(rest.trim_start())?;
    if !rest.trim_start().is_empty() {
        return None;
    }
    let time = match second {
        0..=59 => NaiveTime::from_hms_nano_opt(hour, minute, second, nano)?,
        60 => NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nano)?,
        _ => return None,
    };
    let offset = FixedOffset::east_opt(offset)?;
    let local = offset.from_local_datetime(&date.and_time(time)).single()?;
    Some(local.with_timezone(&Utc))
}

/// The offset at the start of `text` as chrono's loose reader takes it, in seconds east.
fn offset_seconds(text: &str) -> Option<(i32, &str)> {
    let bytes = text.as_bytes();
    if bytes.len() >= 3 && bytes[..3].eq_ignore_ascii_case(b"UTC") {
        return Some((0, &text[3..]));
    }
    if let Some(b'Z' | b'z') = bytes.first() {
        return Some((0, &text[1..]));
    }
    let mut chars = text.chars();
    let negative = match chars.next()? {
        '+' => false,
        '-' | '\u{2212}' => true,
        _ => return None,
    };
    let rest = chars.as_str();
    let (hours, rest) = two_digits(rest, b'9')?;
    let rest = rest.trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    let (minutes, rest) = two_digits(rest, b'5')?;
    let seconds = hours * 3600 + minutes * 60;
    Some((if negative { -seconds } else { seconds }, rest))
}

/// Two ASCII digits, the first no more than `first_max`.
fn two_digits(text: &str, first_max: u8) -> Option<(i32, &str)> {
    match text.as_bytes() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9', ..] if *a <= first_max => {
            Some((i32::from(a - b'0') * 10 + i32::from(b - b'0'), &text[2..]))
        }
        _ => None,
    }
}

/// `%Y-%m-%d` at the start of `text`, and what follows it; `spaced` also takes whitespace
/// before each `-`, as chrono's `FromStr` readers do.
fn date_prefix(text: &str, spaced: bool) -> Option<(NaiveDate, &str)> {
    let (year, rest) = signed_year(text)?;
    let (month, rest) = unsigned(after_dash(rest, spaced)?, 2)?;
    let (day, rest) = unsigned(after_dash(rest, spaced)?, 2)?;
    Some((NaiveDate::from_ymd_opt(year, month, day)?, rest))
}

/// What follows a `-` at the start of `text` (after whitespace, when `spaced`).
fn after_dash(text: &str, spaced: bool) -> Option<&str> {
    let text = if spaced { text.trim_start() } else { text };
    text.strip_prefix('-')
}

/// chrono's `%Y` when parsing: after any whitespace, `+` or `-` and any number of digits, or
/// up to four digits with no sign.
fn signed_year(text: &str) -> Option<(i32, &str)> {
    let text = text.trim_start();
    let (negative, digits, width) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..], usize::MAX),
        Some(b'+') => (false, &text[1..], usize::MAX),
        _ => (false, text, 4),
    };
    let (value, rest) = digits_up_to(digits, width)?;
    let value = if negative { -value } else { value };
    Some((i32::try_from(value).ok()?, rest))
}

/// After any whitespace, one to `width` ASCII digits.
fn unsigned(text: &str, width: usize) -> Option<(u32, &str)> {
    let (value, rest) = digits_up_to(text.trim_start(), width)?;
    Some((u32::try_from(value).ok()?, rest))
}

/// One to `width` ASCII digits at the start of `text` (none fails, as does a value past
/// `i64`, as in chrono), and what follows them.
fn digits_up_to(text: &str, width: usize) -> Option<(i64, &str)> {
    let count = text
        .bytes()
        .take(width)
        .take_while(u8::is_ascii_digit)
        .count();
    if count == 0 {
        return None;
    }
    let mut value = 0i64;
    for digit in text[..count].bytes() {
        value = value
            .checked_mul(10)?
            .checked_add(i64::from(digit - b'0'))?;
    }
    Some((value, &text[count..]))
}

/// A day field as chrono's own `Deserialize` reads it (through [`read_date`]), for
/// `#[serde(deserialize_with = "...")]`: chrono's reads through its format-item parser, which
/// this keeps out of the wasm. Writing is left to chrono's `Serialize` (it writes the day
/// itself, as `Display` does).
pub fn deserialize_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    deserializer.deserialize_str(DateVisitor)
}

/// [`deserialize_date`] for an optional day: `null` is `None`, as for chrono's.
pub fn deserialize_option_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NaiveDate>, D::Error> {
    Ok(Option::<Day>::deserialize(deserializer)?.map(|Day(date)| date))
}

/// An instant field as chrono's own `Deserialize` reads it (through [`read_instant`]).
pub fn deserialize_instant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(InstantVisitor)
}

struct Day(NaiveDate);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_date(deserializer).map(Day)
    }
}

struct DateVisitor;

impl Visitor<'_> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a date, YYYY-MM-DD")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<NaiveDate, E> {
        read_date(value).ok_or_else(|| E::custom(format!("`{value}` is not a date (YYYY-MM-DD)")))
    }
}

struct InstantVisitor;

impl Visitor<'_> for InstantVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an RFC 3339 instant")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<DateTime<Utc>, E> {
        read_instant(value)
            .ok_or_else(|| E::custom(format!("`{value}` is not an RFC 3339 instant")))
    }
}

#[cfg(test)]
#[path = "date_text_tests.rs"]
mod tests;
