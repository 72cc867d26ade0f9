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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::access::auth::Principal;
use crate::access::projects::ProjectId;
use crate::kernel::clock::{random_token, Clock, Entropy};
use crate::kernel::error::{CoreError, FieldError, StoreError};
use crate::kernel::input::{locate, strip_position};
use crate::kernel::money::{Money, Totals};
use crate::pricing::catalog::{builtin, Catalog, PriceBook};
use crate::pricing::prices::{lookups_for, PriceStore};
use crate::pricing::Unpriced;
use crate::usage::event::{EventInput, EventRules, UsageEvent, DEFAULT_MODEL};
use crate::usage::price::price_event;
use crate::usage::record::{from_ndjson, to_ndjson, BadLine, StoredEvent, StoredPrice};
use crate::usage::reprice::REPRICE_PREFIX;
use crate::usage::retention::{before_watermark, RetentionStore};
use crate::usage::store::{EventKey, InsertMode, Inserted, RawLog, RepriceStore, UsageStore};

/// The most events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 1000;
/// How many days late an event may arrive, unless configured otherwise.
pub const DEFAULT_MAX_EVENT_AGE_DAYS: i64 = 90;
/// Where the raw log lives in the bucket.
pub const RAW_PREFIX: &str = "usage-logs/raw/";

/// The events of one request, not yet validated, with the index each had.
#[derive(Debug)]
pub struct Batch {
    /// Each event, or why it does not have the shape of an event (reported with the
    /// problems of the others, so one answer lists everything to fix).
    pub events: Vec<Result<EventInput, Misshapen>>,
    /// The request was `{"events": [...]}` (errors then name `events[i]`).
    pub enveloped: bool,
    /// A `project_id` given once for the whole batch.
    pub project_id: Option<String>,
}

/// An event some of whose fields do not have their type (a string for a count, a number for
/// a name): those fields' problems, and the event made of the fields that do, which is
/// validated like any event so that a type error hides no other problem.
#[derive(Debug)]
pub struct Misshapen {
    pub problems: Vec<FieldError>,
    /// The fields that read, with a stand-in provider when the provider is at fault; `None`
    /// when the event as a whole is at fault (not an object, a field given twice).
    pub rest: Option<Box<EventInput>>,
    /// A field at fault reports usage (a count, a cost, `cached`): the rest's "reports no
    /// usage" would be wrong.
    pub usage_at_fault: bool,
}

impl Misshapen {
    fn whole(problems: Vec<FieldError>) -> Self {
        Misshapen {
            problems,
            rest: None,
            usage_at_fault: false,
        }
    }

    /// Every problem of the event: those of its fields at fault, then those validation finds
    /// in the rest (one per field; none for a field already named).
    pub fn all_problems(&self, prefix: &str, rules: &EventRules) -> Vec<FieldError> {
        let mut problems = self.problems.clone();
        if let Some(Err(more)) = self.rest.as_ref().map(|rest| rest.validate(prefix, rules)) {
            let usage = if prefix.is_empty() {
                "usage".to_string()
            } else {
                format!("{prefix}.usage")
            };
            let index = problems.first().and_then(|p| p.index);
            for problem in more {
                let named = problems.iter().any(|p| p.field == problem.field);
                let no_usage = self.usage_at_fault && problem.field == usage;
                if !named && !no_usage {
                    problems.push(match index {
                        Some(i) => problem.at_index(i),
                        None => problem,
                    });
                }
            }
        }
        problems
    }
}

/// Stands in for a provider at fault, so that the rest of the event can be validated; no
/// catalog knows it, so nothing is asked of its model.
const STAND_IN_PROVIDER: &str = "stand-in";

fn body_error(message: impl Into<String>, details: Vec<FieldError>) -> CoreError {
    CoreError::MalformedBody {
        message: message.into(),
        details,
    }
}

/// The fields of a JSON object in order, repeated names kept (a map would keep only the last).
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Fields<'a>, M::Error> {
                let mut fields = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push((name, value));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// Reads a request body: one event object, or `{"events": [...], "project_id"?: ...}`. Every
