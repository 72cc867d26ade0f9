//! D1 adapter of [`UsageStore`]: `api_usage` rows, written as one `INSERT ... ON CONFLICT`
//! over `json_each` of the whole batch (one bound value instead of D1's 100-parameter limit;
//! the conflict clause per [`InsertMode`], see `insert_sql`), with the rollups kept by the
//! insert triggers in the same transaction (or by the batch's own sums, `rollups.rs`). A lookup of the batch's keys, first in the same transaction, tells which
//! events were already stored; a batch that writes its own rollups (`rollups.rs`) needs none,
//! as it commits only when every row is new.
//!
//! - `rows.rs`: how a row travels (a positional JSON array of the columns the batch uses) and
//!   the batch's chunks below D1's limit per bound value;
//! - `reprice.rs`: [`RepriceStore`](crate::core::usage::store::RepriceStore), the scan and
//!   update of stored prices and the unpriced models;
//! - here: the insert with its duplicate lookup and acknowledgement, the listing of events.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use wasm_bindgen::JsValue;

use crate::core::access::projects::ProjectId;
use crate::core::kernel::error::StoreError;
use crate::core::usage::list::UsageQuery;
use crate::core::usage::record::StoredEvent;
use crate::core::usage::store::{
    Acknowledged, EventKey, InsertMode, Inserted, ListedEvent, UsageStore,
};
use crate::core::usage::stored_price::StoredPrice;

mod reprice;
mod rollups;
mod rows;

use super::d1::{corrupt, query_rows, store_error, text, Binds, D1Store};
use super::d1_retention::{USAGE_PROJECTS, WATERMARK_SQL};
use super::d1_row::rows;
use rollups::{batch_rollups, BatchRollups};
use rows::{chunks_of, keys_of, names, used_columns, Chunk, COLUMNS, EXACT};

