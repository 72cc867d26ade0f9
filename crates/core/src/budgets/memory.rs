//! Budget settings, alert claims and the alert log in memory, for host tests: the tables
//! `budgets` keeps in a [`MemoryStore`]. A project without saved settings has those of a
//! project just created, as in D1 (the settings are columns of `projects`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::access::projects::ProjectId;
use crate::access::store::ProjectStore;
use crate::budgets::settings::{
    fresh_settings, AlertKey, AlertRecord, BudgetSettings, Settlement, UnreadableBudget,
};
use crate::budgets::store::BudgetStore;
use crate::kernel::clock::format_timestamp;
use crate::kernel::error::StoreError;
use crate::kernel::testing::MemoryStore;

#[derive(Debug, Default)]
pub(crate) struct BudgetTables {
    settings: RefCell<BTreeMap<ProjectId, BudgetSettings>>,
    claims: RefCell<BTreeMap<AlertKey, (String, DateTime<Utc>)>>,
    log: RefCell<Vec<AlertRecord>>,
    /// When set, alert claims are stored and then reported as failed (answer lost).
    lose_claim_answers: Cell<bool>,
}

impl MemoryStore {
    fn budget_tables(&self) -> &BudgetTables {
        self.part()
    }

    /// Alert claims are stored and then reported as failed (the database committed, its
    /// answer lost).
    pub fn lose_claim_answers(&self, on: bool) {
        self.budget_tables().lose_claim_answers.set(on);
    }

    /// Every alert the log holds, oldest first.
    pub fn alert_log(&self) -> Vec<AlertRecord> {
        self.budget_tables().log.borrow().clone()
    }
}

impl BudgetStore for MemoryStore {
    async fn budget(&self, project: &ProjectId) -> Result<Option<BudgetSettings>, StoreError> {
        self.check()?;
        if let Some(saved) = self.budget_tables().settings.borrow().get(project) {
            return Ok(Some(saved.clone()));
        }
        Ok(self.get_project(project).await?.map(|p| fresh_settings(&p)))
    }

    async fn budgets(&self) -> Result<Vec<Result<BudgetSettings, UnreadableBudget>>, StoreError> {
        self.check()?;
        let mut all = Vec::new();
        for project in self.list_projects().await? {
            all.push(Ok(self
                .budget(&project.id)
                .await?
                .unwrap_or_else(|| fresh_settings(&project))));
        }
        Ok(all)
    }

    async fn save_budget(&self, settings: &BudgetSettings) -> Result<bool, StoreError> {
        self.check()?;
        if self.get_project(&settings.project_id).await?.is_none() {
            return Ok(false);
        }
        self.budget_tables()
            .settings
            .borrow_mut()
            .insert(settings.project_id.clone(), settings.clone());
        Ok(true)
    }

    async fn claim_alerts(
        &self,
        keys: &[AlertKey],
        claim_id: &str,
        now: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError> {
        self.check()?;
        let mut held = self.budget_tables().claims.borrow_mut();
        let mut won = Vec::new();
        let window = format_timestamp(not_after);
        for key in keys {
            if held
                .get(key)
                .is_none_or(|(_, at)| !key.held_by(&format_timestamp(*at), &window))
            {
                held.insert(key.clone(), (claim_id.to_string(), now));
                won.push(key.clone());
            }
        }
        if self.budget_tables().lose_claim_answers.get() {
            return Err(StoreError::Unavailable(
                "the claim's answer was lost".into(),
            ));
        }
        Ok(won)
    }

    async fn claimed_after(
        &self,
        keys: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError> {
        self.check()?;
        let held = self.budget_tables().claims.borrow();
        let window = format_timestamp(since);
        Ok(keys
            .iter()
            .filter(|k| {
                held.get(*k)
                    .is_some_and(|(_, at)| k.held_by(&format_timestamp(*at), &window))
            })
            .cloned()
            .collect())
    }

    async fn logged_after(
        &self,
        logged: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.check()?;
        // The log's time stamps are of one form, so their text order is time order (as D1's).
        let since = format_timestamp(since);
        Ok(self
            .budget_tables()
            .log
            .borrow()
            .iter()
            .filter(|r| {
                logged.iter().any(|k| {
                    k.scope == r.project_id
                        && k.level == r.level
                        && k.held_by(&r.created_at, &since)
                })
            })
            .cloned()
            .collect())
    }

    async fn settle_alerts(&self, settlement: &Settlement) -> Result<(), StoreError> {
        self.check()?;
        let tables = self.budget_tables();
        let mut held = tables.claims.borrow_mut();
        for key in &settlement.released {
            if held
                .get(key)
                .is_some_and(|(claim, _)| *claim == settlement.claim_id)
            {
                held.remove(key);
            }
        }
        tables
            .log
            .borrow_mut()
            .extend(settlement.records.iter().cloned());
        let mut settings = tables.settings.borrow_mut();
        for project in &settlement.alerted {
            if let Some(s) = settings.get_mut(project) {
                s.last_alert_sent = Some(settlement.at);
            }
        }
        Ok(())
    }

    async fn alerts(
        &self,
        project: Option<&ProjectId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.check()?;
        Ok(self
            .budget_tables()
            .log
            .borrow()
            .iter()
            .rev()
            .filter(|r| project.is_none_or(|p| p.as_str() == r.project_id))
            .take(limit as usize)
            .cloned()
            .collect())
    }
}
