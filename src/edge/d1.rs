//! D1 adapters for the core's storage traits. Only this module (and later the other
//! adapters under `edge`) know table names and SQL.

use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1Result};

use super::d1_row::{js_rows, rows, FromRows, JsRow};

use chrono::{DateTime, Utc};

use crate::core::access::keys::ApiKeyRecord;
use crate::core::access::projects::{Project, ProjectId};
use crate::core::access::store::{KeyStore, ProjectStore};
use crate::core::kernel::clock::{format_timestamp, parse_timestamp};
use crate::core::kernel::error::StoreError;
use crate::core::kernel::money::{Currency, Money};
use crate::core::pricing::catalog::{EntryInput, Origin, PriceEntry};
use crate::core::pricing::store::PriceStore;

pub struct D1Store {
    db: D1Database,
    /// Milliseconds spent waiting on the usage writes' transactions (`write_events`): what a
    /// queue consumer's batch holds the database for, with the round trip and any wait
    /// behind another writer (so at most that), which `bench/queue.mjs` reads.
    write_ms: std::cell::Cell<u64>,
}

impl D1Store {
    pub fn new(db: D1Database) -> Self {
        Self {
            db,
            write_ms: std::cell::Cell::new(0),
        }
    }

    /// Milliseconds this store has spent in usage-write transactions so far.
    pub fn write_ms(&self) -> u64 {
        self.write_ms.get()
    }

    /// Counts the time of one usage-write transaction.
    pub(crate) fn add_write_ms(&self, ms: u64) {
        self.write_ms.set(self.write_ms.get().saturating_add(ms));
    }

    pub fn db(&self) -> &D1Database {
        &self.db
    }
}

/// Maps a D1 failure to a store error; unique-constraint failures are conflicts.
pub fn store_error(error: worker::Error) -> StoreError {
    let text = error.to_string();
    if text.contains("UNIQUE constraint failed") {
        StoreError::Conflict(text)
    } else {
        StoreError::Unavailable(text)
    }
}

