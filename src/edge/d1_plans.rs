//! D1 adapter of [`PlanStore`]: plans and workload profiles stored as their validated JSON.

use chrono::{DateTime, Utc};
use wasm_bindgen::JsValue;

use crate::core::kernel::clock::format_timestamp;
use crate::core::kernel::error::StoreError;
use crate::core::plans::store::PlanStore;
use crate::core::plans::{Plan, Profile};

use super::d1::{corrupt, execute, now, query_js, store_error, text, D1Store};
use super::d1_row::{js_rows, JsRow};

fn json_column<T: serde::de::DeserializeOwned>(
    rows: Vec<JsRow>,
    column: &str,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|r| {
            let value = r.get(column);
            serde_json::from_str(value.as_str().unwrap_or_default())
                .map_err(|e| corrupt(column, e.to_string()))
        })
        .collect()
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt("json", e.to_string()))
}

impl PlanStore for D1Store {
    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        let rows = query_js(
            self.db(),
            "SELECT plan_json FROM subscriptions ORDER BY provider, project_id, unit",
            &[],
        )
        .await?;
        json_column(rows, "plan_json")
    }

    async fn plans_at(&self, at: DateTime<Utc>) -> Result<Vec<Plan>, StoreError> {
        let rows = query_js(
            self.db(),
            "SELECT v.plan_json FROM plan_versions v \
             WHERE v.plan_json IS NOT NULL AND v.effective_at = ( \
               SELECT MAX(w.effective_at) FROM plan_versions w \
               WHERE w.provider = v.provider AND w.project_id = v.project_id \
                 AND w.unit = v.unit AND w.effective_at <= ?1) \
             ORDER BY v.provider, v.project_id, v.unit",
            &[text(&format_timestamp(at))],
        )
        .await?;
        json_column(rows, "plan_json")
    }

    async fn save_plan(&self, plan: &Plan, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (provider, project, unit) = plan.key();
        let (json, at) = (encode(plan)?, format_timestamp(at));
        let binds = [
            text(&provider),
            text(&project),
            text(&json),
            text(&at),
            text(&unit),
        ];
        let db = self.db();
        let save = db
            .prepare(
                "INSERT INTO subscriptions (provider, project_id, unit, plan_json, updated_at) \
                 VALUES (?1, ?2, ?5, ?3, ?4) \
                 ON CONFLICT (provider, project_id, unit) DO UPDATE SET \
                 plan_json = excluded.plan_json, updated_at = excluded.updated_at",
            )
            .bind(&binds)
            .map_err(store_error)?;
        let version = db
            .prepare(
                "INSERT OR REPLACE INTO plan_versions \
                 (provider, project_id, unit, effective_at, plan_json) \
                 VALUES (?1, ?2, ?5, CASE WHEN EXISTS (SELECT 1 FROM plan_versions \
                   WHERE provider = ?1 AND project_id = ?2 AND unit = ?5) THEN ?4 ELSE '' END, ?3)",
            )
            .bind(&binds)
            .map_err(store_error)?;
        db.batch(vec![save, version]).await.map_err(store_error)?;
        Ok(())
    }

    async fn delete_plan(
        &self,
        provider: &str,
        project: &str,
        unit: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let binds = [
            text(provider),
            text(project),
            unit.map(JsValue::from_str).unwrap_or(JsValue::NULL),
            text(&format_timestamp(at)),
        ];
        let db = self.db();
        // The delete's versions first, from the rows the delete then removes.
        let version = db
            .prepare(
                "INSERT OR REPLACE INTO plan_versions \
                 (provider, project_id, unit, effective_at, plan_json) \
                 SELECT provider, project_id, unit, ?4, NULL FROM subscriptions \
                 WHERE provider = ?1 AND project_id = ?2 AND (?3 IS NULL OR unit = ?3)",
            )
            .bind(&binds)
            .map_err(store_error)?;
        let delete = db
            .prepare(
                "DELETE FROM subscriptions WHERE provider = ?1 AND project_id = ?2 \
                 AND (?3 IS NULL OR unit = ?3) RETURNING provider",
            )
            .bind(&binds[..3])
            .map_err(store_error)?;
        let results = db.batch(vec![version, delete]).await.map_err(store_error)?;
        let deleted = match results.get(1) {
            Some(result) => !js_rows(result)?.is_empty(),
            None => false,
        };
        Ok(deleted)
    }

    async fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let rows = query_js(
            self.db(),
            "SELECT profile_json FROM workload_profiles ORDER BY name, project_id",
            &[],
        )
        .await?;
        json_column(rows, "profile_json")
    }

    async fn save_profile(&self, profile: &Profile) -> Result<(), StoreError> {
        execute(
            self.db(),
            "INSERT INTO workload_profiles (name, project_id, profile_json, updated_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (name, project_id) DO UPDATE SET profile_json = excluded.profile_json, \
             updated_at = excluded.updated_at",
            &[
                text(&profile.name),
                text(profile.project_id.as_deref().unwrap_or_default()),
                text(&encode(profile)?),
                text(&format_timestamp(now())),
            ],
        )
        .await?;
        Ok(())
    }

    async fn delete_profile(&self, name: &str, project: Option<&str>) -> Result<bool, StoreError> {
        let rows = query_js(
            self.db(),
            "DELETE FROM workload_profiles WHERE name = ?1 AND project_id = ?2 RETURNING name",
            &[text(name), text(project.unwrap_or_default())],
        )
        .await?;
        Ok(!rows.is_empty())
    }

    async fn jobs_with_operations(
        &self,
        operations: &[String],
        since: &str,
        project: Option<&str>,
    ) -> Result<i64, StoreError> {
        let ops = encode(&operations)?;
        let rows = query_js(
            self.db(),
            // A job's last event is the newest of its parts' (`usage_jobs.last_seen`).
            "SELECT COUNT(*) AS n FROM (SELECT u.project_id, u.job_id FROM usage_jobs u \
             WHERE (?3 IS NULL OR u.project_id = ?3) GROUP BY u.project_id, u.job_id \
             HAVING MAX(u.last_seen) >= ?2 AND (json_array_length(?1) = 0 \
               OR SUM(u.operation IN (SELECT value FROM json_each(?1))) > 0))",
            &[
                text(&ops),
                text(since),
                project
                    .map(wasm_bindgen::JsValue::from_str)
                    .unwrap_or(wasm_bindgen::JsValue::NULL),
            ],
        )
        .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("n").as_f64())
            .unwrap_or(0.0) as i64)
    }
}
