//! Reports: totals of stored usage grouped by period and dimension, read from the rollups
//! (never the raw rows), in any time zone, as JSON or CSV.
//!
//! Day boundaries in a time zone other than UTC come from the quarter-hour rollups: each UTC
//! quarter hour counts in the local day, week or month its first instant falls in. Every
//! zone's offset is a whole number of quarter hours (India's +05:30, Nepal's +05:45,
//! Newfoundland's -03:30 included), so every local period is exact. A report split by local
//! period reads most of its range from the daily rollups all the same ([`PeriodPlan`]): each
//! whole UTC day goes to the period holding most of its quarter hours, and only the stretches
//! of that day that belong elsewhere are read by the quarter hour and moved.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::access::projects::ProjectId;
use crate::kernel::clock::{format_timestamp, parse_timestamp};
use crate::kernel::csv::cell;
use crate::kernel::error::{CoreError, Problems, StoreError};
use crate::kernel::money::{format_scaled, Currency, Money, Totals};
use crate::kernel::query::{only_known, param, parse_day, QueryPairs};

/// Summed quantities of a rollup row, in the order of the rollup tables' columns.
pub const MEASURES: [&str; 20] = [
    "events",
    "unpriced_events",
    "cache_hits",
    "failed_events",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "characters",
    "audio_seconds_micros",
    "video_seconds_micros",
    "images",
    "requests",
    "tracks",
    "credits_micros",
];

/// Measures kept in micro-units and shown as decimal text under their unit's name.
fn shown_name(measure: &str) -> (&str, bool) {
    match measure.strip_suffix("_micros") {
        Some(unit) => (unit, true),
        None => (measure, false),
    }
}

/// A grouping dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    Project,
    Provider,
    Model,
    Operation,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::Project => "project_id",
            Dim::Provider => "provider",
            Dim::Model => "model",
            Dim::Operation => "operation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

/// What to read from the rollups. Buckets are UTC days (`YYYY-MM-DD`) from the daily table or
/// UTC quarter hours (`YYYY-MM-DDTHH:MM`, minutes 00, 15, 30 or 45) from the quarter-hour one;
/// `from` inclusive, `to` exclusive. A bound may be an hour (`YYYY-MM-DDTHH`), which sorts
/// before the hour's first quarter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RollupQuery {
    /// Read the quarter-hour rollups (else the daily ones).
    pub quarters: bool,
    pub from: Option<String>,
    pub to: Option<String>,
    /// With `quarters` and no `by_bucket`: the whole UTC days inside `from..to`, read from the
    /// daily table; only the quarter hours before and after them come from the quarter-hour
    /// one. A month in New York then reads about 30 daily rows per group instead of 2,880.
    pub days: Option<DaySpan>,
    pub project_id: Option<ProjectId>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Group by bucket (needed to split by period); otherwise buckets are summed.
    pub by_bucket: bool,
    pub dims: Vec<Dim>,
    /// When set, the store reads exactly this plan instead of the range above and sums each
    /// row into its local period ([`RollupRow::period`]).
    pub periods: Option<PeriodPlan>,
}

/// The most moves a [`PeriodPlan`] may hold (its JSON stays far under D1's 2 MB per value);
/// a longer range in a zone far from UTC is read by the quarter hour instead.
pub const MAX_PLAN_MOVES: usize = 20_000;

/// Rollup reads summed into local periods by the store. Every whole UTC day of the range is
/// read from the daily rollups into the period holding most of its quarter hours; each
/// stretch of that day that belongs to another period is then taken from the day's period
/// (`-1`) and added to its own (`1`), read from the quarter-hour rollups. The range's partial
/// UTC days at either end are read by the quarter hour. A month by day in New York reads 31
/// daily buckets and one stretch of 4 or 5 hours a day instead of 2,976 quarter hours; by
/// week or month, only the stretches at the period boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeriodPlan {
    /// A UTC day bucket and the period it is summed into.
    pub days: Vec<(String, String)>,
    /// A stretch of quarter-hour buckets (`from` inclusive, `to` exclusive), the period, and
    /// `1` to add it or `-1` to take it away.
    pub moves: Vec<Move>,
}

/// One stretch of a [`PeriodPlan`]: quarter-hour buckets `from..to`, summed into `period`
/// with `sign`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub period: String,
    pub sign: i64,
}

/// Quarter hours of a UTC day.
const QUARTERS_A_DAY: i64 = 96;

/// Consecutive quarter hours of one period merged into stretches, each a move adding it to
/// its period.
fn stretches(quarters: &[(DateTime<Utc>, String)]) -> Vec<Move> {
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>, &str)> = Vec::new();
    for (start, label) in quarters {
        let end = *start + Duration::minutes(15);
        match out.last_mut() {
            Some((_, to, last)) if *to == *start && *last == label.as_str() => *to = end,
            _ => out.push((*start, end, label)),
        }
    }
    out.into_iter()
        .map(|(from, to, label)| Move {
            from: quarter_bucket(from),
            to: quarter_bucket(to),
            period: label.to_string(),
            sign: 1,
        })
        .collect()
}

