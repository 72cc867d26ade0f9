//! Query-string parameters, parsed once into typed values; every problem names its parameter.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::kernel::clock::{format_timestamp, parse_timestamp};
use crate::kernel::date_text::parse_date;
use crate::kernel::error::CoreError;

pub type QueryPairs = [(String, String)];

/// The value of a parameter (the first, if repeated).
pub fn param<'a>(query: &'a QueryPairs, name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Refuses parameters the route does not know, so a typo is not silently ignored.
pub fn only_known(query: &QueryPairs, known: &[&str]) -> Result<(), CoreError> {
    for (key, _) in query {
        if !known.contains(&key.as_str()) {
            return Err(CoreError::invalid(
                key.clone(),
                format!("unknown query parameter (known: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

pub fn parse_flag(value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    }
}

pub fn parse_day(value: &str) -> Result<NaiveDate, String> {
    parse_date(value).ok_or_else(|| format!("`{value}` is not a date (YYYY-MM-DD)"))
}

/// A range bound: a date (a start bound is its midnight; an end bound is the midnight after
/// it, so `to=2026-11-23` includes that whole day) or an RFC 3339 instant.
pub fn parse_bound(value: &str, end: bool) -> Result<DateTime<Utc>, String> {
    if value.len() == 10 {
        let day = parse_day(value)?;
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        if !end {
            return Ok(midnight(day));
        }
        return Ok(match day.succ_opt().filter(|next| next.year() <= 9999) {
            Some(next) => midnight(next),
            // The end of 9999-12-31: the last instant stored timestamps (four-digit years) hold.
            None => day
                .and_hms_milli_opt(23, 59, 59, 999)
                .unwrap_or_default()
                .and_utc(),
        });
    }
    parse_timestamp(value).map_err(|_| {
        format!("`{value}` is neither a date (YYYY-MM-DD) nor an ISO 8601 timestamp with an offset")
    })
}

pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 1000;

/// Where the previous page ended: the last event's timestamp and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub timestamp: String,
    pub seq: i64,
}

impl Cursor {
    /// Opaque text for clients (hex of `timestamp|seq`).
    pub fn encode(&self) -> String {
        hex::encode(format!("{}|{}", self.timestamp, self.seq))
    }

    pub fn decode(text: &str) -> Result<Self, String> {
        let bad = || "is not a cursor this API returned".to_string();
        let bytes = hex::decode(text).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (timestamp, seq) = text.split_once('|').ok_or_else(bad)?;
        let instant = parse_timestamp(timestamp).map_err(|_| bad())?;
        Ok(Cursor {
            timestamp: format_timestamp(instant),
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}
