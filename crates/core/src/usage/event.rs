//! Usage events as clients report them, parsed and validated once into [`UsageEvent`].

use chrono::{DateTime, Duration, Utc};

use crate::access::projects::ProjectId;
use crate::kernel::clock::parse_timestamp;
use crate::kernel::error::{FieldError, Problems};
use crate::kernel::input::{visible_text, DecimalText};
use crate::kernel::money::{Currency, Decimal, Money, MAX_EVENT_COST_NANOS};
use crate::pricing::catalog::{
    builtin, canonical_provider_of, joined_words, normalize_name, Catalog, PriceBook,
};
use crate::pricing::{Usage, UsageKind, MAX_QUANTITY, MICRO};
use crate::usage::record::TOO_COSTLY;

/// The largest `metadata` object accepted, serialized.
pub const MAX_METADATA_BYTES: usize = 4096;
/// The metadata key under which a cache hit keeps the usage it reported (and did not use).
pub const CACHED_USAGE: &str = "cached_usage";
/// How far in the future a timestamp may be (clock skew).
pub const MAX_FUTURE_SKEW_MINUTES: i64 = 5;

/// The problem of a quantity over [`MAX_QUANTITY`].
const TOO_LARGE: &str = "is too large (at most 1000000000 in one event)";
/// Model name stored when a client reports none (HeyGen and ElevenLabs calls often have none).
pub const DEFAULT_MODEL: &str = "default";

/// Whether an event of `provider` must name its model (unless it reports its own cost): the
/// built-in catalog prices the provider model by model (OpenAI, Anthropic, Google) and has no
/// entry answering to [`DEFAULT_MODEL`], so an event without one could only be stored
/// unpriced. Providers with a
/// provider-wide default (HeyGen's API credits, ElevenLabs, Hume, Loudly, Lahajati, Google
/// Cloud speech) and providers the catalog does not know take an event without a model,
/// recorded as `default`, and the answer warns (`ingest::model_warning`).
pub fn model_required(provider: &str) -> bool {
    let none = Catalog::default();
    let book = PriceBook {
        builtin: builtin(),
        custom: &none,
    };
    builtin().has_provider(provider) && book.canonical_model(provider, DEFAULT_MODEL).is_none()
}

/// One event as sent. Field names follow the seed teams' clients; the provider-native names
/// (`prompt_tokens`, `completion_tokens`, `cache_read_input_tokens`,
/// `cache_creation_input_tokens`) and `service` for `operation` are accepted as aliases.
#[derive(Debug, Clone, Default)]
pub struct EventInput {
    pub id: Option<String>,
    pub project_id: Option<String>,
    pub provider: String,
    pub model: Option<String>,
    /// What the call did; seed 003's clients call it `service` (`asr`, `chat`).
    pub operation: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub audio_input_tokens: Option<u64>,
    pub audio_output_tokens: Option<u64>,
    /// A total when the client has no split (the seeds' `tokens: 1500`).
    pub tokens: Option<u64>,
    pub characters: Option<u64>,
    pub audio_seconds: Option<DecimalText>,
    pub video_seconds: Option<DecimalText>,
    pub images: Option<u64>,
    pub requests: Option<u64>,
    pub tracks: Option<u64>,
    pub credits: Option<DecimalText>,
    /// A cost the client computed itself; kept as reported.
    pub cost: Option<DecimalText>,
    /// A reported cost in US dollars (seed 004's `cost_usd` column); the same as `cost` with
    /// `currency` USD.
    pub cost_usd: Option<DecimalText>,
    pub currency: Option<String>,
    /// A cache hit (Loudly): recorded and counted as a hit, not as usage of an allotment.
    pub cached: Option<bool>,
    /// When the call happened; seed 004's column is `request_timestamp`.
    pub timestamp: Option<String>,
    pub session_id: Option<String>,
    pub job_id: Option<String>,
    pub duration_ms: Option<u64>,
    pub success: Option<bool>,
    pub endpoint: Option<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The guard's reservation this usage settles (`POST /api/usage/guard` with `reserve`).
    pub reservation_id: Option<String>,
}