pub(super) fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn opt_text(value: Option<&str>) -> JsValue {
    value.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

/// JSON arrays of `items`, each at most `max_bytes` long (an item longer than that gets an
/// array of its own): a bound value stays under D1's 2 MB per value however many items.
pub(super) fn json_chunks<T: serde::Serialize>(
    items: &[T],
    max_bytes: usize,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut chunk = String::new();
    for item in items {
        let json = serde_json::to_string(item).map_err(|e| corrupt("json", e.to_string()))?;
        if !chunk.is_empty() && chunk.len() + json.len() + 2 > max_bytes {
            chunk.push(']');
            out.push(std::mem::take(&mut chunk));
        }
        chunk.push(if chunk.is_empty() { '[' } else { ',' });
        chunk.push_str(&json);
    }
    if !chunk.is_empty() {
        chunk.push(']');
        out.push(chunk);
    }
    Ok(out)
}

/// Runs one query and gives its rows as the objects D1 gave, read by [`JsRow::get`].
pub(super) async fn query_js(
    db: &D1Database,
    sql: &str,
    binds: &[JsValue],
) -> Result<Vec<JsRow>, StoreError> {
    js_rows(&run_all(db, sql, binds).await?)
}

/// Runs one statement whose rows are not read.
pub(super) async fn execute(
    db: &D1Database,
    sql: &str,
    binds: &[JsValue],
) -> Result<(), StoreError> {
    run_all(db, sql, binds).await.map(drop)
}

/// Runs one query and reads every row as the row type `T` ([`d1_row!`](crate::d1_row)).
pub(super) async fn query_rows<T: FromRows>(
    db: &D1Database,
    sql: &str,
    binds: &[JsValue],
) -> Result<Vec<T>, StoreError> {
    rows(&run_all(db, sql, binds).await?)
}

/// Runs one query and reads its first row as the row type `T`, if any.
pub(super) async fn query_first_row<T: FromRows>(
    db: &D1Database,
    sql: &str,
    binds: &[JsValue],
) -> Result<Option<T>, StoreError> {
    let row: Option<JsRow> = db
        .prepare(sql)
        .bind(binds)
        .map_err(store_error)?
        .first(None)
        .await
        .map_err(store_error)?;
    Ok(T::from_rows(row.into_iter().collect())?.pop())
}

/// Runs one query (not generic: one copy of the awaiting for every row type).
async fn run_all(db: &D1Database, sql: &str, binds: &[JsValue]) -> Result<D1Result, StoreError> {
    db.prepare(sql)
        .bind(binds)
        .map_err(store_error)?
        .all()
        .await
        .map_err(store_error)
}

/// A WHERE clause built from conditions, each `?` numbered after the values bound so far.
pub(super) struct Binds {
    pub values: Vec<JsValue>,
    clauses: Vec<String>,
}

impl Binds {
    pub fn new() -> Self {
        Self {
            values: Vec::new(),
            clauses: Vec::new(),
        }
    }

    /// A condition on one bound text value (`"provider = ?"`).
    pub fn add(&mut self, clause: &str, value: &str) {
        self.add_value(clause, text(value));
    }

    /// A condition whose every `?` is one bound value.
    pub fn add_value(&mut self, clause: &str, value: JsValue) {
        self.values.push(value);
        self.clauses
            .push(clause.replace('?', &format!("?{}", self.values.len())));
    }

    /// A value bound outside the conditions (a JSON list a query reads); returns its
    /// parameter number.
    pub fn bind(&mut self, value: JsValue) -> usize {
        self.values.push(value);
        self.values.len()
    }

    /// A condition without bound values.
    pub fn push(&mut self, clause: &str) {
        self.clauses.push(clause.to_string());
    }

    pub fn filter(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The filter of the conditions added so far, which are then forgotten while their values
    /// stay bound: for statements with several `WHERE` clauses over one list of values.
    pub fn take_filter(&mut self) -> String {
        let filter = self.filter();
        self.clauses.clear();
        filter
    }
}

pub(super) fn corrupt(what: &str, detail: String) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

fn read_time(value: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_timestamp(value).map_err(|e| corrupt("timestamp", e))
}

crate::d1_row! {
struct ProjectRow {
    id: String,
    name: String,
    description: Option<String>,
    client: Option<String>,
    budget_threshold_usd: Option<String>,
    budget_currency: String,
    budget_alert_threshold_percent: f64,
    last_budget_alert_sent: Option<String>,
    created_at: String,
    updated_at: String,
}
}

impl ProjectRow {
    fn into_project(self) -> Result<Project, StoreError> {
        Ok(Project {
            id: ProjectId::parse(&self.id).map_err(|e| corrupt("project id", e))?,
            name: self.name,
            description: self.description,
            client: self.client,
            // A budget in another currency is not a dollar budget; the budget route shows it.
            budget_threshold_usd: self
                .budget_threshold_usd
                .as_deref()
                .filter(|_| self.budget_currency == "USD")
                .map(|b| Money::parse(b, Currency::USD))
                .transpose()
                .map_err(|e| corrupt("budget", e))?,
            budget_alert_threshold_percent: self.budget_alert_threshold_percent as u16,
            last_budget_alert_sent: self
                .last_budget_alert_sent
                .as_deref()
                .map(read_time)
                .transpose()?,
            created_at: read_time(&self.created_at)?,
            updated_at: read_time(&self.updated_at)?,
        })
    }
}

const PROJECT_COLUMNS: &str = "id, name, description, budget_threshold_usd, \
    budget_alert_threshold_percent, last_budget_alert_sent, created_at, updated_at, client";
const PROJECT_READ_COLUMNS: &str =
    "id, name, description, client, budget_threshold_usd, budget_currency, \
    budget_alert_threshold_percent, last_budget_alert_sent, created_at, updated_at";

impl ProjectStore for D1Store {
    async fn insert_project(&self, project: &Project) -> Result<(), StoreError> {
        let budget = project.budget_threshold_usd.map(|b| b.amount_string());
        self.db
            .prepare(format!(
                "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))
            .bind(&[
                text(project.id.as_str()),
                text(&project.name),
                opt_text(project.description.as_deref()),
                opt_text(budget.as_deref()),
                JsValue::from(project.budget_alert_threshold_percent),
                opt_text(
                    project
                        .last_budget_alert_sent
                        .map(format_timestamp)
                        .as_deref(),
                ),
                text(&format_timestamp(project.created_at)),
                text(&format_timestamp(project.updated_at)),
                opt_text(project.client.as_deref()),
            ])
            .map_err(store_error)?
            .run()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        let row: Option<ProjectRow> = query_first_row(
            &self.db,
            &format!("SELECT {PROJECT_READ_COLUMNS} FROM projects WHERE id = ?1"),
            &[text(id.as_str())],
        )
        .await?;
        row.map(ProjectRow::into_project).transpose()
    }

    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows: Vec<ProjectRow> = query_rows(
            &self.db,
            &format!("SELECT {PROJECT_READ_COLUMNS} FROM projects ORDER BY created_at, id"),
            &[],
        )
        .await?;
        rows.into_iter().map(ProjectRow::into_project).collect()
    }

    async fn update_project(&self, project: &Project) -> Result<bool, StoreError> {
        let result = self
            .db
            .prepare(
                // The budget columns are the budget settings' (`BudgetStore::save_budget`):
                // a project's own fields never write them back as read.
                "UPDATE projects SET name = ?2, description = ?3, updated_at = ?4, client = ?5 \
                 WHERE id = ?1",
            )
            .bind(&[
                text(project.id.as_str()),
                text(&project.name),
                opt_text(project.description.as_deref()),
                text(&format_timestamp(project.updated_at)),
                opt_text(project.client.as_deref()),
            ])
            .map_err(store_error)?
            .run()
            .await
            .map_err(store_error)?;
        Ok(changes(&result) > 0)
    }

    async fn delete_project(&self, id: &ProjectId) -> Result<bool, StoreError> {
        // One batch is one transaction: the keys and the project go together.
        let delete_keys = self
            .db
            .prepare("DELETE FROM api_keys WHERE project_id = ?1")
            .bind(&[text(id.as_str())])
            .map_err(store_error)?;
        let delete_project = self
            .db
            .prepare("DELETE FROM projects WHERE id = ?1")
            .bind(&[text(id.as_str())])
            .map_err(store_error)?;
        let results = self
            .db
            .batch(vec![delete_keys, delete_project])
            .await
            .map_err(store_error)?;
        Ok(results.last().map(changes).unwrap_or(0) > 0)
    }
}

pub(super) fn changes(result: &worker::D1Result) -> usize {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
}

crate::d1_row! {
struct KeyRow {
    id: String,
    project_id: String,
    name: Option<String>,
    prefix: String,
    key_hash: String,
    created_at: String,
    revoked_at: Option<String>,
}
}

impl KeyRow {
    fn into_record(self) -> Result<ApiKeyRecord, StoreError> {
        Ok(ApiKeyRecord {
            id: self.id,
            project_id: ProjectId::parse(&self.project_id)
                .map_err(|e| corrupt("key project", e))?,
            name: self.name,
            prefix: self.prefix,
            key_hash: self.key_hash,
            created_at: read_time(&self.created_at)?,
            revoked_at: self.revoked_at.as_deref().map(read_time).transpose()?,
        })
    }
}

const KEY_COLUMNS: &str = "id, project_id, name, prefix, key_hash, created_at, revoked_at";

impl KeyStore for D1Store {
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.db
            .prepare(format!(
                "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)"
            ))
            .bind(&[
                text(&key.id),
                text(key.project_id.as_str()),
                opt_text(key.name.as_deref()),
                text(&key.prefix),
                text(&key.key_hash),
                text(&format_timestamp(key.created_at)),
            ])
            .map_err(store_error)?
            .run()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn list_keys(&self, project: &ProjectId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows: Vec<KeyRow> = query_rows(
            &self.db,
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = ?1 ORDER BY created_at, id"
            ),
            &[text(project.as_str())],
        )
        .await?;
        rows.into_iter().map(KeyRow::into_record).collect()
    }

    async fn revoke_key(
        &self,
        project: &ProjectId,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .db
            .prepare(
                "UPDATE api_keys SET revoked_at = ?3 \
                 WHERE project_id = ?1 AND id = ?2 AND revoked_at IS NULL",
            )
            .bind(&[
                text(project.as_str()),
                text(key_id),
                text(&format_timestamp(at)),
            ])
            .map_err(store_error)?
            .run()
            .await
            .map_err(store_error)?;
        Ok(changes(&result) > 0)
    }

    async fn find_active_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row: Option<KeyRow> = query_first_row(
            &self.db,
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL"
            ),
            &[text(key_hash)],
        )
        .await?;
        row.map(KeyRow::into_record).transpose()
    }
}

