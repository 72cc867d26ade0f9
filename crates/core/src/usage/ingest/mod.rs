//! Ingestion: a request of one event or a batch becomes priced [`StoredEvent`]s, written first
//! to the raw log (R2) as one immutable object, then to the usage store (D1) idempotently.
//! Rebuild replays the raw log into the store.
//!
//! The order is what makes "nothing lost, nothing counted twice" hold:
//! 1. Everything is validated and priced before anything is written; one bad event rejects
//!    the whole request and nothing is written anywhere.
//! 2. The raw object is written under a key no other request can produce. If that fails, the
//!    client gets a retryable error and nothing was written.
//! 3. The rows are inserted keyed by (project, event id), so a retry, an interleaved
//!    duplicate or a replay of the raw log never stores an event twice. If this fails, the
//!    client gets a retryable error and the raw object is withdrawn (deleted, or marked void
//!    when the delete fails), so a rebuild never restores what was not acknowledged.
//! 4. A duplicate stored with other server-side facts (a later server time, a changed price)
//!    is answered with the stored ones, and the object is rewritten under a new key to say
//!    the same, so the raw log holds exactly what was acknowledged.

use std::borrow::Cow;
use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::access::auth::Principal;
use crate::access::projects::ProjectId;
use crate::kernel::clock::{random_token, Clock, Entropy};
use crate::kernel::date_text::{compact_stamp, date_text};
use crate::kernel::error::{CoreError, FieldError, StoreError};
use crate::kernel::input::{body_text, field_at_fault};
use crate::kernel::json_out::{push_array, Object};
use crate::kernel::money::{Currency, Money, Totals};
use crate::pricing::catalog::{builtin, Catalog, PriceBook};
use crate::pricing::prices::{lookups_for, Pricing};
use crate::pricing::store::PriceStore;
use crate::pricing::Unpriced;
use crate::usage::event::{EventInput, EventName, EventRules, UsageEvent, DEFAULT_MODEL};
use crate::usage::price::RequestPricer;
use crate::usage::record::{from_ndjson, price_id, to_ndjson, BadLine, StoredEvent};
use crate::usage::reprice::REPRICE_PREFIX;
use crate::usage::retention::before_watermark;
use crate::usage::store::RetentionStore;
use crate::usage::store::{EventKey, InsertMode, Inserted, RawLog, RepriceStore, UsageStore};
use crate::usage::stored_price::StoredPrice;

mod batch;
mod queued;
mod rebuild;
mod warning;

pub use batch::*;
pub use queued::*;
pub use rebuild::*;
pub use warning::*;

/// The most events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 1000;
/// How many days late an event may arrive, unless configured otherwise.
pub const DEFAULT_MAX_EVENT_AGE_DAYS: i64 = 90;
/// Where the raw log lives in the bucket.
pub const RAW_PREFIX: &str = "usage-logs/raw/";

/// What happened to one event of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored now.
    Stored,
    /// Already stored (a retry, or repeated in this request): not stored or counted again.
    Duplicate,
    /// Accepted for the queue: priced now, stored by the queue's consumer (which treats a
    /// retry or a repeat as a duplicate, first stored wins).
    Queued,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventOutcome {
    pub index: usize,
    pub id: String,
    pub project_id: String,
    pub status: Outcome,
    pub duplicate: bool,
    /// The cost that counts: reported if the client sent one, else computed; `None` when
    /// unpriced.
    pub cost: Option<Money>,
    pub currency: Option<Currency>,
    /// Only when it differs from `cost` (a reported cost, a cache hit): what the price list
    /// makes of the event. Left out otherwise, as is an absent reported cost, so that the
    /// answer to a batch of 1,000 stays small.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_cost: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_cost: Option<Money>,
    pub unpriced: Option<Unpriced>,
    pub timestamp: String,
    /// What the client may want to fix although the event was accepted: an event without a
    /// model, recorded as `default` ([`model_warning`]). Left out when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldError>,
}

/// The answer to an ingestion request.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub success: bool,
    pub accepted: usize,
    pub stored: usize,
    pub duplicates: usize,
    /// Stored events that could not be priced (counted apart in every total).
    pub unpriced: usize,
    /// Cost of the events stored now, per currency.
    pub stored_cost: Totals,
    /// The raw-log object holding this request's events.
    pub raw_object: String,
    pub events: Vec<EventOutcome>,
    /// The events stored now, as stored (not part of the answer): what the spend guard's
    /// watch adds to the plans they count against.
    #[serde(skip)]
    pub stored_events: Vec<StoredEvent>,
    /// Events accepted for the queue, to be stored by its consumer (the queue path; left out
    /// of a synchronous answer).
    #[serde(skip_serializing_if = "is_zero")]
    pub queued: usize,
}

