//! IANA time zones for chrono, from `data/tz.tsv` (the tables of the pinned `chrono-tz`,
//! written by `examples/tz_data.rs`), compiled in deflated by `build.rs` and read once per
//! isolate when a zone other than UTC is first named. `chrono-tz` itself compiles every
//! transition of every zone into the binary as a 24-byte constant (about 1.4 MB of the wasm);
//! this is the same data from 1970 on in about 20 KB, with the same answers from 1970 on (the
//! tests compare every zone with `chrono-tz`'s). Before 1970 a zone keeps the offset it had on
//! 1970-01-01: the tz database's own scope is local time since 1970, and nothing this product
//! counts or reports is older. The lookups follow `chrono-tz`'s `timezone_impl.rs` (MIT).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};

/// `data/tz.tsv`, deflated at build time (see `crates/core/build.rs`).
const DEFLATED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tz.tsv.deflate"));

/// An IANA time zone, by name (`"America/New_York"`). `Tz::UTC` needs no table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tz(u16);

/// A name that is not an IANA time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an IANA time zone")
    }
}

impl std::error::Error for ParseError {}

/// One stretch of a zone's history: its offsets and abbreviation.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Span {
    utc_offset: i32,
    dst_offset: i32,
    name: Option<&'static str>,
}

/// A zone's spans (the first in force before any transition) and its transitions
/// (instant, index of the span from then on).
struct Zone {
    spans: Vec<Span>,
    transitions: Vec<(i64, u8)>,
}

struct Table {
    /// Each zone's name and the line holding its tables, sorted by name.
    zones: Vec<(&'static str, &'static str)>,
    parsed: Vec<OnceLock<Zone>>,
}

static UTC_ZONE: Zone = Zone {
    spans: Vec::new(),
    transitions: Vec::new(),
};
const UTC_SPAN: Span = Span {
    utc_offset: 0,
    dst_offset: 0,
    name: Some("UTC"),
};

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        static TEXT: OnceLock<String> = OnceLock::new();
        let text = TEXT.get_or_init(|| super::deflated::inflate_text(DEFLATED));
        let mut zones: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .collect();
        // A link names the earlier zone whose tables it shares.
        let lines: Vec<(&str, &str)> = zones.clone();
        for zone in &mut zones {
            if let Some(target) = zone.1.strip_prefix('=') {
                if let Ok(i) = lines.binary_search_by(|(n, _)| n.cmp(&target)) {
                    zone.1 = lines[i].1;
                }
            }
        }
        let parsed = zones.iter().map(|_| OnceLock::new()).collect();
        Table { zones, parsed }
    })
}

fn parse_zone(line: &'static str) -> Zone {
    let (spans, transitions) = line.split_once('\t').unwrap_or((line, ""));
    let spans = spans
        .split('|')
        .map(|s| {
            let mut words = s.split(' ');
            let mut number = || words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
            let (utc_offset, dst_offset) = (number(), number());
            let name = words.next().filter(|n| *n != "-");
            Span {
                utc_offset,
                dst_offset,
                name,
            }
        })
        .collect();
    let mut at = 0i64;
    let transitions = transitions
        .split(' ')
        .filter_map(|t| {
            let (delta, span) = t.split_once(':')?;
            at += delta.parse::<i64>().ok()?;
            Some((at, span.parse().ok()?))
        })
        .collect();
    Zone { spans, transitions }
}

impl Tz {
    pub const UTC: Tz = Tz(u16::MAX);

    /// The zone's IANA name, as it was parsed.
    pub fn name(self) -> &'static str {
        if self == Tz::UTC {
            return "UTC";
        }
        table()
            .zones
            .get(usize::from(self.0))
            .map_or("UTC", |z| z.0)
    }

    /// Whether one offset holds from instant `a` to instant `b` (no transition in `(a, b]`):
    /// local time then runs as UTC does between them.
    pub fn fixed_between(self, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        let zone = self.zone();
        let span = |t: DateTime<Utc>| {
            zone.search(|i| zone.utc_span(i), t.timestamp())
                .unwrap_or(0)
        };
        span(a) == span(b)
    }

    fn zone(self) -> &'static Zone {
        if self == Tz::UTC {
            return &UTC_ZONE;
        }
        let table = table();
        match table.zones.get(usize::from(self.0)) {
            Some((_, line)) => table.parsed[usize::from(self.0)].get_or_init(|| parse_zone(line)),
            None => &UTC_ZONE,
        }
    }
}

impl FromStr for Tz {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "UTC" {
            return Ok(Tz::UTC);
        }
        table()
            .zones
            .binary_search_by(|(name, _)| (*name).cmp(s))
            .ok()
            .and_then(|i| u16::try_from(i).ok())
            .map(Tz)
            .ok_or(ParseError)
    }
}

impl fmt::Debug for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The offset of a [`Tz`] at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TzOffset {
    tz: Tz,
    span: Span,
}

impl TzOffset {
    /// The abbreviation in force (`EST`), if the zone has one then.
    pub fn abbreviation(&self) -> Option<&'static str> {
        self.span.name
    }
}