crate::d1_row! {
struct PriceRow {
    id: String,
    scope: String,
    entry_json: String,
}
}

impl PriceRow {
    fn into_entry(self) -> Result<PriceEntry, StoreError> {
        let input: EntryInput = serde_json::from_str(&self.entry_json)
            .map_err(|e| corrupt("custom price", e.to_string()))?;
        let project_id = if self.scope.is_empty() {
            None
        } else {
            Some(ProjectId::parse(&self.scope).map_err(|e| corrupt("price scope", e))?)
        };
        input
            .parse(
                "",
                Origin::Custom {
                    id: self.id,
                    project_id,
                },
            )
            .map_err(|e| {
                let first = e.into_iter().next();
                corrupt("custom price", first.map(|f| f.message).unwrap_or_default())
            })
    }
}

/// One element of the JSON array bound to the upsert statements.
#[derive(Serialize)]
struct PriceWrite<'a> {
    id: &'a str,
    scope: &'a str,
    provider: &'a str,
    model: &'a str,
    effective_from: String,
    entry_json: String,
    names: Vec<String>,
}

/// The most JSON bound as one value of a price import: half of D1's 2 MB per value, as the
/// stored `entry_json` strings are escaped once more inside it.
const PRICE_CHUNK_BYTES: usize = 1_000_000;

