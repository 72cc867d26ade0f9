//! Ranges, presets and time zones; buckets and local periods.

use super::*;
use crate::kernel::date_text::{
    date_text, hour_text, minute_text, month_text, parse_date, parse_date_time,
};

/// A time range with its zone. Bounds are instants; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub tz: Tz,
}

pub fn parse_tz(value: Option<&str>) -> Result<Tz, CoreError> {
    match value {
        None | Some("") => Ok(Tz::UTC),
        Some(name) => name.parse::<Tz>().map_err(|_| {
            CoreError::invalid(
                "tz",
                format!("`{name}` is not an IANA time zone such as Europe/Paris"),
            )
        }),
    }
}

/// Local midnight of `day` in `tz` as an instant (the earliest, on a DST change).
pub fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        // A zone that skips midnight starts the day at 01:00.
        .unwrap_or_else(|| Utc.from_utc_datetime(&(naive - tz_offset_guess(tz, naive))))
}

pub(super) fn tz_offset_guess(tz: Tz, naive: NaiveDateTime) -> Duration {
    let later = naive + Duration::hours(1);
    tz.from_local_datetime(&later)
        .earliest()
        .map(|t| Duration::seconds(i64::from(chrono::Offset::fix(t.offset()).local_minus_utc())))
        .unwrap_or_default()
}

pub(crate) fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

pub(crate) fn next_month(day: NaiveDate) -> NaiveDate {
    let first = month_start(day);
    first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first)
}

/// The last instant a report reads: the end of 9999-12-31 UTC, the last a stored timestamp
/// (four-digit years) holds. A bound after it (`to=9999-12-31`, whose next midnight is in year
/// 10000) stops there, as `GET /api/usage`'s do.
pub fn last_instant() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .unwrap_or_default()
        .and_utc()
}

/// Reads `preset` or `from`/`to` (dates in `tz`, `to` inclusive; or RFC 3339 instants, `to`
/// exclusive; either one no later than [`last_instant`]). Presets: `today`, `yesterday`, `week` (the last 7 days with today), `month`
/// (this calendar month), `last_month`, `all`.
pub fn parse_range(
    query: &QueryPairs,
    now: DateTime<Utc>,
    default_preset: &str,
) -> Result<Range, CoreError> {
    let tz = parse_tz(param(query, "tz"))?;
    let today = now.with_timezone(&tz).date_naive();
    let mut p = Problems::new();
    let from_text = param(query, "from");
    let to_text = param(query, "to");
    let preset = param(query, "preset");
    if preset.is_some() && (from_text.is_some() || to_text.is_some()) {
        return Err(CoreError::invalid(
            "preset",
            "give either a preset or from/to, not both",
        ));
    }
    let day_bound = |text: &str, end: bool, p: &mut Problems, name: &str| {
        if text.len() == 10 {
            parse_day(text)
                .map(|d| local_midnight(if end { d + Duration::days(1) } else { d }, tz))
                .map_err(|m| p.push(name, m))
                .ok()
        } else {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    p.push(
                        name,
                        format!("`{text}` is neither a date (YYYY-MM-DD) nor an ISO 8601 timestamp with an offset"),
                    )
                })
                .ok()
        }
    };
    let (from, to) = if from_text.is_some() || to_text.is_some() {
        let last = last_instant();
        let from = from_text
            .and_then(|t| day_bound(t, false, &mut p, "from"))
            .map(|t| t.min(last));
        let to = to_text
            .and_then(|t| day_bound(t, true, &mut p, "to"))
            .map(|t| t.min(last));
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                p.push("to", "must be after `from`");
            }
        }
        (from, to)
    } else {
        let m = |d: NaiveDate| Some(local_midnight(d, tz));
        match preset.unwrap_or(default_preset) {
            "today" => (m(today), m(today + Duration::days(1))),
            "yesterday" => (m(today - Duration::days(1)), m(today)),
            "week" => (m(today - Duration::days(6)), m(today + Duration::days(1))),
            "month" => (m(month_start(today)), m(next_month(today))),
            "last_month" => {
                let this = month_start(today);
                (m(month_start(this - Duration::days(1))), m(this))
            }
            "all" => (None, None),
            other => {
                p.push(
                    "preset",
                    format!(
                        "`{other}` is not one of today, yesterday, week, month, last_month, all"
                    ),
                );
                (None, None)
            }
        }
    };
    p.finish()?;
    Ok(Range { from, to, tz })
}

pub(super) fn at_midnight(t: DateTime<Utc>) -> bool {
    t.time() == chrono::NaiveTime::MIN
}

/// A daily rollup bucket: the UTC day.
pub(super) fn day_bucket(day: NaiveDate) -> String {
    date_text(day)
}

/// An hour bucket (`YYYY-MM-DDTHH`): the UTC hour an instant falls in.
pub(super) fn hour_bucket(t: DateTime<Utc>) -> String {
    hour_text(t)
}

/// A quarter-hour rollup bucket (`YYYY-MM-DDTHH:MM`): the UTC quarter hour an instant falls in.
/// The first instant of year 10000, only ever the end of a range that takes in the last
/// quarter hour of 9999 ([`last_instant`]), is `9999-12-31T24:00`, which sorts after it.
pub fn quarter_bucket(t: DateTime<Utc>) -> String {
    let floor = floor_quarter(t);
    if floor.year() > 9999 {
        return "9999-12-31T24:00".to_string();
    }
    minute_text(floor)
}

/// The start of the UTC quarter hour an instant falls in.
pub(crate) fn floor_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
    let hour = floor_hour(t);
    hour + Duration::minutes(i64::from(t.minute() / 15 * 15))
}

