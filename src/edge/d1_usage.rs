//! D1 adapter of [`UsageStore`]: `api_usage` rows, written as one `INSERT OR IGNORE` over
//! `json_each` of the whole batch (one bound value instead of D1's 100-parameter limit), with
//! the rollups kept by the triggers of `migrations/0003_usage.sql` in the same transaction.

use std::collections::HashSet;

use serde::Deserialize;
use wasm_bindgen::JsValue;

use crate::core::error::StoreError;
use crate::core::projects::ProjectId;
use crate::core::query::UsageQuery;
use crate::core::record::StoredEvent;
use crate::core::store::{EventKey, ListedEvent, UsageStore};

use super::d1::{corrupt, store_error, text, D1Store};

/// Columns written from a [`StoredEvent`]'s JSON, which uses the same names.
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

fn insert_sql() -> String {
    let columns = COLUMNS.join(", ");
    let values = COLUMNS
        .iter()
        .map(|c| format!("value ->> '$.{c}'"))
        .collect::<Vec<_>>()
        .join(", ");
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

/// Splits the records into JSON arrays of at most [`CHUNK_BYTES`] each.
fn chunks(events: &[StoredEvent]) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for event in events {
        let json = serde_json::to_string(event).map_err(|e| corrupt("event", e.to_string()))?;
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
        let rows: Vec<Id> = self
            .db()
            .prepare("SELECT id FROM projects WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(&[text(&json)])
            .map_err(store_error)?
            .all()
            .await
            .map_err(store_error)?
            .results()
            .map_err(store_error)?;
        rows.into_iter()
            .map(|r| ProjectId::parse(&r.id).map_err(|e| corrupt("project id", e)))
            .collect()
    }

    async fn insert_events(&self, events: &[StoredEvent]) -> Result<HashSet<EventKey>, StoreError> {
        if events.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = insert_sql();
        let mut statements = Vec::new();
        for chunk in chunks(events)? {
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
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<JsValue> = Vec::new();
        let mut bind = |clause: &str, value: &str, clauses: &mut Vec<String>| {
            binds.push(text(value));
            clauses.push(clause.replace('?', &format!("?{}", binds.len())));
        };
        if let Some(p) = &query.project_id {
            bind("project_id = ?", p.as_str(), &mut clauses);
        }
        for (column, value) in [
            ("provider", &query.provider),
            ("model", &query.model),
            ("operation", &query.operation),
            ("job_id", &query.job_id),
            ("session_id", &query.session_id),
        ] {
            if let Some(v) = value {
                bind(&format!("{column} = ?"), v, &mut clauses);
            }
        }
        if let Some(from) = &query.from {
            bind("request_timestamp >= ?", from, &mut clauses);
        }
        if let Some(to) = &query.to {
            bind("request_timestamp < ?", to, &mut clauses);
        }
        match query.unpriced {
            Some(true) => clauses.push("cost_nanos IS NULL".into()),
            Some(false) => clauses.push("cost_nanos IS NOT NULL".into()),
            None => {}
        }
        if let Some(cursor) = &query.after {
            binds.push(text(&cursor.timestamp));
            let t = binds.len();
            binds.push(JsValue::from_f64(cursor.seq as f64));
            let s = binds.len();
            clauses.push(format!(
                "(request_timestamp < ?{t} OR (request_timestamp = ?{t} AND seq < ?{s}))"
            ));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT seq, {} FROM api_usage {filter} \
             ORDER BY request_timestamp DESC, seq DESC LIMIT {}",
            select_columns(),
            query.limit + 1
        );
        let rows: Vec<UsageRow> = self
            .db()
            .prepare(&sql)
            .bind(&binds)
            .map_err(store_error)?
            .all()
            .await
            .map_err(store_error)?
            .results()
            .map_err(store_error)?;
        rows.into_iter().map(UsageRow::into_listed).collect()
    }
}