crate::object_reader!(EventInput, deny {
    id: default,
    project_id: default,
    provider: required,
    model: default,
    operation ["operation", "service"]: default,
    input_tokens ["input_tokens", "prompt_tokens"]: default,
    output_tokens ["completion_tokens", "output_tokens"]: default,
    cached_input_tokens ["cache_read_input_tokens", "cached_input_tokens", "cached_tokens"]: default,
    cache_write_tokens ["cache_creation_input_tokens", "cache_write_tokens"]: default,
    reasoning_tokens: default,
    audio_input_tokens: default,
    audio_output_tokens: default,
    tokens ["tokens", "total_tokens"]: default,
    characters: default,
    audio_seconds: default,
    video_seconds: default,
    images: default,
    requests: default,
    tracks: default,
    credits: default,
    cost: default,
    cost_usd: default,
    currency: default,
    cached: default,
    timestamp ["request_timestamp", "timestamp"]: default,
    session_id: default,
    job_id: default,
    duration_ms: default,
    success: default,
    endpoint: default,
    metadata: default,
    reservation_id: default,
});

/// `errors` of a request's events with each field named as the request spelled it: a
/// problem found on `tokens` of an event that sent `total_tokens` names `total_tokens` (seed
/// 004's column), on `cached_input_tokens` of one that sent `cached_tokens` names that.
/// Validation reads the fields under their own names; this reads the body again, only when
/// some error names a field that has other spellings ([`EventInput::SPELLINGS`]).
pub fn named_as_sent(mut errors: Vec<FieldError>, body: &[u8]) -> Vec<FieldError> {
    let aliased = |name: &str| {
        EventInput::SPELLINGS
            .iter()
            .find(|(field, keys)| *field == name && keys.len() > 1)
    };
    // `events[3].tokens` -> (Some(3), "tokens"); `tokens` -> (None, "tokens").
    fn split(field: &str) -> Option<(Option<usize>, &str)> {
        match field.strip_prefix("events[") {
            Some(rest) => {
                let (index, name) = rest.split_once("].")?;
                Some((Some(index.parse().ok()?), name))
            }
            None => Some((None, field)),
        }
    }
    if !errors
        .iter()
        .any(|e| split(&e.field).is_some_and(|(_, name)| aliased(name).is_some()))
    {
        return errors;
    }
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
        return errors;
    };
    for error in &mut errors {
        let Some((index, name)) = split(&error.field) else {
            continue;
        };
        let Some((_, keys)) = aliased(name) else {
            continue;
        };
        let event = match index {
            Some(i) => request.get("events").and_then(|events| events.get(i)),
            None => Some(&request),
        };
        let Some(event) = event.and_then(serde_json::Value::as_object) else {
            continue;
        };
        if event.contains_key(name) {
            continue;
        }
        if let Some(sent) = keys.iter().find(|key| event.contains_key(**key)) {
            error.field = match index {
                Some(i) => format!("events[{i}].{sent}"),
                None => (*sent).to_string(),
            };
        }
    }
    errors
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    pub id: Option<String>,
    pub project_id: Option<ProjectId>,
    pub provider: String,
    pub model: String,
    pub operation: Option<String>,
    pub usage: Usage,
    pub total_tokens: u64,
    pub reported_cost: Option<Money>,
    pub cached: bool,
    pub timestamp: DateTime<Utc>,
    /// Whether the client sent `timestamp` (else it is the time the request arrived, which a
    /// retry of the same event does not repeat).
    pub timestamp_sent: bool,
    pub session_id: Option<String>,
    pub job_id: Option<String>,
    pub duration_ms: Option<u64>,
    pub success: bool,
    pub endpoint: Option<String>,
    pub metadata: Option<String>,
    /// The reservation this usage settles; not part of the fingerprint.
    pub reservation_id: Option<String>,
}

/// Limits that depend on configuration.
#[derive(Debug, Clone, Copy)]
pub struct EventRules {
    pub now: DateTime<Utc>,
    /// Events older than this many days are refused (late arrivals within it are fine).
    pub max_age_days: i64,
    /// The retention watermark: events of earlier days are refused, since those days' raw
    /// rows were pruned and their rollups are closed.
    pub pruned_before: Option<chrono::NaiveDate>,
}

pub(crate) fn short_text(field: String, text: &str, max: usize) -> Result<String, FieldError> {
    // Printable ASCII within the limit, with no space at either end (nearly every id, job and
    // operation): nothing to trim and nothing hidden, so it is taken as it is (a test holds
    // this to the checks below).
    if printable_ascii(text) && text.len() <= max {
        return Ok(text.to_string());
    }
    checked_short_text(field, text, max)
}

