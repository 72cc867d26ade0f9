//! In-memory implementations of the storage traits, for host tests of core logic. They keep
//! the same contracts as the D1 adapters (conflicts, cascades, revocation).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::kernel::error::StoreError;
use crate::access::keys::ApiKeyRecord;
use crate::pricing::prices::PriceStore;
use crate::pricing::catalog::{Origin, PriceEntry};
use crate::access::projects::{Project, ProjectId};
use crate::kernel::query::UsageQuery;
use crate::usage::record::{StoredEvent, StoredPrice};
use crate::usage::store::{
    EventKey, InsertMode, Inserted, KeyStore, ListedEvent, ProjectStore, RawListing, RawLog,
    RepriceStore, ScanFilter, UnpricedModel, UsageStore,
};

#[derive(Debug, Default)]
pub struct MemoryStore {
    projects: RefCell<BTreeMap<ProjectId, Project>>,
    keys: RefCell<Vec<ApiKeyRecord>>,
    prices: RefCell<BTreeMap<String, PriceEntry>>,
    events: RefCell<Vec<ListedEvent>>,
    /// Events whose raw rows were pruned: gone from listings and scans, still in every
    /// rollup and job total, as in D1.
    pruned: RefCell<Vec<ListedEvent>>,
    retention: RefCell<crate::usage::retention::RetentionState>,
    event_keys: RefCell<HashSet<EventKey>>,
    next_seq: Cell<i64>,
    plans: RefCell<BTreeMap<(String, String, String), crate::plans::Plan>>,
    /// Every saved or deleted (`None`) version of a plan, with the time it took effect.
    plan_versions: RefCell<Vec<PlanVersion>>,
    /// Keyed by (name, project id or '' for a global profile).
    profiles: RefCell<BTreeMap<(String, String), crate::plans::Profile>>,
    /// When set, every operation fails as an unreachable database would.
    pub fail: RefCell<bool>,
    /// When set, only event inserts fail (the database went away after validation).
    pub fail_event_writes: Cell<bool>,
    /// When set, event inserts are stored and then reported as failed (the database
    /// committed, but its answer was lost).
    pub lose_event_write_answers: Cell<bool>,
}

type PlanVersion = (
    (String, String, String),
    chrono::DateTime<chrono::Utc>,
    Option<crate::plans::Plan>,
);

/// An in-memory raw log (R2), with a switch to make writes fail.
#[derive(Debug, Default)]
pub struct MemoryLog {
    pub objects: RefCell<BTreeMap<String, Vec<u8>>>,
    pub fail_writes: Cell<bool>,
    /// When set, only deletes fail.
    pub fail_deletes: Cell<bool>,
}

impl MemoryStore {
    /// Every stored event, in insertion order.
    pub fn stored_events(&self) -> Vec<StoredEvent> {
        self.events
            .borrow()
            .iter()
            .map(|e| e.event.clone())
            .collect()
    }

    /// Forgets every stored event (a wiped usage table).
    pub fn wipe_events(&self) {
        self.events.borrow_mut().clear();
        self.pruned.borrow_mut().clear();
        self.event_keys.borrow_mut().clear();
        *self.retention.borrow_mut() = Default::default();
    }

    /// Drops every stored fingerprint, as rows written before they existed have none.
    pub fn forget_fingerprints(&self) {
        for listed in self.events.borrow_mut().iter_mut() {
            listed.event.fingerprint = None;
        }
    }

    /// Sets every stored fingerprint to `fingerprint`, as rows written under an earlier rule
    /// of `UsageEvent::fingerprint` hold one of that rule.
    pub fn set_fingerprints(&self, fingerprint: &str) {
        for listed in self.events.borrow_mut().iter_mut() {
            listed.event.fingerprint = Some(fingerprint.to_string());
        }
    }

    /// Every event the rollups count: the stored ones and the pruned ones.
    fn counted_events(&self) -> Vec<ListedEvent> {
        let mut all = self.events.borrow().clone();
        all.extend(self.pruned.borrow().iter().cloned());
        all
    }