impl IngestReport {
    /// Writes the report's members into an answer object being written (the edge adds the
    /// guard's state after them), as serde's derived writing would: by hand, since the events'
    /// part is written once per event (see [`crate::kernel::json_out`]).
    pub fn write_members(&self, answer: &mut Object) -> Result<(), serde_json::Error> {
        answer.bool("success", self.success);
        answer.uint("accepted", self.accepted as u64);
        answer.uint("stored", self.stored as u64);
        answer.uint("duplicates", self.duplicates as u64);
        answer.uint("unpriced", self.unpriced as u64);
        push_array(
            answer.key("stored_cost"),
            self.stored_cost.iter(),
            |out, cost| cost.write_json(out),
        )?;
        answer.str("raw_object", &self.raw_object);
        push_array(answer.key("events"), &self.events, |out, event| {
            event.write_json(out)
        })?;
        if self.queued != 0 {
            answer.uint("queued", self.queued as u64);
        }
        Ok(())
    }

    /// The report as JSON, as serde writes it.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(256 + self.events.len() * 256);
        let mut answer = Object::open(&mut out);
        self.write_members(&mut answer)?;
        answer.close();
        Ok(out)
    }
}

impl EventOutcome {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut event = Object::open(out);
        event.uint("index", self.index as u64);
        event.str("id", &self.id);
        event.str("project_id", &self.project_id);
        event.str(
            "status",
            match self.status {
                Outcome::Stored => "stored",
                Outcome::Duplicate => "duplicate",
                Outcome::Queued => "queued",
            },
        );
        event.bool("duplicate", self.duplicate);
        match &self.cost {
            Some(cost) => cost.write_json(event.key("cost"))?,
            None => event.key("cost").extend_from_slice(b"null"),
        }
        match &self.currency {
            Some(currency) => event.str("currency", currency.as_str()),
            None => event.key("currency").extend_from_slice(b"null"),
        }
        if let Some(cost) = &self.computed_cost {
            cost.write_json(event.key("computed_cost"))?;
        }
        if let Some(cost) = &self.reported_cost {
            cost.write_json(event.key("reported_cost"))?;
        }
        match &self.unpriced {
            Some(unpriced) => event.serde("unpriced", unpriced)?,
            None => event.key("unpriced").extend_from_slice(b"null"),
        }
        event.str("timestamp", &self.timestamp);
        if !self.warnings.is_empty() {
            event.serde("warnings", &self.warnings)?;
        }
        event.close();
        Ok(())
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Settings of ingestion that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct IngestConfig {
    pub max_event_age_days: i64,
    /// The retention watermark, when rows were ever pruned (see [`crate::usage::retention`]).
    pub pruned_before: Option<NaiveDate>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_event_age_days: DEFAULT_MAX_EVENT_AGE_DAYS,
            pruned_before: None,
        }
    }
}

/// The time stamp of a raw-log key of the worker's own form
/// (`usage-logs/raw/<day>/<stamp>-<32 hex>.ndjson`, see [`raw_key`]), as `20261205T101500123Z`;
/// `None` for any other key (an object someone put there, such as an import).
pub fn own_key_stamp(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(RAW_PREFIX)?;
    let name = rest.get(11..)?.strip_suffix(".ndjson")?;
    let (stamp, suffix) = name.split_once('-')?;
    let stamp_form = stamp.len() == 19
        && stamp.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            18 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    let suffix_form = suffix.len() == 32 && suffix.bytes().all(|b| b.is_ascii_hexdigit());
    (stamp_form && suffix_form).then_some(stamp)
}

/// The raw-log key of a request received at `now`: its day, a sortable time and 128 random
/// bits, so no two requests ever share a key.
pub fn raw_key(now: DateTime<Utc>, entropy: &impl Entropy) -> Result<String, CoreError> {
    let suffix = random_token(entropy, "", 16)?;
    Ok(format!(
        "{RAW_PREFIX}{}/{}-{suffix}.ndjson",
        date_text(now.date_naive()),
        compact_stamp(now)
    ))
}

