//! In-memory implementations of the storage traits, for host tests of core logic. They keep
//! the same contracts as the D1 adapters (conflicts, cascades, revocation).

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::keys::ApiKeyRecord;
use super::projects::{Project, ProjectId};
use super::store::{KeyStore, ProjectStore};

#[derive(Debug, Default)]
pub struct MemoryStore {
    projects: RefCell<BTreeMap<ProjectId, Project>>,
    keys: RefCell<Vec<ApiKeyRecord>>,
    /// When set, every operation fails as an unreachable database would.
    pub fail: RefCell<bool>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn check(&self) -> Result<(), StoreError> {
        if *self.fail.borrow() {
            Err(StoreError::Unavailable("memory store set to fail".into()))
        } else {
            Ok(())
        }
    }
}

impl ProjectStore for MemoryStore {
    async fn insert_project(&self, project: &Project) -> Result<(), StoreError> {
        self.check()?;
        let mut projects = self.projects.borrow_mut();
        if projects.contains_key(&project.id) {
            return Err(StoreError::Conflict(project.id.to_string()));
        }
        projects.insert(project.id.clone(), project.clone());
        Ok(())
    }

    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        self.check()?;
        Ok(self.projects.borrow().get(id).cloned())
    }

    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        self.check()?;
        let mut all: Vec<Project> = self.projects.borrow().values().cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    async fn update_project(&self, project: &Project) -> Result<bool, StoreError> {
        self.check()?;
        let mut projects = self.projects.borrow_mut();
        match projects.get_mut(&project.id) {
            Some(stored) => {
                *stored = project.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_project(&self, id: &ProjectId) -> Result<bool, StoreError> {
        self.check()?;
        let removed = self.projects.borrow_mut().remove(id).is_some();
        self.keys.borrow_mut().retain(|k| &k.project_id != id);
        Ok(removed)
    }
}

impl KeyStore for MemoryStore {
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.check()?;
        let mut keys = self.keys.borrow_mut();
        if keys
            .iter()
            .any(|k| k.id == key.id || k.key_hash == key.key_hash)
        {
            return Err(StoreError::Conflict(key.id.clone()));
        }
        keys.push(key.clone());
        Ok(())
    }

    async fn list_keys(&self, project: &ProjectId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.check()?;
        Ok(self
            .keys
            .borrow()
            .iter()
            .filter(|k| &k.project_id == project)
            .cloned()
            .collect())
    }

    async fn revoke_key(
        &self,
        project: &ProjectId,
        key_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.check()?;
        let mut keys = self.keys.borrow_mut();
        match keys
            .iter_mut()
            .find(|k| &k.project_id == project && k.id == key_id && k.revoked_at.is_none())
        {
            Some(key) => {
                key.revoked_at = Some(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn find_active_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.check()?;
        Ok(self
            .keys
            .borrow()
            .iter()
            .find(|k| k.key_hash == key_hash && k.revoked_at.is_none())
            .cloned())
    }
}