    /// Whether an event falls before the retention watermark (its day may have been pruned).
    fn before_watermark(&self, event: &StoredEvent) -> bool {
        self.retention
            .borrow()
            .pruned_before
            .is_some_and(|w| crate::usage::retention::before_watermark(event.day(), w))
    }
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

fn price_id(entry: &PriceEntry) -> String {
    match &entry.origin {
        Origin::Custom { id, .. } => id.clone(),
        Origin::Builtin => format!(
            "{}|{}|{}",
            entry.provider, entry.model, entry.effective_from
        ),
    }
}

impl PriceStore for MemoryStore {
    async fn upsert_prices(&self, entries: &[PriceEntry]) -> Result<(), StoreError> {
        self.check()?;
        let mut prices = self.prices.borrow_mut();
        for entry in entries {
            prices.insert(price_id(entry), entry.clone());
        }
        Ok(())
    }

    async fn list_custom_prices(&self) -> Result<Vec<PriceEntry>, StoreError> {
        self.check()?;
        Ok(self.prices.borrow().values().cloned().collect())
    }

    async fn custom_prices_for(&self, lookups: &[String]) -> Result<Vec<PriceEntry>, StoreError> {
        self.check()?;
        Ok(self
            .prices
            .borrow()
            .values()
            .filter(|entry| entry.answers_to(lookups))
            .cloned()
            .collect())
    }

    async fn delete_price(&self, id: &str) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.prices.borrow_mut().remove(id).is_some())
    }
}

impl UsageStore for MemoryStore {
    async fn existing_projects(&self, ids: &[ProjectId]) -> Result<Vec<ProjectId>, StoreError> {
        self.check()?;
        let projects = self.projects.borrow();
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
    ) -> Result<Vec<Inserted>, StoreError> {
        self.check()?;
        if self.fail_event_writes.get() {
            return Err(StoreError::Unavailable("event writes set to fail".into()));
        }
        let mut keys = self.event_keys.borrow_mut();
        let mut stored = self.events.borrow_mut();
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
                let seq = self.next_seq.get() + 1;
                self.next_seq.set(seq);
                stored.push(ListedEvent {
                    seq,
                    event: event.clone(),
                });
                Inserted::Stored
            };
            inserted.push(outcome);
        }
        if self.lose_event_write_answers.get() {
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
                            .and_then(crate::kernel::query::metadata_text)
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
        && filter.model.as_ref().is_none_or(|v| *v == e.model)
        && filter
            .from
            .as_ref()
            .is_none_or(|f| e.request_timestamp >= *f)
        && filter.to.as_ref().is_none_or(|t| e.request_timestamp < *t)
        && (!filter.only_unpriced || e.cost_nanos.is_none())
}

