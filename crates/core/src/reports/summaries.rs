//! R2 summaries: `usage-logs/daily/YYYY-MM-DD.json` for each closed UTC day and
//! `usage-logs/monthly/YYYY-MM.json` for the month so far and each closed month, written by
//! the cron from the rollups.
//!
//! Which days to write comes from the store's list of days whose usage changed (kept by
//! triggers, so late events and re-pricing rewrite the right summaries). A summary holds no
//! time of writing: the same data always gives the same bytes, so rewriting is harmless.

use crate::json;
use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::kernel::date_text::{date_text, month_text};
use crate::kernel::error::{CoreError, StoreError};
use crate::reports::report::{group_rows, total_of, Dim, ReportRow, RollupQuery, DATA_SOURCE};
use crate::reports::store::ReportStore;
use crate::reports::store::SummaryStore;
use crate::usage::store::RawLog;

pub const DAILY_PREFIX: &str = "usage-logs/daily/";
pub const MONTHLY_PREFIX: &str = "usage-logs/monthly/";
/// Daily summaries written per run, oldest first; the rest stay due for the next run. Each is
/// a D1 query and an R2 write, and one invocation of the free plan allows 50 of each.
pub const MAX_DAILY_PER_RUN: usize = 10;

/// A day whose usage changed, with the store's mark as read (the D1 store claims the day when
/// it reads it, and clears it only if no change marked it again meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyDay {
    pub day: NaiveDate,
    pub changes: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SummaryReport {
    pub daily_written: Vec<String>,
    pub monthly_written: Vec<String>,
}

fn dims_json(rows: &[ReportRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut map = serde_json::Map::new();
            for (d, v) in &r.dims {
                map.insert(d.name().into(), json!(v));
            }
            if let Some(p) = &r.period {
                map.insert("day".into(), json!(p));
            }
            r.sums.fields(&mut map);
            Value::Object(map)
        })
        .collect()
}

/// The summary object of `[from, to)` (UTC days), from the daily rollups.
async fn summary(
    store: &impl ReportStore,
    from: NaiveDate,
    to: NaiveDate,
    by_day: bool,
) -> Result<Value, StoreError> {
    let rows = store
        .rollups(&RollupQuery {
            from: Some(date_text(from)),
            to: Some(date_text(to)),
            by_bucket: by_day,
            dims: vec![Dim::Project, Dim::Provider, Dim::Model, Dim::Operation],
            ..RollupQuery::default()
        })
        .await?;
    let tz = crate::kernel::tz::Tz::UTC;
    let by = |dims: &[Dim]| group_rows(&rows, None, dims, tz);
    let mut out = json!({
        "data_source": DATA_SOURCE,
        "from": date_text(from),
        "to_exclusive": date_text(to),
        "totals": total_of(&by(&[])),
        "by_project": dims_json(&by(&[Dim::Project])),
        "by_provider": dims_json(&by(&[Dim::Provider])),
        "by_model": dims_json(&by(&[Dim::Provider, Dim::Model])),
        "by_operation": dims_json(&by(&[Dim::Operation])),
    });
    if by_day {
        out["by_day"] = json!(dims_json(&group_rows(
            &rows,
            Some(crate::reports::report::Period::Day),
            &[],
            tz
        )));
    }
    Ok(out)
}

fn encode(value: &Value) -> Result<Vec<u8>, CoreError> {
    serde_json::to_vec_pretty(value)
        .map_err(|e| CoreError::Misconfigured(format!("encoding a summary failed: {e}")))
}

/// Writes the summaries that are due: every closed day whose usage changed, the months those
/// days belong to, and the current month so far.
pub async fn write_summaries(
    store: &(impl ReportStore + SummaryStore),
    log: &impl RawLog,
    now: DateTime<Utc>,
) -> Result<SummaryReport, CoreError> {
    let today = now.date_naive();
    let dirty = store.dirty_days().await?;
    let mut months: Vec<NaiveDate> = Vec::new();
    let first_of =
        |d: NaiveDate| d - chrono::Duration::days(i64::from(chrono::Datelike::day(&d)) - 1);
    months.push(first_of(today));
    let mut report = SummaryReport::default();
    let due: Vec<&DirtyDay> = dirty
        .iter()
        .filter(|d| d.day < today)
        .take(MAX_DAILY_PER_RUN)
        .collect();
    for day in &due {
        let value = summary(store, day.day, day.day + chrono::Duration::days(1), false).await?;
        let key = format!("{DAILY_PREFIX}{}.json", date_text(day.day));
        log.put_overwrite(&key, encode(&value)?).await?;
        report.daily_written.push(key);
        months.push(first_of(day.day));
    }
    for month in crate::kernel::sort::distinct(months) {
        let next = month.checked_add_months(Months::new(1)).unwrap_or(month);
        let mut value = summary(store, month, next, true).await?;
        value["month"] = json!(month_text(month));
        value["closed"] = json!(next <= today);
        let key = format!("{MONTHLY_PREFIX}{}.json", month_text(month));
        log.put_overwrite(&key, encode(&value)?).await?;
        report.monthly_written.push(key);
    }
    // Only after the objects are written: a day that changed meanwhile stays dirty.
    for day in due {
        store.clear_dirty_day(day).await?;
    }
    Ok(report)
}
