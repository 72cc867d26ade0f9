//! The storage seam of plans: plans (every save and delete a dated version) and workload
//! profiles. The edge implements it over D1, `plans::memory` in memory for host tests.
use chrono::{DateTime, Utc};

use crate::kernel::error::StoreError;
use crate::plans::{Plan, Profile};

// Futures from D1 are not `Send` (wasm is single-threaded), so these traits use plain
// `async fn` and are only ever used through generics, never `dyn`.

#[allow(async_fn_in_trait)]
pub trait PlanStore {
    /// The plans in force now.
    async fn plans(&self) -> Result<Vec<Plan>, StoreError>;
    /// The plans as they were at `at`: each plan's newest version in force at or before it,
    /// unless that version was a delete.
    async fn plans_at(&self, at: DateTime<Utc>) -> Result<Vec<Plan>, StoreError>;
    /// Saves `plan` as its scope's and unit's plan from `at` on. The first version of a
    /// plan (its scope and unit never saved before) counts as in force since always: the
    /// subscription is usually older than its entry here ([`Plan::since`] says otherwise).
    async fn save_plan(&self, plan: &Plan, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Deletes the provider's plans of one scope from `at` on: the one in `unit`, or all of
    /// them.
    async fn delete_plan(
        &self,
        provider: &str,
        project: &str,
        unit: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn profiles(&self) -> Result<Vec<Profile>, StoreError>;
    async fn save_profile(&self, profile: &Profile) -> Result<(), StoreError>;
    /// Deletes the profile `name` of `project` (`None`: the global one).
    async fn delete_profile(&self, name: &str, project: Option<&str>) -> Result<bool, StoreError>;
    /// Distinct jobs since `since` with a call of one of `operations` (any when empty).
    async fn jobs_with_operations(
        &self,
        operations: &[String],
        since: &str,
        project: Option<&str>,
    ) -> Result<i64, StoreError>;
}