impl PriceStore for D1Store {
    async fn upsert_prices(&self, entries: &[PriceEntry]) -> Result<(), StoreError> {
        let now = format_timestamp(now());
        let mut writes = Vec::with_capacity(entries.len());
        for e in entries {
            let Origin::Custom { id, project_id } = &e.origin else {
                return Err(StoreError::Corrupt("only custom prices are stored".into()));
            };
            let entry_json = serde_json::to_string(&e.to_input())
                .map_err(|err| corrupt("custom price", err.to_string()))?;
            writes.push(PriceWrite {
                id,
                scope: project_id.as_ref().map(ProjectId::as_str).unwrap_or(""),
                provider: &e.provider,
                model: &e.model,
                effective_from: e.effective_from.to_string(),
                entry_json,
                names: e.lookup_names(),
            });
        }
        // Each chunk of the set is one bound JSON value (D1 allows 100 parameters per
        // statement and 2 MB per value), and the batch of every chunk is one transaction.
        let mut statements = Vec::new();
        for json in json_chunks(&writes, PRICE_CHUNK_BYTES)? {
            statements.push(
                self.db
                    .prepare(
                        "DELETE FROM custom_price_names WHERE price_id IN \
                         (SELECT json_extract(value, '$.id') FROM json_each(?1))",
                    )
                    .bind(&[text(&json)])
                    .map_err(store_error)?,
            );
            statements.push(
                self.db
                    .prepare(
                        "INSERT INTO custom_prices (id, scope, provider, model, effective_from, entry_json, updated_at) \
                         SELECT json_extract(value, '$.id'), json_extract(value, '$.scope'), \
                                json_extract(value, '$.provider'), json_extract(value, '$.model'), \
                                json_extract(value, '$.effective_from'), json_extract(value, '$.entry_json'), ?2 \
                         FROM json_each(?1) WHERE true \
                         ON CONFLICT (id) DO UPDATE SET entry_json = excluded.entry_json, updated_at = excluded.updated_at",
                    )
                    .bind(&[text(&json), text(&now)])
                    .map_err(store_error)?,
            );
            statements.push(
                self.db
                    .prepare(
                        "INSERT OR IGNORE INTO custom_price_names (lookup, price_id) \
                         SELECT n.value, json_extract(e.value, '$.id') \
                         FROM json_each(?1) e, json_each(json_extract(e.value, '$.names')) n",
                    )
                    .bind(&[text(&json)])
                    .map_err(store_error)?,
            );
        }
        if statements.is_empty() {
            return Ok(());
        }
        self.db.batch(statements).await.map_err(store_error)?;
        Ok(())
    }

    async fn list_custom_prices(&self) -> Result<Vec<PriceEntry>, StoreError> {
        let rows: Vec<PriceRow> = query_rows(
            &self.db,
            "SELECT id, scope, entry_json FROM custom_prices \
             ORDER BY provider, model, effective_from, scope",
            &[],
        )
        .await?;
        rows.into_iter().map(PriceRow::into_entry).collect()
    }

    async fn custom_prices_for(&self, lookups: &[String]) -> Result<Vec<PriceEntry>, StoreError> {
        if lookups.is_empty() {
            return Ok(Vec::new());
        }
        let json = serde_json::to_string(lookups).map_err(|e| corrupt("lookups", e.to_string()))?;
        let rows: Vec<PriceRow> = query_rows(
            &self.db,
            "SELECT id, scope, entry_json FROM custom_prices WHERE id IN \
             (SELECT price_id FROM custom_price_names \
              WHERE lookup IN (SELECT value FROM json_each(?1)))",
            &[text(&json)],
        )
        .await?;
        rows.into_iter().map(PriceRow::into_entry).collect()
    }

    async fn delete_price(&self, id: &str) -> Result<bool, StoreError> {
        let names = self
            .db
            .prepare("DELETE FROM custom_price_names WHERE price_id = ?1")
            .bind(&[text(id)])
            .map_err(store_error)?;
        let price = self
            .db
            .prepare("DELETE FROM custom_prices WHERE id = ?1")
            .bind(&[text(id)])
            .map_err(store_error)?;
        let results = self
            .db
            .batch(vec![names, price])
            .await
            .map_err(store_error)?;
        Ok(results.last().map(changes).unwrap_or(0) > 0)
    }
}

/// The Workers clock, for adapters that stamp rows.
pub(super) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(worker::Date::now().as_millis() as i64).unwrap_or_default()
}