impl Offset for TzOffset {
    fn fix(&self) -> FixedOffset {
        // The tables hold no offset of a day or more; such a one would read as UTC.
        FixedOffset::east_opt(self.span.utc_offset + self.span.dst_offset)
            .unwrap_or(chrono::Utc.fix())
    }
}

impl fmt::Display for TzOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.span.name {
            return f.write_str(name);
        }
        let offset = self.span.utc_offset + self.span.dst_offset;
        let sign = if offset < 0 { '-' } else { '+' };
        let (hours, mins) = (offset.abs() / 3600, offset.abs() / 60 % 60);
        write!(f, "{sign}{hours:02}")?;
        if mins != 0 {
            write!(f, "{mins:02}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TzOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Zone {
    fn len(&self) -> usize {
        1 + self.transitions.len()
    }

    fn get(&self, index: usize) -> Span {
        let i = if index == 0 {
            0
        } else {
            usize::from(self.transitions[index - 1].1)
        };
        self.spans.get(i).copied().unwrap_or(UTC_SPAN)
    }

    fn total(&self, index: usize) -> i64 {
        let s = self.get(index);
        i64::from(s.utc_offset) + i64::from(s.dst_offset)
    }

    /// The instants (UTC) span `index` is in force: from its transition to the next.
    fn utc_span(&self, index: usize) -> (Option<i64>, Option<i64>) {
        let begin = index.checked_sub(1).map(|i| self.transitions[i].0);
        let end = self.transitions.get(index).map(|t| t.0);
        (begin, end)
    }

    /// The same stretch in local time: each bound shifted by the offset in force before it.
    fn local_span(&self, index: usize) -> (Option<i64>, Option<i64>) {
        let begin = index
            .checked_sub(1)
            .map(|i| self.transitions[i].0 + self.total(index));
        let end = self.transitions.get(index).map(|t| t.0 + self.total(index));
        (begin, end)
    }

    fn search(
        &self,
        mut span: impl FnMut(usize) -> (Option<i64>, Option<i64>),
        x: i64,
    ) -> Result<usize, usize> {
        let (mut start, mut end) = (0, self.len());
        loop {
            let mid = start + (end - start) / 2;
            if mid == end {
                return Err(start);
            }
            match cmp(span(mid), x) {
                Ordering::Less => start = mid + 1,
                Ordering::Greater => end = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
    }
}

fn contains((begin, end): (Option<i64>, Option<i64>), x: i64) -> bool {
    begin.is_none_or(|a| a <= x) && end.is_none_or(|b| x < b)
}

fn cmp((begin, end): (Option<i64>, Option<i64>), x: i64) -> Ordering {
    if end.is_some_and(|b| b <= x) && begin.is_none_or(|a| a <= x) {
        Ordering::Less
    } else if begin.is_some_and(|a| a > x) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

impl TimeZone for Tz {
    type Offset = TzOffset;

    fn from_offset(offset: &TzOffset) -> Self {
        offset.tz
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> LocalResult<TzOffset> {
        // As chrono-tz: one offset that occurs on the day, the earliest if the day starts in one.
        let earliest = self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN));
        let latest = match NaiveTime::from_hms_opt(23, 59, 59) {
            Some(t) => self.offset_from_local_datetime(&local.and_time(t)),
            None => LocalResult::None,
        };
        match (earliest, latest) {
            (r @ LocalResult::Single(_), _) | (_, r @ LocalResult::Single(_)) => r,
            (LocalResult::Ambiguous(o, _), _) | (_, LocalResult::Ambiguous(o, _)) => {
                LocalResult::Single(o)
            }
            (LocalResult::None, LocalResult::None) => LocalResult::None,
        }
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<TzOffset> {
        let x = local.and_utc().timestamp();
        let zone = self.zone();
        let at = |span| TzOffset { tz: *self, span };
        let n = zone.len();
        let span = |i: usize| zone.local_span(i);
        match zone.search(span, x) {
            Ok(0) if n == 1 => LocalResult::Single(at(zone.get(0))),
            Ok(0) if contains(span(1), x) => {
                LocalResult::Ambiguous(at(zone.get(0)), at(zone.get(1)))
            }
            Ok(0) => LocalResult::Single(at(zone.get(0))),
            Ok(i) if contains(span(i - 1), x) => {
                LocalResult::Ambiguous(at(zone.get(i - 1)), at(zone.get(i)))
            }
            Ok(i) if i == n - 1 => LocalResult::Single(at(zone.get(i))),
            Ok(i) if contains(span(i + 1), x) => {
                LocalResult::Ambiguous(at(zone.get(i)), at(zone.get(i + 1)))
            }
            Ok(i) => LocalResult::Single(at(zone.get(i))),
            Err(_) => LocalResult::None,
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> TzOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> TzOffset {
        let zone = self.zone();
        let x = utc.and_utc().timestamp();
        // Every instant is in exactly one span; `Err` cannot happen, and would mean the first.
        let index = zone.search(|i| zone.utc_span(i), x).unwrap_or(0);
        TzOffset {
            tz: *self,
            span: zone.get(index),
        }
    }
}

#[cfg(test)]
#[path = "tz_tests.rs"]
mod tests;
