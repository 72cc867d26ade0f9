//! The storage seams of usage: stored events (D1's `api_usage` and its rollups), the raw log
//! (R2) and re-pricing. The edge implements them over D1 and R2, and `usage::memory` in memory
//! for host tests. Only the adapters know table names and SQL.

use crate::access::projects::ProjectId;
use chrono::{DateTime, NaiveDate, Utc};

use crate::kernel::error::StoreError;
use crate::usage::list::UsageQuery;
use crate::usage::record::StoredEvent;
use crate::usage::retention::RetentionState;
use crate::usage::stored_price::StoredPrice;

// Futures from D1 are not `Send` (wasm is single-threaded), so these traits use plain
// `async fn` and are only ever used through generics, never `dyn`.

/// Stored usage events (D1's `api_usage` and its rollups).
#[allow(async_fn_in_trait)]
pub trait UsageStore {
    /// Those of `ids` that name an existing project.
    async fn existing_projects(&self, ids: &[ProjectId]) -> Result<Vec<ProjectId>, StoreError>;
    /// Stores every event whose (project, id) is not stored yet, with its rollups, in one
    /// transaction; an event already stored changes nothing. Returns, per event and in order,
    /// what became of it; of an id repeated within `events`, the first occurrence is the one
    /// stored. With [`InsertMode::RefuseReusedIds`], an event whose id is stored for
    /// different content ([`StoredEvent::reuses_id_of`]) fails the whole write with
    /// `StoreError::IdReused`, decided inside the transaction so that racing writers cannot
    /// both pass. With `ack`, the raw object holding `events` is acknowledged in the same
    /// transaction (see [`Acknowledged`]): it exists exactly when the events were stored.
    async fn insert_events(
        &self,
        events: &[StoredEvent],
        mode: InsertMode,
        ack: Option<&str>,
    ) -> Result<Vec<Inserted>, StoreError>;
    /// The acknowledgements of those of `keys` that have one, and from when objects are
    /// acknowledged at all.
    async fn acknowledged(&self, keys: &[String]) -> Result<Acknowledged, StoreError>;
    /// Events matching the query, newest first, at most `query.limit + 1` (the extra one tells
    /// the caller there is a next page).
    async fn list_events(&self, query: &UsageQuery) -> Result<Vec<ListedEvent>, StoreError>;
}

/// Which raw objects were acknowledged: their events were stored (and the request answered
/// 2xx) in the transaction that wrote the acknowledgement. An object of the worker's own key
/// form stamped at or after `since` without one belongs to a request that crashed between its
/// R2 put and its D1 commit, or was refused: rebuild leaves it out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acknowledged {
    /// The raw-key time stamp (`20261205T101500123Z`) from which objects are acknowledged;
    /// `None` when the store has no acknowledgements (never had, or lost them with a wipe):
    /// then every object counts.
    pub since: Option<String>,
    /// Acknowledged keys, each with the events of its object that were already stored
    /// before it (another object holds their stored facts).
    pub objects: std::collections::HashMap<String, std::collections::HashSet<EventKey>>,
}

/// What an insert does with an event whose id is stored for different content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// Ingestion: the client reused an id; refuse the write.
    RefuseReusedIds,
    /// The queue consumer: the first stored stays, as for any duplicate. Its events were
    /// answered 202 before they were written, so an id reused for a different event is not
    /// refused but kept as first stored (docs/SCALING.md).
    KeepFirst,
    /// Rebuild of the raw log: ids reused for a different event are refused as in
    /// ingestion, and a line of the same event (equal fingerprint) at another time moves the
    /// stored event to that time: the later object of an event holds what was acknowledged
    /// (a retry after a crash that left an earlier object; a duplicate's object holds the
    /// stored time, see `ingest::acknowledged_lines`).
    Replay,
}

/// What an insert did with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored now.
    Stored,
    /// Already stored, by an earlier request or earlier in the same one: nothing changed.
    /// Carries what the stored event was priced at; `None` when its row is gone (a day before
    /// the retention watermark, counted before it was pruned).
    Duplicate(Option<StoredPrice>),
}

impl Inserted {
    pub fn is_stored(&self) -> bool {
        matches!(self, Inserted::Stored)
    }
}

/// (project id, event id): unique among stored events.
pub type EventKey = (String, String);

/// A stored event with its storage sequence number (for stable pagination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEvent {
    pub seq: i64,
    pub event: StoredEvent,
}

/// The raw usage log (R2): immutable objects, written once under keys no other writer uses.
#[allow(async_fn_in_trait)]
pub trait RawLog {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
    /// Writes a derived object (a summary) that is meant to be replaced; never used for the
    /// raw log itself.
    async fn put_overwrite(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes the object of a request that was refused after it was written, so that a
    /// rebuild never replays it.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Keys under `prefix` that sort after `start_after`, in key order, at most `limit`.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<RawListing, StoreError>;
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawListing {
    pub keys: Vec<String>,
    /// More keys follow the last one returned.
    pub truncated: bool,
}

/// Which stored events a scan visits (re-pricing): all filters optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanFilter {
    pub project_id: Option<ProjectId>,
    pub provider: Option<String>,
    /// Any of these stored model names (a model and its dated snapshots, for a re-price);
    /// empty: any model.
    pub models: Vec<String>,
    /// Inclusive start and exclusive end of the event timestamps, as stored text.
    pub from: Option<String>,
    pub to: Option<String>,
    pub only_unpriced: bool,
}

/// Models whose events could not be priced, with how many and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnpricedModel {
    pub provider: String,
    pub model: String,
    pub reason: String,
    pub message: String,
    pub events: i64,
    pub projects: i64,
    pub first_seen: String,
    pub last_seen: String,
}

/// Re-pricing and price diagnostics over stored events.
#[allow(async_fn_in_trait)]
pub trait RepriceStore {
    /// Events matching the filter with a sequence number above `after_seq`, in sequence
    /// order, at most `limit`.
    async fn scan_events(
        &self,
        filter: &ScanFilter,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ListedEvent>, StoreError>;
    /// Writes the price fields of these events (matched by project and id) in one
    /// transaction, rollups included; returns how many rows changed.
    async fn update_pricing(&self, events: &[StoredEvent]) -> Result<usize, StoreError>;
    /// Unpriced events grouped by provider, model and reason, most events first.
    async fn unpriced_models(&self, filter: &ScanFilter) -> Result<Vec<UnpricedModel>, StoreError>;
    /// The (provider, model) names usage was ever recorded under, of `project` and `provider`
    /// when given (from the daily rollups: one row per name a day, not per event).
    async fn stored_models(
        &self,
        project: Option<&ProjectId>,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

#[allow(async_fn_in_trait)]
pub trait RetentionStore {
    async fn retention_state(&self) -> Result<RetentionState, StoreError>;
    /// Moves the watermark forward to `before` (never back); returns the watermark in force.
    async fn advance_watermark(&self, before: NaiveDate) -> Result<NaiveDate, StoreError>;
    /// Deletes at most `limit` raw rows of days before the watermark, oldest first, leaving
    /// every rollup as it is; returns how many went.
    async fn prune_rows(&self, limit: u32) -> Result<u64, StoreError>;
    /// Adds `rows` to the count of pruned rows and records when pruning ran.
    async fn record_prune(&self, rows: u64, at: DateTime<Utc>) -> Result<(), StoreError>;
}