impl PeriodPlan {
    /// The plan for `from..to` (quarter hours are whole: `from` rounds down, `to` up) split by
    /// `period` in `tz`, or `None` when it would hold more than [`MAX_PLAN_MOVES`] moves.
    pub fn build(from: DateTime<Utc>, to: DateTime<Utc>, period: Period, tz: Tz) -> Option<Self> {
        let start = floor_quarter(from);
        let end = ceil_quarter(to);
        let mut plan = PeriodPlan::default();
        let mut day = start.date_naive();
        loop {
            let midnight = day.and_time(chrono::NaiveTime::MIN).and_utc();
            if midnight >= end {
                break;
            }
            let quarters: Vec<(DateTime<Utc>, String)> = (0..QUARTERS_A_DAY)
                .map(|q| midnight + Duration::minutes(15 * q))
                .filter(|q| *q >= start && *q < end)
                .map(|q| (q, local_period(q, period, tz)))
                .collect();
            if quarters.len() as i64 == QUARTERS_A_DAY {
                let anchor = most_common(quarters.iter().map(|(_, label)| label.as_str()));
                let elsewhere: Vec<(DateTime<Utc>, String)> = quarters
                    .into_iter()
                    .filter(|(_, label)| *label != anchor)
                    .collect();
                for stretch in stretches(&elsewhere) {
                    plan.moves.push(Move {
                        period: anchor.clone(),
                        sign: -1,
                        ..stretch.clone()
                    });
                    plan.moves.push(stretch);
                }
                plan.days.push((day_bucket(day), anchor));
            } else {
                plan.moves.extend(stretches(&quarters));
            }
            if plan.moves.len() > MAX_PLAN_MOVES {
                return None;
            }
            day = day.succ_opt()?;
        }
        Some(plan)
    }

    /// The moves with each stretch of quarter hours listed once: the distinct stretches
    /// (`from`, `to`) in their first order, and every move as the index of its stretch, its
    /// period and its sign. A stretch taken from one period and added to another is then one
    /// read of the rollups, not two.
    pub fn shared_stretches(&self) -> SharedStretches<'_> {
        let mut stretches: Vec<(&str, &str)> = Vec::new();
        let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let links = self
            .moves
            .iter()
            .map(|m| {
                let key = (m.from.as_str(), m.to.as_str());
                let i = *index.entry(key).or_insert_with(|| {
                    stretches.push(key);
                    stretches.len() - 1
                });
                (i, m.period.as_str(), m.sign)
            })
            .collect();
        SharedStretches { stretches, links }
    }
}

/// A plan's moves as [`PeriodPlan::shared_stretches`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedStretches<'a> {
    /// Each distinct stretch of quarter hours, `from` inclusive, `to` exclusive.
    pub stretches: Vec<(&'a str, &'a str)>,
    /// Each move: the index of its stretch, its period and its sign.
    pub links: Vec<(usize, &'a str, i64)>,
}

/// The label that occurs most often; the earliest of equals.
fn most_common<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for label in labels {
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(label, _)| label.to_string())
        .unwrap_or_default()
}

/// Whole UTC days (`YYYY-MM-DD`), `from` inclusive, `to` exclusive; `None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaySpan {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A rollup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupTable {
    Daily,
    QuarterHours,
}

/// One contiguous read of a rollup table: buckets in `from..to` (`None` is unbounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupPart {
    pub table: RollupTable,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl RollupQuery {
    /// The reads that make up this query, in time order; their rows are summed together.
    pub fn parts(&self) -> Vec<RollupPart> {
        let part = |table, from: Option<&String>, to: Option<&String>| RollupPart {
            table,
            from: from.cloned(),
            to: to.cloned(),
        };
        if !self.quarters {
            return vec![part(
                RollupTable::Daily,
                self.from.as_ref(),
                self.to.as_ref(),
            )];
        }
        let Some(days) = &self.days else {
            return vec![part(
                RollupTable::QuarterHours,
                self.from.as_ref(),
                self.to.as_ref(),
            )];
        };
        let mut parts = Vec::with_capacity(3);
        if let Some(first) = &days.from {
            parts.push(part(
                RollupTable::QuarterHours,
                self.from.as_ref(),
                Some(&format!("{first}T00:00")),
            ));
        }
        parts.push(part(
            RollupTable::Daily,
            days.from.as_ref(),
            days.to.as_ref(),
        ));
        if let Some(last) = &days.to {
            parts.push(part(
                RollupTable::QuarterHours,
                Some(&format!("{last}T00:00")),
                self.to.as_ref(),
            ));
        }
        // An end already on a UTC midnight leaves no quarter hours to read there.
        parts.retain(|p| !matches!((&p.from, &p.to), (Some(f), Some(t)) if f >= t));
        parts
    }

    /// The tables a report read, as its `source` names them.
    pub fn source(&self) -> &'static str {
        match (self.quarters, self.days.is_some() || self.periods.is_some()) {
            (false, _) => "usage_daily",
            (true, false) => "usage_quarter_hours",
            (true, true) => "usage_daily+usage_quarter_hours",
        }
    }
}