/// The insert of one chunk. Its `ON CONFLICT` clause skips exactly the events already
/// stored (or repeated in the batch), refusing a reused id by the mode; any other failed
/// constraint fails the whole batch
/// instead of dropping a row silently, as `INSERT OR IGNORE` would. An event of a day before
/// the retention watermark is skipped too: its row was pruned, and the rollups still count it.
/// With `rolled_up`, the rows are marked as rolled up by their batch (`rollups`), which the
/// insert triggers then skip.
fn insert_sql(columns: &[&str], mode: InsertMode, rolled_up: bool) -> String {
    let mut values = (0..columns.len())
        .map(|i| format!("row ->> {i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let time = columns
        .iter()
        .position(|c| *c == "request_timestamp")
        .unwrap_or_default();
    // A stored key whose fingerprint differs from the one sent is "updated" to it, which the
    // trigger of migrations/0016_event_fingerprints.sql refuses by aborting the transaction:
    // the check costs nothing beyond the conflict the insert finds anyway. Equal fingerprints
    // (a retry), a row from before fingerprints, or one fingerprinted by an earlier rule (its
    // first three characters are not the rule's prefix, `usage::same_rule`), make the update a
    // no-op, as DO NOTHING.
    // Replay (rebuild) also moves a stored event to the time of a later line of the same event
    // (equal fingerprints): the rollup update trigger moves its sums with it.
    let on_conflict = match mode {
        InsertMode::RefuseReusedIds if columns.contains(&"fingerprint") => {
            "DO UPDATE SET fingerprint = excluded.fingerprint \
             WHERE fingerprint <> excluded.fingerprint \
             AND substr(fingerprint, 1, 3) = substr(excluded.fingerprint, 1, 3)"
        }
        InsertMode::Replay if columns.contains(&"fingerprint") => {
            "DO UPDATE SET fingerprint = excluded.fingerprint, \
             request_timestamp = CASE WHEN fingerprint = excluded.fingerprint \
             THEN excluded.request_timestamp ELSE request_timestamp END \
             WHERE (fingerprint <> excluded.fingerprint \
             AND substr(fingerprint, 1, 3) = substr(excluded.fingerprint, 1, 3)) \
             OR (fingerprint = excluded.fingerprint \
             AND request_timestamp <> excluded.request_timestamp)"
        }
        _ => "DO NOTHING",
    };
    let mut columns = columns.join(", ");
    if rolled_up {
        columns.push_str(", rolled_up");
        values.push_str(", 1");
    }
    // The LIMIT keeps the subquery from being flattened: each row's JSON is produced once and
    // every column read from it, instead of json_each re-encoding the row per column (about
    // 10% faster per 1,000 rows in the local runtime).
    format!(
        "INSERT INTO api_usage ({columns}) SELECT {values} \
         FROM (SELECT value AS row FROM json_each(?1) LIMIT -1) \
         WHERE row ->> {time} >= {WATERMARK_SQL} \
         ON CONFLICT (project_id, id) {on_conflict}"
    )
}

/// The events of a chunk already stored, by key, with what they were priced at, and those of
/// days before the retention watermark (counted before their rows were pruned; no price then).
/// It runs before any insert of the same batch, so it sees exactly the rows stored by earlier
/// requests.
fn existing_sql() -> String {
    format!(
        "SELECT k.value ->> 0 AS project_id, k.value ->> 1 AS id, u.request_timestamp, \
         CAST(u.cost_nanos AS TEXT) AS cost_nanos, u.currency, \
         CAST(u.computed_cost_nanos AS TEXT) AS computed_cost_nanos, u.computed_currency, \
         CAST(u.reported_cost_nanos AS TEXT) AS reported_cost_nanos, u.unpriced_reason, \
         u.unpriced_message, u.fingerprint \
         FROM json_each(?1) AS k LEFT JOIN api_usage AS u \
         ON u.project_id = k.value ->> 0 AND u.id = k.value ->> 1 \
         WHERE u.id IS NOT NULL OR k.value ->> 2 < {WATERMARK_SQL}"
    )
}

/// Acknowledges raw object ?1 holding the events keyed ?2 (`[[project_id, id], ...]`), with
/// those already stored (NULL when none).
const ACK_SQL: &str = "INSERT OR IGNORE INTO raw_log_acks (key, duplicates) VALUES (?1, \
     (SELECT CASE WHEN count(*) = 0 THEN NULL ELSE json_group_array(json_array(u.project_id, u.id)) END \
      FROM json_each(?2) AS k JOIN api_usage AS u \
      ON u.project_id = k.value ->> 0 AND u.id = k.value ->> 1))";

/// The acknowledgement of a batch that writes its own rollups: it commits only if every row
/// was new (`batch_rollup_check`), so none of its events was stored before.
const ACK_ALL_NEW_SQL: &str =
    "INSERT OR IGNORE INTO raw_log_acks (key, duplicates) VALUES (?1, NULL)";

/// The acknowledgements of the raw objects ?1 (a JSON array of keys), and the row of the
/// empty key, whose `duplicates` holds the stamp acknowledgements start from.
const ACKNOWLEDGED_SQL: &str = "SELECT key, duplicates FROM raw_log_acks \
     WHERE key = '' OR key IN (SELECT value FROM json_each(?1))";

/// The message of the `RAISE` of migrations/0016_event_fingerprints.sql.
const REUSED: &str = "event id reused for a different event";

/// Stored events of a chunk's rows whose fingerprint differs from the one sent, the column
/// being the `fingerprint`-th of each row (the key is always first).
fn reused_sql(fingerprint: usize) -> String {
    format!(
        "SELECT u.project_id, u.id FROM json_each(?1) AS r \
         JOIN api_usage AS u ON u.project_id = r.value ->> 0 AND u.id = r.value ->> 1 \
         WHERE u.fingerprint <> r.value ->> {fingerprint} \
         AND substr(u.fingerprint, 1, 3) = substr(r.value ->> {fingerprint}, 1, 3)"
    )
}

fn select_columns() -> String {
    COLUMNS
        .iter()
        .map(|(c, _, _)| {
            if EXACT.contains(c) {
                format!("CAST({c} AS TEXT) AS {c}")
            } else {
                (*c).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

crate::d1_row! {
/// A row of [`existing_sql`]: the key, and the stored event's price facts unless its row was
/// pruned.
struct ExistingRow {
    project_id: String,
    id: String,
    request_timestamp: Option<String>,
    cost_nanos: Option<String>,
    currency: Option<String>,
    computed_cost_nanos: Option<String>,
    computed_currency: Option<String>,
    reported_cost_nanos: Option<String>,
    unpriced_reason: Option<String>,
    unpriced_message: Option<String>,
    fingerprint: Option<String>,
}
}

impl ExistingRow {
    /// The row's key, and its price facts unless its row was pruned.
    fn into_found(self) -> Result<(EventKey, Option<StoredPrice>), StoreError> {
        let key = (self.project_id, self.id);
        let Some(request_timestamp) = self.request_timestamp else {
            return Ok((key, None));
        };
        let price = StoredPrice {
            request_timestamp,
            cost_nanos: exact("cost_nanos", self.cost_nanos)?,
            currency: self.currency.unwrap_or_default(),
            computed_cost_nanos: exact("computed_cost_nanos", self.computed_cost_nanos)?,
            computed_currency: self.computed_currency,
            reported_cost_nanos: exact("reported_cost_nanos", self.reported_cost_nanos)?,
            unpriced_reason: self.unpriced_reason,
            unpriced_message: self.unpriced_message,
            fingerprint: self.fingerprint,
        };
        Ok((key, Some(price)))
    }
}

crate::d1_row! {
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
    fingerprint: Option<String>,
}
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
                v: crate::core::usage::record::RECORD_VERSION,
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
                // Kept in the raw log only: D1 settles the reservation and forgets the id.
                reservation_id: None,
                fingerprint: self.fingerprint,
            },
        })
    }
}

/// What the batch did with each event: a duplicate if already stored (answered with the stored
/// price) or if its key came earlier in the batch (answered with that first one's), else stored.
fn outcomes(events: &[StoredEvent], found: &[(EventKey, Option<StoredPrice>)]) -> Vec<Inserted> {
    // Both maps of one type, which the ingest's check of a request's ids also uses: each
    // `HashMap` type is its own copy of the table's code in the wasm.
    let existing: FxHashMap<(&str, &str), usize> = found
        .iter()
        .enumerate()
        .map(|(i, ((project, id), _))| ((project.as_str(), id.as_str()), i))
        .collect();
    let mut first: FxHashMap<(&str, &str), usize> =
        FxHashMap::with_capacity_and_hasher(events.len(), Default::default());
    events
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let key = (e.project_id.as_str(), e.id.as_str());
            if let Some(&i) = existing.get(&key) {
                return Inserted::Duplicate(found[i].1.clone());
            }
            match first.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(index);
                    Inserted::Stored
                }
                Entry::Occupied(slot) => {
                    Inserted::Duplicate(Some(StoredPrice::of(&events[*slot.get()])))
                }
            }
        })
        .collect()
}