fn checked_short_text(field: String, text: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(FieldError::new(field, "must not be empty when given"))
    } else if trimmed.len() > max && trimmed.chars().count() > max {
        Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ))
    } else {
        visible_text(field, trimmed)?;
        Ok(trimmed.to_string())
    }
}

/// Whether `text` is non-empty printable ASCII (spaces included) that neither starts nor ends
/// with a space.
fn printable_ascii(text: &str) -> bool {
    let bytes = text.as_bytes();
    matches!((bytes.first(), bytes.last()), (Some(&first), Some(&last)) if first != b' ' && last != b' ')
        && bytes.iter().all(|b| (0x20..0x7f).contains(b))
}

fn fractional(field: String, text: &DecimalText) -> Result<i128, FieldError> {
    let d = Decimal::parse(&text.0).map_err(|m| FieldError::new(field.clone(), m))?;
    if d.is_negative() {
        return Err(FieldError::new(field, "must not be negative"));
    }
    let micros = d.scaled_exact(6).ok_or_else(|| {
        let why = if d.scale > 6 {
            "has more than 6 decimal places"
        } else {
            TOO_LARGE
        };
        FieldError::new(field.clone(), why)
    })?;
    if micros > MAX_QUANTITY {
        return Err(FieldError::new(field, TOO_LARGE));
    }
    Ok(micros)
}

/// How an event is named in its errors: alone (`model`) or as an element of a batch
/// (`events[3].model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Alone,
    At(usize),
}

impl EventName {
    /// Event `index` of a request: `events[index]` when the request sent an envelope
    /// (`{"events": [...]}`), alone otherwise.
    pub fn in_request(index: usize, enveloped: bool) -> Self {
        if enveloped {
            EventName::At(index)
        } else {
            EventName::Alone
        }
    }

    /// The name of the event's field `f` in an error.
    pub fn field(self, f: &str) -> String {
        match self {
            EventName::Alone => f.to_string(),
            EventName::At(i) => format!("events[{i}].{f}"),
        }
    }
}

impl EventInput {
    /// Whether the event gives any usage: a quantity, a token total, a cost, or a cache hit.
    pub fn reports_usage(&self) -> bool {
        [
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
            self.audio_input_tokens,
            self.audio_output_tokens,
            self.tokens,
            self.characters,
            self.images,
            self.requests,
            self.tracks,
        ]
        .iter()
        .any(Option::is_some)
            || [
                &self.audio_seconds,
                &self.video_seconds,
                &self.credits,
                &self.cost,
                &self.cost_usd,
            ]
            .iter()
            .any(|v| v.is_some())
            || self.cached == Some(true)
    }