/// One group of rollup rows as the store sums them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RollupRow {
    pub bucket: Option<String>,
    /// The local period (as [`period_of`] names it), when the store summed by a
    /// [`PeriodPlan`]; `bucket` is then `None`.
    pub period: Option<String>,
    pub project_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub operation: Option<String>,
    /// Empty for unpriced events.
    pub currency: String,
    pub cost_nanos: i128,
    pub measures: [i64; MEASURES.len()],
}

impl RollupRow {
    fn dim(&self, dim: Dim) -> Option<&str> {
        match dim {
            Dim::Project => self.project_id.as_deref(),
            Dim::Provider => self.provider.as_deref(),
            Dim::Model => self.model.as_deref(),
            Dim::Operation => self.operation.as_deref(),
        }
    }
}

#[allow(async_fn_in_trait)]
pub trait ReportStore {
    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<RollupRow>, StoreError>;
    /// Several reads, each answered as [`ReportStore::rollups`] would; D1 makes them in one
    /// call (a batch), so a read per plan or per time zone costs no more calls.
    async fn rollups_many(
        &self,
        queries: &[RollupQuery],
    ) -> Result<Vec<Vec<RollupRow>>, StoreError> {
        let mut out = Vec::with_capacity(queries.len());
        for query in queries {
            out.push(self.rollups(query).await?);
        }
        Ok(out)
    }
    /// The first and last UTC day of the daily rollups, if any usage is stored.
    async fn rollup_days(&self) -> Result<Option<(NaiveDate, NaiveDate)>, StoreError>;
    /// The timestamp of the newest stored event (of one project, if given).
    async fn last_event_at(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Option<String>, StoreError>;
    /// The timestamp of each provider's newest stored event in `span` (of one project, if
    /// given), as `(provider, timestamp)`. A provider whose newest events there were pruned
    /// by retention is left out.
    async fn newest_by_provider(
        &self,
        span: &QuarterSpan,
        project: Option<&ProjectId>,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Events since `since` (stored text) summed per minute (`YYYY-MM-DDTHH:MM`) and currency.
    async fn recent_minutes(
        &self,
        since: &str,
        project: Option<&ProjectId>,
    ) -> Result<Vec<MinuteRow>, StoreError>;
}

/// A range of whole UTC quarter hours (`from` rounds down, `to` up), with the UTC days it
/// touches: what a store reads to find each provider's newest event in a local day or month
/// (the daily rollups name the last day with events, the quarter-hour ones the last quarter
/// hour with events, and only that quarter hour's rows are read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarterSpan {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The first quarter hour (`YYYY-MM-DDTHH:MM`).
    pub first_quarter: String,
    /// The last quarter hour.
    pub last_quarter: String,
    /// The first and last UTC day (`YYYY-MM-DD`) holding a quarter hour of the span.
    pub first_day: String,
    pub last_day: String,
}

impl QuarterSpan {
    /// The span of `from..to`; `None` when it holds no quarter hour.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Self> {
        let (from, to) = (floor_quarter(from), ceil_quarter(to));
        if from >= to {
            return None;
        }
        let last = to - Duration::minutes(15);
        Some(Self {
            first_quarter: quarter_bucket(from),
            last_quarter: quarter_bucket(last),
            first_day: day_bucket(from.date_naive()),
            last_day: day_bucket(last.date_naive()),
            from,
            to,
        })
    }

    /// Whether a stored timestamp falls in the span.
    pub fn holds(&self, timestamp: &str) -> bool {
        parse_timestamp(timestamp).is_ok_and(|t| self.from <= t && t < self.to)
    }
}

/// Events of one minute in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteRow {
    pub minute: String,
    pub currency: String,
    pub events: i64,
    pub unpriced_events: i64,
    pub cost_nanos: i128,
}

/// Sums of one group: cost per currency and every measure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sums {
    pub cost: Totals,
    pub measures: [i64; MEASURES.len()],
}

impl Sums {
    pub fn add(&mut self, row: &RollupRow) {
        if let Ok(currency) = Currency::parse(&row.currency) {
            self.cost.add(Money::new(row.cost_nanos, currency));
        }
        for (total, value) in self.measures.iter_mut().zip(row.measures) {
            *total += value;
        }
    }

    /// Adds another group's sums.
    pub fn merge(&mut self, other: &Sums) {
        for (total, value) in self.measures.iter_mut().zip(other.measures) {
            *total += value;
        }
        for money in other.cost.iter() {
            self.cost.add(money);
        }
    }

    pub fn measure(&self, name: &str) -> i64 {
        MEASURES
            .iter()
            .position(|m| *m == name)
            .map_or(0, |i| self.measures[i])
    }

    /// JSON fields: `cost` (one entry per currency) and every measure, seconds and credits as
    /// decimal text.
    pub fn fields(&self, into: &mut Map<String, Value>) {
        into.insert("cost".into(), json!(self.cost));
        for (name, value) in MEASURES.iter().zip(self.measures) {
            let (shown, micros) = shown_name(name);
            let value = if micros {
                Value::from(format_scaled(i128::from(value), 6, 0))
            } else {
                Value::from(value)
            };
            into.insert(shown.to_string(), value);
        }
    }
}

impl Serialize for Sums {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = Map::new();
        self.fields(&mut map);
        map.serialize(serializer)
    }
}

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