impl D1Store {
    /// One transaction: the lookups of stored keys first (not with `rollups`), the
    /// acknowledgement, then every chunk with its rollups, or nothing. With `rollups`, the
    /// rows are marked rolled up and the batch's sums follow them, each chunk checked to have
    /// inserted all its rows: `None` when one did not (something was stored already), and
    /// nothing was written.
    async fn write_events(
        &self,
        events: &[StoredEvent],
        mode: InsertMode,
        ack: Option<&str>,
        rollups: Option<&BatchRollups>,
    ) -> Result<Option<Vec<Inserted>>, StoreError> {
        let columns = used_columns(events);
        let sql = insert_sql(&names(&columns), mode, rollups.is_some());
        let chunks = chunks_of(events, &columns)?;
        // Answering the duplicates from a lookup instead of `RETURNING` every inserted key
        // keeps the answer as small as the duplicates. A batch writing its own rollups commits
        // only if every row was new (its check aborts it otherwise, and it is written again
        // the per-row way), so it looks nothing up: had a key been stored, it would not commit.
        let lookups = if rollups.is_some() {
            Vec::new()
        } else {
            keys_of(events, &chunks)?
        };
        let existing_sql = existing_sql();
        let mut statements = Vec::with_capacity(chunks.len() * 3 + 6);
        for keys in &lookups {
            statements.push(
                self.db()
                    .prepare(&existing_sql)
                    .bind(&[text(keys)])
                    .map_err(store_error)?,
            );
        }
        if let Some(ack) = ack {
            // The raw object's acknowledgement, in the same transaction as its events and
            // before them, so that it names the events stored before (migrations/0022).
            let statement = if rollups.is_some() {
                self.db().prepare(ACK_ALL_NEW_SQL).bind(&[text(ack)])
            } else {
                let keys: Vec<[&str; 2]> = events
                    .iter()
                    .map(|e| [e.project_id.as_str(), e.id.as_str()])
                    .collect();
                let keys = serde_json::to_string(&keys)
                    .map_err(|e| StoreError::Corrupt(format!("acknowledgement: {e}")))?;
                self.db().prepare(ACK_SQL).bind(&[text(ack), text(&keys)])
            };
            statements.push(statement.map_err(store_error)?);
        }
        for chunk in &chunks {
            statements.push(
                self.db()
                    .prepare(&sql)
                    .bind(&[text(&chunk.rows)])
                    .map_err(store_error)?,
            );
            if rollups.is_some() {
                statements.push(
                    self.db()
                        .prepare(rollups::CHECK_SQL)
                        .bind(&[JsValue::from(chunk.len as f64)])
                        .map_err(store_error)?,
                );
            }
        }
        if let Some(r) = rollups {
            let daily = rollups::rollup_sql("usage_daily", "day");
            let quarters = rollups::rollup_sql("usage_quarter_hours", "quarter");
            let mut add = |sql: &str, rows: &str| -> Result<(), StoreError> {
                statements.push(
                    self.db()
                        .prepare(sql)
                        .bind(&[text(rows)])
                        .map_err(store_error)?,
                );
                Ok(())
            };
            add(&daily, &r.daily)?;
            add(&quarters, &r.quarters)?;
            add(rollups::DAYS_SQL, &r.days)?;
            if let Some(parts) = &r.job_parts {
                add(rollups::JOB_PARTS_SQL, parts)?;
            }
            if let Some(jobs) = &r.jobs {
                add(rollups::JOBS_SQL, jobs)?;
            }
        }
        // Events that name a guard reservation end it in the same transaction: its holds go
        // as its usage arrives, and the settlement version moves (a grant computed from spend
        // read before this batch is computed again).
        let settles: Vec<[&str; 2]> = events
            .iter()
            .filter_map(|e| Some([e.project_id.as_str(), e.reservation_id.as_deref()?]))
            .collect();
        if !settles.is_empty() && mode != InsertMode::Replay {
            let settles = serde_json::to_string(&settles)
                .map_err(|e| StoreError::Corrupt(format!("reservations: {e}")))?;
            statements.extend(super::d1_guard::settle_statements(self.db(), &settles)?);
        }
        let started = worker::Date::now().as_millis();
        let results = self.db().batch(statements).await;
        self.add_write_ms(worker::Date::now().as_millis().saturating_sub(started));
        let results = match results {
            Ok(results) => results,
            Err(e) if e.to_string().contains(REUSED) => {
                return Err(self.reused_keys(&chunks, &names(&columns)).await?);
            }
            Err(e) if rollups.is_some() && e.to_string().contains(rollups::NOT_ALL_INSERTED) => {
                return Ok(None);
            }
            // A stored key is skipped, not an error; anything here is the database being
            // unavailable (or refusing a row), and the client may retry.
            Err(e) => return Err(StoreError::Unavailable(e.to_string())),
        };
        if rollups.is_some() {
            // A batch writing its own rollups holds no key twice (`batch_rollups`) and commits
            // only with every row new: each event was stored, and no map of keys is needed.
            return Ok(Some(events.iter().map(|_| Inserted::Stored).collect()));
        }
        let mut found: Vec<(EventKey, Option<StoredPrice>)> = Vec::new();
        for result in results.iter().take(lookups.len()) {
            for row in rows::<ExistingRow>(result)? {
                found.push(row.into_found()?);
            }
        }
        Ok(Some(outcomes(events, &found)))
    }

