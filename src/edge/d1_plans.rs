//! D1 adapter of [`PlanStore`]: plans and workload profiles stored as their validated JSON.

use serde_json::{Map, Value};

use crate::core::clock::format_timestamp;
use crate::core::error::StoreError;
use crate::core::plans::{Plan, PlanStore, Profile};

use super::d1::{corrupt, now, query_all, text, D1Store};

fn json_column<T: serde::de::DeserializeOwned>(
    rows: Vec<Map<String, Value>>,
    column: &str,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|r| {
            let text = r.get(column).and_then(Value::as_str).unwrap_or_default();
            serde_json::from_str(text).map_err(|e| corrupt(column, e.to_string()))
        })
        .collect()
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt("json", e.to_string()))
}

impl PlanStore for D1Store {
    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        let rows = query_all(
            self.db(),
            "SELECT plan_json FROM subscriptions ORDER BY provider, project_id, unit",
            &[],
        )
        .await?;
        json_column(rows, "plan_json")
    }

    async fn save_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        let (provider, project, unit) = plan.key();
        let _: Vec<Map<String, Value>> = query_all(
            self.db(),
            "INSERT INTO subscriptions (provider, project_id, unit, plan_json, updated_at) VALUES (?1, ?2, ?5, ?3, ?4) \
             ON CONFLICT (provider, project_id, unit) DO UPDATE SET plan_json = excluded.plan_json, \
             updated_at = excluded.updated_at",
            &[
                text(&provider),
                text(&project),
                text(&encode(plan)?),
                text(&format_timestamp(now())),
                text(&unit),
            ],
        )
        .await?;
        Ok(())
    }

    async fn delete_plan(
        &self,
        provider: &str,
        project: &str,
        unit: Option<&str>,
    ) -> Result<bool, StoreError> {
        let rows: Vec<Map<String, Value>> = query_all(
            self.db(),
            "DELETE FROM subscriptions WHERE provider = ?1 AND project_id = ?2 \
             AND (?3 IS NULL OR unit = ?3) RETURNING provider",
            &[
                text(provider),
                text(project),
                unit.map(wasm_bindgen::JsValue::from_str)
                    .unwrap_or(wasm_bindgen::JsValue::NULL),
            ],
        )
        .await?;
        Ok(!rows.is_empty())
    }

    async fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let rows = query_all(
            self.db(),
            "SELECT profile_json FROM workload_profiles ORDER BY name",
            &[],
        )
        .await?;
        json_column(rows, "profile_json")
    }

    async fn save_profile(&self, profile: &Profile) -> Result<(), StoreError> {
        let _: Vec<Map<String, Value>> = query_all(
            self.db(),
            "INSERT INTO workload_profiles (name, profile_json, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET profile_json = excluded.profile_json, \
             updated_at = excluded.updated_at",
            &[
                text(&profile.name),
                text(&encode(profile)?),
                text(&format_timestamp(now())),
            ],
        )
        .await?;
        Ok(())
    }

    async fn delete_profile(&self, name: &str) -> Result<bool, StoreError> {
        let rows: Vec<Map<String, Value>> = query_all(
            self.db(),
            "DELETE FROM workload_profiles WHERE name = ?1 RETURNING name",
            &[text(name)],
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
        let rows: Vec<Map<String, Value>> = query_all(
            self.db(),
            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT u.project_id, u.job_id FROM usage_jobs u \
             JOIN jobs j ON j.project_id = u.project_id AND j.job_id = u.job_id \
             WHERE j.last_seen >= ?2 AND (?3 IS NULL OR u.project_id = ?3) \
               AND (json_array_length(?1) = 0 OR u.operation IN (SELECT value FROM json_each(?1))))",
            &[
                text(&ops),
                text(since),
                project.map(wasm_bindgen::JsValue::from_str).unwrap_or(wasm_bindgen::JsValue::NULL),
            ],
        )
        .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("n"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0) as i64)
    }
}