fn tz_offset_guess(tz: Tz, naive: NaiveDateTime) -> Duration {
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

/// Reads `preset` or `from`/`to` (dates in `tz`, `to` inclusive; or RFC 3339 instants, `to`
/// exclusive). Presets: `today`, `yesterday`, `week` (the last 7 days with today), `month`
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
        let from = from_text.and_then(|t| day_bound(t, false, &mut p, "from"));
        let to = to_text.and_then(|t| day_bound(t, true, &mut p, "to"));
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

fn at_midnight(t: DateTime<Utc>) -> bool {
    t.time() == chrono::NaiveTime::MIN
}

/// A daily rollup bucket: the UTC day.
fn day_bucket(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// An hour bucket (`YYYY-MM-DDTHH`): the UTC hour an instant falls in.
fn hour_bucket(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

/// A quarter-hour rollup bucket (`YYYY-MM-DDTHH:MM`): the UTC quarter hour an instant falls in.
pub fn quarter_bucket(t: DateTime<Utc>) -> String {
    floor_quarter(t).format("%Y-%m-%dT%H:%M").to_string()
}

/// The start of the UTC quarter hour an instant falls in.
fn floor_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
    let hour = floor_hour(t);
    hour + Duration::minutes(i64::from(t.minute() / 15 * 15))
}

/// The first whole UTC quarter hour at or after an instant.
fn ceil_quarter(t: DateTime<Utc>) -> DateTime<Utc> {
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
fn quarter_bucket_end(t: DateTime<Utc>) -> String {
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

    pub fn describe(&self) -> Value {
        json!({
            "from": self.from.map(format_timestamp),
            "to": self.to.map(format_timestamp),
            "tz": self.tz.name(),
        })
    }
}

/// The local period (day, Monday of the week, or month) of a rollup bucket.
pub fn period_of(bucket: &str, period: Period, tz: Tz) -> Option<String> {
    let instant = if bucket.len() == 10 {
        NaiveDate::parse_from_str(bucket, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
    } else {
        // A quarter hour (`YYYY-MM-DDTHH:MM`), or an hour (`YYYY-MM-DDTHH`).
        let minutes = if bucket.len() == 13 { ":00" } else { "" };
        NaiveDateTime::parse_from_str(&format!("{bucket}{minutes}:00"), "%Y-%m-%dT%H:%M:%S")
            .ok()?
            .and_utc()
    };
    Some(local_period(instant, period, tz))
}

/// The local period (day, Monday of the week, or month) an instant falls in.
fn local_period(instant: DateTime<Utc>, period: Period, tz: Tz) -> String {
    let day = instant.with_timezone(&tz).date_naive();
    match period {
        Period::Day => day.format("%Y-%m-%d").to_string(),
        Period::Week => {
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            monday.format("%Y-%m-%d").to_string()
        }
        Period::Month => day.format("%Y-%m").to_string(),
    }
}

/// `GET /api/admin/usage` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageReportQuery {
    pub period: Option<Period>,
    pub dims: Vec<Dim>,
    pub range: Range,
    pub project_id: Option<ProjectId>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub csv: bool,
    pub limit: usize,
    /// `group=client`: rows summed per project's client (read by project, then merged).
    pub by_client: bool,
    /// With `by_client`: the project was asked for too, so rows stay per project.
    pub keep_project: bool,
}

pub const MAX_REPORT_ROWS: usize = 10_000;

impl UsageReportQuery {
    pub fn parse(query: &QueryPairs, now: DateTime<Utc>) -> Result<Self, CoreError> {
        only_known(
            query,
            &[
                "group",
                "from",
                "to",
                "preset",
                "tz",
                "project_id",
                "provider",
                "model",
                "format",
                "limit",
            ],
        )?;
        let range = parse_range(query, now, "month")?;
        let mut p = Problems::new();
        let mut period = None;
        let mut dims = Vec::new();
        let mut by_client = false;
        for part in param(query, "group")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let next_period = match part {
                "day" => Some(Period::Day),
                "week" => Some(Period::Week),
                "month" => Some(Period::Month),
                _ => None,
            };
            let dim = match part {
                "project" | "project_id" => Some(Dim::Project),
                "provider" => Some(Dim::Provider),
                "model" => Some(Dim::Model),
                "operation" => Some(Dim::Operation),
                _ => None,
            };
            if part == "client" {
                by_client = true;
                continue;
            }
            match (next_period, dim) {
                (Some(_), _) if period.is_some() => {
                    p.push("group", "at most one of day, week and month")
                }
                (Some(next), _) => period = Some(next),
                (None, Some(dim)) if !dims.contains(&dim) => dims.push(dim),
                (None, Some(_)) => {}
                (None, None) => p.push(
                    "group",
                    format!("`{part}` is not one of day, week, month, provider, model, project, operation, client"),
                ),
            }
        }
        let project_id = param(query, "project_id").and_then(|v| {
            ProjectId::parse(v)
                .map_err(|m| p.push("project_id", m))
                .ok()
        });
        let csv = match param(query, "format") {
            None | Some("json") => false,
            Some("csv") => true,
            Some(other) => {
                p.push("format", format!("`{other}` is not json or csv"));
                false
            }
        };
        let limit = match param(query, "limit") {
            None => MAX_REPORT_ROWS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_REPORT_ROWS).contains(&n) => n,
                _ => {
                    p.push(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_REPORT_ROWS}"),
                    );
                    MAX_REPORT_ROWS
                }
            },
        };
        p.finish()?;
        // A model is read with its provider: `default` or a model name two providers share
        // are different rows (HeyGen's `default` is not OpenAI's).
        if let Some(at) = dims.iter().position(|d| *d == Dim::Model) {
            if !dims.contains(&Dim::Provider) {
                dims.insert(at, Dim::Provider);
            }
        }
        let keep_project = dims.contains(&Dim::Project);
        if by_client && !keep_project {
            dims.push(Dim::Project);
        }
        Ok(UsageReportQuery {
            period,
            dims,
            by_client,
            keep_project,
            range,
            project_id,
            provider: param(query, "provider")
                .map(|v| crate::pricing::catalog::canonical_provider(&v.to_ascii_lowercase())),
            model: param(query, "model").map(str::to_ascii_lowercase),
            csv,
            limit,
        })
    }

    pub fn rollup_query(&self) -> RollupQuery {
        self.rollup_query_over(self.range)
    }

    /// The dimensions the answer shows: without the project read only to find clients.
    pub fn shown_dims(&self) -> Vec<Dim> {
        self.dims
            .iter()
            .copied()
            .filter(|d| *d != Dim::Project || !self.by_client || self.keep_project)
            .collect()
    }

    /// Whether rows carry a `client` of their own (not only beside a project).
    fn client_column(&self) -> bool {
        self.by_client && !self.keep_project
    }

    /// The rollup query over `range`: this query's own range, or the same range narrowed to
    /// the days that hold data. A bounded range split by local period in a zone other than
    /// UTC is read through a [`PeriodPlan`].
    pub fn rollup_query_over(&self, range: Range) -> RollupQuery {
        let mut q = range.rollup_query(self.period);
        q.project_id = self.project_id.clone();
        q.provider = self.provider.clone();
        q.model = self.model.clone();
        q.dims = self.dims.clone();
        q
    }
}

