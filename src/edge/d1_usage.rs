//! D1 adapter of [`UsageStore`]: `api_usage` rows, written as one `INSERT OR IGNORE` over
//! `json_each` of the whole batch (one bound value instead of D1's 100-parameter limit), with
//! the rollups kept by the triggers of `migrations/0003_usage.sql` in the same transaction.
//!
//! Each row travels as a positional JSON array in [`COLUMNS`] order rather than an object:
//! SQLite re-reads the element for every column it extracts, and arrays without key names
//! made the insert about 40% faster under the local runtime (see BENCHMARKS.md).

use std::collections::HashSet;

use serde::Deserialize;
use wasm_bindgen::JsValue;

use crate::core::error::StoreError;
use crate::core::projects::ProjectId;
use crate::core::query::UsageQuery;
use crate::core::record::StoredEvent;
use crate::core::store::{
    EventKey, ListedEvent, RepriceStore, ScanFilter, UnpricedModel, UsageStore,
};

use super::d1::{corrupt, query_all, store_error, text, Binds, D1Store};

/// Columns written from a [`StoredEvent`]'s JSON, which uses the same names; a test keeps
/// this list and the record's fields in step.
const COLUMNS: &[&str] = &[
    "project_id",
    "id",
    "provider",
    "model",
    "operation",
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
    "cost",
    "cost_nanos",
    "currency",
    "computed_cost_nanos",
    "computed_currency",
    "reported_cost_nanos",
    "unpriced_reason",
    "unpriced_message",
    "price_id",
    "cached",
    "success",
    "request_timestamp",
    "session_id",
    "job_id",
    "duration_ms",
    "endpoint",
    "metadata",
];

/// Columns whose integers may exceed 2^53 and are read back as text.
const EXACT: &[&str] = &["cost_nanos", "computed_cost_nanos", "reported_cost_nanos"];

/// The most JSON per bound value; D1 allows 2 MB, this leaves room.
const CHUNK_BYTES: usize = 1_000_000;

/// Columns every row names.
const REQUIRED: &[&str] = &["project_id", "id", "provider", "model", "request_timestamp"];

/// The columns a batch needs: the required ones and those where some event differs from the
/// column's default (0, empty, null, false; `success` defaults to true). Leaving the rest to
/// their defaults spares SQLite most extractions: a token event fills about 15 of 37.
fn used_columns(rows: &[Fields]) -> Vec<&'static str> {
    let mut used: Vec<bool> = COLUMNS.iter().map(|c| REQUIRED.contains(c)).collect();
    for fields in rows {
        for (i, column) in COLUMNS.iter().enumerate() {
            if used[i] {
                continue;
            }
            let value = fields.get(*column).unwrap_or(&serde_json::Value::Null);
            let default = match (*column, value) {
                ("success", serde_json::Value::Bool(b)) => *b,
                (_, serde_json::Value::Null) => true,
                (_, serde_json::Value::Bool(b)) => !b,
                (_, serde_json::Value::Number(n)) => n.as_i64() == Some(0),
                (_, serde_json::Value::String(s)) => s.is_empty(),
                _ => false,
            };
            used[i] = !default;
        }
    }
    COLUMNS
        .iter()
        .zip(used)
        .filter(|(_, u)| *u)
        .map(|(c, _)| *c)
        .collect()
}