    /// After the fingerprint trigger aborted a batch: which keys are stored for different
    /// events. Should none be found now (the stored event was since deleted), the write may
    /// simply be retried.
    async fn reused_keys(
        &self,
        chunks: &[Chunk],
        columns: &[&str],
    ) -> Result<StoreError, StoreError> {
        let fingerprint = columns
            .iter()
            .position(|c| *c == "fingerprint")
            .ok_or_else(|| StoreError::Unavailable(REUSED.to_string()))?;
        let sql = reused_sql(fingerprint);
        crate::d1_row! {
        struct Key {
            project_id: String,
            id: String,
        }
        }
        let mut keys = Vec::new();
        for chunk in chunks {
            let rows: Vec<Key> = query_rows(self.db(), &sql, &[text(&chunk.rows)]).await?;
            keys.extend(rows.into_iter().map(|k| (k.project_id, k.id)));
        }
        Ok(if keys.is_empty() {
            StoreError::Unavailable(format!("{REUSED}, but no such id is stored any more"))
        } else {
            StoreError::IdReused(keys)
        })
    }
}

impl UsageStore for D1Store {
    async fn existing_projects(&self, ids: &[ProjectId]) -> Result<Vec<ProjectId>, StoreError> {
        let list: Vec<&str> = ids.iter().map(ProjectId::as_str).collect();
        let json = serde_json::to_string(&list).map_err(|e| corrupt("ids", e.to_string()))?;
        crate::d1_row! {
        struct Id {
            id: String,
        }
        }
        let rows: Vec<Id> = query_rows(
            self.db(),
            "SELECT id FROM projects WHERE id IN (SELECT value FROM json_each(?1))",
            &[text(&json)],
        )
        .await?;
        rows.into_iter()
            .map(|r| ProjectId::parse(&r.id).map_err(|e| corrupt("project id", e)))
            .collect()
    }

