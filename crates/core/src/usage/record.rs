//! The stored form of a usage event: one line of the raw log in R2 and one row of `api_usage`
//! in D1 are the same [`StoredEvent`], so that D1 can be rebuilt from R2 exactly.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::access::projects::ProjectId;
use crate::kernel::clock::{format_timestamp, parse_timestamp};
use crate::kernel::error::FieldError;
use crate::kernel::json_out::Object;
use crate::kernel::money::{format_scaled, Currency, Money, MAX_EVENT_COST_NANOS};
use crate::pricing::prices::Pricing;
use crate::pricing::{EntryRef, Usage, UsageKind, MICRO};
use crate::usage::event::{same_rule, UsageEvent, CACHED_USAGE};

/// Version of the raw-log line format.
pub const RECORD_VERSION: u32 = 1;

fn version() -> u32 {
    RECORD_VERSION
}

fn yes() -> bool {
    true
}

// Serialization leaves out every field still at its default, which the reader restores: a
// token event's line is about 300 bytes instead of 800, and the raw log is written on every
// ingest (see BENCHMARKS.md).
fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_true(value: &bool) -> bool {
    *value
}

/// One accepted event with its price, as stored; fields at their default are left out of its
/// JSON and restored when read. Quantities are integers: whole units for
/// counts, micro-units (`*_micros`) for seconds and credits. Costs are nano-units of
/// `currency`; an unpriced event has no cost and an empty currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    pub v: u32,
    pub project_id: String,
    pub id: String,
    pub provider: String,
    pub model: String,
    /// Empty when the client named none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operation: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub input_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub output_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub total_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cached_input_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_write_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub reasoning_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub audio_input_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub audio_output_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub characters: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub audio_seconds_micros: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub video_seconds_micros: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub images: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub requests: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub tracks: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub credits_micros: i64,
    /// The cost that counts, as exact decimal text (`"0.004500000"`); `None` when unpriced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_nanos: Option<i64>,
    /// ISO 4217 code of `cost`, or empty when unpriced.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_cost_nanos: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_currency: Option<String>,
    /// The cost the client reported, in `currency` (a reported cost always wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_cost_nanos: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpriced_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpriced_message: Option<String>,
    /// The price entry that computed the cost: `builtin:<provider>/<model>@<date>` or the id of
    /// a custom price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_id: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub cached: bool,
    #[serde(skip_serializing_if = "is_true")]
    pub success: bool,
    /// RFC 3339 UTC with milliseconds, so text order is time order.
    pub request_timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The guard's reservation this event settled (kept in the raw log; D1 keeps no column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<String>,
    /// [`UsageEvent::fingerprint`] of the event as sent: a later event under the same id must
    /// match it to count as a retry. `None` in lines written before it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

crate::object_reader!(
    StoredEvent,
    skip {
        v: default(version),
        project_id: required,
        id: required,
        provider: required,
        model: required,
        operation: default,
        input_tokens: default,
        output_tokens: default,
        total_tokens: default,
        cached_input_tokens: default,
        cache_write_tokens: default,
        reasoning_tokens: default,
        audio_input_tokens: default,
        audio_output_tokens: default,
        characters: default,
        audio_seconds_micros: default,
        video_seconds_micros: default,
        images: default,
        requests: default,
        tracks: default,
        credits_micros: default,
        cost: default,
        cost_nanos: default,
        currency: default,
        computed_cost_nanos: default,
        computed_currency: default,
        reported_cost_nanos: default,
        unpriced_reason: default,
        unpriced_message: default,
        price_id: default,
        cached: default,
        success: default(yes),
        request_timestamp: required,
        session_id: default,
        job_id: default,
        duration_ms: default,
        endpoint: default,
        metadata: default,
        reservation_id: default,
        fingerprint: default,
    }
);

