//! Plans and workload profiles in memory, for host tests: the tables `plans` keeps in a
//! [`MemoryStore`].

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::HashSet;

use crate::kernel::error::StoreError;
use crate::kernel::testing::MemoryStore;

type PlanVersion = (
    (String, String, String),
    chrono::DateTime<chrono::Utc>,
    Option<crate::plans::Plan>,
);

#[derive(Debug, Default)]
pub(crate) struct PlanTables {
    pub(crate) plans: RefCell<BTreeMap<(String, String, String), crate::plans::Plan>>,
    /// Every saved or deleted (`None`) version of a plan, with the time it took effect.
    pub(crate) plan_versions: RefCell<Vec<PlanVersion>>,
    /// Keyed by (name, project id or '' for a global profile).
    pub(crate) profiles: RefCell<BTreeMap<(String, String), crate::plans::Profile>>,
}

impl MemoryStore {
    fn plan_tables(&self) -> &PlanTables {
        self.part()
    }
}

impl crate::plans::store::PlanStore for MemoryStore {
    async fn plans(&self) -> Result<Vec<crate::plans::Plan>, StoreError> {
        self.check()?;
        Ok(self
            .plan_tables()
            .plans
            .borrow()
            .values()
            .cloned()
            .collect())
    }

    async fn plans_at(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::plans::Plan>, StoreError> {
        self.check()?;
        let mut versions = self.plan_tables().plan_versions.borrow().clone();
        versions.sort_by_key(|(_, from, _)| *from);
        let mut in_force = BTreeMap::new();
        for (key, from, plan) in versions {
            if from <= at {
                in_force.insert(key, plan);
            }
        }
        Ok(in_force.into_values().flatten().collect())
    }

    async fn save_plan(
        &self,
        plan: &crate::plans::Plan,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.plan_tables()
            .plans
            .borrow_mut()
            .insert(plan.key(), plan.clone());
        let mut versions = self.plan_tables().plan_versions.borrow_mut();
        // A plan's first version counts as in force since always.
        let from = if versions.iter().any(|(key, _, _)| *key == plan.key()) {
            at
        } else {
            chrono::DateTime::<chrono::Utc>::MIN_UTC
        };
        versions.push((plan.key(), from, Some(plan.clone())));
        Ok(())
    }

    async fn delete_plan(
        &self,
        provider: &str,
        project: &str,
        unit: Option<&str>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        self.check()?;
        let mut plans = self.plan_tables().plans.borrow_mut();
        let gone: Vec<(String, String, String)> = plans
            .keys()
            .filter(|(p, scope, u)| {
                p == provider && scope == project && unit.is_none_or(|unit| unit == u)
            })
            .cloned()
            .collect();
        for key in &gone {
            plans.remove(key);
            self.plan_tables()
                .plan_versions
                .borrow_mut()
                .push((key.clone(), at, None));
        }
        Ok(!gone.is_empty())
    }

    async fn profiles(&self) -> Result<Vec<crate::plans::Profile>, StoreError> {
        self.check()?;
        Ok(self
            .plan_tables()
            .profiles
            .borrow()
            .values()
            .cloned()
            .collect())
    }

    async fn save_profile(&self, profile: &crate::plans::Profile) -> Result<(), StoreError> {
        self.check()?;
        self.plan_tables()
            .profiles
            .borrow_mut()
            .insert(profile.key(), profile.clone());
        Ok(())
    }

    async fn delete_profile(&self, name: &str, project: Option<&str>) -> Result<bool, StoreError> {
        self.check()?;
        let key = (name.to_string(), project.unwrap_or_default().to_string());
        Ok(self
            .plan_tables()
            .profiles
            .borrow_mut()
            .remove(&key)
            .is_some())
    }

    async fn jobs_with_operations(
        &self,
        operations: &[String],
        since: &str,
        project: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.check()?;
        let jobs: HashSet<(String, String)> = self
            .counted_events()
            .iter()
            .map(|l| &l.event)
            .filter(|e| {
                e.request_timestamp.as_str() >= since
                    && project.is_none_or(|p| p == e.project_id)
                    && (operations.is_empty() || operations.contains(&e.operation))
            })
            .filter_map(|e| e.job_id.clone().map(|j| (e.project_id.clone(), j)))
            .collect();
        Ok(jobs.len() as i64)
    }
}