    /// Validates the event; `name` names it in errors (`events[3]`), written out only for a
    /// problem.
    pub fn validate(
        &self,
        name: EventName,
        rules: &EventRules,
    ) -> Result<UsageEvent, Vec<FieldError>> {
        let at = |f: &str| name.field(f);
        // A field's name is written out only for a problem (most events have none): checks
        // name no field, and a problem found gets its name here.
        let named = |f: &'static str| move |e: FieldError| FieldError::new(at(f), e.message);
        let mut p = Problems::new();
        // An id is the idempotency key: taken exactly as sent, never trimmed, so the answer
        // echoes what the client holds; characters that look like nothing are refused.
        let id = match &self.id {
            Some(id) => p
                .take(short_text(String::new(), id, 128).map_err(named("id")))
                .and_then(|trimmed| {
                    // Printable ASCII without a space (nearly every id) holds no white space
                    // and nothing hidden: not read twice more.
                    if printable_ascii(id) && !id.contains(' ') {
                        Some(trimmed)
                    } else if id.chars().any(char::is_whitespace) {
                        p.push(at("id"), "must not contain white space");
                        None
                    } else if let Err(problem) = visible_text(String::new(), id) {
                        p.push(at("id"), problem.message);
                        None
                    } else {
                        Some(trimmed)
                    }
                }),
            None => None,
        };
        let project_id = match &self.project_id {
            Some(pid) => {
                p.take(ProjectId::parse(pid).map_err(|m| FieldError::new(at("project_id"), m)))
            }
            None => None,
        };
        // "Eleven Labs" is elevenlabs: words typed apart are joined before the name is checked.
        let provider = p
            .take(normalize_name("", &joined_words(&self.provider)).map_err(named("provider")))
            .map(canonical_provider_of);
        let model = match (&self.model, &provider) {
            (Some(m), _) => p.take(normalize_name("", m).map_err(named("model"))),
            // An event with its own cost is priced by it: the model is not needed to count it
            // (seed 001's `logUsage('openai', {tokens, cost})`), and the answer warns.
            (None, Some(provider))
                if model_required(provider) && self.cost.is_none() && self.cost_usd.is_none() =>
            {
                p.push(
                    at("model"),
                    format!(
                        "is required: {provider} prices each model differently, so an event \
                         without one could not be priced; send the model the call used (or \
                         the call's `cost`)"
                    ),
                );
                None
            }
            (None, _) => Some(DEFAULT_MODEL.to_string()),
        };
        let operation = match &self.operation {
            Some(o) => p.take(short_text(String::new(), o, 100).map_err(named("operation"))),
            None => None,
        };
        let mut usage = Usage::new();
        // A quantity that was given but refused is named on its own; it is not "no usage".
        let mut refused_quantity = false;
        let whole = [
            (UsageKind::InputTokens, self.input_tokens),
            (UsageKind::OutputTokens, self.output_tokens),
            (UsageKind::CachedInputTokens, self.cached_input_tokens),
            (UsageKind::CacheWriteTokens, self.cache_write_tokens),
            (UsageKind::ReasoningTokens, self.reasoning_tokens),
            (UsageKind::AudioInputTokens, self.audio_input_tokens),
            (UsageKind::AudioOutputTokens, self.audio_output_tokens),
            (UsageKind::Characters, self.characters),
            (UsageKind::Images, self.images),
            (UsageKind::Requests, self.requests),
            (UsageKind::Tracks, self.tracks),
        ];
        for (kind, value) in whole {
            if let Some(n) = value {
                let micros = i128::from(n) * MICRO;
                if micros > MAX_QUANTITY {
                    p.push(at(kind.name()), TOO_LARGE);
                    refused_quantity = true;
                } else {
                    usage.set_micros(kind, micros);
                }
            }
        }
        for (kind, value) in [
            (UsageKind::AudioSeconds, &self.audio_seconds),
            (UsageKind::VideoSeconds, &self.video_seconds),
            (UsageKind::Credits, &self.credits),
        ] {
            if let Some(text) = value {
                match p.take(fractional(at(kind.name()), text)) {
                    Some(micros) => usage.set_micros(kind, micros),
                    None => refused_quantity = true,
                }
            }
        }
        let currency = match &self.currency {
            Some(c) => p.take(Currency::parse(c).map_err(|m| FieldError::new(at("currency"), m))),
            None => Some(Currency::USD),
        };
        // `cost_usd` is `cost` in USD.
        let (cost_field, cost) = match (&self.cost, &self.cost_usd) {
            (Some(_), Some(_)) => {
                p.push(at("cost_usd"), "give either cost or cost_usd, not both");
                ("cost", None)
            }
            (None, Some(usd)) => {
                if currency.is_some_and(|c| c != Currency::USD) {
                    p.push(
                        at("currency"),
                        "cost_usd is in USD; send `cost` with this currency instead",
                    );
                }
                ("cost_usd", Some(usd))
            }
            (cost, None) => ("cost", cost.as_ref()),
        };
        let currency = if cost_field == "cost_usd" {
            Some(Currency::USD)
        } else {
            currency
        };
        let reported_cost = match (cost, currency) {
            (Some(cost), Some(currency)) => match Money::parse(&cost.0, currency) {
                Ok(m) if m.nanos < 0 => {
                    p.push(at(cost_field), "must not be negative");
                    None
                }
                Ok(m) if m.nanos > MAX_EVENT_COST_NANOS => {
                    p.push(at(cost_field), TOO_COSTLY);
                    None
                }
                Ok(m) => Some(m),
                Err(m) => {
                    p.push(at(cost_field), m);
                    None
                }
            },
            _ => None,
        };
        if self.cost.is_none() && self.cost_usd.is_none() && self.currency.is_some() {
            p.push(at("currency"), "is only meaningful with `cost`");
        }
        let split_tokens = [UsageKind::InputTokens, UsageKind::OutputTokens]
            .iter()
            .map(|k| usage.units(*k) as u64)
            .sum::<u64>();
        for (name, value) in [("tokens", self.tokens), ("duration_ms", self.duration_ms)] {
            if value.is_some_and(|n| i128::from(n) * MICRO > MAX_QUANTITY) {
                p.push(at(name), TOO_LARGE);
            }
        }
        let total_tokens = self.tokens.unwrap_or(split_tokens);
        if let Some(total) = self.tokens {
            if total < split_tokens {
                p.push(at("tokens"), "is smaller than input_tokens + output_tokens");
            }
        }
        if usage.is_empty()
            && !refused_quantity
            && self.tokens.is_none()
            && self.cost.is_none()
            && self.cost_usd.is_none()
            && self.cached != Some(true)
        {
            p.push(
                at("usage"),
                "the event reports no usage: send at least one quantity (input_tokens, characters, credits, ...) or a cost",
            );
        }
        let timestamp = match &self.timestamp {
            Some(t) => p.take(parse_timestamp(t).map_err(|m| FieldError::new(at("timestamp"), m))),
            None => Some(rules.now),
        };
        if let Some(t) = timestamp {
            if t > rules.now + Duration::minutes(MAX_FUTURE_SKEW_MINUTES) {
                p.push(at("timestamp"), "is more than 5 minutes in the future");
            } else if t < rules.now - Duration::days(rules.max_age_days) {
                p.push(
                    at("timestamp"),
                    format!(
                        "is older than {} days, the late-arrival window",
                        rules.max_age_days
                    ),
                );
            } else if let Some(watermark) = rules.pruned_before.filter(|w| t.date_naive() < *w) {
                p.push(
                    at("timestamp"),
                    format!(
                        "falls before {watermark}: the raw rows of earlier days were pruned \
                         (USAGE_RETENTION_DAYS), so no event of those days can be recorded"
                    ),
                );
            }
        }
        let session_id = self
            .session_id
            .as_deref()
            .and_then(|s| p.take(short_text(String::new(), s, 128).map_err(named("session_id"))));
        let job_id = self
            .job_id
            .as_deref()
            .and_then(|s| p.take(short_text(String::new(), s, 128).map_err(named("job_id"))));
        let endpoint = self
            .endpoint
            .as_deref()
            .and_then(|s| p.take(short_text(String::new(), s, 256).map_err(named("endpoint"))));
        let reservation_id = self.reservation_id.as_deref().and_then(|s| {
            p.take(short_text(String::new(), s, 128).map_err(named("reservation_id")))
        });
        let metadata = match &self.metadata {
            Some(m) if self.cached == Some(true) && m.contains_key(CACHED_USAGE) => {
                p.push(
                    at(&format!("metadata.{CACHED_USAGE}")),
                    "is where a cache hit's usage is recorded (`cached: true`); name your key otherwise",
                );
                None
            }
            Some(m) => {
                // Keys are shown as columns and filtered on (`metadata.<key>=`); values are
                // the client's own data, kept as sent. The key is quoted escaped: a field name
                // holding the very character refused would hide it again.
                for key in m.keys() {
                    if let Err(problem) = visible_text(String::new(), key) {
                        p.push(at("metadata"), format!("key {key:?} {}", problem.message));
                    }
                }
                let text = serde_json::to_string(m).unwrap_or_default();
                if text.len() > MAX_METADATA_BYTES {
                    p.push(
                        at("metadata"),
                        format!("is larger than {MAX_METADATA_BYTES} bytes"),
                    );
                    None
                } else {
                    Some(text)
                }
            }
            None => None,
        };
        if !p.is_empty() {
            return Err(p.into_errors());
        }
        let (Some(provider), Some(model), Some(timestamp)) = (provider, model, timestamp) else {
            return Err(vec![FieldError::new(at("provider"), "invalid event")]);
        };
        Ok(UsageEvent {
            id,
            project_id,
            provider,
            model,
            operation,
            usage,
            total_tokens,
            reported_cost,
            cached: self.cached.unwrap_or(false),
            timestamp,
            timestamp_sent: self.timestamp.is_some(),
            session_id,
            job_id,
            duration_ms: self.duration_ms,
            success: self.success.unwrap_or(true),
            endpoint,
            metadata,
            reservation_id,
        })
    }
}