impl StoredEvent {
    /// Appends the event's raw-log JSON, byte for byte what serde's derived writing makes of
    /// it (fields at their default left out), written by hand: see [`crate::kernel::json_out`].
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut line = Object::open(out);
        line.uint("v", u64::from(self.v));
        line.str("project_id", &self.project_id);
        line.str("id", &self.id);
        line.str("provider", &self.provider);
        line.str("model", &self.model);
        if !self.operation.is_empty() {
            line.str("operation", &self.operation);
        }
        let counts = [
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
            ("total_tokens", self.total_tokens),
            ("cached_input_tokens", self.cached_input_tokens),
            ("cache_write_tokens", self.cache_write_tokens),
            ("reasoning_tokens", self.reasoning_tokens),
            ("audio_input_tokens", self.audio_input_tokens),
            ("audio_output_tokens", self.audio_output_tokens),
            ("characters", self.characters),
            ("audio_seconds_micros", self.audio_seconds_micros),
            ("video_seconds_micros", self.video_seconds_micros),
            ("images", self.images),
            ("requests", self.requests),
            ("tracks", self.tracks),
            ("credits_micros", self.credits_micros),
        ];
        for (name, count) in counts {
            if count != 0 {
                line.int(name, count);
            }
        }
        if let Some(cost) = &self.cost {
            line.str("cost", cost);
        }
        if let Some(nanos) = self.cost_nanos {
            line.int("cost_nanos", nanos);
        }
        if !self.currency.is_empty() {
            line.str("currency", &self.currency);
        }
        if let Some(nanos) = self.computed_cost_nanos {
            line.int("computed_cost_nanos", nanos);
        }
        if let Some(currency) = &self.computed_currency {
            line.str("computed_currency", currency);
        }
        if let Some(nanos) = self.reported_cost_nanos {
            line.int("reported_cost_nanos", nanos);
        }
        let texts = [
            ("unpriced_reason", &self.unpriced_reason),
            ("unpriced_message", &self.unpriced_message),
            ("price_id", &self.price_id),
        ];
        for (name, text) in texts {
            if let Some(text) = text {
                line.str(name, text);
            }
        }
        if self.cached {
            line.bool("cached", true);
        }
        if !self.success {
            line.bool("success", false);
        }
        line.str("request_timestamp", &self.request_timestamp);
        if let Some(session) = &self.session_id {
            line.str("session_id", session);
        }
        if let Some(job) = &self.job_id {
            line.str("job_id", job);
        }
        if let Some(ms) = self.duration_ms {
            line.int("duration_ms", ms);
        }
        if let Some(endpoint) = &self.endpoint {
            line.str("endpoint", endpoint);
        }
        if let Some(metadata) = &self.metadata {
            line.serde("metadata", metadata)?;
        }
        if let Some(reservation) = &self.reservation_id {
            line.str("reservation_id", reservation);
        }
        if let Some(fingerprint) = &self.fingerprint {
            line.str("fingerprint", fingerprint);
        }
        line.close();
        Ok(())
    }
}

/// Why an event's cost is refused above [`MAX_EVENT_COST_NANOS`].
pub const TOO_COSTLY: &str =
    "is too large: at most 9000000 per event (is it in the currency's units?)";

fn nanos_i64(field: &str, money: Option<Money>) -> Result<Option<i64>, FieldError> {
    money
        .map(|m| {
            if m.nanos > MAX_EVENT_COST_NANOS {
                return Err(FieldError::new(field, TOO_COSTLY));
            }
            i64::try_from(m.nanos).map_err(|_| FieldError::new(field, TOO_COSTLY))
        })
        .transpose()
}

fn quantity(event: &UsageEvent, kind: UsageKind) -> i64 {
    // Validation caps every quantity at 10^18 micro-units, well inside i64; dividing as i64
    // spares the wasm a 128-bit division in software for each of the event's fourteen kinds.
    let Ok(micros) = i64::try_from(event.usage.micros(kind)) else {
        return i64::MAX;
    };
    if kind.is_integral() {
        micros / MICRO as i64
    } else {
        micros
    }
}

/// The `price_id` of a record priced by `entry`: `builtin:<provider>/<model>@<date>` for a
/// built-in entry, else the custom price's id.
pub fn price_id(entry: &EntryRef) -> String {
    if entry.origin == "builtin" {
        // For every priced event: without `format!`.
        let mut id = String::with_capacity(20 + entry.provider.len() + entry.model.len());
        id.push_str("builtin:");
        id.push_str(&entry.provider);
        id.push('/');
        id.push_str(&entry.model);
        id.push('@');
        if !crate::kernel::clock::push_date(&mut id, entry.effective_from) {
            id.push_str(&entry.effective_from.to_string());
        }
        id
    } else {
        entry.origin.clone()
    }
}