impl RepriceStore for MemoryStore {
    async fn scan_events(
        &self,
        filter: &ScanFilter,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ListedEvent>, StoreError> {
        self.check()?;
        Ok(self
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
        let mut stored = self.events.borrow_mut();
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
        Ok(changed)
    }

    async fn unpriced_models(&self, filter: &ScanFilter) -> Result<Vec<UnpricedModel>, StoreError> {
        self.check()?;
        let mut groups: BTreeMap<(String, String, String), UnpricedModel> = BTreeMap::new();
        let mut projects: BTreeMap<(String, String, String), HashSet<String>> = BTreeMap::new();
        for l in self.events.borrow().iter() {
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

impl crate::reports::report::ReportStore for MemoryStore {
    async fn rollups(
        &self,
        query: &crate::reports::report::RollupQuery,
    ) -> Result<Vec<crate::reports::report::RollupRow>, StoreError> {
        use crate::reports::report::{Dim, RollupRow, RollupTable, MEASURES};
        self.check()?;
        let parts = query.parts();
        // A period plan, as a lookup of the day's period, and its moves.
        let plan_days: HashMap<&str, &str> = query
            .periods
            .iter()
            .flat_map(|p| p.days.iter().map(|(d, l)| (d.as_str(), l.as_str())))
            .collect();
        let moves = query.periods.iter().flat_map(|p| p.moves.iter());
        let mut groups: BTreeMap<Vec<String>, RollupRow> = BTreeMap::new();
        for listed in &self.counted_events() {
            let e = &listed.event;
            let quarter = e
                .timestamp()
                .map(crate::reports::report::quarter_bucket)
                .unwrap_or_default();
            // Where the event counts: (bucket, period, sign). Without a plan, once, in the
            // first read whose table and bounds hold it; with one, as the plan's days and
            // moves say, exactly as the SQL of a plan sums the rollups.
            let counts: Vec<(Option<String>, Option<String>, i64)> = if query.periods.is_some() {
                plan_days
                    .get(e.day())
                    .map(|label| (None, Some(label.to_string()), 1))
                    .into_iter()
                    .chain(
                        moves
                            .clone()
                            .filter(|m| quarter >= m.from && quarter < m.to)
                            .map(|m| (None, Some(m.period.clone()), m.sign)),
                    )
                    .collect()
            } else {
                parts
                    .iter()
                    .find_map(|part| {
                        let bucket = match part.table {
                            RollupTable::QuarterHours => quarter.clone(),
                            RollupTable::Daily => e.day().to_string(),
                        };
                        let inside = part.from.as_ref().is_none_or(|f| bucket >= *f)
                            && part.to.as_ref().is_none_or(|t| bucket < *t);
                        inside.then(|| (query.by_bucket.then_some(bucket), None, 1))
                    })
                    .into_iter()
                    .collect()
            };
            if query
                .project_id
                .as_ref()
                .is_some_and(|p| p.as_str() != e.project_id)
                || query.provider.as_ref().is_some_and(|p| *p != e.provider)
                || query.model.as_ref().is_some_and(|m| *m != e.model)
            {
                continue;
            }
            let dim = |d: Dim| {
                query.dims.contains(&d).then(|| match d {
                    Dim::Project => e.project_id.clone(),
                    Dim::Provider => e.provider.clone(),
                    Dim::Model => e.model.clone(),
                    Dim::Operation => e.operation.clone(),
                })
            };
            let values = [
                1,
                i64::from(e.cost_nanos.is_none()),
                i64::from(e.cached),
                i64::from(!e.success),
                e.duration_ms.unwrap_or(0),
                e.input_tokens,
                e.output_tokens,
                e.total_tokens,
                e.cached_input_tokens,
                e.cache_write_tokens,
                e.reasoning_tokens,
                e.audio_input_tokens,
                e.audio_output_tokens,
                e.characters,
                e.audio_seconds_micros,
                e.video_seconds_micros,
                e.images,
                e.requests,
                e.tracks,
                e.credits_micros,
            ];
            for (bucket, period, sign) in counts {
                let row = RollupRow {
                    bucket,
                    period,
                    project_id: dim(Dim::Project),
                    provider: dim(Dim::Provider),
                    model: dim(Dim::Model),
                    operation: dim(Dim::Operation),
                    currency: e.currency.clone(),
                    cost_nanos: 0,
                    measures: [0; MEASURES.len()],
                };
                let key = vec![
                    row.bucket.clone().unwrap_or_default(),
                    row.period.clone().unwrap_or_default(),
                    row.project_id.clone().unwrap_or_default(),
                    row.provider.clone().unwrap_or_default(),
                    row.model.clone().unwrap_or_default(),
                    row.operation.clone().unwrap_or_default(),
                    row.currency.clone(),
                ];
                let group = groups.entry(key).or_insert(row);
                group.cost_nanos += i128::from(sign) * i128::from(e.cost_nanos.unwrap_or(0));
                for (total, value) in group.measures.iter_mut().zip(values) {
                    *total += sign * value;
                }
            }
        }
        // Hours moved out of a day's period leave no empty group behind, as in SQL.
        if query.periods.is_some() {
            groups.retain(|_, row| row.measures[0] != 0);
        }
        Ok(groups.into_values().collect())
    }

    async fn rollup_days(
        &self,
    ) -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>, StoreError> {
        self.check()?;
        let days: Vec<chrono::NaiveDate> = self
            .counted_events()
            .iter()
            .filter_map(|l| chrono::NaiveDate::parse_from_str(l.event.day(), "%Y-%m-%d").ok())
            .collect();
        Ok(days.iter().min().copied().zip(days.iter().max().copied()))
    }

    async fn last_event_at(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self
            .events
            .borrow()
            .iter()
            .filter(|l| project.is_none_or(|p| p.as_str() == l.event.project_id))
            .map(|l| l.event.request_timestamp.clone())
            .max())
    }

    async fn newest_by_provider(
        &self,
        span: &crate::reports::report::QuarterSpan,
        project: Option<&ProjectId>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.check()?;
        let mut newest: BTreeMap<String, String> = BTreeMap::new();
        for listed in self.events.borrow().iter() {
            let event = &listed.event;
            if project.is_some_and(|p| p.as_str() != event.project_id)
                || !span.holds(&event.request_timestamp)
            {
                continue;
            }
            let slot = newest.entry(event.provider.clone()).or_default();
            if event.request_timestamp > *slot {
                slot.clone_from(&event.request_timestamp);
            }
        }
        Ok(newest.into_iter().collect())
    }

    async fn recent_minutes(
        &self,
        _since: &str,
        _project: Option<&ProjectId>,
    ) -> Result<Vec<crate::reports::report::MinuteRow>, StoreError> {
        self.check()?;
        Ok(Vec::new())
    }
}

impl crate::plans::PlanStore for MemoryStore {
    async fn plans(&self) -> Result<Vec<crate::plans::Plan>, StoreError> {
        self.check()?;
        Ok(self.plans.borrow().values().cloned().collect())
    }

    async fn plans_at(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::plans::Plan>, StoreError> {
        self.check()?;
        let mut versions = self.plan_versions.borrow().clone();
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
        self.plans.borrow_mut().insert(plan.key(), plan.clone());
        let mut versions = self.plan_versions.borrow_mut();
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
        let mut plans = self.plans.borrow_mut();
        let gone: Vec<(String, String, String)> = plans
            .keys()
            .filter(|(p, scope, u)| {
                p == provider && scope == project && unit.is_none_or(|unit| unit == u)
            })
            .cloned()
            .collect();
        for key in &gone {
            plans.remove(key);
            self.plan_versions
                .borrow_mut()
                .push((key.clone(), at, None));
        }
        Ok(!gone.is_empty())
    }

    async fn profiles(&self) -> Result<Vec<crate::plans::Profile>, StoreError> {
        self.check()?;
        Ok(self.profiles.borrow().values().cloned().collect())
    }

    async fn save_profile(&self, profile: &crate::plans::Profile) -> Result<(), StoreError> {
        self.check()?;
        self.profiles
            .borrow_mut()
            .insert(profile.key(), profile.clone());
        Ok(())
    }

    async fn delete_profile(&self, name: &str, project: Option<&str>) -> Result<bool, StoreError> {
        self.check()?;
        let key = (name.to_string(), project.unwrap_or_default().to_string());
        Ok(self.profiles.borrow_mut().remove(&key).is_some())
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

impl crate::usage::retention::RetentionStore for MemoryStore {
    async fn retention_state(&self) -> Result<crate::usage::retention::RetentionState, StoreError> {
        self.check()?;
        Ok(self.retention.borrow().clone())
    }

    async fn advance_watermark(
        &self,
        before: chrono::NaiveDate,
    ) -> Result<chrono::NaiveDate, StoreError> {
        self.check()?;
        let mut state = self.retention.borrow_mut();
        let watermark = state.pruned_before.map_or(before, |w| w.max(before));
        state.pruned_before = Some(watermark);
        Ok(watermark)
    }

    async fn prune_rows(&self, limit: u32) -> Result<u64, StoreError> {
        self.check()?;
        let mut events = self.events.borrow_mut();
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
        self.pruned.borrow_mut().extend(gone);
        Ok(due as u64)
    }

    async fn record_prune(&self, rows: u64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.check()?;
        let mut state = self.retention.borrow_mut();
        state.rows_pruned += rows as i64;
        state.last_pruned_at = Some(crate::kernel::clock::format_timestamp(at));
        Ok(())
    }
}
