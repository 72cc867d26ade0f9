//! Projects and keys in memory, for host tests: the tables `access` keeps in a
//! [`MemoryStore`].

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::access::keys::ApiKeyRecord;
use crate::access::projects::{Project, ProjectId};
use crate::access::store::{KeyStore, ProjectStore};
use crate::kernel::error::StoreError;
use crate::kernel::testing::MemoryStore;

#[derive(Debug, Default)]
pub(crate) struct AccessTables {
    pub(crate) projects: RefCell<BTreeMap<ProjectId, Project>>,
    pub(crate) keys: RefCell<Vec<ApiKeyRecord>>,
}

impl MemoryStore {
    pub(crate) fn access_tables(&self) -> &AccessTables {
        self.part()
    }
}

impl ProjectStore for MemoryStore {
    async fn insert_project(&self, project: &Project) -> Result<(), StoreError> {
        self.check()?;
        let mut projects = self.access_tables().projects.borrow_mut();
        if projects.contains_key(&project.id) {
            return Err(StoreError::Conflict(project.id.to_string()));
        }
        projects.insert(project.id.clone(), project.clone());
        Ok(())
    }

    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        self.check()?;
        Ok(self.access_tables().projects.borrow().get(id).cloned())
    }

    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        self.check()?;
        let mut all: Vec<Project> = self
            .access_tables()
            .projects
            .borrow()
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    async fn update_project(&self, project: &Project) -> Result<bool, StoreError> {
        self.check()?;
        let mut projects = self.access_tables().projects.borrow_mut();
        match projects.get_mut(&project.id) {
            // As D1 does: the project's own fields; the budget is the budget settings'.
            Some(stored) => {
                stored.name = project.name.clone();
                stored.description = project.description.clone();
                stored.client = project.client.clone();
                stored.updated_at = project.updated_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_project(&self, id: &ProjectId) -> Result<bool, StoreError> {
        self.check()?;
        let removed = self
            .access_tables()
            .projects
            .borrow_mut()
            .remove(id)
            .is_some();
        self.access_tables()
            .keys
            .borrow_mut()
            .retain(|k| &k.project_id != id);
        Ok(removed)
    }
}

impl KeyStore for MemoryStore {
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.check()?;
        let mut keys = self.access_tables().keys.borrow_mut();
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
            .access_tables()
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
        let mut keys = self.access_tables().keys.borrow_mut();
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
            .access_tables()
            .keys
            .borrow()
            .iter()
            .find(|k| k.key_hash == key_hash && k.revoked_at.is_none())
            .cloned())
    }
}
