//! The storage seams of reports: the rollups, jobs and the days the summaries must write.
//! The edge implements them over D1, `reports::memory` in memory for host tests.
use chrono::NaiveDate;

use crate::access::projects::ProjectId;
use crate::kernel::error::StoreError;
use crate::reports::jobs::{JobCostRead, JobQuery, JobRow};
use crate::reports::report::{MinuteRow, QuarterSpan, RollupQuery, RollupRow};
use crate::reports::summaries::DirtyDay;

// Futures from D1 are not `Send` (wasm is single-threaded), so these traits use plain
// `async fn` and are only ever used through generics, never `dyn`.

#[allow(async_fn_in_trait)]
pub trait ReportStore {
    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<RollupRow>, StoreError>;
    /// Several reads, each answered as [`ReportStore::rollups`] would; D1 makes them in one
    /// call (a batch), so a read per plan or per time zone costs no more calls.
    async fn rollups_many(
        &self,
        queries: &[RollupQuery],
    ) -> Result<Vec<Vec<RollupRow>>, StoreError> {
        let mut out = Vec::with_capacity(queries.len());
        for query in queries {
            out.push(self.rollups(query).await?);
        }
        Ok(out)
    }
    /// The first and last UTC day of the daily rollups, if any usage is stored.
    async fn rollup_days(&self) -> Result<Option<(NaiveDate, NaiveDate)>, StoreError>;
    /// The timestamp of the newest stored event (of one project, if given).
    async fn last_event_at(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Option<String>, StoreError>;
    /// The timestamp of each provider's newest stored event in `span` (of one project, if
    /// given), as `(provider, timestamp)`. A provider whose newest events there were pruned
    /// by retention is left out.
    async fn newest_by_provider(
        &self,
        span: &QuarterSpan,
        project: Option<&ProjectId>,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Events since `since` (stored text) summed per minute (`YYYY-MM-DDTHH:MM`) and currency.
    async fn recent_minutes(
        &self,
        since: &str,
        project: Option<&ProjectId>,
    ) -> Result<Vec<MinuteRow>, StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait JobStore {
    /// Jobs per project whose first event falls on a UTC day in `[from, to)` (`None`
    /// unbounded). Counted per day as jobs come and go, so that the read follows the days in
    /// range, not the number of jobs.
    async fn job_counts(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// Jobs matching the query, newest first, with their parts.
    async fn jobs(&self, query: &JobQuery) -> Result<Vec<JobRow>, StoreError>;
    /// Cost distribution per project, operation and currency of the newest `max_jobs` jobs
    /// matching the query (by first event, then project and job id, both descending).
    async fn job_cost_stats(&self, query: &JobQuery) -> Result<JobCostRead, StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait SummaryStore {
    async fn dirty_days(&self) -> Result<Vec<DirtyDay>, StoreError>;
    /// Forgets a day, unless it changed again since `changes` was read.
    async fn clear_dirty_day(&self, day: &DirtyDay) -> Result<(), StoreError>;
}
