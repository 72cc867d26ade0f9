//! D1 adapter of [`RetentionStore`]: the watermark row of `usage_retention` and the prune of
//! old `api_usage` rows. The delete triggers skip rows before the watermark (migration 0009),
//! so a prune leaves every rollup as it was.

use chrono::{DateTime, NaiveDate, Utc};
use wasm_bindgen::JsValue;

use crate::core::kernel::clock::format_timestamp;
use crate::core::kernel::date_text::{date_text, parse_date};
use crate::core::kernel::error::StoreError;
use crate::core::usage::retention::RetentionState;
use crate::core::usage::store::RetentionStore;

use super::d1::{changes, corrupt, query_first_row, store_error, text, D1Store};

/// The watermark as SQL: the day before which raw rows may be gone, or the empty string
/// (before every timestamp) when nothing was ever pruned. Inserts and their duplicate lookup
/// use it too.
pub(super) const WATERMARK_SQL: &str =
    "(SELECT coalesce(max(pruned_before), '') FROM usage_retention)";

/// A recursive CTE `ps(pid)`: every project with stored rows, each found by one seek on the
/// (project, time) index (a loose index scan; the last row is NULL). Reads across projects go
/// through it and that index, since `api_usage` has no index on time alone (one B-tree write
/// per event less, migrations/0023_fewer_writes.sql). Use as `WITH RECURSIVE {USAGE_PROJECTS}`.
pub(super) const USAGE_PROJECTS: &str = "ps(pid) AS (SELECT MIN(project_id) FROM api_usage \
     UNION ALL SELECT (SELECT MIN(project_id) FROM api_usage WHERE project_id > ps.pid) \
     FROM ps WHERE ps.pid IS NOT NULL)";

fn day(value: &str) -> Result<NaiveDate, StoreError> {
    parse_date(value).ok_or_else(|| {
        corrupt(
            "pruned_before",
            format!("`{value}` is not a date (YYYY-MM-DD)"),
        )
    })
}

crate::d1_row! {
struct StateRow {
    pruned_before: String,
    rows_pruned: i64,
    last_pruned_at: Option<String>,
}
}

crate::d1_row! {
struct WatermarkRow {
    pruned_before: String,
}
}

impl RetentionStore for D1Store {
    async fn retention_state(&self) -> Result<RetentionState, StoreError> {
        let row: Option<StateRow> = query_first_row(
            self.db(),
            "SELECT pruned_before, rows_pruned, last_pruned_at FROM usage_retention WHERE id = 1",
            &[],
        )
        .await?;
        match row {
            None => Ok(RetentionState::default()),
            Some(row) => Ok(RetentionState {
                pruned_before: Some(day(&row.pruned_before)?),
                rows_pruned: row.rows_pruned,
                last_pruned_at: row.last_pruned_at,
            }),
        }
    }

    async fn advance_watermark(&self, before: NaiveDate) -> Result<NaiveDate, StoreError> {
        let row: Option<WatermarkRow> = query_first_row(
            self.db(),
            "INSERT INTO usage_retention (id, pruned_before) VALUES (1, ?1) \
             ON CONFLICT (id) DO UPDATE SET pruned_before = max(pruned_before, excluded.pruned_before) \
             RETURNING pruned_before",
            &[text(&date_text(before))],
        )
        .await?;
        match row {
            Some(row) => day(&row.pruned_before),
            None => Err(corrupt("pruned_before", "no row returned".into())),
        }
    }

    async fn prune_rows(&self, limit: u32) -> Result<u64, StoreError> {
        // Project by project, each oldest first through the (project, time) index; the
        // watermark read inside the statement is the one in force.
        let sql = format!(
            "DELETE FROM api_usage WHERE seq IN (WITH RECURSIVE {USAGE_PROJECTS} \
             SELECT u.seq FROM ps JOIN api_usage u ON u.project_id = ps.pid \
             WHERE u.request_timestamp < {WATERMARK_SQL} LIMIT ?1)"
        );
        let result = self
            .db()
            .prepare(&sql)
            .bind(&[JsValue::from_f64(f64::from(limit))])
            .map_err(store_error)?
            .run()
            .await
            .map_err(store_error)?;
        Ok(changes(&result) as u64)
    }

    async fn record_prune(&self, rows: u64, at: DateTime<Utc>) -> Result<(), StoreError> {
        // Acknowledgements of raw objects received before the watermark go too: every event
        // of such an object is of a pruned day, which rebuild does not insert again.
        let acks = format!(
            "DELETE FROM raw_log_acks WHERE key > '' \
             AND key < 'usage-logs/raw/' || {WATERMARK_SQL} AND {WATERMARK_SQL} <> ''"
        );
        let statements = vec![
            self.db()
                .prepare(
                    "UPDATE usage_retention SET rows_pruned = rows_pruned + ?1, \
                     last_pruned_at = ?2 WHERE id = 1",
                )
                .bind(&[JsValue::from_f64(rows as f64), text(&format_timestamp(at))])
                .map_err(store_error)?,
            self.db().prepare(&acks),
        ];
        self.db().batch(statements).await.map_err(store_error)?;
        Ok(())
    }
}