impl StoredEvent {
    /// The record of a validated, priced event of `project` under the idempotency key `id`.
    pub fn new(
        event: UsageEvent,
        project: &ProjectId,
        id: String,
        pricing: &Pricing,
    ) -> Result<Self, FieldError> {
        // What is read from the event first; its texts are then moved, not copied.
        let fingerprint = event.fingerprint();
        let metadata = match &event.metadata {
            Some(text) => serde_json::from_str(text).ok(),
            None => None,
        };
        // In the order of `UsageKind::ALL`.
        let [input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros] =
            UsageKind::ALL.map(|kind| quantity(&event, kind));
        let UsageEvent {
            provider,
            model,
            operation,
            total_tokens,
            cached,
            success,
            timestamp,
            session_id,
            job_id,
            duration_ms,
            endpoint,
            reservation_id,
            ..
        } = event;
        let mut record = StoredEvent {
            v: RECORD_VERSION,
            project_id: project.as_str().to_string(),
            id,
            provider,
            model,
            operation: operation.unwrap_or_default(),
            input_tokens,
            output_tokens,
            total_tokens: i64::try_from(total_tokens).unwrap_or(i64::MAX),
            cached_input_tokens,
            cache_write_tokens,
            reasoning_tokens,
            audio_input_tokens,
            audio_output_tokens,
            characters,
            audio_seconds_micros,
            video_seconds_micros,
            images,
            requests,
            tracks,
            credits_micros,
            cost: None,
            cost_nanos: None,
            currency: String::new(),
            computed_cost_nanos: None,
            computed_currency: None,
            reported_cost_nanos: None,
            unpriced_reason: None,
            unpriced_message: None,
            price_id: None,
            cached,
            success,
            request_timestamp: format_timestamp(timestamp),
            session_id,
            job_id,
            duration_ms: duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
            endpoint,
            metadata,
            reservation_id,
            fingerprint: Some(fingerprint),
        };
        record.set_pricing(pricing)?;
        if cached {
            record.mark_cache_hit();
        }
        Ok(record)
    }

    /// A cache hit (for example a Loudly track served from cache) made no provider call: it
    /// costs nothing (unless the client reported a cost) and uses no allotment. Its reported
    /// quantities move to `metadata.cached_usage`, and the computed cost stays visible as what
    /// the cache saved.
    fn mark_cache_hit(&mut self) {
        let saved = self.usage_map();
        if !saved.is_empty() {
            self.metadata
                .get_or_insert_with(serde_json::Map::new)
                .insert(CACHED_USAGE.into(), serde_json::Value::Object(saved));
        }
        for field in [
            &mut self.input_tokens,
            &mut self.output_tokens,
            &mut self.total_tokens,
            &mut self.cached_input_tokens,
            &mut self.cache_write_tokens,
            &mut self.reasoning_tokens,
            &mut self.audio_input_tokens,
            &mut self.audio_output_tokens,
            &mut self.characters,
            &mut self.audio_seconds_micros,
            &mut self.video_seconds_micros,
            &mut self.images,
            &mut self.requests,
            &mut self.tracks,
            &mut self.credits_micros,
        ] {
            *field = 0;
        }
        if self.reported_cost_nanos.is_none() {
            let currency = self
                .computed_currency
                .clone()
                .unwrap_or_else(|| Currency::USD.to_string());
            self.cost = Some(
                Money::zero(Currency::parse(&currency).unwrap_or(Currency::USD)).amount_string(),
            );
            self.cost_nanos = Some(0);
            self.currency = currency;
            self.unpriced_reason = None;
            self.unpriced_message = None;
        }
    }

    /// Replaces the price fields (cost, computed and reported cost, unpriced reason, entry).
    pub fn set_pricing(&mut self, pricing: &Pricing) -> Result<(), FieldError> {
        let cost = pricing.cost();
        let computed = pricing.computed.as_ref().ok();
        // A usage priced past the cap: the event's cost when the client reported none, so the
        // event is refused, saying what priced it; beside a reported cost (the one that counts)
        // it is left out, as a price the record cannot hold.
        let over_cap = computed.filter(|q| q.cost.nanos > MAX_EVENT_COST_NANOS);
        if let Some(q) = over_cap {
            if pricing.reported.is_none() {
                return Err(FieldError::new(
                    "cost",
                    format!(
                        "is too large: the usage prices at {} {} by {}, and an event may cost at \
                         most 9000000 (are its quantities in the price's units?)",
                        q.cost.amount_string(),
                        q.cost.currency.as_str(),
                        price_id(&q.entry)
                    ),
                ));
            }
        }
        let computed = computed.filter(|_| over_cap.is_none());
        let unpriced = pricing.unpriced();
        self.cost = cost.map(|m| m.amount_string());
        self.cost_nanos = nanos_i64("cost", cost)?;
        // `as_str`, not `to_string`: the formatting machinery, twice per event, for three letters.
        self.currency = cost
            .map(|m| m.currency.as_str().to_owned())
            .unwrap_or_default();
        self.computed_cost_nanos = nanos_i64("cost", computed.map(|q| q.cost))?;
        self.computed_currency = computed.map(|q| q.cost.currency.as_str().to_owned());
        self.reported_cost_nanos = nanos_i64("cost", pricing.reported)?;
        self.unpriced_reason = unpriced.map(|u| u.code().to_string());
        self.unpriced_message = unpriced.map(|u| u.message().to_string());
        self.price_id = computed.map(|q| price_id(&q.entry));
        Ok(())
    }