/// One row of a grouped report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub period: Option<String>,
    pub dims: Vec<(Dim, String)>,
    pub sums: Sums,
    /// With `group=client`: the client of the row's projects (`None`: projects without one).
    pub client: Option<String>,
    /// Grouped by model: the names the events were recorded under, other than the row's
    /// catalog model (dated aliases and snapshots, such as `gpt-4o-2024-08-06` under
    /// `gpt-4o`), sorted.
    pub aliases: Vec<String>,
}

/// The catalog model a stored model name is grouped under: the built-in catalog's model of
/// which it is an alias or a dated snapshot (`gpt-4o-2024-08-06` -> `gpt-4o`), or the name
/// itself when the catalog does not list it.
pub fn catalog_model(provider: &str, model: &str) -> String {
    use crate::pricing::catalog::{builtin, Catalog, PriceBook};
    static NO_CUSTOM: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    let book = PriceBook {
        builtin: builtin(),
        custom: NO_CUSTOM.get_or_init(Catalog::default),
    };
    book.canonical_model(provider, model)
        .unwrap_or_else(|| model.to_string())
}

/// Rows by project merged per client (`group=client`): the project dimension is dropped
/// unless it was asked for too. Rows come out sorted by period, dimensions and client.
pub fn merge_by_client(
    rows: Vec<ReportRow>,
    projects: &BTreeMap<String, ProjectInfo>,
    keep_project: bool,
) -> Vec<ReportRow> {
    type Key = (Option<String>, Vec<(Dim, String)>, Option<String>);
    let mut groups: BTreeMap<Key, (Sums, BTreeSet<String>)> = BTreeMap::new();
    for row in rows {
        let project = row
            .dims
            .iter()
            .find(|(d, _)| *d == Dim::Project)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let client = projects.get(&project).and_then(|p| p.client.clone());
        let dims: Vec<(Dim, String)> = row
            .dims
            .into_iter()
            .filter(|(d, _)| keep_project || *d != Dim::Project)
            .collect();
        let group = groups.entry((row.period, dims, client)).or_default();
        group.0.merge(&row.sums);
        group.1.extend(row.aliases);
    }
    groups
        .into_iter()
        .map(|((period, dims, client), (sums, aliases))| ReportRow {
            period,
            dims,
            sums,
            client,
            aliases: aliases.into_iter().collect(),
        })
        .collect()
}