fn insert_sql(columns: &[&str]) -> String {
    let values = (0..columns.len())
        .map(|i| format!("value ->> {i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let columns = columns.join(", ");
    format!(
        "INSERT OR IGNORE INTO api_usage ({columns}) SELECT {values} FROM json_each(?1) \
         RETURNING project_id, id"
    )
}

fn select_columns() -> String {
    COLUMNS
        .iter()
        .map(|c| {
            if EXACT.contains(c) {
                format!("CAST({c} AS TEXT) AS {c}")
            } else {
                (*c).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Deserialize)]
struct InsertedKey {
    project_id: String,
    id: String,
}

#[derive(Deserialize)]
struct UsageRow {
    seq: i64,
    project_id: String,
    id: String,
    provider: String,
    model: String,
    operation: String,
    input_tokens: i64,
    output_tokens: i64,
    total_tokens: i64,
    cached_input_tokens: i64,
    cache_write_tokens: i64,
    reasoning_tokens: i64,
    audio_input_tokens: i64,
    audio_output_tokens: i64,
    characters: i64,
    audio_seconds_micros: i64,
    video_seconds_micros: i64,
    images: i64,
    requests: i64,
    tracks: i64,
    credits_micros: i64,
    cost: Option<String>,
    cost_nanos: Option<String>,
    currency: String,
    computed_cost_nanos: Option<String>,
    computed_currency: Option<String>,
    reported_cost_nanos: Option<String>,
    unpriced_reason: Option<String>,
    unpriced_message: Option<String>,
    price_id: Option<String>,
    cached: i64,
    success: i64,
    request_timestamp: String,
    session_id: Option<String>,
    job_id: Option<String>,
    duration_ms: Option<i64>,
    endpoint: Option<String>,
    metadata: Option<String>,
}

fn exact(field: &str, value: Option<String>) -> Result<Option<i64>, StoreError> {
    value
        .map(|v| {
            v.parse::<i64>()
                .map_err(|e| corrupt(field, format!("`{v}`: {e}")))
        })
        .transpose()
}

impl UsageRow {
    fn into_listed(self) -> Result<ListedEvent, StoreError> {
        let metadata = match self.metadata {
            Some(text) => {
                Some(serde_json::from_str(&text).map_err(|e| corrupt("metadata", e.to_string()))?)
            }
            None => None,
        };
        Ok(ListedEvent {
            seq: self.seq,
            event: StoredEvent {
                v: crate::core::record::RECORD_VERSION,
                project_id: self.project_id,
                id: self.id,
                provider: self.provider,
                model: self.model,
                operation: self.operation,
                input_tokens: self.input_tokens,
                output_tokens: self.output_tokens,
                total_tokens: self.total_tokens,
                cached_input_tokens: self.cached_input_tokens,
                cache_write_tokens: self.cache_write_tokens,
                reasoning_tokens: self.reasoning_tokens,
                audio_input_tokens: self.audio_input_tokens,
                audio_output_tokens: self.audio_output_tokens,
                characters: self.characters,
                audio_seconds_micros: self.audio_seconds_micros,
                video_seconds_micros: self.video_seconds_micros,
                images: self.images,
                requests: self.requests,
                tracks: self.tracks,
                credits_micros: self.credits_micros,
                cost: self.cost,
                cost_nanos: exact("cost_nanos", self.cost_nanos)?,
                currency: self.currency,
                computed_cost_nanos: exact("computed_cost_nanos", self.computed_cost_nanos)?,
                computed_currency: self.computed_currency,
                reported_cost_nanos: exact("reported_cost_nanos", self.reported_cost_nanos)?,
                unpriced_reason: self.unpriced_reason,
                unpriced_message: self.unpriced_message,
                price_id: self.price_id,
                cached: self.cached != 0,
                success: self.success != 0,
                request_timestamp: self.request_timestamp,
                session_id: self.session_id,
                job_id: self.job_id,
                duration_ms: self.duration_ms,
                endpoint: self.endpoint,
                metadata,
            },
        })
    }
}

/// An event's JSON fields by name, made once per event and shared by the column choice and
/// the row encoding.
type Fields = serde_json::Map<String, serde_json::Value>;

fn fields_of(events: &[StoredEvent]) -> Result<Vec<Fields>, StoreError> {
    events
        .iter()
        .map(|event| match serde_json::to_value(event) {
            Ok(serde_json::Value::Object(fields)) => Ok(fields),
            Ok(_) => Err(corrupt("event", "not a JSON object".into())),
            Err(e) => Err(corrupt("event", e.to_string())),
        })
        .collect()
}

/// One event as a JSON array of its [`COLUMNS`] values.
#[cfg(test)]
fn row_json(event: &StoredEvent) -> Result<String, StoreError> {
    row_json_of(&fields_of(std::slice::from_ref(event))?[0], COLUMNS)
}

fn row_json_of(fields: &Fields, columns: &[&str]) -> Result<String, StoreError> {
    let row: Vec<&serde_json::Value> = columns
        .iter()
        .map(|c| fields.get(*c).unwrap_or(&serde_json::Value::Null))
        .collect();
    serde_json::to_string(&row).map_err(|e| corrupt("event", e.to_string()))
}

/// Splits the records into JSON arrays of rows, at most [`CHUNK_BYTES`] each.
#[cfg(test)]
fn chunks(events: &[StoredEvent]) -> Result<Vec<String>, StoreError> {
    chunks_of(&fields_of(events)?, COLUMNS)
}

/// Like [`chunks`], with the values of `columns` in each row.
fn chunks_of(rows: &[Fields], columns: &[&str]) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for fields in rows {
        let json = row_json_of(fields, columns)?;
        if current.len() > 1 && current.len() + json.len() + 2 > CHUNK_BYTES {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&json);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    Ok(out)
}

impl UsageStore for D1Store {
    async fn existing_projects(&self, ids: &[ProjectId]) -> Result<Vec<ProjectId>, StoreError> {
        let list: Vec<&str> = ids.iter().map(ProjectId::as_str).collect();
        let json = serde_json::to_string(&list).map_err(|e| corrupt("ids", e.to_string()))?;
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let rows: Vec<Id> = query_all(
            self.db(),
            "SELECT id FROM projects WHERE id IN (SELECT value FROM json_each(?1))",
            &[text(&json)],
        )
        .await?;
        rows.into_iter()
            .map(|r| ProjectId::parse(&r.id).map_err(|e| corrupt("project id", e)))
            .collect()
    }

    async fn insert_events(&self, events: &[StoredEvent]) -> Result<HashSet<EventKey>, StoreError> {
        if events.is_empty() {
            return Ok(HashSet::new());
        }
        let rows = fields_of(events)?;
        let columns = used_columns(&rows);
        let sql = insert_sql(&columns);
        let mut statements = Vec::new();
        for chunk in chunks_of(&rows, &columns)? {
            statements.push(
                self.db()
                    .prepare(&sql)
                    .bind(&[text(&chunk)])
                    .map_err(store_error)?,
            );
        }
        // One batch is one transaction: every chunk and its rollups, or nothing.
        let results = self.db().batch(statements).await.map_err(|e| {
            // A unique violation cannot happen under INSERT OR IGNORE; anything here is the
            // database being unavailable, and the client may retry.
            StoreError::Unavailable(e.to_string())
        })?;
        let mut inserted = HashSet::new();
        for result in results {
            let keys: Vec<InsertedKey> = result.results().map_err(store_error)?;
            inserted.extend(keys.into_iter().map(|k| (k.project_id, k.id)));
        }
        Ok(inserted)
    }

    async fn list_events(&self, query: &UsageQuery) -> Result<Vec<ListedEvent>, StoreError> {
        let mut binds = Binds::new();
        if let Some(p) = &query.project_id {
            binds.add("project_id = ?", p.as_str());
        }
        for (column, value) in [
            ("provider", &query.provider),
            ("model", &query.model),
            ("operation", &query.operation),
            ("job_id", &query.job_id),
            ("session_id", &query.session_id),
        ] {
            if let Some(v) = value {
                binds.add(&format!("{column} = ?"), v);
            }
        }
        if let Some(from) = &query.from {
            binds.add("request_timestamp >= ?", from);
        }
        if let Some(to) = &query.to {
            binds.add("request_timestamp < ?", to);
        }
        match query.unpriced {
            Some(true) => binds.push("cost_nanos IS NULL"),
            Some(false) => binds.push("cost_nanos IS NOT NULL"),
            None => {}
        }
        if let Some(cursor) = &query.after {
            binds.values.push(text(&cursor.timestamp));
            let t = binds.values.len();
            binds.values.push(JsValue::from_f64(cursor.seq as f64));
            let s = binds.values.len();
            binds.push(&format!(
                "(request_timestamp < ?{t} OR (request_timestamp = ?{t} AND seq < ?{s}))"
            ));
        }
        let filter = binds.filter();
        let sql = format!(
            "SELECT seq, {} FROM api_usage {filter} \
             ORDER BY request_timestamp DESC, seq DESC LIMIT {}",
            select_columns(),
            query.limit + 1
        );
        let rows: Vec<UsageRow> = query_all(self.db(), &sql, &binds.values).await?;
        rows.into_iter().map(UsageRow::into_listed).collect()
    }
}

/// The price fields of a row, after its key; what re-pricing writes.
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
    if let Some(v) = &filter.model {
        binds.add("model = ?", v);
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

#[derive(Deserialize)]
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

impl RepriceStore for D1Store {
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
        let rows: Vec<UsageRow> = query_all(self.db(), &sql, &binds.values).await?;
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
        for chunk in chunks_of(&fields_of(events)?, PRICE_COLUMNS)? {
            statements.push(
                self.db()
                    .prepare(&sql)
                    .bind(&[text(&chunk)])
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
            let ids: Vec<serde_json::Value> = result.results().map_err(store_error)?;
            changed += ids.len();
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
        let rows: Vec<UnpricedRow> = query_all(self.db(), &sql, &binds.values).await?;
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
    use super::*;

    #[test]
    fn every_column_is_a_field_of_the_stored_record_and_every_field_but_the_version_a_column() {
        let event = StoredEvent {
            v: 1,
            project_id: "p".into(),
            id: "e".into(),
            provider: "openai".into(),
            model: "m".into(),
            operation: String::new(),
            input_tokens: 0,
            output_tokens: 0,
            total_tokens: 0,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            audio_input_tokens: 0,
            audio_output_tokens: 0,
            characters: 0,
            audio_seconds_micros: 0,
            video_seconds_micros: 0,
            images: 0,
            requests: 0,
            tracks: 0,
            credits_micros: 0,
            cost: None,
            cost_nanos: None,
            currency: String::new(),
            computed_cost_nanos: None,
            computed_currency: None,
            reported_cost_nanos: None,
            unpriced_reason: None,
            unpriced_message: None,
            price_id: None,
            cached: false,
            success: true,
            request_timestamp: "2026-11-20T00:00:00.000Z".into(),
            session_id: None,
            job_id: None,
            duration_ms: None,
            endpoint: None,
            metadata: None,
        };
        let serde_json::Value::Object(fields) = serde_json::to_value(&event).unwrap() else {
            panic!("a record is an object");
        };
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.retain(|n| *n != "v");
        names.sort_unstable();
        let mut columns = COLUMNS.to_vec();
        columns.sort_unstable();
        assert_eq!(names, columns);
        let row: Vec<serde_json::Value> = serde_json::from_str(&row_json(&event).unwrap()).unwrap();
        assert_eq!(row.len(), COLUMNS.len());
        assert_eq!(row[1], "e");
    }

    #[test]
    fn a_batch_names_only_the_columns_some_event_sets() {
        let base = serde_json::json!({
            "project_id": "p", "id": "x", "provider": "openai", "model": "m",
            "request_timestamp": "2026-11-20T00:00:00.000Z", "input_tokens": 5,
        });
        let plain: StoredEvent = serde_json::from_value(base.clone()).unwrap();
        let mut failed = plain.clone();
        failed.success = false;
        failed.job_id = Some("j".into());
        assert_eq!(
            used_columns(&fields_of(std::slice::from_ref(&plain)).unwrap()),
            vec![
                "project_id",
                "id",
                "provider",
                "model",
                "input_tokens",
                "request_timestamp"
            ]
        );
        let both = used_columns(&fields_of(&[plain, failed]).unwrap());
        assert!(both.contains(&"success") && both.contains(&"job_id"));
        assert!(!both.contains(&"cached") && !both.contains(&"characters"));
    }

    #[test]
    fn rows_are_split_into_chunks_below_the_value_limit_without_losing_any() {
        let event = |i: usize| StoredEvent {
            id: format!("e{i}"),
            metadata: serde_json::json!({ "pad": "x".repeat(3000) })
                .as_object()
                .cloned(),
            ..serde_json::from_value(serde_json::json!({
                "project_id": "p", "id": "x", "provider": "openai", "model": "m",
                "request_timestamp": "2026-11-20T00:00:00.000Z"
            }))
            .unwrap()
        };
        let events: Vec<StoredEvent> = (0..1000).map(event).collect();
        let chunks = chunks(&events).unwrap();
        assert!(chunks.len() > 2);
        let mut total = 0;
        for chunk in &chunks {
            assert!(chunk.len() <= CHUNK_BYTES);
            total += serde_json::from_str::<Vec<serde_json::Value>>(chunk)
                .unwrap()
                .len();
        }
        assert_eq!(total, 1000);
    }
}