/// event that does not have the shape of an event is reported with its index and field.
///
/// No JSON tree is built: the body is read into borrowed slices (each event's raw JSON), in
/// one pass for a well-formed batch, and each event is deserialized straight from its slice.
pub fn parse_batch(body: &[u8]) -> Result<Batch, CoreError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(body_error(
            "request body is empty; expected one event or {\"events\": [...]}",
            vec![],
        ));
    }
    let not_json = |e: serde_json::Error| {
        body_error(
            format!(
                "request body is not valid JSON: {}",
                strip_position(&e.to_string())
            ),
            vec![],
        )
    };
    // The usual batch, read in one pass; anything else (one event, a mistake) goes the
    // general way below, which names every problem but reads the events twice (the second
    // read cost about 10% of a 1,000-event request under `wrangler dev`).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope<'a> {
        #[serde(borrow)]
        events: Vec<&'a RawValue>,
        #[serde(default)]
        project_id: Option<String>,
    }
    let fast = serde_json::from_slice::<Envelope>(body)
        .ok()
        .filter(|e| !e.events.is_empty() && e.events.len() <= MAX_EVENTS_PER_REQUEST);
    if let Some(envelope) = fast {
        return Ok(Batch {
            events: envelope
                .events
                .into_iter()
                .enumerate()
                .map(|(index, item)| parse_event(index, item, true))
                .collect(),
            enveloped: true,
            project_id: envelope.project_id,
        });
    }
    let object: BTreeMap<String, &RawValue> = match serde_json::from_slice::<Fields>(body) {
        Ok(Fields(fields)) => {
            let mut object = BTreeMap::new();
            let mut repeated = Vec::new();
            for (name, value) in fields {
                if object.insert(name.clone(), value).is_some() {
                    repeated.push(FieldError::new(name, "is given more than once"));
                }
            }
            if !repeated.is_empty() {
                return Err(CoreError::Validation(repeated));
            }
            object
        }
        Err(e) if e.classify() == Category::Data => {
            return Err(body_error(
                "request body must be a JSON object: one event or {\"events\": [...]}",
                vec![FieldError::new("body", "expected a JSON object")],
            ))
        }
        Err(e) => return Err(not_json(e)),
    };
    let (items, enveloped, project_id) = match object.get("events") {
        Some(events) => {
            let mut problems = Vec::new();
            let project_id = match object.get("project_id").map(|v| v.get()) {
                None | Some("null") => None,
                Some(raw) => match serde_json::from_str::<String>(raw) {
                    Ok(id) => Some(id),
                    Err(_) => {
                        problems.push(FieldError::new("project_id", "expected a string"));
                        None
                    }
                },
            };
            if let Some(unknown) = object
                .keys()
                .find(|k| k.as_str() != "events" && k.as_str() != "project_id")
            {
                problems.push(FieldError::new(
                    unknown.clone(),
                    "unknown field; a batch has only `events` and `project_id`",
                ));
            }
            let items = match serde_json::from_str::<Vec<&RawValue>>(events.get()) {
                Ok(items) => items,
                Err(_) => {
                    problems.push(FieldError::new("events", "expected an array of events"));
                    vec![]
                }
            };
            if !problems.is_empty() {
                return Err(CoreError::Validation(problems));
            }
            (items, true, project_id)
        }
        None => {
            let whole: &RawValue = serde_json::from_slice(body).map_err(not_json)?;
            (vec![whole], false, None)
        }
    };
    if items.is_empty() {
        return Err(CoreError::invalid(
            "events",
            "must contain at least one event",
        ));
    }
    if items.len() > MAX_EVENTS_PER_REQUEST {
        return Err(CoreError::invalid(
            "events",
            format!(
                "has {} events; at most {MAX_EVENTS_PER_REQUEST} per request",
                items.len()
            ),
        ));
    }
    let events = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| parse_event(index, item, enveloped))
        .collect();
    Ok(Batch {
        events,
        enveloped,
        project_id,
    })
}

