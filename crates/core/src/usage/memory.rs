//! Usage in memory, for host tests: the events, their keys and retention state that `usage`
//! keeps in a [`MemoryStore`], and the raw log in a [`MemoryLog`].

use chrono::{DateTime, Utc};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::access::projects::ProjectId;
use crate::kernel::error::StoreError;
use crate::kernel::testing::{MemoryLog, MemoryStore};
use crate::usage::list::UsageQuery;
use crate::usage::record::StoredEvent;
use crate::usage::retention::RetentionState;
use crate::usage::store::{
    Acknowledged, EventKey, InsertMode, Inserted, ListedEvent, RawListing, RawLog, RepriceStore,
    ScanFilter, UnpricedModel, UsageStore,
};
use crate::usage::stored_price::StoredPrice;

#[derive(Debug, Default)]
pub(crate) struct UsageTables {
    pub(crate) events: RefCell<Vec<ListedEvent>>,
    /// Events whose raw rows were pruned: gone from listings and scans, still in every
    /// rollup and job total, as in D1.
    pub(crate) pruned: RefCell<Vec<ListedEvent>>,
    pub(crate) retention: RefCell<RetentionState>,
    pub(crate) event_keys: RefCell<HashSet<EventKey>>,
    pub(crate) next_seq: Cell<i64>,
    /// Raw-log acknowledgements, as D1's `raw_log_acks` (migration 0022).
    pub(crate) acks: RefCell<Acks>,
}

/// As `raw_log_acks`: acknowledged keys with their already-stored events, and the stamp
/// objects are acknowledged from (`None`: the table was wiped, every object counts).
#[derive(Debug)]
pub(crate) struct Acks {
    pub(crate) since: Option<String>,
    pub(crate) objects: HashMap<String, HashSet<EventKey>>,
}

impl Default for Acks {
    /// As after the migration: every object of the worker's own key form is acknowledged.
    fn default() -> Self {
        Acks {
            since: Some(String::new()),
            objects: HashMap::new(),
        }
    }
}

impl MemoryStore {
    pub(crate) fn usage_tables(&self) -> &UsageTables {
        self.part()
    }
}

impl MemoryStore {
    /// Every stored event, in insertion order.
    pub fn stored_events(&self) -> Vec<StoredEvent> {
        self.usage_tables()
            .events
            .borrow()
            .iter()
            .map(|e| e.event.clone())
            .collect()
    }

    /// Forgets every stored event (a wiped usage table).
    pub fn wipe_events(&self) {
        self.usage_tables().events.borrow_mut().clear();
        self.usage_tables().pruned.borrow_mut().clear();
        self.usage_tables().event_keys.borrow_mut().clear();
        *self.usage_tables().retention.borrow_mut() = Default::default();
    }

    /// Drops the raw-log acknowledgements, with the row saying from when they exist, as a
    /// wipe of `raw_log_acks` does: rebuild then replays every object.
    pub fn wipe_acknowledgements(&self) {
        *self.usage_tables().acks.borrow_mut() = Acks {
            since: None,
            objects: HashMap::new(),
        };
    }

    /// Drops every stored fingerprint, as rows written before they existed have none.
    pub fn forget_fingerprints(&self) {
        for listed in self.usage_tables().events.borrow_mut().iter_mut() {
            listed.event.fingerprint = None;
        }
    }

    /// Sets every stored fingerprint to `fingerprint`, as rows written under an earlier rule
    /// of `UsageEvent::fingerprint` hold one of that rule.
    pub fn set_fingerprints(&self, fingerprint: &str) {
        for listed in self.usage_tables().events.borrow_mut().iter_mut() {
            listed.event.fingerprint = Some(fingerprint.to_string());
        }
    }

    /// Every event the rollups count: the stored ones and the pruned ones.
    pub(crate) fn counted_events(&self) -> Vec<ListedEvent> {
        let mut all = self.usage_tables().events.borrow().clone();
        all.extend(self.usage_tables().pruned.borrow().iter().cloned());
        all
    }

    /// Whether an event falls before the retention watermark (its day may have been pruned).
    pub(crate) fn before_watermark(&self, event: &StoredEvent) -> bool {
        self.usage_tables()
            .retention
            .borrow()
            .pruned_before
            .is_some_and(|w| crate::usage::retention::before_watermark(event.day(), w))
    }
}