/// Groups rollup rows by period and dimensions; rows come out sorted by period then
/// dimensions. Grouped by provider and model, a model's dated aliases and snapshots are one
/// row under the catalog model ([`catalog_model`]), the names seen kept in its `aliases`.
pub fn group_rows(
    rows: &[RollupRow],
    period: Option<Period>,
    dims: &[Dim],
    tz: Tz,
) -> Vec<ReportRow> {
    let by_catalog_model = dims.contains(&Dim::Model) && dims.contains(&Dim::Provider);
    type Key = (Option<String>, Vec<String>);
    let mut groups: BTreeMap<Key, (Sums, BTreeSet<String>)> = BTreeMap::new();
    for row in rows {
        let label = match (period, &row.period, &row.bucket) {
            (Some(_), Some(label), _) => Some(label.clone()),
            (Some(p), None, Some(bucket)) => period_of(bucket, p, tz),
            _ => None,
        };
        let mut alias = None;
        let key: Vec<String> = dims
            .iter()
            .map(|d| {
                let value = row.dim(*d).unwrap_or_default();
                if *d == Dim::Model && by_catalog_model {
                    let model = catalog_model(row.provider.as_deref().unwrap_or_default(), value);
                    if model != value {
                        alias = Some(value.to_string());
                    }
                    model
                } else {
                    value.to_string()
                }
            })
            .collect();
        let group = groups.entry((label, key)).or_default();
        group.0.add(row);
        group.1.extend(alias);
    }
    groups
        .into_iter()
        .map(|((period, key), (sums, aliases))| ReportRow {
            period,
            dims: dims.iter().copied().zip(key).collect(),
            sums,
            client: None,
            aliases: aliases.into_iter().collect(),
        })
        .collect()
}

/// A project's spend this month against its budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStatus {
    pub budget: Option<Money>,
    pub alert_threshold_percent: u16,
    pub month_to_date: Money,
    /// Spend as a percentage of the budget, two decimals, as text.
    pub percent_used: Option<String>,
    /// `no_budget`, `ok`, `alert` (at or above the alert threshold) or `over` (at or above 100%).
    pub status: &'static str,
}

pub fn budget_status(
    budget: Option<Money>,
    alert_threshold_percent: u16,
    month_to_date: i128,
) -> BudgetStatus {
    let currency = budget.map_or(Currency::USD, |b| b.currency);
    let spent = Money::new(month_to_date, currency);
    let Some(budget) = budget.filter(|b| b.nanos > 0) else {
        return BudgetStatus {
            budget,
            alert_threshold_percent,
            month_to_date: spent,
            percent_used: None,
            status: "no_budget",
        };
    };
    // Basis points of the budget, rounded half to even.
    let basis = crate::kernel::money::div_round_half_even(spent.nanos * 10_000, budget.nanos);
    let status = if basis >= 10_000 {
        "over"
    } else if basis >= i128::from(alert_threshold_percent) * 100 {
        "alert"
    } else {
        "ok"
    };
    BudgetStatus {
        budget: Some(budget),
        alert_threshold_percent,
        month_to_date: spent,
        percent_used: Some(format_scaled(basis, 2, 2)),
        status,
    }
}

/// What a report shows beside a project's id.
#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub name: String,
    pub client: Option<String>,
    pub budget: BudgetStatus,
}

/// The JSON answer of `GET /api/admin/usage`.
pub fn report_json(
    query: &UsageReportQuery,
    source: &str,
    rows: &[ReportRow],
    projects: &BTreeMap<String, ProjectInfo>,
    truncated: bool,
) -> Value {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().take(query.limit) {
        let mut map = Map::new();
        if let Some(period) = &row.period {
            map.insert("period".into(), json!(period));
        }
        if query.client_column() {
            map.insert("client".into(), json!(row.client));
        }
        for (dim, value) in &row.dims {
            let shown = if *dim == Dim::Operation && value.is_empty() {
                Value::Null
            } else {
                json!(value)
            };
            map.insert(dim.name().into(), shown);
            if *dim == Dim::Model {
                map.insert("aliases".into(), json!(row.aliases));
            }
            if *dim == Dim::Project {
                let known = projects.get(value);
                map.insert("project_name".into(), json!(known.map(|p| &p.name)));
                map.insert(
                    "client".into(),
                    json!(known.and_then(|p| p.client.as_ref())),
                );
                map.insert("budget".into(), json!(known.map(|p| &p.budget)));
            }
        }
        row.sums.fields(&mut map);
        out.push(Value::Object(map));
    }
    let totals = total_of(rows);
    json!({
        "range": query.range.describe(),
        "group": {
            "period": query.period.map(|p| match p { Period::Day => "day", Period::Week => "week", Period::Month => "month" }),
            "by": query
                .shown_dims()
                .iter()
                .map(|d| d.name())
                .chain(query.by_client.then_some("client"))
                .collect::<Vec<_>>(),
        },
        "source": source,
        "totals": totals,
        "count": out.len(),
        "truncated": truncated || rows.len() > query.limit,
        "rows": out,
    })
}

