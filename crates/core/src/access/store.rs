//! The storage seams of access: projects and ingest keys. The edge implements them over D1,
//! `access::memory` in memory for host tests.

use chrono::{DateTime, Utc};

use crate::access::keys::ApiKeyRecord;
use crate::access::projects::{Project, ProjectId};
use crate::kernel::error::StoreError;

// Futures from D1 are not `Send` (wasm is single-threaded), so these traits use plain
// `async fn` and are only ever used through generics, never `dyn`.
#[allow(async_fn_in_trait)]
pub trait ProjectStore {
    /// Inserts a new project; `StoreError::Conflict` when the id is taken.
    async fn insert_project(&self, project: &Project) -> Result<(), StoreError>;
    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError>;
    /// Every project, oldest first.
    async fn list_projects(&self) -> Result<Vec<Project>, StoreError>;
    /// Writes a stored project's own fields (name, description, client, update time), never
    /// its budget, which `BudgetStore::save_budget` writes; `false` when it does not exist.
    async fn update_project(&self, project: &Project) -> Result<bool, StoreError>;
    /// Deletes a project and its keys together; `false` when it did not exist.
    async fn delete_project(&self, id: &ProjectId) -> Result<bool, StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait KeyStore {
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// A project's keys, revoked ones included, oldest first.
    async fn list_keys(&self, project: &ProjectId) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Marks an active key revoked; `false` when there is no such active key of that project.
    async fn revoke_key(
        &self,
        project: &ProjectId,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The active (not revoked) key with this SHA-256 hash, if any.
    async fn find_active_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
}
