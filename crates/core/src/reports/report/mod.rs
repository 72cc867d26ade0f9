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

use litemap::LiteMap;

use crate::json;
use crate::kernel::tz::Tz;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::access::projects::ProjectId;
use crate::kernel::clock::{format_timestamp, parse_timestamp};
use crate::kernel::csv::cell;
use crate::kernel::error::{CoreError, Problems, StoreError};
use crate::kernel::money::{format_scaled, Currency, Money, Totals};
use crate::kernel::query::{only_known, param, parse_day, QueryPairs};
use crate::reports::store::ReportStore;
use crate::usage::record::StoredEvent;

mod grouping;
mod plan;
mod query;
mod range;
mod stats;

pub use grouping::*;
pub use plan::*;
pub use query::*;
pub use range::*;
pub use stats::*;

/// Summed quantities of a rollup row, in the order of the rollup tables' columns.
pub const MEASURES: [&str; 21] = [
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
    // The characters of events that report no credits (an ElevenLabs credits plan counts them
    // at their model's rate, and the credits of the others as reported: migration 0028).
    // Kept for the plans, not shown: the first [`SHOWN_MEASURES`] are the reports' columns.
    "uncredited_characters",
];

/// How many of [`MEASURES`], from the first, the reports show (JSON fields, CSV columns).
pub const SHOWN_MEASURES: usize = MEASURES.len() - 1;

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
    /// One event as a row of its own (every dimension set), as the rollups would count it.
    pub fn of_event(e: &StoredEvent) -> RollupRow {
        RollupRow {
            bucket: None,
            period: None,
            project_id: Some(e.project_id.clone()),
            provider: Some(e.provider.clone()),
            model: Some(e.model.clone()),
            operation: Some(e.operation.clone()),
            currency: e.currency.clone(),
            cost_nanos: i128::from(e.cost_nanos.unwrap_or(0)),
            measures: measures_of(e),
        }
    }

    fn dim(&self, dim: Dim) -> Option<&str> {
        match dim {
            Dim::Project => self.project_id.as_deref(),
            Dim::Provider => self.provider.as_deref(),
            Dim::Model => self.model.as_deref(),
            Dim::Operation => self.operation.as_deref(),
        }
    }
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
        for (name, value) in MEASURES[..SHOWN_MEASURES].iter().zip(self.measures) {
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

/// An event's contribution to each of [`MEASURES`], in their order.
pub fn measures_of(e: &StoredEvent) -> [i64; MEASURES.len()] {
    [
        1,
        i64::from(e.cost_nanos.is_none()),
        i64::from(e.cached),
        i64::from(!e.success),
        e.duration_ms.unwrap_or(0),
        e.input_tokens,
        e.output_tokens,
        e.total_tokens,
        e.cached_input_tokens,
        e.cache_write_tokens,
        e.reasoning_tokens,
        e.audio_input_tokens,
        e.audio_output_tokens,
        e.characters,
        e.audio_seconds_micros,
        e.video_seconds_micros,
        e.images,
        e.requests,
        e.tracks,
        e.credits_micros,
        if e.credits_micros == 0 {
            e.characters
        } else {
            0
        },
    ]
}