/// The same rows as CSV with a header row; one cost column per currency present.
pub fn report_csv(
    query: &UsageReportQuery,
    rows: &[ReportRow],
    projects: &BTreeMap<String, ProjectInfo>,
) -> String {
    let rows = &rows[..rows.len().min(query.limit)];
    let currencies: BTreeSet<Currency> = rows
        .iter()
        .flat_map(|r| r.sums.cost.iter().map(|m| m.currency))
        .collect();
    let mut header: Vec<String> = Vec::new();
    if query.period.is_some() {
        header.push("period".into());
    }
    if query.client_column() {
        header.push("client".into());
    }
    for dim in &query.shown_dims() {
        header.push(dim.name().into());
        if *dim == Dim::Model {
            header.push("aliases".into());
        }
        if *dim == Dim::Project {
            header.push("project_name".into());
            header.push("client".into());
        }
    }
    for c in &currencies {
        header.push(format!("cost_{}", c.as_str().to_ascii_lowercase()));
    }
    for m in MEASURES {
        header.push(shown_name(m).0.to_string());
    }
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let mut cells: Vec<String> = Vec::new();
        if query.period.is_some() {
            cells.push(cell(row.period.as_deref().unwrap_or_default()));
        }
        if query.client_column() {
            cells.push(cell(row.client.as_deref().unwrap_or_default()));
        }
        for (dim, value) in &row.dims {
            cells.push(cell(value));
            if *dim == Dim::Model {
                cells.push(cell(&row.aliases.join(" ")));
            }
            if *dim == Dim::Project {
                cells.push(cell(
                    projects
                        .get(value)
                        .map(|p| p.name.as_str())
                        .unwrap_or_default(),
                ));
                cells.push(cell(
                    projects
                        .get(value)
                        .and_then(|p| p.client.as_deref())
                        .unwrap_or_default(),
                ));
            }
        }
        for c in &currencies {
            cells.push(row.sums.cost.get(*c).amount_string());
        }
        for (name, value) in MEASURES.iter().zip(row.sums.measures) {
            cells.push(if shown_name(name).1 {
                format_scaled(i128::from(value), 6, 0)
            } else {
                value.to_string()
            });
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// What the usage statistics say about their source: stored usage only, never a provider.
pub const DATA_SOURCE: &str = "stored_usage";
pub const DATA_SOURCE_NOTE: &str =
    "Figures are sums of the usage events your apps reported and this service stored; no provider API is called.";

fn by_dim(rows: &[ReportRow], dim: Dim) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut map = Map::new();
            for (d, v) in &r.dims {
                map.insert(d.name().into(), json!(v));
            }
            if dim == Dim::Operation {
                if let Some(Value::String(op)) = map.get("operation") {
                    if op.is_empty() {
                        map.insert("operation".into(), Value::Null);
                    }
                }
            }
            r.sums.fields(&mut map);
            Value::Object(map)
        })
        .collect()
}

/// Each provider's newest event in a bounded range (none for a range without a quarter hour).
async fn newest_by_provider(
    store: &impl ReportStore,
    range: &Range,
    project: Option<&ProjectId>,
) -> Result<Vec<(String, String)>, StoreError> {
    match range
        .from
        .zip(range.to)
        .and_then(|(f, t)| QuarterSpan::new(f, t))
    {
        Some(span) => store.newest_by_provider(&span, project).await,
        None => Ok(Vec::new()),
    }
}

/// Each provider's entry with the timestamp of its newest event (`last_updated`, null when
/// its rows were pruned).
fn with_newest(entries: Vec<Value>, newest: Vec<(String, String)>) -> Vec<Value> {
    let newest: BTreeMap<String, String> = newest.into_iter().collect();
    entries
        .into_iter()
        .map(|mut entry| {
            let last = entry
                .get("provider")
                .and_then(Value::as_str)
                .and_then(|p| newest.get(p))
                .cloned();
            if let Value::Object(map) = &mut entry {
                map.insert("last_updated".into(), json!(last));
            }
            entry
        })
        .collect()
}

/// The sums of every row.
pub fn total_of(rows: &[ReportRow]) -> Sums {
    let mut total = Sums::default();
    for row in rows {
        total.merge(&row.sums);
    }
    total
}

/// `GET /api/usage/stats`: today's and this month's totals, overall and per provider.
pub async fn usage_stats(
    store: &impl ReportStore,
    now: DateTime<Utc>,
    project: Option<&ProjectId>,
    query: &QueryPairs,
) -> Result<Value, CoreError> {
    only_known(query, &["tz", "project_id"])?;
    let tz = parse_tz(param(query, "tz"))?;
    let today = now.with_timezone(&tz).date_naive();
    let month = Range {
        from: Some(local_midnight(month_start(today), tz)),
        to: Some(local_midnight(next_month(today), tz)),
        tz,
    };
    let day = Range {
        from: Some(local_midnight(today, tz)),
        to: Some(local_midnight(today + Duration::days(1), tz)),
        tz,
    };
    // Two reads without buckets: in a zone other than UTC the month's whole UTC days come
    // from the daily rollups, and only today and the month's ends from the quarter-hour ones.
    let by_provider = |range: &Range| {
        let mut rollups = range.rollup_query(None);
        rollups.project_id = project.cloned();
        rollups.dims = vec![Dim::Provider];
        rollups
    };
    let today_rows = store.rollups(&by_provider(&day)).await?;
    let month_rows = store.rollups(&by_provider(&month)).await?;
    // Each provider's newest event, so that a provider whose calls stopped being reported
    // stands out.
    let today_newest = newest_by_provider(store, &day, project).await?;
    let month_newest = newest_by_provider(store, &month, project).await?;
    let today_label = today.format("%Y-%m-%d").to_string();
    let today_grouped = group_rows(&today_rows, None, &[Dim::Provider], tz);
    let month_grouped = group_rows(&month_rows, None, &[Dim::Provider], tz);
    let last = store.last_event_at(project).await?;
    Ok(json!({
        "data_source": DATA_SOURCE,
        "note": DATA_SOURCE_NOTE,
        "last_updated": last,
        "generated_at": format_timestamp(now),
        "project_id": project.map(ProjectId::as_str),
        "tz": tz.name(),
        "today": {
            "date": today_label,
            "totals": total_of(&today_grouped),
            "by_provider": with_newest(by_dim(&today_grouped, Dim::Provider), today_newest),
        },
        "month": {
            "month": today.format("%Y-%m").to_string(),
            "totals": total_of(&month_grouped),
            "by_provider": with_newest(by_dim(&month_grouped, Dim::Provider), month_newest),
        },
    }))
}