    async fn insert_events(
        &self,
        events: &[StoredEvent],
        mode: InsertMode,
        ack: Option<&str>,
    ) -> Result<Vec<Inserted>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // A replay may move stored events in time (its update triggers move their sums), so
        // its rows keep the per-row triggers; so does a batch whose rows were not all new.
        let rollups = match mode {
            InsertMode::Replay => None,
            _ => batch_rollups(events)?,
        };
        if let Some(rollups) = &rollups {
            if let Some(inserted) = self.write_events(events, mode, ack, Some(rollups)).await? {
                return Ok(inserted);
            }
        }
        self.write_events(events, mode, ack, None)
            .await?
            .ok_or_else(|| StoreError::Unavailable(rollups::NOT_ALL_INSERTED.to_string()))
    }

    async fn acknowledged(&self, keys: &[String]) -> Result<Acknowledged, StoreError> {
        crate::d1_row! {
        struct AckRow {
            key: String,
            duplicates: Option<String>,
        }
        }
        let keys = serde_json::to_string(keys)
            .map_err(|e| StoreError::Corrupt(format!("raw keys: {e}")))?;
        let rows: Vec<AckRow> = query_rows(self.db(), ACKNOWLEDGED_SQL, &[text(&keys)]).await?;
        let mut acknowledged = Acknowledged::default();
        for row in rows {
            if row.key.is_empty() {
                acknowledged.since = row.duplicates;
                continue;
            }
            let duplicates: Vec<EventKey> = match &row.duplicates {
                Some(json) => serde_json::from_str(json).map_err(|e| {
                    StoreError::Corrupt(format!("acknowledgement of {}: {e}", row.key))
                })?,
                None => Vec::new(),
            };
            acknowledged
                .objects
                .insert(row.key, duplicates.into_iter().collect());
        }
        Ok(acknowledged)
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
        if let Some(job) = &query.job_id {
            // No index on the job (one B-tree write per event less): a job's events lie
            // between its first event (`jobs`) and its last (`usage_jobs`), so the time
            // indexes read only that span.
            let j = binds.bind(text(job));
            let of_project = if query.project_id.is_some() {
                " AND project_id = ?1"
            } else {
                ""
            };
            binds.push(&format!(
                "request_timestamp >= (SELECT MIN(first_seen) FROM jobs WHERE job_id = ?{j}{of_project}) \
                 AND request_timestamp <= (SELECT MAX(last_seen) FROM usage_jobs WHERE job_id = ?{j}{of_project})"
            ));
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
        for (key, want) in &query.metadata {
            // The key is letters, digits, `_` and `-` (checked when parsed), so the path is safe
            // to quote; booleans compare as `true`/`false`, numbers as JSON writes them.
            binds.values.push(text(&format!("$.\"{key}\"")));
            let path = binds.values.len();
            binds.values.push(text(want));
            let value = binds.values.len();
            binds.push(&format!(
                "(CASE json_type(metadata, ?{path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                 WHEN 'text' THEN metadata ->> ?{path} WHEN 'integer' THEN CAST(metadata ->> ?{path} AS TEXT) \
                 WHEN 'real' THEN CAST(metadata ->> ?{path} AS TEXT) END) = ?{value}"
            ));
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
        let limit = query.limit + 1;
        let sql = if query.project_id.is_some() {
            format!(
                "SELECT seq, {} FROM api_usage {} \
                 ORDER BY request_timestamp DESC, seq DESC LIMIT {limit}",
                select_columns(),
                binds.filter()
            )
        } else {
            // Across projects: each project's newest rows on the (project, time) index (no
            // index on time alone), then the newest of those.
            binds.push("project_id = ps.pid");
            format!(
                "WITH RECURSIVE {USAGE_PROJECTS} SELECT seq, {} FROM ps JOIN api_usage \
                 ON seq IN (SELECT seq FROM api_usage {} \
                   ORDER BY request_timestamp DESC, seq DESC LIMIT {limit}) \
                 ORDER BY request_timestamp DESC, seq DESC LIMIT {limit}",
                select_columns(),
                binds.filter()
            )
        };
        let rows: Vec<UsageRow> = query_rows(self.db(), &sql, &binds.values).await?;
        rows.into_iter().map(UsageRow::into_listed).collect()
    }
}

#[cfg(test)]
mod tests;