impl UsageEvent {
    /// A digest of what the client said about the event apart from its key (project and id)
    /// and its time: the validated, normalized fields, so that a retry of the same event
    /// matches however its numbers, names or time zone were spelled, and a different event
    /// under a reused id does not. The time is not part of it, whether the client sent it or
    /// not: a retry arrives at another time, and the clients stamp each `record()` call with
    /// the time of the call, so a re-recorded event would otherwise never match (it is answered
    /// as a duplicate with the stored time). Nothing the price list decides is part of it
    /// either. [`FINGERPRINT_RULE`] then the SipHash-2-4 of a compact tagged encoding
    /// (`kernel::digest`), as 16 hex digits: two different events under one id match by chance
    /// once in 2^64.
    ///
    /// Fingerprints of another rule are never compared ([`same_rule`]): rows and raw-log lines
    /// stored under the first rule (16 hex digits, no prefix, a sent time included) or the
    /// second (`v2:`, the same encoding under the first 64 bits of a SHA-256) match any retry,
    /// as rows stored before fingerprints existed do. Comparing them would refuse the
    /// legitimate retry of every event stored with its own time; rewriting them is impossible
    /// (the fields hashed are not all kept as sent).
    pub fn fingerprint(&self) -> String {
        let mut bytes = Vec::with_capacity(128);
        let mut text = |tag: u8, value: Option<&str>| {
            bytes.push(tag);
            match value {
                Some(v) => {
                    leb128(&mut bytes, v.len() as u128 + 1);
                    bytes.extend_from_slice(v.as_bytes());
                }
                // Absent differs from empty: lengths are stored plus one.
                None => bytes.push(0),
            }
        };
        text(1, Some(&self.provider));
        text(2, Some(&self.model));
        text(3, self.operation.as_deref());
        text(4, self.session_id.as_deref());
        text(5, self.job_id.as_deref());
        text(6, self.endpoint.as_deref());
        text(7, self.metadata.as_deref());
        let currency = self.reported_cost.map(|m| m.currency);
        text(8, currency.as_ref().map(Currency::as_str));
        let mut number = |tag: u8, value: u128| {
            bytes.push(tag);
            leb128(&mut bytes, value);
        };
        for kind in UsageKind::ALL {
            // Validation keeps quantities non-negative.
            let micros = u128::try_from(self.usage.micros(kind)).unwrap_or_default();
            if micros != 0 {
                number(16 + kind.index() as u8, micros);
            }
        }
        number(9, u128::from(self.total_tokens));
        if let Some(cost) = self.reported_cost {
            number(10, u128::try_from(cost.nanos).unwrap_or_default());
        }
        number(11, u128::from(self.cached) | u128::from(self.success) << 1);
        // Tag 12 held the time the client sent, under the first rule.
        if let Some(ms) = self.duration_ms {
            number(13, u128::from(ms));
        }
        let digest = crate::kernel::digest::fingerprint_digest(&bytes);
        // The rule and 16 hex digits, written into one string (no `format!`, once per event).
        let mut digits = [0u8; 16];
        let mut fingerprint = String::with_capacity(FINGERPRINT_RULE.len() + 16);
        fingerprint.push_str(FINGERPRINT_RULE);
        if hex::encode_to_slice(digest, &mut digits).is_ok() {
            // Hex digits are ASCII.
            fingerprint.push_str(std::str::from_utf8(&digits).unwrap_or_default());
        }
        fingerprint
    }
}