impl UsageStore for MemoryStore {
    async fn existing_projects(&self, ids: &[ProjectId]) -> Result<Vec<ProjectId>, StoreError> {
        self.check()?;
        let projects = self.access_tables().projects.borrow();
        Ok(ids
            .iter()
            .filter(|id| projects.contains_key(id))
            .cloned()
            .collect())
    }

    async fn insert_events(
        &self,
        events: &[StoredEvent],
        mode: InsertMode,
        ack: Option<&str>,
    ) -> Result<Vec<Inserted>, StoreError> {
        self.check()?;
        if self.fail_event_writes.get() {
            if self.unreachable_after_event_write.get() {
                *self.fail.borrow_mut() = true;
            }
            return Err(StoreError::Unavailable("event writes set to fail".into()));
        }
        let mut keys = self.usage_tables().event_keys.borrow_mut();
        let mut stored = self.usage_tables().events.borrow_mut();
        if matches!(mode, InsertMode::RefuseReusedIds | InsertMode::Replay) {
            // As D1's insert: against the events stored before this write, all or nothing.
            let reused: Vec<EventKey> = events
                .iter()
                .filter(|e| {
                    keys.contains(&e.key())
                        && stored
                            .iter()
                            .any(|l| l.event.key() == e.key() && e.reuses_id_of(&l.event))
                })
                .map(StoredEvent::key)
                .collect();
            if !reused.is_empty() {
                return Err(StoreError::IdReused(reused));
            }
        }
        if let Some(ack) = ack {
            // As D1's acknowledgement, written before the insert in the same transaction.
            let already: HashSet<EventKey> = events
                .iter()
                .map(StoredEvent::key)
                .filter(|key| keys.contains(key))
                .collect();
            let mut acks = self.usage_tables().acks.borrow_mut();
            acks.objects.entry(ack.to_string()).or_insert(already);
        }
        let mut inserted = Vec::with_capacity(events.len());
        for event in events {
            let key = event.key();
            let outcome = if keys.contains(&key) {
                let first = stored.iter_mut().find(|l| l.event.key() == key);
                let answer = first.as_ref().map(|l| StoredPrice::of(&l.event));
                if let Some(listed) = first {
                    let same_event = matches!(
                        (&listed.event.fingerprint, &event.fingerprint),
                        (Some(a), Some(b)) if a == b
                    );
                    if mode == InsertMode::Replay && same_event {
                        listed.event.request_timestamp = event.request_timestamp.clone();
                    }
                }
                Inserted::Duplicate(answer)
            } else if self.before_watermark(event) {
                // As in D1: an event before the watermark was counted before its row was pruned.
                Inserted::Duplicate(None)
            } else {
                keys.insert(key);
                let seq = self.usage_tables().next_seq.get() + 1;
                self.usage_tables().next_seq.set(seq);
                stored.push(ListedEvent {
                    seq,
                    event: event.clone(),
                });
                Inserted::Stored
            };
            inserted.push(outcome);
        }
        if self.lose_event_write_answers.replace(false) {
            if self.unreachable_after_event_write.get() {
                *self.fail.borrow_mut() = true;
            }
            return Err(StoreError::Unavailable(
                "the insert committed but its answer was lost".into(),
            ));
        }
        Ok(inserted)
    }

    async fn list_events(&self, query: &UsageQuery) -> Result<Vec<ListedEvent>, StoreError> {
        self.check()?;
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let same_opt =
            |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        let mut out: Vec<ListedEvent> = self
            .usage_tables()
            .events
            .borrow()
            .iter()
            .filter(|l| {
                let e = &l.event;
                query
                    .project_id
                    .as_ref()
                    .is_none_or(|p| p.as_str() == e.project_id)
                    && same(&query.provider, &e.provider)
                    && same(&query.model, &e.model)
                    && same(&query.operation, &e.operation)
                    && same_opt(&query.job_id, &e.job_id)
                    && same_opt(&query.session_id, &e.session_id)
                    && query
                        .from
                        .as_ref()
                        .is_none_or(|f| e.request_timestamp >= *f)
                    && query.to.as_ref().is_none_or(|t| e.request_timestamp < *t)
                    && query.unpriced.is_none_or(|u| u == e.cost_nanos.is_none())
                    && query.metadata.iter().all(|(key, want)| {
                        e.metadata
                            .as_ref()
                            .and_then(|m| m.get(key))
                            .and_then(crate::usage::list::metadata_text)
                            .is_some_and(|have| have == *want)
                    })
                    && query.after.as_ref().is_none_or(|c| {
                        (e.request_timestamp.as_str(), l.seq) < (c.timestamp.as_str(), c.seq)
                    })
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            (b.event.request_timestamp.as_str(), b.seq)
                .cmp(&(a.event.request_timestamp.as_str(), a.seq))
        });
        out.truncate(query.limit as usize + 1);
        Ok(out)
    }