/// The first whole UTC quarter hour at or after an instant.
pub(super) fn ceil_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_quarter(t);
    if floor == t {
        t
    } else {
        floor + Duration::minutes(15)
    }
}

/// The start of the UTC hour an instant falls in.
pub(crate) fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .unwrap_or(t)
}

/// The quarter-hour bucket a range ending at `t` stops before: quarter hours are whole, so
/// an end inside one takes it in.
pub(super) fn quarter_bucket_end(t: DateTime<Utc>) -> String {
    quarter_bucket(ceil_quarter(t))
}

impl Range {
    /// The part of this range from the start of UTC day `first` to the end of `last`.
    pub fn within_days(&self, first: NaiveDate, last: NaiveDate) -> Range {
        let start = first.and_time(chrono::NaiveTime::MIN).and_utc();
        let end = (last + Duration::days(1))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        Range {
            from: Some(self.from.map_or(start, |f| f.max(start))),
            to: Some(self.to.map_or(end, |t| t.min(end))),
            tz: self.tz,
        }
    }

    /// Whether the range is read by the quarter hour (it does not fall on whole UTC days).
    pub fn split_by_quarters(&self) -> bool {
        !self.on_utc_days()
    }

    /// Whether the range falls on whole UTC days, so the daily rollups can answer it.
    fn on_utc_days(&self) -> bool {
        self.tz == Tz::UTC && self.from.is_none_or(at_midnight) && self.to.is_none_or(at_midnight)
    }

    /// The rollup query for this range, split by `period` if given: daily rows when they
    /// suffice, else quarter-hour ones where needed. Without periods to split by, the time
    /// zone only moves the range's ends, so the whole UTC days between them are read from the
    /// daily rollups and only the quarter hours at the ends from the quarter-hour ones. Split
    /// by local period, a bounded range is read through a [`PeriodPlan`].
    pub fn rollup_query(&self, period: Option<Period>) -> RollupQuery {
        let Some(period) = period else {
            if let Some(query) = self.split_query() {
                return query;
            }
            return self.bucketed_query(false);
        };
        let mut query = self.bucketed_query(true);
        if let (true, Some(from), Some(to)) = (query.quarters, self.from, self.to) {
            query.periods = PeriodPlan::build(from, to, period, self.tz);
        }
        query
    }

    /// The range's buckets: whole UTC days when the range falls on them, else quarter hours.
    fn bucketed_query(&self, by_bucket: bool) -> RollupQuery {
        let quarters = !self.on_utc_days();
        let bucket = |t: DateTime<Utc>, end: bool| match (quarters, end) {
            (true, false) => quarter_bucket(t),
            (true, true) => quarter_bucket_end(t),
            (false, _) => day_bucket(t.date_naive()),
        };
        RollupQuery {
            quarters,
            from: self.from.map(|t| bucket(t, false)),
            to: self.to.map(|t| bucket(t, true)),
            by_bucket,
            ..RollupQuery::default()
        }
    }

    /// Whole UTC days inside the range with quarter hours at either end, or `None` when the
    /// range holds no whole UTC day (the quarter-hour rollups alone answer it).
    fn split_query(&self) -> Option<RollupQuery> {
        // The first whole day starts at or after `from`; the last ends at or before `to`.
        let first = self.from.map(|t| {
            if at_midnight(t) {
                t.date_naive()
            } else {
                t.date_naive() + Duration::days(1)
            }
        });
        let end = self.to.map(|t| t.date_naive());
        if let (Some(first), Some(end)) = (first, end) {
            if first >= end {
                return None;
            }
        }
        let (from, to) = (first.map(day_bucket), end.map(day_bucket));
        if self.from.is_none_or(at_midnight) && self.to.is_none_or(at_midnight) {
            return Some(RollupQuery {
                from,
                to,
                ..RollupQuery::default()
            });
        }
        Some(RollupQuery {
            quarters: true,
            from: self.from.map(quarter_bucket),
            to: self.to.map(quarter_bucket_end),
            days: Some(DaySpan { from, to }),
            ..RollupQuery::default()
        })
    }

    /// The range as asked for, and as counted: the rollups are kept by UTC quarter hour, so
    /// an end inside a quarter hour counts the whole of it (`counted_from` and `counted_to`,
    /// equal to `from` and `to` when they fall on quarter hours).
    pub fn describe(&self) -> Value {
        json!({
            "from": self.from.map(format_timestamp),
            "to": self.to.map(format_timestamp),
            "tz": self.tz.name(),
            "counted_from": self.from.map(|t| format_timestamp(floor_quarter(t))),
            // The last instant of year 9999 (an open range's end) stays as it is.
            "counted_to": self.to.map(|t| {
                let end = ceil_quarter(t);
                format_timestamp(if end.year() > 9999 { t } else { end })
            }),
        })
    }
}

/// The local period (day, Monday of the week, or month) of a rollup bucket.
pub fn period_of(bucket: &str, period: Period, tz: Tz) -> Option<String> {
    let instant = if bucket.len() == 10 {
        parse_date(bucket)?.and_hms_opt(0, 0, 0)?.and_utc()
    } else {
        // A quarter hour (`YYYY-MM-DDTHH:MM`), or an hour (`YYYY-MM-DDTHH`).
        let minutes = if bucket.len() == 13 { ":00" } else { "" };
        parse_date_time(&format!("{bucket}{minutes}:00"))?.and_utc()
    };
    Some(local_period(instant, period, tz))
}

/// The local period (day, Monday of the week, or month) an instant falls in.
pub(super) fn local_period(instant: DateTime<Utc>, period: Period, tz: Tz) -> String {
    let day = instant.with_timezone(&tz).date_naive();
    match period {
        Period::Day => date_text(day),
        Period::Week => {
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            date_text(monday)
        }
        Period::Month => month_text(day),
    }
}