/// The prefix of every fingerprint of the current rule ([`UsageEvent::fingerprint`]); the
/// first rule's fingerprints had none. The edge's insert compares the first three characters
/// the same way ([`same_rule`]).
pub const FINGERPRINT_RULE: &str = "v3:";
// The edge's SQL compares `substr(fingerprint, 1, 3)`.
const _: () = assert!(FINGERPRINT_RULE.len() == 3);

/// Whether two fingerprints were made by the same rule, and so can tell a retry from a
/// different event.
pub fn same_rule(a: &str, b: &str) -> bool {
    a.get(..FINGERPRINT_RULE.len()) == b.get(..FINGERPRINT_RULE.len())
}

/// Appends `value` as an unsigned LEB128 number (seven bits a byte).
fn leb128(out: &mut Vec<u8>, mut value: u128) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

#[cfg(test)]
mod short_text_tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_short_text_taken_as_it_is_is_what_the_full_checks_give(
            text in "[ -~\t\n\u{00a0}\u{200b}\u{202e}é]{0,14}",
            max in 1usize..12,
        ) {
            let fast = super::short_text(String::new(), &text, max).map_err(|e| e.message);
            let checked = super::checked_short_text(String::new(), &text, max).map_err(|e| e.message);
            prop_assert_eq!(fast, checked, "{:?}", text);
        }
    }
}