    async fn acknowledged(&self, keys: &[String]) -> Result<Acknowledged, StoreError> {
        self.check()?;
        let acks = self.usage_tables().acks.borrow();
        Ok(Acknowledged {
            since: acks.since.clone(),
            objects: keys
                .iter()
                .filter_map(|k| Some((k.clone(), acks.objects.get(k)?.clone())))
                .collect(),
        })
    }
}

impl RawLog for MemoryLog {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        if self.fail_writes.get() {
            return Err(StoreError::Unavailable("raw log writes set to fail".into()));
        }
        let mut objects = self.objects.borrow_mut();
        if objects.contains_key(key) {
            return Err(StoreError::Conflict(format!("object {key} exists")));
        }
        objects.insert(key.to_string(), body);
        Ok(())
    }

    async fn put_overwrite(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        if self.fail_writes.get() {
            return Err(StoreError::Unavailable("raw log writes set to fail".into()));
        }
        self.objects.borrow_mut().insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.objects.borrow().get(key).cloned())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if self.fail_writes.get() || self.fail_deletes.get() {
            return Err(StoreError::Unavailable("raw log writes set to fail".into()));
        }
        self.objects.borrow_mut().remove(key);
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<RawListing, StoreError> {
        let objects = self.objects.borrow();
        let mut keys: Vec<String> = objects
            .keys()
            .filter(|k| k.starts_with(prefix) && start_after.is_none_or(|s| k.as_str() > s))
            .cloned()
            .collect();
        let truncated = keys.len() > limit;
        keys.truncate(limit);
        Ok(RawListing { keys, truncated })
    }
}

fn scan_matches(filter: &ScanFilter, e: &StoredEvent) -> bool {
    filter
        .project_id
        .as_ref()
        .is_none_or(|p| p.as_str() == e.project_id)
        && filter.provider.as_ref().is_none_or(|v| *v == e.provider)
        && (filter.models.is_empty() || filter.models.contains(&e.model))
        && filter
            .from
            .as_ref()
            .is_none_or(|f| e.request_timestamp >= *f)
        && filter.to.as_ref().is_none_or(|t| e.request_timestamp < *t)
        && (!filter.only_unpriced || e.cost_nanos.is_none())
}

impl RepriceStore for MemoryStore {
    async fn stored_models(
        &self,
        project: Option<&ProjectId>,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut names: Vec<(String, String)> = self
            .stored_events()
            .into_iter()
            .filter(|e| project.is_none_or(|p| p.as_str() == e.project_id))
            .filter(|e| provider.is_none_or(|p| p == e.provider))
            .map(|e| (e.provider, e.model))
            .collect();
        crate::kernel::sort::sort(&mut names);
        names.dedup();
        Ok(names)
    }