/// One event of a batch; if it does not have the shape of an event, every field at fault and
/// the event made of the others.
fn parse_event(index: usize, item: &RawValue, enveloped: bool) -> Result<EventInput, Misshapen> {
    let name = |path: &str| match (enveloped, path) {
        (true, ".") => format!("events[{index}]"),
        (true, path) => format!("events[{index}].{path}"),
        (false, ".") => "body".to_string(),
        (false, path) => path.to_string(),
    };
    // serde would also read a JSON array as an event, field by position.
    if !item.get().starts_with('{') {
        return Err(Misshapen::whole(vec![FieldError::new(
            name("."),
            "expected an event: a JSON object",
        )
        .at_index(index)]));
    }
    // Plain deserialization first; only an event that fails is read again, field by field.
    if let Ok(event) = serde_json::from_str::<EventInput>(item.get()) {
        return Ok(event);
    }
    let mut problems = Vec::new();
    let mut rest = serde_json::Map::new();
    let mut usage_at_fault = false;
    // serde stops at the first field at fault. Each field is tried on its own (beside a
    // stand-in provider, the one required field), so that one answer names them all.
    if let Ok(fields) = serde_json::from_str::<serde_json::Map<String, Value>>(item.get()) {
        if !fields.contains_key("provider") {
            problems.push(("provider".to_string(), "is required".to_string()));
        }
        for (name, value) in fields {
            let mut alone = serde_json::Map::new();
            if name != "provider" {
                alone.insert("provider".into(), Value::String(STAND_IN_PROVIDER.into()));
            }
            alone.insert(name.clone(), value.clone());
            match shape_problem(&Value::Object(alone).to_string()) {
                Ok(()) => {
                    rest.insert(name, value);
                }
                Err(problem) => {
                    usage_at_fault |= reports_usage_when_read(&name);
                    problems.push(problem);
                }
            }
        }
    }
    // Nothing wrong field by field: the whole is at fault (not an object, or a field given
    // twice, by its name and an alias).
    let whole_at_fault = problems.is_empty();
    if whole_at_fault {
        if let Err(problem) = shape_problem(item.get()) {
            problems.push(problem);
        }
    }
    rest.entry("provider")
        .or_insert_with(|| Value::String(STAND_IN_PROVIDER.into()));
    Err(Misshapen {
        problems: problems
            .into_iter()
            .map(|(path, message)| FieldError::new(name(&path), message).at_index(index))
            .collect(),
        rest: (!whole_at_fault)
            .then(|| serde_json::from_value::<EventInput>(Value::Object(rest)).ok())
            .flatten()
            .map(Box::new),
        usage_at_fault,
    })
}

/// Whether a field, had it been read, might have reported usage: whether an event with it set
/// to 1 (a count, a decimal) or `true` (`cached`) reports any, or it is no field of an event
/// at all (`tokenz` may well be a misspelt quantity).
fn reports_usage_when_read(field: &str) -> bool {
    let read = |value: Value| {
        serde_json::from_value::<EventInput>(
            serde_json::json!({ "provider": STAND_IN_PROVIDER, field: value }),
        )
    };
    (field != "provider" && read(Value::Null).is_err())
        || [Value::from(1), Value::Bool(true)]
            .into_iter()
            .any(|value| read(value).is_ok_and(|e| e.reports_usage()))
}

/// Reads `text` as an event with its path tracked: the field at fault and what is wrong.
fn shape_problem(text: &str) -> Result<(), (String, String)> {
    let mut reader = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, EventInput>(&mut reader)
        .map(|_| ())
        .map_err(|error| {
            let path = error.path().to_string();
            locate(&path, &strip_position(&error.into_inner().to_string()))
        })
}

/// What happened to one event of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored now.
    Stored,
    /// Already stored (a retry, or repeated in this request): not stored or counted again.
    Duplicate,
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
    pub currency: Option<String>,
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

