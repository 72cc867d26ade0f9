//! Retention: keeping D1 under its size limit by pruning old raw usage rows, while every
//! rollup keeps counting them.
//!
//! With a retention of N days, pruning deletes the `api_usage` rows of UTC days more than N
//! days back. The daily and hourly rollups, the job totals, the R2 summaries and the R2 raw
//! log keep every event, so reports, budgets, capacity and CSVs over any range stay exact.
//! Only what reads raw rows (the event listing, re-pricing, the unpriced-model list) covers
//! just the retained days.
//!
//! The store keeps a watermark, the first UTC day whose rows are all kept. A delete before it
//! is a prune and never touches a rollup, and an event before it is never inserted again (a
//! rebuild skips it and counts it), so a pruned event is never counted twice. The watermark
//! only moves forward. The retention must be longer than the late-arrival window, so that
//! every event ingestion accepts falls after the watermark.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::kernel::date_text::date_text;
use crate::kernel::error::CoreError;
use crate::usage::ingest::IngestConfig;
use crate::usage::store::RetentionStore;

/// Rows deleted by one statement: well inside one D1 query's time limit (a delete of this
/// many rows with their four indexes takes a fraction of a second).
pub const PRUNE_BATCH_ROWS: u32 = 20_000;
/// Statements per pruning pass: the cron shares D1's 50 queries per invocation (free plan)
/// with the summaries and the budget check, so a pass makes at most four (the watermark, two
/// deletes, the count). A pass that stops early says so (`done: false`).
pub const PRUNE_BATCHES_PER_PASS: usize = 2;
/// The longest retention accepted (a century).
pub const MAX_RETENTION_DAYS: i64 = 36_500;

/// How long raw usage rows are kept; `None` keeps them forever (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionConfig {
    pub days: Option<i64>,
}

impl RetentionConfig {
    /// Reads the configured value: empty or `0` keeps everything; anything else must be a
    /// whole number of days.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() || value == "0" {
            return Ok(Self { days: None });
        }
        match value.parse::<i64>() {
            Ok(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => Ok(Self { days: Some(days) }),
            _ => Err(format!(
                "`{value}` is not a number of days from 1 to {MAX_RETENTION_DAYS} (or 0 to keep every row)"
            )),
        }
    }

    /// Why this retention cannot be used with this late-arrival window, if it cannot: an
    /// event accepted late must never fall before the watermark.
    pub fn problem(&self, ingest: &IngestConfig) -> Option<String> {
        let days = self.days?;
        (days <= ingest.max_event_age_days).then(|| {
            format!(
                "USAGE_RETENTION_DAYS ({days}) must be greater than MAX_EVENT_AGE_DAYS ({}), \
                 the days an event may arrive late; nothing is pruned until it is",
                ingest.max_event_age_days
            )
        })
    }
}

/// What the store records about pruning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionState {
    /// The first UTC day whose raw rows are all kept; rows of earlier days may be gone.
    pub pruned_before: Option<NaiveDate>,
    pub rows_pruned: i64,
    pub last_pruned_at: Option<String>,
}

/// Whether a stored timestamp or day (`YYYY-MM-DD...`, compared as text as the store does)
/// falls on a day before the watermark, whose raw rows may have been pruned.
pub fn before_watermark(time: &str, watermark: NaiveDate) -> bool {
    time < date_text(watermark).as_str()
}

/// The watermark a retention of `days` asks for at `now`: today's UTC day minus `days`, so
/// `days` whole days before today are kept besides today.
pub fn cutoff(now: DateTime<Utc>, days: i64) -> NaiveDate {
    now.date_naive() - Duration::days(days)
}

/// The answer of `GET /api/admin/retention`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionStatus {
    /// `None`: raw rows are kept forever.
    pub retention_days: Option<i64>,
    pub max_event_age_days: i64,
    /// Raw rows of days before this one may have been pruned; their usage is still in every
    /// report.
    pub pruned_before: Option<NaiveDate>,
    /// Where the next pass moves the watermark.
    pub next_pruned_before: Option<NaiveDate>,
    pub rows_pruned: i64,
    pub last_pruned_at: Option<String>,
    /// Why pruning is held back, if it is.
    pub problem: Option<String>,
}

pub async fn retention_status(
    store: &impl RetentionStore,
    retention: RetentionConfig,
    ingest: IngestConfig,
    now: DateTime<Utc>,
) -> Result<RetentionStatus, CoreError> {
    let state = store.retention_state().await?;
    let problem = retention.problem(&ingest);
    Ok(RetentionStatus {
        retention_days: retention.days,
        max_event_age_days: ingest.max_event_age_days,
        pruned_before: state.pruned_before,
        next_pruned_before: retention
            .days
            .filter(|_| problem.is_none())
            .map(|days| cutoff(now, days)),
        rows_pruned: state.rows_pruned,
        last_pruned_at: state.last_pruned_at,
        problem,
    })
}

/// What one pruning pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub retention_days: Option<i64>,
    pub pruned_before: Option<NaiveDate>,
    pub rows_deleted: u64,
    /// Whether every row before the watermark is gone; otherwise the next pass goes on.
    pub done: bool,
}

/// One pruning pass: moves the watermark to the retention's cutoff and deletes up to
/// [`PRUNE_BATCHES_PER_PASS`] × [`PRUNE_BATCH_ROWS`] raw rows before it. Without a retention
/// it changes nothing. A retention not longer than the late-arrival window is refused.
pub async fn prune(
    store: &impl RetentionStore,
    retention: RetentionConfig,
    ingest: IngestConfig,
    now: DateTime<Utc>,
) -> Result<PruneReport, CoreError> {
    let Some(days) = retention.days else {
        let state = store.retention_state().await?;
        return Ok(PruneReport {
            retention_days: None,
            pruned_before: state.pruned_before,
            rows_deleted: 0,
            done: true,
        });
    };
    if let Some(problem) = retention.problem(&ingest) {
        return Err(CoreError::Conflict(problem.into()));
    }
    let watermark = store.advance_watermark(cutoff(now, days)).await?;
    let mut deleted = 0;
    let mut done = false;
    let mut failure = None;
    for _ in 0..PRUNE_BATCHES_PER_PASS {
        match store.prune_rows(PRUNE_BATCH_ROWS).await {
            Ok(rows) => {
                deleted += rows;
                if rows < u64::from(PRUNE_BATCH_ROWS) {
                    done = true;
                    break;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // Rows already deleted are counted even when a later statement failed.
    if deleted > 0 {
        store.record_prune(deleted, now).await?;
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(PruneReport {
        retention_days: Some(days),
        pruned_before: Some(watermark),
        rows_deleted: deleted,
        done,
    })
}