/// Validates, prices and assigns a project and id to every event of a batch; all or nothing.
/// The warnings of the records ([`model_warning`]) come with them: they need the entries the
/// events were priced with.
pub async fn prepare(
    usage: &impl UsageStore,
    prices: &impl PriceStore,
    entropy: &impl Entropy,
    principal: &Principal,
    batch: &Batch,
    rules: &EventRules,
) -> Result<Prepared, CoreError> {
    let name = |i: usize| EventName::in_request(i, batch.enveloped);
    let field = |i: usize, f: &str| name(i).field(f);
    let mut problems: Vec<FieldError> = Vec::new();
    let default_project = match &batch.project_id {
        Some(id) => match ProjectId::parse(id) {
            Ok(id) => Some(id),
            Err(m) => return Err(CoreError::invalid("project_id", m)),
        },
        None => None,
    };
    let mut valid: Vec<(usize, UsageEvent)> = Vec::with_capacity(batch.events.len());
    for (i, input) in batch.events.iter().enumerate() {
        let input = match input {
            Ok(input) => input,
            Err(misshapen) => {
                problems.extend(misshapen.all_problems(name(i), rules));
                continue;
            }
        };
        match input.validate(name(i), rules) {
            Ok(event) => valid.push((i, event)),
            Err(errors) => problems.extend(errors.into_iter().map(|e| e.at_index(i))),
        }
    }
    // Assign projects: the event's own, else the batch's, else the key's project.
    let mut projects: Vec<Option<ProjectId>> = Vec::with_capacity(valid.len());
    for (i, event) in &valid {
        let requested = event.project_id.clone().or_else(|| default_project.clone());
        let project = principal
            .scope_to(requested.as_ref())
            .map_err(|e| match e {
                // Another project's id given by the event itself: named as the event's field.
                CoreError::Forbidden(mut refusal) if event.project_id.is_some() => {
                    refusal.field = Some(field(*i, "project_id"));
                    CoreError::Forbidden(refusal)
                }
                other => other,
            })?;
        if project.is_none() {
            problems.push(
                FieldError::new(
                    field(*i, "project_id"),
                    "is required when recording with the admin key",
                )
                .at_index(*i),
            );
        }
        projects.push(project);
    }
    if matches!(principal, Principal::Admin) {
        let wanted = crate::kernel::sort::distinct(projects.iter().flatten().cloned());
        if !wanted.is_empty() {
            // Sorted and searched: no hash set compiled for project ids.
            let existing = crate::kernel::sort::distinct(usage.existing_projects(&wanted).await?);
            for ((i, _), project) in valid.iter().zip(&projects) {
                if let Some(project) = project {
                    if existing.binary_search(project).is_err() {
                        problems.push(
                            FieldError::new(
                                field(*i, "project_id"),
                                format!("project `{project}` does not exist"),
                            )
                            .at_index(*i),
                        );
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        crate::kernel::sort::sort_by_key(&mut problems, |e| e.index);
        return Err(CoreError::Validation(problems));
    }
    let lookups = lookups_for(
        valid
            .iter()
            .map(|(_, e)| (e.provider.as_str(), e.model.as_str())),
    );
    let custom = Catalog::new(prices.custom_prices_for(&lookups).await?);
    let book = PriceBook {
        builtin: builtin(),
        custom: &custom,
    };
    let mut pricer = RequestPricer::new(&book);
    let mut records = Vec::with_capacity(valid.len());
    let mut warnings = Vec::new();
    for ((i, mut event), project) in valid.into_iter().zip(projects) {
        let Some(project) = project else { continue };
        event.project_id = Some(project.clone());
        let id = match event.id.take() {
            Some(id) => id,
            None => random_token(entropy, "evt_", 16)?,
        };
        let at = event.timestamp;
        let priced = pricer.price(&event).and_then(|pricing| {
            StoredEvent::new(event, &project, id, &pricing).map(|record| (record, pricing))
        });
        match priced {
            Ok((record, pricing)) => {
                if let Some(warning) = model_warning(&record, &pricing, &book, at, &project) {
                    warnings.push((records.len(), warning));
                }
                records.push(record);
            }
            Err(e) => problems.push(FieldError::new(field(i, &e.field), e.message).at_index(i)),
        }
    }
    if !problems.is_empty() {
        return Err(CoreError::Validation(problems));
    }
    reused_within(&records, batch.enveloped)?;
    Ok(Prepared {
        records,
        enveloped: batch.enveloped,
        warnings,
    })
}

/// An id sent twice in one request for two different events is refused like one reused
/// from an earlier request; sent twice for the same event, the second is a duplicate.
fn reused_within(records: &[StoredEvent], enveloped: bool) -> Result<(), CoreError> {
    let mut first: FxHashMap<(&str, &str), usize> =
        FxHashMap::with_capacity_and_hasher(records.len(), Default::default());
    let mut reused = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let key = (record.project_id.as_str(), record.id.as_str());
        match first.get(&key) {
            Some(&j) if records.get(j).is_some_and(|r| record.reuses_id_of(r)) => reused.push(
                FieldError::new(
                    EventName::in_request(i, enveloped).field("id"),
                    format!(
                        "`{}` is the id of events[{j}] in this request, a different event",
                        record.id
                    ),
                )
                .at_index(i),
            ),
            Some(_) => {}
            None => {
                first.insert(key, i);
            }
        }
    }
    if reused.is_empty() {
        Ok(())
    } else {
        Err(CoreError::IdReused(reused))
    }
}

/// The problems of the events whose (project, id) is stored for a different event.
fn reused_stored(records: &[StoredEvent], keys: &[EventKey], enveloped: bool) -> Vec<FieldError> {
    // A map to indexes, the type `reused_within` uses (one compiled map for both).
    let keys: FxHashMap<(&str, &str), usize> = keys
        .iter()
        .enumerate()
        .map(|(i, (p, id))| ((p.as_str(), id.as_str()), i))
        .collect();
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| keys.contains_key(&(r.project_id.as_str(), r.id.as_str())))
        .map(|(i, r)| {
            FieldError::new(
                EventName::in_request(i, enveloped).field("id"),
                format!(
                    "`{}` is already stored for a different event in project `{}`",
                    r.id, r.project_id
                ),
            )
            .at_index(i)
        })
        .collect()
}

/// Records a request's events: validate and price all, write the raw object, insert the rows.
#[allow(clippy::too_many_arguments)]
pub async fn ingest(
    usage: &impl UsageStore,
    prices: &impl PriceStore,
    log: &impl RawLog,
    clock: &impl Clock,
    entropy: &impl Entropy,
    principal: &Principal,
    body: &[u8],
    config: IngestConfig,
) -> Result<IngestReport, CoreError> {
    let request = accept_request(usage, prices, clock, entropy, principal, body, config).await?;
    store_request(usage, log, clock, entropy, request).await
}

/// A request validated and priced, not written anywhere yet.
#[derive(Debug)]
pub struct Prepared {
    pub records: Vec<StoredEvent>,
    /// Whether the events came in an envelope (`{"events": [...]}`): how errors name fields.
    pub enveloped: bool,
    /// The answer's warnings, each with the index of its record (few: only events recorded as
    /// model `default` have one).
    pub warnings: Vec<(usize, FieldError)>,
}

/// Parses, validates and prices a request: all or nothing, nothing written.
#[allow(clippy::too_many_arguments)]
pub async fn accept_request(
    usage: &impl UsageStore,
    prices: &impl PriceStore,
    clock: &impl Clock,
    entropy: &impl Entropy,
    principal: &Principal,
    body: &[u8],
    config: IngestConfig,
) -> Result<Prepared, CoreError> {
    let now = clock.now();
    let batch = parse_batch(body)?;
    let rules = EventRules {
        now,
        max_age_days: config.max_event_age_days,
        pruned_before: config.pruned_before,
    };
    prepare(usage, prices, entropy, principal, &batch, &rules)
        .await
        .map_err(|e| match e {
            CoreError::Validation(errors) => {
                CoreError::Validation(crate::usage::event::named_as_sent(errors, body))
            }
            e => e,
        })
}

/// Writes a prepared request: its raw object first, then its rows, refusing ids reused for
/// another event (409); the answer says what was stored.
pub async fn store_request(
    usage: &impl UsageStore,
    log: &impl RawLog,
    clock: &impl Clock,
    entropy: &impl Entropy,
    request: Prepared,
) -> Result<IngestReport, CoreError> {
    let now = clock.now();
    let Prepared {
        records,
        enveloped,
        warnings,
    } = request;
    let key = raw_key(now, entropy)?;
    let bytes = to_ndjson(&records)
        .map_err(|e| CoreError::Misconfigured(format!("encoding the raw log failed: {e}")))?;
    log.put(&key, bytes).await?;
    let inserted = match usage
        .insert_events(&records, InsertMode::RefuseReusedIds, Some(&key))
        .await
    {
        Ok(inserted) => inserted,
        Err(StoreError::IdReused(keys)) => {
            // Nothing of the request was stored, so its raw object must not be replayed
            // either (and a rebuild racing this request refuses the object as a whole).
            withdraw(log, &key).await;
            return Err(CoreError::IdReused(reused_stored(
                &records, &keys, enveloped,
            )));
        }
        Err(e) => {
            match settle_failed_write(usage, log, &key, &records, InsertMode::RefuseReusedIds).await
            {
                // The insert committed and only its answer was lost: answered as stored, since a
                // retry would store again every event the client sent without an id.
                Some(inserted) => inserted,
                None => {
                    // Nothing is acknowledged, so nothing may come back by a rebuild: the client
                    // is told to retry, and its retry (a fresh id or a fresh server time) is what
                    // counts.
                    let cause = match e {
                        StoreError::Conflict(m)
                        | StoreError::Unavailable(m)
                        | StoreError::Corrupt(m) => m,
                        StoreError::IdReused(keys) => format!("{} reused ids", keys.len()),
                    };
                    return Err(CoreError::Storage(StoreError::Unavailable(format!(
                        "{cause}; nothing of the request was stored: send it again"
                    ))));
                }
            }
        }
    };
    let raw_object = match acknowledged_lines(&records, &inserted) {
        Some(lines) => replace_object(log, &key, &lines).await,
        None => key,
    };
    Ok(report_of(records, Some(&inserted), raw_object, warnings))
}

/// The answer to a request whose `records` were inserted as `inserted` says (`None`: accepted
/// for the queue, not stored yet), with the stored events kept beside it, and the records'
/// warnings (each with its record's index).
pub(super) fn report_of(
    records: Vec<StoredEvent>,
    inserted: Option<&[Inserted]>,
    raw_object: String,
    warnings: Vec<(usize, FieldError)>,
) -> IngestReport {
    let mut report = IngestReport {
        success: true,
        accepted: records.len(),
        stored: 0,
        duplicates: 0,
        unpriced: 0,
        stored_cost: Totals::new(),
        raw_object,
        events: Vec::with_capacity(records.len()),
        stored_events: Vec::new(),
        queued: 0,
    };
    for (index, record) in records.iter().enumerate() {
        let outcome = match inserted {
            Some(inserted) => inserted.get(index).unwrap_or(&Inserted::Duplicate(None)),
            None => &Inserted::Stored,
        };
        let queued = inserted.is_none();
        let stored = outcome.is_stored() && !queued;
        // A duplicate is answered with the event as first stored: that is the one that counts.
        let shown = match outcome {
            Inserted::Duplicate(Some(price)) => Cow::Owned(price.applied_to(record)),
            _ => Cow::Borrowed(record),
        };
        let cost = shown.cost_money();
        if queued {
            report.queued += 1;
        } else if stored {
            report.stored += 1;
            match cost {
                Some(cost) => report.stored_cost.add(cost),
                None => report.unpriced += 1,
            }
        } else {
            report.duplicates += 1;
        }
        report.events.push(EventOutcome {
            index,
            id: record.id.clone(),
            project_id: record.project_id.clone(),
            status: if queued {
                Outcome::Queued
            } else if stored {
                Outcome::Stored
            } else {
                Outcome::Duplicate
            },
            duplicate: !stored && !queued,
            cost,
            currency: cost.map(|c| c.currency),
            computed_cost: shown
                .computed_cost_money()
                .filter(|computed| Some(*computed) != cost),
            reported_cost: shown.reported_cost_money(),
            unpriced: unpriced_of(&shown),
            timestamp: shown.request_timestamp.clone(),
            warnings: Vec::new(),
        });
    }
    for (index, warning) in warnings {
        if let Some(event) = report.events.get_mut(index) {
            event.warnings.push(warning);
        }
    }
    report.stored_events = records
        .into_iter()
        .zip(&report.events)
        .filter(|(_, outcome)| outcome.status == Outcome::Stored)
        .map(|(record, _)| record)
        .collect();
    report
}

/// Where a withdrawn raw object is marked when its delete fails: rebuild skips every object
/// with a marker (`usage-logs/void/<the object's key>`).
pub const VOID_PREFIX: &str = "usage-logs/void/";

/// Takes back the raw object of a request that stored nothing: deleted, or, should the
/// delete fail, marked void so that rebuild skips it. Best effort: with both failing the
/// object stays (the request is answered with its error all the same).
async fn withdraw(log: &impl RawLog, key: &str) {
    if log.delete(key).await.is_err() {
        let _ = log.put(&format!("{VOID_PREFIX}{key}"), Vec::new()).await;
    }
}

/// What a write whose insert answered an error did after all. The insert may have committed
/// with only its answer lost on the way back; the object's acknowledgement, written in the same
/// transaction, tells:
/// - acknowledged: the write committed, and the object is the raw copy of the events it stored.
///   It stays, and the answer is read from the acknowledgement: an event whose key it lists
///   (stored before) or that an earlier record of the write has (first stored wins) is a
///   duplicate, every other event was stored now. The duplicates' stored facts come from the
///   same insert run again, which now finds every record stored and changes nothing (its
///   acknowledgement is kept as it was); should that fail too, they are answered with the facts
///   sent. `Some` of those outcomes, in the records' order.
/// - not acknowledged: nothing was stored; the object is withdrawn ([`withdraw`]). `None`.
/// - the store cannot say: the object stays, since it may be the only raw copy of stored
///   events; rebuild replays it only if it turns out to be acknowledged. `None`.
pub(super) async fn settle_failed_write(
    usage: &impl UsageStore,
    log: &impl RawLog,
    key: &str,
    records: &[StoredEvent],
    mode: InsertMode,
) -> Option<Vec<Inserted>> {
    let keys = [key.to_string()];
    let acks = usage.acknowledged(&keys).await.ok()?;
    let Some(already) = acks.objects.get(key) else {
        withdraw(log, key).await;
        return None;
    };
    let stored_facts = usage.insert_events(records, mode, Some(key)).await.ok();
    // As rebuild reads an acknowledged object (`keep_acknowledged`).
    let mut seen: HashSet<EventKey> = HashSet::new();
    Some(
        records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                let key = record.key();
                if !already.contains(&key) && seen.insert(key) {
                    Inserted::Stored
                } else {
                    match stored_facts.as_ref().and_then(|facts| facts.get(i)) {
                        Some(Inserted::Duplicate(price)) => Inserted::Duplicate(price.clone()),
                        _ => Inserted::Duplicate(None),
                    }
                }
            })
            .collect(),
    )
}

