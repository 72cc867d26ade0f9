//! The storage seam of budgets: settings, atomic alert claims and the alert log. The edge
//! implements it over D1; host tests use small fakes of their own.
use chrono::{DateTime, Utc};

use crate::access::projects::ProjectId;
use crate::budgets::settings::{
    AlertKey, AlertRecord, BudgetSettings, Settlement, UnreadableBudget,
};
use crate::kernel::error::StoreError;

// Futures from D1 are not `Send` (wasm is single-threaded), so these traits use plain
// `async fn` and are only ever used through generics, never `dyn`.

#[allow(async_fn_in_trait)]
pub trait BudgetStore {
    async fn budget(&self, project: &ProjectId) -> Result<Option<BudgetSettings>, StoreError>;
    /// Every project's settings (projects without a budget included); a project whose stored
    /// settings cannot be read comes back as an error of its own, so it never hides the others.
    async fn budgets(&self) -> Result<Vec<Result<BudgetSettings, UnreadableBudget>>, StoreError>;
    async fn save_budget(&self, settings: &BudgetSettings) -> Result<bool, StoreError>;
    /// Claims each of `keys` whose last claim is not newer than `not_after`, in one call and
    /// atomically per key (of two overlapping runs, one wins each key); returns the keys won.
    async fn claim_alerts(
        &self,
        keys: &[AlertKey],
        claim_id: &str,
        now: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError>;
    /// Those of `keys` claimed after `since` (a dry run's view of the windows), in one call.
    async fn claimed_after(
        &self,
        keys: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError>;
    /// The log's records written after `since` for each of `logged` (a scope alerts are logged
    /// under, and a level), in one call: the channels a retry of an alert does not send to
    /// again (status `sent`), and the alert's id. Their project, level, channel, recipient,
    /// status and alert id are all that need be read.
    async fn logged_after(
        &self,
        logged: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>, StoreError>;
    /// Writes what a run did, in one call: its log records, the claims it gives back (a send
    /// of them failed, so the next run retries what did not go out) and the projects it
    /// alerted.
    async fn settle_alerts(&self, settlement: &Settlement) -> Result<(), StoreError>;
    /// Alert attempts, newest first.
    async fn alerts(
        &self,
        project: Option<&ProjectId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError>;
}