    /// The event as pricing sees it (quantities, time, project, reported cost), to price a
    /// stored event again; `None` when the stored record is not readable.
    pub fn to_usage_event(&self) -> Option<UsageEvent> {
        let mut usage = Usage::new();
        for kind in UsageKind::ALL {
            usage.set_micros(kind, self.micros(kind));
        }
        Some(UsageEvent {
            id: Some(self.id.clone()),
            project_id: ProjectId::parse(&self.project_id).ok(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            operation: (!self.operation.is_empty()).then(|| self.operation.clone()),
            usage,
            total_tokens: u64::try_from(self.total_tokens).ok()?,
            reported_cost: self.reported_cost_money(),
            cached: self.cached,
            timestamp: self.timestamp()?,
            timestamp_sent: true,
            session_id: self.session_id.clone(),
            job_id: self.job_id.clone(),
            duration_ms: self.duration_ms.and_then(|d| u64::try_from(d).ok()),
            success: self.success,
            endpoint: self.endpoint.clone(),
            metadata: self
                .metadata
                .as_ref()
                .and_then(|m| serde_json::to_string(m).ok()),
            reservation_id: self.reservation_id.clone(),
        })
    }

    /// Whether two records carry the same price fields.
    pub fn same_pricing(&self, other: &StoredEvent) -> bool {
        (
            &self.cost_nanos,
            &self.currency,
            &self.computed_cost_nanos,
            &self.computed_currency,
            &self.unpriced_reason,
            &self.price_id,
        ) == (
            &other.cost_nanos,
            &other.currency,
            &other.computed_cost_nanos,
            &other.computed_currency,
            &other.unpriced_reason,
            &other.price_id,
        )
    }

    /// The idempotency key: an event id is unique within its project.
    pub fn key(&self) -> (String, String) {
        (self.project_id.clone(), self.id.clone())
    }

    /// Whether this event reuses the id of `stored` for different content (rather than being
    /// a retry of it). Lines and rows from before fingerprints existed, or fingerprinted by
    /// another rule (see [`UsageEvent::fingerprint`]), match anything.
    pub fn reuses_id_of(&self, stored: &StoredEvent) -> bool {
        matches!((&self.fingerprint, &stored.fingerprint), (Some(a), Some(b)) if a != b && same_rule(a, b))
    }

    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        parse_timestamp(&self.request_timestamp).ok()
    }

    /// The UTC day (`YYYY-MM-DD`) the event counts in: the day of its own timestamp.
    pub fn day(&self) -> &str {
        self.request_timestamp.get(..10).unwrap_or_default()
    }

    pub fn currency(&self) -> Option<Currency> {
        Currency::parse(&self.currency).ok()
    }

    /// The cost that counts, or `None` when unpriced.
    pub fn cost_money(&self) -> Option<Money> {
        Some(Money::new(i128::from(self.cost_nanos?), self.currency()?))
    }

    pub fn computed_cost_money(&self) -> Option<Money> {
        let currency = Currency::parse(self.computed_currency.as_deref()?).ok()?;
        Some(Money::new(i128::from(self.computed_cost_nanos?), currency))
    }

    pub fn reported_cost_money(&self) -> Option<Money> {
        Some(Money::new(
            i128::from(self.reported_cost_nanos?),
            self.currency()?,
        ))
    }