/// `GET /api/analytics/usage-summary`: total cost, and the cost by provider and by operation.
pub async fn usage_summary(
    store: &impl ReportStore,
    now: DateTime<Utc>,
    query: &QueryPairs,
) -> Result<Value, CoreError> {
    only_known(query, &["from", "to", "preset", "tz", "project_id"])?;
    let range = parse_range(query, now, "month")?;
    let mut rollups = range.rollup_query(None);
    rollups.project_id = crate::access::projects::project_param(query)?;
    rollups.dims = vec![Dim::Provider, Dim::Operation];
    let rows = store.rollups(&rollups).await?;
    let providers = group_rows(&rows, None, &[Dim::Provider], range.tz);
    let operations = group_rows(&rows, None, &[Dim::Operation], range.tz);
    Ok(json!({
        "data_source": DATA_SOURCE,
        "range": range.describe(),
        "totals": total_of(&providers),
        "by_provider": by_dim(&providers, Dim::Provider),
        "by_operation": by_dim(&operations, Dim::Operation),
    }))
}

/// `GET /api/analytics/realtime-usage`: the last 60 minutes by minute and the last 24 hours
/// by hour, every slot present (zeros included), oldest first.
pub async fn realtime_usage(
    store: &impl ReportStore,
    now: DateTime<Utc>,
    project: Option<&ProjectId>,
) -> Result<Value, CoreError> {
    let this_minute = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let first_minute = this_minute - Duration::minutes(59);
    let minutes = store
        .recent_minutes(&format_timestamp(first_minute), project)
        .await?;
    let mut by_minute: BTreeMap<String, Sums> = BTreeMap::new();
    for i in 0..60 {
        let label = (first_minute + Duration::minutes(i))
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        by_minute.insert(label, Sums::default());
    }
    for row in &minutes {
        if let Some(sums) = by_minute.get_mut(&row.minute) {
            sums.measures[0] += row.events;
            sums.measures[1] += row.unpriced_events;
            if let Ok(c) = Currency::parse(&row.currency) {
                sums.cost.add(Money::new(row.cost_nanos, c));
            }
        }
    }
    let this_hour = this_minute.with_minute(0).unwrap_or(this_minute);
    let first_hour = this_hour - Duration::hours(23);
    let rollups = RollupQuery {
        quarters: true,
        from: Some(quarter_bucket(first_hour)),
        to: Some(quarter_bucket(this_hour + Duration::hours(1))),
        project_id: project.cloned(),
        by_bucket: true,
        ..RollupQuery::default()
    };
    let hours = store.rollups(&rollups).await?;
    let mut by_hour: BTreeMap<String, Sums> = BTreeMap::new();
    for i in 0..24 {
        by_hour.insert(
            hour_bucket(first_hour + Duration::hours(i)),
            Sums::default(),
        );
    }
    for row in &hours {
        // A quarter hour's bucket starts with its hour's.
        let hour = row.bucket.as_deref().and_then(|b| b.get(..13));
        if let Some(sums) = hour.and_then(|h| by_hour.get_mut(h)) {
            sums.add(row);
        }
    }
    let slot = |label: &String, sums: &Sums, suffix: &str| {
        json!({
            "start": format!("{label}{suffix}"),
            "events": sums.measure("events"),
            "unpriced_events": sums.measure("unpriced_events"),
            "cost": sums.cost,
        })
    };
    Ok(json!({
        "data_source": DATA_SOURCE,
        "generated_at": format_timestamp(now),
        "last_60_minutes": by_minute.iter().map(|(l, s)| slot(l, s, ":00Z")).collect::<Vec<_>>(),
        "last_24_hours": by_hour.iter().map(|(l, s)| slot(l, s, ":00:00Z")).collect::<Vec<_>>(),
    }))
}

/// What `GET /api/admin/usage` answers.
pub enum ReportOutput {
    Json(Value),
    Csv(String),
}

/// The rollup rows of a report, and the query that read them.
pub async fn read_report(
    store: &impl ReportStore,
    q: &UsageReportQuery,
) -> Result<(RollupQuery, Vec<RollupRow>), CoreError> {
    let mut rollup_query = q.rollup_query();
    // An open range split by local period: its plan needs bounds, and the days that hold
    // data are the ones that matter (one indexed read of the daily rollups' ends).
    if q.period.is_some()
        && rollup_query.quarters
        && rollup_query.periods.is_none()
        && (q.range.from.is_none() || q.range.to.is_none())
    {
        if let Some((first, last)) = store.rollup_days().await? {
            rollup_query = q.rollup_query_over(q.range.within_days(first, last));
        }
    }
    let rows = store.rollups(&rollup_query).await?;
    Ok((rollup_query, rows))
}
