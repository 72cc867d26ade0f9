//! D1 adapter of [`RepriceStore`]: the scan of stored events a re-pricing reads, the update
//! of their price columns (the rollups follow through the update triggers), and the list of
//! unpriced models.

use wasm_bindgen::JsValue;

use crate::core::access::projects::ProjectId;
use crate::core::kernel::error::StoreError;
use crate::core::usage::record::StoredEvent;
use crate::core::usage::store::{ListedEvent, RepriceStore, ScanFilter, UnpricedModel};

use super::super::d1::{query_js, query_rows, store_error, text, Binds, D1Store};
use super::super::d1_row::js_rows;
use super::rows::{chunks_of, Column, COLUMNS};
use super::{select_columns, UsageRow};

/// The price fields of a row, after its key; what re-pricing writes.
fn price_columns() -> Vec<Column> {
    COLUMNS
        .iter()
        .filter(|(name, _, _)| PRICE_COLUMNS.contains(name))
        .copied()
        .collect()
}

/// Names of [`price_columns`], in [`COLUMNS`] order.
const PRICE_COLUMNS: &[&str] = &[
    "project_id",
    "id",
    "cost",
    "cost_nanos",
    "currency",
    "computed_cost_nanos",
    "computed_currency",
    "reported_cost_nanos",
    "unpriced_reason",
    "unpriced_message",
    "price_id",
];

/// The conditions of a scan filter, added to `binds`.
fn scan_clauses(filter: &ScanFilter, binds: &mut Binds) {
    if let Some(p) = &filter.project_id {
        binds.add("project_id = ?", p.as_str());
    }
    if let Some(v) = &filter.provider {
        binds.add("provider = ?", v);
    }
    match filter.models.as_slice() {
        [] => {}
        [one] => binds.add("model = ?", one),
        // A list of strings always encodes.
        many => binds.add(
            "model IN (SELECT value FROM json_each(?))",
            &serde_json::to_string(many).unwrap_or_default(),
        ),
    }
    if let Some(v) = &filter.from {
        binds.add("request_timestamp >= ?", v);
    }
    if let Some(v) = &filter.to {
        binds.add("request_timestamp < ?", v);
    }
    if filter.only_unpriced {
        binds.push("cost_nanos IS NULL");
    }
}

crate::d1_row! {
struct UnpricedRow {
    provider: String,
    model: String,
    reason: Option<String>,
    message: Option<String>,
    events: i64,
    projects: i64,
    first_seen: String,
    last_seen: String,
}
}

impl RepriceStore for D1Store {
    async fn stored_models(
        &self,
        project: Option<&ProjectId>,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut binds = Binds::new();
        if let Some(p) = project {
            binds.add("project_id = ?", p.as_str());
        }
        if let Some(p) = provider {
            binds.add("provider = ?", p);
        }
        let sql = format!(
            "SELECT DISTINCT provider, model FROM usage_daily {}",
            binds.filter()
        );
        let rows = query_js(self.db(), &sql, &binds.values).await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((r.get("provider").text()?, r.get("model").text()?)))
            .collect())
    }

    async fn scan_events(
        &self,
        filter: &ScanFilter,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ListedEvent>, StoreError> {
        let mut binds = Binds::new();
        binds.add_value("seq > ?", JsValue::from_f64(after_seq as f64));
        scan_clauses(filter, &mut binds);
        let sql = format!(
            "SELECT seq, {} FROM api_usage {} ORDER BY seq LIMIT {limit}",
            select_columns(),
            binds.filter()
        );
        let rows: Vec<UsageRow> = query_rows(self.db(), &sql, &binds.values).await?;
        rows.into_iter().map(UsageRow::into_listed).collect()
    }

    async fn update_pricing(&self, events: &[StoredEvent]) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let sets = PRICE_COLUMNS[2..]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = j.value ->> {}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let differs = PRICE_COLUMNS[2..]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("api_usage.{c} IS NOT j.value ->> {}", i + 2))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!(
            "UPDATE api_usage SET {sets} FROM json_each(?1) AS j \
             WHERE api_usage.project_id = j.value ->> 0 AND api_usage.id = j.value ->> 1 \
             AND ({differs}) RETURNING api_usage.id"
        );
        let mut statements = Vec::new();
        for chunk in chunks_of(events, &price_columns())? {
            statements.push(
                self.db()
                    .prepare(&sql)
                    .bind(&[text(&chunk.rows)])
                    .map_err(store_error)?,
            );
        }
        let results = self
            .db()
            .batch(statements)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // Counted from RETURNING: D1's `changes` also counts the rollup rows the triggers wrote.
        let mut changed = 0;
        for result in results {
            changed += js_rows(&result)?.len();
        }
        Ok(changed)
    }

    async fn unpriced_models(&self, filter: &ScanFilter) -> Result<Vec<UnpricedModel>, StoreError> {
        let mut binds = Binds::new();
        scan_clauses(filter, &mut binds);
        binds.push("cost_nanos IS NULL");
        let sql = format!(
            "SELECT provider, model, unpriced_reason AS reason, MAX(unpriced_message) AS message, \
                    COUNT(*) AS events, COUNT(DISTINCT project_id) AS projects, \
                    MIN(request_timestamp) AS first_seen, MAX(request_timestamp) AS last_seen \
             FROM api_usage {} GROUP BY provider, model, unpriced_reason \
             ORDER BY events DESC, provider, model LIMIT 1000",
            binds.filter()
        );
        let rows: Vec<UnpricedRow> = query_rows(self.db(), &sql, &binds.values).await?;
        Ok(rows
            .into_iter()
            .map(|r| UnpricedModel {
                provider: r.provider,
                model: r.model,
                reason: r.reason.unwrap_or_default(),
                message: r.message.unwrap_or_default(),
                events: r.events,
                projects: r.projects,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::rows::names;
    use super::*;

    #[test]
    fn the_price_columns_are_the_key_then_the_price_fields_in_column_order() {
        assert_eq!(names(&price_columns()), PRICE_COLUMNS);
    }
}