/// The warning of an event recorded as model `default` (sent without a model, for a provider
/// that takes one: see `usage::model_required`): which entry priced it, or that none did.
pub fn model_warning(record: &StoredEvent) -> Option<FieldError> {
    if record.model != DEFAULT_MODEL {
        return None;
    }
    let provider = &record.provider;
    let message = match record.price_id.as_deref() {
        Some(entry) => format!(
            "recorded as model `default`: priced with {provider}'s default entry ({entry}); \
             send the model the call used if it was another"
        ),
        None if record.reported_cost_nanos.is_some() => format!(
            "recorded as model `default`: the cost you reported counts, and no price entry of \
             {provider} answers to `default` to compute one; send the model the call used"
        ),
        None => format!(
            "recorded as model `default`, which no price entry of {provider} answers to: it \
             counts only a reported cost (add a custom price for {provider}/default to price it)"
        ),
    };
    Some(FieldError::new("model", message))
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

/// The raw-log key of a request received at `now`: its day, a sortable time and 128 random
/// bits, so no two requests ever share a key.
pub fn raw_key(now: DateTime<Utc>, entropy: &impl Entropy) -> Result<String, CoreError> {
    let suffix = random_token(entropy, "", 16)?;
    Ok(format!(
        "{RAW_PREFIX}{}/{}-{suffix}.ndjson",
        now.format("%Y-%m-%d"),
        now.format("%Y%m%dT%H%M%S%3fZ")
    ))
}

/// Validates, prices and assigns a project and id to every event of a batch; all or nothing.
pub async fn prepare(
    usage: &impl UsageStore,
    prices: &impl PriceStore,
    entropy: &impl Entropy,
    principal: &Principal,
    batch: &Batch,
    rules: &EventRules,
) -> Result<Vec<StoredEvent>, CoreError> {
    let prefix = |i: usize| {
        if batch.enveloped {
            format!("events[{i}]")
        } else {
            String::new()
        }
    };
    let field = |i: usize, name: &str| event_field(i, batch.enveloped, name);
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
                problems.extend(misshapen.all_problems(&prefix(i), rules));
                continue;
            }
        };
        match input.validate(&prefix(i), rules) {
            Ok(event) => valid.push((i, event)),
            Err(errors) => problems.extend(errors.into_iter().map(|e| e.at_index(i))),
        }
    }
    // Assign projects: the event's own, else the batch's, else the key's project.
    let mut projects: Vec<Option<ProjectId>> = Vec::with_capacity(valid.len());
    for (i, event) in &valid {
        let requested = event.project_id.clone().or_else(|| default_project.clone());
        let project = principal.scope_to(requested.as_ref())?;
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
        let wanted: BTreeSet<ProjectId> = projects.iter().flatten().cloned().collect();
        if !wanted.is_empty() {
            let wanted: Vec<ProjectId> = wanted.into_iter().collect();
            let existing: HashSet<ProjectId> = usage
                .existing_projects(&wanted)
                .await?
                .into_iter()
                .collect();
            for ((i, _), project) in valid.iter().zip(&projects) {
                if let Some(project) = project {
                    if !existing.contains(project) {
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
        problems.sort_by_key(|e| e.index);
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
    let mut records = Vec::with_capacity(valid.len());
    for ((i, mut event), project) in valid.into_iter().zip(projects) {
        let Some(project) = project else { continue };
        event.project_id = Some(project.clone());
        let id = match &event.id {
            Some(id) => id.clone(),
            None => random_token(entropy, "evt_", 16)?,
        };
        let priced = price_event(&book, &event)
            .and_then(|pricing| StoredEvent::new(&event, &project, id, &pricing));
        match priced {
            Ok(record) => records.push(record),
            Err(e) => problems.push(FieldError::new(field(i, &e.field), e.message).at_index(i)),
        }
    }
    if !problems.is_empty() {
        return Err(CoreError::Validation(problems));
    }
    reused_within(&records, batch.enveloped)?;
    Ok(records)
}

/// How a problem names a field of an event: `events[i].<name>` in a batch, `<name>` alone for
/// a single event.
fn event_field(index: usize, enveloped: bool, name: &str) -> String {
    if enveloped {
        format!("events[{index}].{name}")
    } else {
        name.to_string()
    }
}

/// An id sent twice in one request for two different events is refused like one reused
/// from an earlier request; sent twice for the same event, the second is a duplicate.
fn reused_within(records: &[StoredEvent], enveloped: bool) -> Result<(), CoreError> {
    let mut first: HashMap<(&str, &str), usize> = HashMap::with_capacity(records.len());
    let mut reused = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let key = (record.project_id.as_str(), record.id.as_str());
        match first.get(&key) {
            Some(&j) if records.get(j).is_some_and(|r| record.reuses_id_of(r)) => reused.push(
                FieldError::new(
                    event_field(i, enveloped, "id"),
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
    let keys: HashSet<(&str, &str)> = keys
        .iter()
        .map(|(p, id)| (p.as_str(), id.as_str()))
        .collect();
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| keys.contains(&(r.project_id.as_str(), r.id.as_str())))
        .map(|(i, r)| {
            FieldError::new(
                event_field(i, enveloped, "id"),
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
    let now = clock.now();
    let batch = parse_batch(body)?;
    let rules = EventRules {
        now,
        max_age_days: config.max_event_age_days,
        pruned_before: config.pruned_before,
    };
    let records = prepare(usage, prices, entropy, principal, &batch, &rules).await?;
    let key = raw_key(now, entropy)?;
    let bytes = to_ndjson(&records)
        .map_err(|e| CoreError::Misconfigured(format!("encoding the raw log failed: {e}")))?;
    log.put(&key, bytes).await?;
    let inserted = match usage
        .insert_events(&records, InsertMode::RefuseReusedIds)
        .await
    {
        Ok(inserted) => inserted,
        Err(StoreError::IdReused(keys)) => {
            // Nothing of the request was stored, so its raw object must not be replayed
            // either (and a rebuild racing this request refuses the object as a whole).
            withdraw(log, &key).await;
            return Err(CoreError::IdReused(reused_stored(
                &records,
                &keys,
                batch.enveloped,
            )));
        }
        Err(e) => {
            // Nothing is acknowledged, so nothing may come back by a rebuild: the client was
            // told to retry, and its retry (a fresh id or a fresh server time) is what counts.
            withdraw(log, &key).await;
            let cause = match e {
                StoreError::Conflict(m) | StoreError::Unavailable(m) | StoreError::Corrupt(m) => m,
                StoreError::IdReused(keys) => format!("{} reused ids", keys.len()),
            };
            return Err(CoreError::Storage(StoreError::Unavailable(format!(
                "{cause}; nothing of the request was stored: send it again"
            ))));
        }
    };
    let raw_object = match acknowledged_lines(&records, &inserted) {
        Some(lines) => replace_object(log, entropy, now, &key, &lines).await,
        None => key,
    };
    let mut report = IngestReport {
        success: true,
        accepted: records.len(),
        stored: 0,
        duplicates: 0,
        unpriced: 0,
        stored_cost: Totals::new(),
        raw_object,
        events: Vec::with_capacity(records.len()),
    };
    for (index, record) in records.iter().enumerate() {
        let outcome = inserted.get(index).unwrap_or(&Inserted::Duplicate(None));
        let stored = outcome.is_stored();
        // A duplicate is answered with the event as first stored: that is the one that counts.
        let shown = match outcome {
            Inserted::Duplicate(Some(price)) => Cow::Owned(price.applied_to(record)),
            _ => Cow::Borrowed(record),
        };
        let cost = shown.cost_money();
        if stored {
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
            status: if stored {
                Outcome::Stored
            } else {
                Outcome::Duplicate
            },
            duplicate: !stored,
            cost,
            currency: cost.map(|c| c.currency.to_string()),
            computed_cost: shown
                .computed_cost_money()
                .filter(|computed| Some(*computed) != cost),
            reported_cost: shown.reported_cost_money(),
            unpriced: unpriced_of(&shown),
            timestamp: shown.request_timestamp.clone(),
            warnings: model_warning(record).into_iter().collect(),
        });
    }
    Ok(report)
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

/// Writes `lines` as a new raw object and withdraws the old one `key`; answers the key that
/// now holds the request. Should the new put fail, the old object stays: it still holds
/// every event of the request, and the objects stored first keep the acknowledged facts.
async fn replace_object(
    log: &impl RawLog,
    entropy: &impl Entropy,
    now: DateTime<Utc>,
    key: &str,
    lines: &[StoredEvent],
) -> String {
    let (Ok(new_key), Ok(bytes)) = (raw_key(now, entropy), to_ndjson(lines)) else {
        return key.to_string();
    };
    if log.put(&new_key, bytes).await.is_err() {
        return key.to_string();
    }
    withdraw(log, key).await;
    new_key
}

fn unpriced_of(record: &StoredEvent) -> Option<Unpriced> {
    let message = record.unpriced_message.clone().unwrap_or_default();
    match record.unpriced_reason.as_deref()? {
        "unknown_model" => Some(Unpriced::UnknownModel { message }),
        "no_price_in_force" => Some(Unpriced::NoPriceInForce { message }),
        _ => Some(Unpriced::NoRateForUsage { message }),
    }
}

/// `POST /api/admin/rebuild`: which raw objects to replay. Days are the days the objects were
/// written (the day a request was received), both inclusive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebuildRequest {
    pub from: Option<String>,
    pub to: Option<String>,
    /// The `next_cursor` of the previous call, to continue.
    pub cursor: Option<String>,
    /// Objects per call (default 20, at most 100), to stay within one invocation's limits.
    pub max_objects: Option<usize>,
}

pub const DEFAULT_REBUILD_OBJECTS: usize = 20;
pub const MAX_REBUILD_OBJECTS: usize = 100;
/// A call stops reading objects once it has read this much (the next call goes on from
/// there): its rows are written in at most a dozen 1 MB statements, well within the free
/// plan's 50 D1 queries per invocation, whatever `max_objects` says.
pub const REBUILD_BYTES: usize = 6_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct UnreadableLine {
    pub object: String,
    #[serde(flatten)]
    pub line: BadLine,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RebuildReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub objects_read: usize,
    pub events_read: usize,
    /// Events that were missing from the store and are now back.
    pub inserted: usize,
    /// Events the store already had.
    pub already_stored: usize,
    /// Events of days whose raw rows were pruned (before `pruned_before`): the rollups still
    /// count them, so they are not inserted again.
    pub pruned: usize,
    pub pruned_before: Option<NaiveDate>,
    /// Prices written again from re-price objects.
    pub repriced: usize,
    /// Raw objects of refused requests (holding an id stored for a different event), left out
    /// whole: nothing of a refused request comes back.
    pub refused_objects: usize,
    /// Raw objects withdrawn by their request (it stored nothing) whose delete had failed.
    pub void_objects: usize,
    pub unreadable_lines: usize,
    /// The first unreadable lines, to investigate.
    pub problems: Vec<UnreadableLine>,
    /// Pass this back as `cursor` to continue; `None` when the range is done.
    pub next_cursor: Option<String>,
    pub done: bool,
}

/// The phase of a raw-log key (raw events, then re-pricing) and the day of its object.
fn phase_and_day(key: &str) -> Option<(Phase, Option<NaiveDate>)> {
    let (phase, rest) = if let Some(rest) = key.strip_prefix(RAW_PREFIX) {
        (Phase::Raw, rest)
    } else if let Some(rest) = key.strip_prefix(REPRICE_PREFIX) {
        (Phase::Reprice, rest)
    } else {
        return None;
    };
    let day = rest
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    Some((phase, day))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Raw,
    Reprice,
}

impl Phase {
    fn prefix(self) -> &'static str {
        match self {
            Phase::Raw => RAW_PREFIX,
            Phase::Reprice => REPRICE_PREFIX,
        }
    }
}

/// Replays the log into the usage store: first the raw objects (events missing from the
/// store are inserted, stored ones left as they are), then the re-price objects (their prices
/// are written again). Idempotent: calling it again, or over a store that was never lost,
/// changes nothing.
pub async fn rebuild(
    usage: &(impl UsageStore + RepriceStore + RetentionStore),
    log: &impl RawLog,
    request: &RebuildRequest,
) -> Result<RebuildReport, CoreError> {
    let mut problems = crate::kernel::error::Problems::new();
    let day = |name: &str, value: &Option<String>, p: &mut crate::kernel::error::Problems| {
        value.as_deref().and_then(|v| {
            crate::kernel::query::parse_day(v)
                .map_err(|m| p.push(name, m))
                .ok()
        })
    };
    let from = day("from", &request.from, &mut problems);
    let to = day("to", &request.to, &mut problems);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            problems.push("to", "must not be before `from`");
        }
    }
    let max = request.max_objects.unwrap_or(DEFAULT_REBUILD_OBJECTS);
    if !(1..=MAX_REBUILD_OBJECTS).contains(&max) {
        problems.push(
            "max_objects",
            format!("must be from 1 to {MAX_REBUILD_OBJECTS}"),
        );
    }
    let cursor_phase = match &request.cursor {
        Some(cursor) => match phase_and_day(cursor) {
            Some((phase, _)) => Some(phase),
            None => {
                problems.push("cursor", "is not a cursor this API returned");
                None
            }
        },
        None => None,
    };
    problems.finish()?;
    let phase = cursor_phase.unwrap_or(Phase::Raw);
    let start = match (&request.cursor, from) {
        (Some(cursor), _) => Some(cursor.clone()),
        // Sorts before every key of that day.
        (None, Some(from)) => Some(format!("{}{from}", phase.prefix())),
        (None, None) => None,
    };
    let listing = log.list(phase.prefix(), start.as_deref(), max + 1).await?;
    let mut keys: Vec<String> = Vec::new();
    let mut past_end = false;
    for key in listing.keys {
        let Some((_, Some(day))) = phase_and_day(&key) else {
            continue;
        };
        if to.is_some_and(|to| day > to) {
            past_end = true;
            break;
        }
        keys.push(key);
    }
    let more_in_phase = !past_end && (keys.len() > max || listing.truncated);
    keys.truncate(max);
    let next_cursor = if more_in_phase {
        keys.last().cloned()
    } else if phase == Phase::Raw {
        // The raw objects are done; the re-price objects come next.
        Some(match from {
            Some(from) => format!("{REPRICE_PREFIX}{from}"),
            None => REPRICE_PREFIX.to_string(),
        })
    } else {
        None
    };
    let mut report = RebuildReport {
        from,
        to,
        objects_read: 0,
        events_read: 0,
        inserted: 0,
        already_stored: 0,
        pruned: 0,
        pruned_before: None,
        repriced: 0,
        refused_objects: 0,
        void_objects: 0,
        unreadable_lines: 0,
        problems: Vec::new(),
        done: next_cursor.is_none(),
        next_cursor,
    };
    let void = void_markers(log, phase, &keys).await?;
    let mut objects: Vec<Vec<StoredEvent>> = Vec::new();
    let mut read_bytes = 0;
    for (i, key) in keys.iter().enumerate() {
        if read_bytes >= REBUILD_BYTES {
            // Enough for one invocation's writes: the rest on the next call, from here.
            report.next_cursor = i.checked_sub(1).and_then(|prev| keys.get(prev)).cloned();
            report.done = false;
            break;
        }
        if void.contains(key.as_str()) {
            report.void_objects += 1;
            continue;
        }
        let Some(bytes) = log.get(key).await? else {
            continue;
        };
        read_bytes += bytes.len();
        report.objects_read += 1;
        let (lines, bad) = from_ndjson(&bytes);
        report.unreadable_lines += bad.len();
        for line in bad {
            if report.problems.len() < 20 {
                report.problems.push(UnreadableLine {
                    object: key.clone(),
                    line,
                });
            }
        }
        objects.push(lines);
    }
    report.events_read = objects.iter().map(Vec::len).sum();
    if report.events_read > 0 {
        // A wiped store has no watermark, so a full rebuild restores every day.
        report.pruned_before = usage.retention_state().await?.pruned_before;
        if let Some(watermark) = report.pruned_before {
            for lines in &mut objects {
                let before = lines.len();
                lines.retain(|r| !before_watermark(r.day(), watermark));
                report.pruned += before - lines.len();
            }
        }
    }
    match phase {
        Phase::Raw => {
            let (records, refused) = insert_acknowledged(usage, objects).await?;
            report.refused_objects = refused;
            report.inserted = records.0;
            report.already_stored = records.1;
        }
        Phase::Reprice => {
            let records: Vec<StoredEvent> = objects.into_iter().flatten().collect();
            if !records.is_empty() {
                report.repriced = usage.update_pricing(&records).await?;
            }
        }
    }
    Ok(report)
}

/// The raw objects among `keys` that were withdrawn but could not be deleted (see
/// [`withdraw`]): one listing of markers per day the keys cover.
async fn void_markers(
    log: &impl RawLog,
    phase: Phase,
    keys: &[String],
) -> Result<HashSet<String>, CoreError> {
    let mut void = HashSet::new();
    if phase != Phase::Raw {
        return Ok(void);
    }
    let days: BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(RAW_PREFIX).and_then(|rest| rest.get(..11)))
        .collect();
    for day in days {
        let prefix = format!("{VOID_PREFIX}{RAW_PREFIX}{day}");
        let mut after: Option<String> = None;
        loop {
            let listing = log.list(&prefix, after.as_deref(), 1000).await?;
            for marker in &listing.keys {
                if let Some(key) = marker.strip_prefix(VOID_PREFIX) {
                    void.insert(key.to_string());
                }
            }
            if !listing.truncated || listing.keys.is_empty() {
                break;
            }
            after = listing.keys.last().cloned();
        }
    }
    Ok(void)
}

/// How many times rebuild retries an insert that met an id stored meanwhile for a different
/// event (each retry leaves out the objects holding it).
const REBUILD_INSERT_ATTEMPTS: usize = 4;

/// Inserts the events of raw objects as ingestion acknowledged them: an object is replayed
/// whole or not at all, and an object holding an id that an earlier object (of this call, or
/// stored) holds for a different event is the object of a refused request, left out whole,
/// as ingestion refused it. Answers (inserted, already stored) and the objects left out.
async fn insert_acknowledged(
    usage: &impl UsageStore,
    objects: Vec<Vec<StoredEvent>>,
) -> Result<((usize, usize), usize), CoreError> {
    // Within the call: the first object holding an id decides its event.
    let mut seen: HashMap<EventKey, StoredEvent> = HashMap::new();
    let mut kept: Vec<Vec<StoredEvent>> = Vec::with_capacity(objects.len());
    let mut refused = 0;
    for lines in objects {
        let reuses = lines.iter().any(|line| {
            seen.get(&line.key())
                .is_some_and(|first| line.reuses_id_of(first))
        });
        if reuses {
            refused += 1;
            continue;
        }
        for line in &lines {
            seen.entry(line.key()).or_insert_with(|| line.clone());
        }
        kept.push(lines);
    }
    // Against the store: an insert that meets a stored id of a different event inserts
    // nothing; the objects holding those ids are left out and the rest tried again.
    for _ in 0..REBUILD_INSERT_ATTEMPTS {
        let records: Vec<StoredEvent> = kept.iter().flatten().cloned().collect();
        if records.is_empty() {
            return Ok(((0, 0), refused));
        }
        match usage.insert_events(&records, InsertMode::Replay).await {
            Ok(inserted) => {
                let stored = inserted.iter().filter(|i| i.is_stored()).count();
                return Ok(((stored, records.len() - stored), refused));
            }
            Err(StoreError::IdReused(keys)) if !keys.is_empty() => {
                let keys: HashSet<EventKey> = keys.into_iter().collect();
                let before = kept.len();
                kept.retain(|lines| !lines.iter().any(|l| keys.contains(&l.key())));
                refused += before - kept.len();
            }
            Err(e) => return Err(CoreError::Storage(e)),
        }
    }
    Err(CoreError::Storage(StoreError::Unavailable(
        "ids kept being reused while rebuilding; call again".into(),
    )))
}