    async fn scan_events(
        &self,
        filter: &ScanFilter,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ListedEvent>, StoreError> {
        self.check()?;
        Ok(self
            .usage_tables()
            .events
            .borrow()
            .iter()
            .filter(|l| l.seq > after_seq && scan_matches(filter, &l.event))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn update_pricing(&self, events: &[StoredEvent]) -> Result<usize, StoreError> {
        self.check()?;
        // An update of stored events is an event write: the same switches fail it.
        if self.fail_event_writes.get() {
            return Err(StoreError::Unavailable("event writes set to fail".into()));
        }
        let mut stored = self.usage_tables().events.borrow_mut();
        let mut changed = 0;
        for update in events {
            if let Some(row) = stored.iter_mut().find(|l| l.event.key() == update.key()) {
                if !row.event.same_pricing(update) {
                    let e = &mut row.event;
                    e.cost = update.cost.clone();
                    e.cost_nanos = update.cost_nanos;
                    e.currency = update.currency.clone();
                    e.computed_cost_nanos = update.computed_cost_nanos;
                    e.computed_currency = update.computed_currency.clone();
                    e.reported_cost_nanos = update.reported_cost_nanos;
                    e.unpriced_reason = update.unpriced_reason.clone();
                    e.unpriced_message = update.unpriced_message.clone();
                    e.price_id = update.price_id.clone();
                    changed += 1;
                }
            }
        }
        if self.lose_event_write_answers.replace(false) {
            return Err(StoreError::Unavailable(
                "the update committed but its answer was lost".into(),
            ));
        }
        Ok(changed)
    }

    async fn unpriced_models(&self, filter: &ScanFilter) -> Result<Vec<UnpricedModel>, StoreError> {
        self.check()?;
        let mut groups: BTreeMap<(String, String, String), UnpricedModel> = BTreeMap::new();
        let mut projects: BTreeMap<(String, String, String), HashSet<String>> = BTreeMap::new();
        for l in self.usage_tables().events.borrow().iter() {
            let e = &l.event;
            if e.cost_nanos.is_some() || !scan_matches(filter, e) {
                continue;
            }
            let reason = e.unpriced_reason.clone().unwrap_or_default();
            let key = (e.provider.clone(), e.model.clone(), reason.clone());
            let group = groups.entry(key.clone()).or_insert_with(|| UnpricedModel {
                provider: e.provider.clone(),
                model: e.model.clone(),
                reason,
                message: e.unpriced_message.clone().unwrap_or_default(),
                events: 0,
                projects: 0,
                first_seen: e.request_timestamp.clone(),
                last_seen: e.request_timestamp.clone(),
            });
            group.events += 1;
            if e.request_timestamp < group.first_seen {
                group.first_seen = e.request_timestamp.clone();
            }
            if e.request_timestamp > group.last_seen {
                group.last_seen = e.request_timestamp.clone();
            }
            projects
                .entry(key)
                .or_default()
                .insert(e.project_id.clone());
        }
        let mut out: Vec<UnpricedModel> = groups
            .into_iter()
            .map(|(key, mut g)| {
                g.projects = projects.get(&key).map_or(0, |p| p.len() as i64);
                g
            })
            .collect();
        out.sort_by(|a, b| {
            b.events
                .cmp(&a.events)
                .then_with(|| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)))
        });
        Ok(out)
    }
}

impl crate::usage::store::RetentionStore for MemoryStore {
    async fn retention_state(&self) -> Result<crate::usage::retention::RetentionState, StoreError> {
        self.check()?;
        Ok(self.usage_tables().retention.borrow().clone())
    }

    async fn advance_watermark(
        &self,
        before: chrono::NaiveDate,
    ) -> Result<chrono::NaiveDate, StoreError> {
        self.check()?;
        let mut state = self.usage_tables().retention.borrow_mut();
        let watermark = state.pruned_before.map_or(before, |w| w.max(before));
        state.pruned_before = Some(watermark);
        Ok(watermark)
    }

    async fn prune_rows(&self, limit: u32) -> Result<u64, StoreError> {
        self.check()?;
        let mut events = self.usage_tables().events.borrow_mut();
        events.sort_by(|a, b| {
            (a.event.request_timestamp.as_str(), a.seq)
                .cmp(&(b.event.request_timestamp.as_str(), b.seq))
        });
        let due = events
            .iter()
            .take(limit as usize)
            .take_while(|l| self.before_watermark(&l.event))
            .count();
        let gone: Vec<ListedEvent> = events.drain(..due).collect();
        events.sort_by_key(|l| l.seq);
        self.usage_tables().pruned.borrow_mut().extend(gone);
        Ok(due as u64)
    }

    async fn record_prune(&self, rows: u64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.check()?;
        let mut state = self.usage_tables().retention.borrow_mut();
        state.rows_pruned += rows as i64;
        state.last_pruned_at = Some(crate::kernel::clock::format_timestamp(at));
        Ok(())
    }
}