    /// Quantity of one kind in micro-units.
    pub fn micros(&self, kind: UsageKind) -> i128 {
        let (value, integral) = match kind {
            UsageKind::InputTokens => (self.input_tokens, true),
            UsageKind::OutputTokens => (self.output_tokens, true),
            UsageKind::CachedInputTokens => (self.cached_input_tokens, true),
            UsageKind::CacheWriteTokens => (self.cache_write_tokens, true),
            UsageKind::ReasoningTokens => (self.reasoning_tokens, true),
            UsageKind::AudioInputTokens => (self.audio_input_tokens, true),
            UsageKind::AudioOutputTokens => (self.audio_output_tokens, true),
            UsageKind::Characters => (self.characters, true),
            UsageKind::AudioSeconds => (self.audio_seconds_micros, false),
            UsageKind::VideoSeconds => (self.video_seconds_micros, false),
            UsageKind::Images => (self.images, true),
            UsageKind::Requests => (self.requests, true),
            UsageKind::Tracks => (self.tracks, true),
            UsageKind::Credits => (self.credits_micros, false),
        };
        if integral {
            i128::from(value) * MICRO
        } else {
            i128::from(value)
        }
    }

    /// Every non-zero quantity by usage kind name: whole units as numbers, seconds and
    /// credits as decimal text.
    pub fn usage_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut usage = serde_json::Map::new();
        for kind in UsageKind::ALL {
            let micros = self.micros(kind);
            if micros != 0 {
                let value = if kind.is_integral() {
                    serde_json::Value::from((micros / MICRO) as i64)
                } else {
                    serde_json::Value::from(format_scaled(micros, 6, 0))
                };
                usage.insert(kind.name().to_string(), value);
            }
        }
        usage
    }

    /// The API's view of the stored event.
    pub fn view(&self) -> EventView {
        let usage = self.usage_map();
        EventView {
            id: self.id.clone(),
            project_id: self.project_id.clone(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            catalog_model: crate::pricing::catalog::catalog_model(&self.provider, &self.model),
            operation: (!self.operation.is_empty()).then(|| self.operation.clone()),
            timestamp: self.request_timestamp.clone(),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            total_tokens: self.total_tokens,
            usage,
            cost: self.cost_money(),
            computed_cost: self.computed_cost_money(),
            reported_cost: self.reported_cost_money(),
            unpriced: self.unpriced_reason.as_ref().map(|code| UnpricedView {
                code: code.clone(),
                message: self.unpriced_message.clone().unwrap_or_default(),
            }),
            price_id: self.price_id.clone(),
            cached: self.cached,
            success: self.success,
            session_id: self.session_id.clone(),
            job_id: self.job_id.clone(),
            duration_ms: self.duration_ms,
            endpoint: self.endpoint.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnpricedView {
    pub code: String,
    pub message: String,
}

/// One stored event as `GET /api/usage` answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub id: String,
    pub project_id: String,
    pub provider: String,
    pub model: String,
    /// The model reports group the event under ([`crate::pricing::catalog::catalog_model`]):
    /// `gpt-4o` for `gpt-4o-2024-08-06`, else `model`.
    pub catalog_model: String,
    pub operation: Option<String>,
    pub timestamp: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    /// Every non-zero quantity by usage kind; seconds and credits as decimal text.
    pub usage: serde_json::Map<String, serde_json::Value>,
    pub cost: Option<Money>,
    pub computed_cost: Option<Money>,
    pub reported_cost: Option<Money>,
    pub unpriced: Option<UnpricedView>,
    pub price_id: Option<String>,
    pub cached: bool,
    pub success: bool,
    pub session_id: Option<String>,
    pub job_id: Option<String>,
    pub duration_ms: Option<i64>,
    pub endpoint: Option<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Newline-delimited JSON of the records, one per line, ending with a newline.
pub fn to_ndjson(records: &[StoredEvent]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(records.len() * 512);
    for record in records {
        record.write_json(&mut out)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// A line of a raw-log object that could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Reads the records of a raw-log object; unreadable lines are returned apart (1-based).
pub fn from_ndjson(bytes: &[u8]) -> (Vec<StoredEvent>, Vec<BadLine>) {
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Read as text, as every JSON text is (one copy of serde_json's reader in the wasm).
        let read = std::str::from_utf8(line)
            .map_err(|_| "the line is not UTF-8".to_string())
            .and_then(|text| serde_json::from_str::<StoredEvent>(text).map_err(|e| e.to_string()));
        match read {
            Ok(record) => records.push(record),
            Err(message) => bad.push(BadLine {
                line: i + 1,
                message,
            }),
        }
    }
    (records, bad)
}
