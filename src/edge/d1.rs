//! D1 adapters for the core's storage traits. Only this module (and later the other
//! adapters under `edge`) know table names and SQL.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1Database;

use chrono::{DateTime, Utc};

use crate::core::clock::{format_timestamp, parse_timestamp};
use crate::core::error::StoreError;
use crate::core::keys::ApiKeyRecord;
use crate::core::money::{Currency, Money};
use crate::core::projects::{Project, ProjectId};
use crate::core::store::{KeyStore, ProjectStore};

pub struct D1Store {
    db: D1Database,
}

impl D1Store {
    pub fn new(db: D1Database) -> Self {
        Self { db }
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

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn opt_text(value: Option<&str>) -> JsValue {
    value.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

fn corrupt(what: &str, detail: String) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

fn read_time(value: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_timestamp(value).map_err(|e| corrupt("timestamp", e))
}

#[derive(Deserialize)]
struct ProjectRow {
    id: String,
    name: String,
    description: Option<String>,
    budget_threshold_usd: Option<String>,
    budget_alert_threshold_percent: f64,
    last_budget_alert_sent: Option<String>,
    created_at: String,
    updated_at: String,
}

impl ProjectRow {
    fn into_project(self) -> Result<Project, StoreError> {
        Ok(Project {
            id: ProjectId::parse(&self.id).map_err(|e| corrupt("project id", e))?,
            name: self.name,
            description: self.description,
            budget_threshold_usd: self
                .budget_threshold_usd
                .as_deref()
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
    budget_alert_threshold_percent, last_budget_alert_sent, created_at, updated_at";

impl ProjectStore for D1Store {
    async fn insert_project(&self, project: &Project) -> Result<(), StoreError> {
        let budget = project.budget_threshold_usd.map(|b| b.amount_string());
        self.db
            .prepare(format!(
                "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
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
            ])
            .map_err(store_error)?
            .run()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        let row: Option<ProjectRow> = self
            .db
            .prepare(format!(
                "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?1"
            ))
            .bind(&[text(id.as_str())])
            .map_err(store_error)?
            .first(None)
            .await
            .map_err(store_error)?;
        row.map(ProjectRow::into_project).transpose()
    }

    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows: Vec<ProjectRow> = self
            .db
            .prepare(format!(
                "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY created_at, id"
            ))
            .all()
            .await
            .map_err(store_error)?
            .results()
            .map_err(store_error)?;
        rows.into_iter().map(ProjectRow::into_project).collect()
    }

    async fn update_project(&self, project: &Project) -> Result<bool, StoreError> {
        let budget = project.budget_threshold_usd.map(|b| b.amount_string());
        let result = self
            .db
            .prepare(
                "UPDATE projects SET name = ?2, description = ?3, budget_threshold_usd = ?4, \
                 budget_alert_threshold_percent = ?5, last_budget_alert_sent = ?6, \
                 updated_at = ?7 WHERE id = ?1",
            )
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
                text(&format_timestamp(project.updated_at)),
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

fn changes(result: &worker::D1Result) -> usize {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct KeyRow {
    id: String,
    project_id: String,
    name: Option<String>,
    prefix: String,
    key_hash: String,
    created_at: String,
    revoked_at: Option<String>,
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
        let rows: Vec<KeyRow> = self
            .db
            .prepare(format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = ?1 ORDER BY created_at, id"
            ))
            .bind(&[text(project.as_str())])
            .map_err(store_error)?
            .all()
            .await
            .map_err(store_error)?
            .results()
            .map_err(store_error)?;
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
        let row: Option<KeyRow> = self
            .db
            .prepare(format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL"
            ))
            .bind(&[text(key_hash)])
            .map_err(store_error)?
            .first(None)
            .await
            .map_err(store_error)?;
        row.map(KeyRow::into_record).transpose()
    }
}