/// The lines the request's object must hold so that it says what was acknowledged: `None`
/// when it already does; else every record with each duplicate replaced by the event as first
/// stored (a retry may carry a later server time, or meet a price changed since, and the
/// answer gave the stored one).
fn acknowledged_lines(records: &[StoredEvent], inserted: &[Inserted]) -> Option<Vec<StoredEvent>> {
    let mut lines: Option<Vec<StoredEvent>> = None;
    for (index, record) in records.iter().enumerate() {
        let Some(Inserted::Duplicate(Some(price))) = inserted.get(index) else {
            continue;
        };
        if *price == StoredPrice::of(record) {
            continue;
        }
        let lines = lines.get_or_insert_with(|| records.to_vec());
        if let Some(line) = lines.get_mut(index) {
            *line = price.applied_to(record);
        }
    }
    lines
}

/// Writes `lines` as the replacement of the raw object `key` and withdraws `key`; answers the
/// key that now holds the request. The replacement is written only after the request's events
/// were committed, so it is acknowledged by construction: its key ([`replacement_key`]) is not
/// of the worker's own form and rebuild replays it like any foreign object. Should the put
/// fail, the old object stays: its acknowledgement names the duplicates rebuild leaves out.
async fn replace_object(log: &impl RawLog, key: &str, lines: &[StoredEvent]) -> String {
    let new_key = replacement_key(key);
    let Ok(bytes) = to_ndjson(lines) else {
        return key.to_string();
    };
    if log.put(&new_key, bytes).await.is_err() {
        return key.to_string();
    }
    withdraw(log, key).await;
    new_key
}

/// `<stamp>-<hex>.ndjson` becomes `<stamp>-<hex>.r.ndjson`: beside its original in key order.
pub fn replacement_key(key: &str) -> String {
    match key.strip_suffix(".ndjson") {
        Some(stem) => format!("{stem}.r.ndjson"),
        None => format!("{key}.r"),
    }
}

fn unpriced_of(record: &StoredEvent) -> Option<Unpriced> {
    let message = record.unpriced_message.clone().unwrap_or_default();
    match record.unpriced_reason.as_deref()? {
        "unknown_model" => Some(Unpriced::UnknownModel { message }),
        "no_price_in_force" => Some(Unpriced::NoPriceInForce { message }),
        _ => Some(Unpriced::NoRateForUsage { message }),
    }
}
