//! Price entries and catalogs: the built-in catalog compiled from `data/prices.json`, and
//! custom entries (global or per project) that win over it. An event is priced with the entry
//! in force at its own timestamp, so a price change never rewrites history.

use litemap::LiteMap;
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{EntryRef, Unpriced, UsageKind};
use crate::access::projects::ProjectId;
use crate::kernel::error::{FieldError, Problems};
use crate::kernel::input::DecimalText;
use crate::kernel::money::{Currency, Decimal};

mod builtin;
mod names;

pub use builtin::*;
pub use names::*;

/// The largest price of one `per` quantity accepted (a million currency units).
const MAX_PRICE_PICO: i128 = 1_000_000 * 1_000_000_000_000;

/// A price: `price` per `per` units of a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub price: Decimal,
    /// `price` in 10^-12 of the currency unit (exact: prices have at most 12 decimals).
    pub price_pico: i128,
    pub per: u64,
}

impl Rate {
    pub fn parse(field: &str, input: &RateInput) -> Result<Rate, FieldError> {
        let price = Decimal::parse(&input.price.0)
            .map_err(|m| FieldError::new(format!("{field}.price"), m))?;
        if price.is_negative() {
            return Err(FieldError::new(
                format!("{field}.price"),
                "must not be negative",
            ));
        }
        let price_pico = price.scaled_exact(12).ok_or_else(|| {
            let why = if price.scale > 12 {
                "has more than 12 decimal places; raise `per` instead"
            } else {
                // Whole enough to overflow at 12 places: far past the largest price.
                "is larger than 1000000"
            };
            FieldError::new(format!("{field}.price"), why)
        })?;
        if price_pico > MAX_PRICE_PICO {
            return Err(FieldError::new(
                format!("{field}.price"),
                "is larger than 1000000",
            ));
        }
        if input.per == 0 || input.per > 1_000_000_000 {
            return Err(FieldError::new(
                format!("{field}.per"),
                "must be an integer from 1 to 1000000000",
            ));
        }
        Ok(Rate {
            price,
            price_pico,
            per: input.per,
        })
    }
}

/// How a provider's counts overlap (see the module docs of `pricing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counting {
    /// Cached prompt tokens are part of `input_tokens` (OpenAI, Gemini), not on top (Anthropic).
    pub cached_in_input: bool,
    /// Reasoning tokens are part of `output_tokens` (OpenAI, Anthropic), not apart (Gemini).
    pub reasoning_in_output: bool,
    /// Audio prompt tokens are part of `input_tokens`.
    pub audio_in_input: bool,
    /// Audio output tokens are part of `output_tokens`.
    pub audio_in_output: bool,
    /// Credits measure the whole call (ElevenLabs charges a call's characters, times the
    /// voice's multiplier, in credits): an event that reports credits is billed by them alone,
    /// and its characters, seconds, images, requests and tracks are kept but not billed again.
    pub credits_cover_usage: bool,
}

impl Counting {
    /// Each provider's documented rule.
    pub fn for_provider(provider: &str) -> Counting {
        match provider {
            "anthropic" => Counting {
                cached_in_input: false,
                reasoning_in_output: true,
                audio_in_input: true,
                audio_in_output: true,
                credits_cover_usage: false,
            },
            "google" => Counting {
                cached_in_input: true,
                reasoning_in_output: false,
                audio_in_input: true,
                audio_in_output: true,
                credits_cover_usage: false,
            },
            _ => Counting {
                cached_in_input: true,
                reasoning_in_output: true,
                audio_in_input: true,
                audio_in_output: true,
                credits_cover_usage: provider == "elevenlabs",
            },
        }
    }
}

/// Rates that replace the base rates when the prompt is larger than a threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub above_prompt_tokens: u64,
    pub rates: [Option<Rate>; UsageKind::COUNT],
}

/// Where an entry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    Custom {
        id: String,
        project_id: Option<ProjectId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    pub origin: Origin,
    pub provider: String,
    pub model: String,
    pub aliases: Vec<String>,
    pub mode: Option<String>,
    pub currency: Currency,
    pub effective_from: NaiveDate,
    pub source: Option<String>,
    pub source_read_on: Option<NaiveDate>,
    pub rates: [Option<Rate>; UsageKind::COUNT],
    pub tiers: Vec<Tier>,
    pub tier_rule: Option<String>,
    pub counting: Counting,
    pub notes: Option<String>,
}

impl PriceEntry {
    /// The `provider|name` keys the entry is found under: its model and every alias.
    pub fn lookup_names(&self) -> Vec<String> {
        std::iter::once(&self.model)
            .chain(&self.aliases)
            .map(|name| format!("{}|{name}", self.provider))
            .collect()
    }

    /// Whether one of `lookups` (see [`PriceEntry::lookup_names`]) names this entry.
    pub fn answers_to(&self, lookups: &[String]) -> bool {
        self.lookup_names()
            .iter()
            .any(|name| lookups.contains(name))
    }

    pub fn reference(&self) -> EntryRef {
        EntryRef {
            provider: self.provider.clone(),
            model: self.model.clone(),
            effective_from: self.effective_from,
            origin: match &self.origin {
                Origin::Builtin => "builtin".to_string(),
                Origin::Custom { id, .. } => id.clone(),
            },
        }
    }

    /// The entry as the JSON a client sends (the inverse of [`EntryInput::parse`]).
    pub fn to_input(&self) -> EntryInput {
        let rates_map = |rates: &[Option<Rate>; UsageKind::COUNT]| {
            crate::kernel::sort::collect_map(UsageKind::ALL.into_iter().filter_map(|k| {
                rates[k.index()].as_ref().map(|r| {
                    (
                        k.name().to_string(),
                        RateInput {
                            price: DecimalText(r.price.to_string()),
                            per: r.per,
                        },
                    )
                })
            }))
        };
        let default_counting = Counting::for_provider(&self.provider);
        EntryInput {
            provider: self.provider.clone(),
            model: self.model.clone(),
            aliases: self.aliases.clone(),
            mode: self.mode.clone(),
            currency: self.currency.as_str().to_string(),
            effective_from: self.effective_from.to_string(),
            source: self.source.clone(),
            source_read_on: self.source_read_on.map(|d| d.to_string()),
            rates: rates_map(&self.rates),
            tiers: self
                .tiers
                .iter()
                .map(|t| TierInput {
                    above_prompt_tokens: t.above_prompt_tokens,
                    rates: rates_map(&t.rates),
                })
                .collect(),
            tier_rule: self.tier_rule.clone(),
            counting: (self.counting != default_counting).then_some(CountingInput {
                cached_in_input: Some(self.counting.cached_in_input),
                reasoning_in_output: Some(self.counting.reasoning_in_output),
                audio_in_input: Some(self.counting.audio_in_input),
                audio_in_output: Some(self.counting.audio_in_output),
                credits_cover_usage: Some(self.counting.credits_cover_usage),
            }),
            notes: self.notes.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateInput {
    pub price: DecimalText,
    pub per: u64,
}

crate::object_reader!(
    RateInput,
    deny {
        price: required,
        per: required,
    }
);

impl Serialize for DecimalText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierInput {
    pub above_prompt_tokens: u64,
    #[serde(serialize_with = "crate::kernel::sort::serialize_map")]
    pub rates: LiteMap<String, RateInput>,
}

crate::object_reader!(TierInput, deny {
    above_prompt_tokens: required,
    rates: required with crate::kernel::sort::deserialize_map => LiteMap<String, RateInput>,
});

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CountingInput {
    pub cached_in_input: Option<bool>,
    pub reasoning_in_output: Option<bool>,
    pub audio_in_input: Option<bool>,
    pub audio_in_output: Option<bool>,
    pub credits_cover_usage: Option<bool>,
}

crate::object_reader!(
    CountingInput,
    deny {
        cached_in_input: default,
        reasoning_in_output: default,
        audio_in_input: default,
        audio_in_output: default,
        credits_cover_usage: default,
    }
);

/// A price entry as JSON: the format of `data/prices.json` and of the custom-price API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryInput {
    pub provider: String,
    pub model: String,
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub currency: String,
    pub effective_from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_read_on: Option<String>,
    #[serde(serialize_with = "crate::kernel::sort::serialize_map")]
    pub rates: LiteMap<String, RateInput>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier_rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counting: Option<CountingInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

crate::object_reader!(EntryInput, deny {
    provider: required,
    model: required,
    aliases: default,
    mode: default,
    currency: required,
    effective_from: required,
    source: default,
    source_read_on: default,
    rates: required with crate::kernel::sort::deserialize_map => LiteMap<String, RateInput>,
    tiers: default,
    tier_rule: default,
    counting: default,
    notes: default,
});

fn parse_date(field: String, text: &str) -> Result<NaiveDate, FieldError> {
    crate::kernel::date_text::parse_date(text.trim())
        .ok_or_else(|| FieldError::new(field, format!("`{text}` is not a date (YYYY-MM-DD)")))
}

fn parse_rates(
    prefix: &str,
    input: &LiteMap<String, RateInput>,
    problems: &mut Problems,
) -> [Option<Rate>; UsageKind::COUNT] {
    let mut rates: [Option<Rate>; UsageKind::COUNT] = Default::default();
    for (name, rate) in input.iter() {
        let field = format!("{prefix}.{name}");
        match UsageKind::parse(name) {
            Some(kind) => rates[kind.index()] = problems.take(Rate::parse(&field, rate)),
            None => problems.push(
                field,
                format!(
                    "unknown usage kind; expected one of {}",
                    UsageKind::ALL.map(UsageKind::name).join(", ")
                ),
            ),
        }
    }
    rates
}

impl EntryInput {
    /// Validates an entry; every problem is reported under `prefix` (for example
    /// `entries[3]`).
    pub fn parse(&self, prefix: &str, origin: Origin) -> Result<PriceEntry, Vec<FieldError>> {
        let at = |f: &str| {
            if prefix.is_empty() {
                f.to_string()
            } else {
                format!("{prefix}.{f}")
            }
        };
        let mut problems = Problems::new();
        let provider = problems
            .take(normalize_name(&at("provider"), &self.provider))
            .map(|p| canonical_provider(&p));
        let model = problems.take(normalize_name(&at("model"), &self.model));
        let mut aliases = Vec::new();
        for (i, alias) in self.aliases.iter().enumerate() {
            if let Some(a) = problems.take(normalize_name(&at(&format!("aliases[{i}]")), alias)) {
                aliases.push(a);
            }
        }
        let currency = problems
            .take(Currency::parse(&self.currency).map_err(|m| FieldError::new(at("currency"), m)));
        let effective_from = problems.take(parse_date(at("effective_from"), &self.effective_from));
        let source_read_on = match &self.source_read_on {
            Some(d) => problems.take(parse_date(at("source_read_on"), d)).map(Some),
            None => Some(None),
        };
        // Free text is kept with the entry: bounded, so an entry stays far under D1's 2 MB.
        for (field, text, max) in [
            ("mode", self.mode.as_deref(), 64),
            ("source", self.source.as_deref(), 1_000),
            ("tier_rule", self.tier_rule.as_deref(), 1_000),
            ("notes", self.notes.as_deref(), 2_000),
        ] {
            if text.is_some_and(|t| t.len() > max) {
                problems.push(at(field), format!("is longer than {max} characters"));
            }
        }
        if self.aliases.len() > 50 {
            problems.push(at("aliases"), "at most 50 aliases");
        }
        let rates = parse_rates(&at("rates"), &self.rates, &mut problems);
        if self.rates.is_empty() {
            problems.push(at("rates"), "must name at least one usage kind");
        }
        let mut tiers = Vec::new();
        for (i, tier) in self.tiers.iter().enumerate() {
            let tier_rates = parse_rates(
                &at(&format!("tiers[{i}].rates")),
                &tier.rates,
                &mut problems,
            );
            if tier.above_prompt_tokens == 0 {
                problems.push(
                    at(&format!("tiers[{i}].above_prompt_tokens")),
                    "must be greater than zero",
                );
            }
            tiers.push(Tier {
                above_prompt_tokens: tier.above_prompt_tokens,
                rates: tier_rates,
            });
        }
        if !tiers.is_empty()
            && self
                .tier_rule
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            problems.push(
                at("tier_rule"),
                "entries with tiers must state their tier rule",
            );
        }
        let Some(provider) = provider else {
            return Err(problems.into_errors());
        };
        let defaults = Counting::for_provider(&provider);
        let counting = match &self.counting {
            Some(c) => Counting {
                cached_in_input: c.cached_in_input.unwrap_or(defaults.cached_in_input),
                reasoning_in_output: c
                    .reasoning_in_output
                    .unwrap_or(defaults.reasoning_in_output),
                audio_in_input: c.audio_in_input.unwrap_or(defaults.audio_in_input),
                audio_in_output: c.audio_in_output.unwrap_or(defaults.audio_in_output),
                credits_cover_usage: c
                    .credits_cover_usage
                    .unwrap_or(defaults.credits_cover_usage),
            },
            None => defaults,
        };
        match (model, currency, effective_from, source_read_on) {
            (Some(model), Some(currency), Some(effective_from), Some(source_read_on))
                if problems.is_empty() =>
            {
                Ok(PriceEntry {
                    origin,
                    provider,
                    model,
                    aliases,
                    mode: self.mode.clone(),
                    currency,
                    effective_from,
                    source: self.source.clone(),
                    source_read_on,
                    rates,
                    tiers,
                    tier_rule: self.tier_rule.clone(),
                    counting,
                    notes: self.notes.clone(),
                })
            }
            _ => Err(problems.into_errors()),
        }
    }
}

/// A set of entries indexed by provider and model, with aliases.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<PriceEntry>,
    /// provider -> model -> indexes into `entries`, sorted by `effective_from`. Nested so
    /// that lookups borrow `&str` and allocate nothing. Hashed with Fx, as the bundled layer
    /// is: every event of a batch looks its names up here several times, and SipHash took
    /// about a millisecond of a 1,000-event request in the wasm. The keys are the catalog's
    /// own names (the curated file and admins' custom prices), not a client's.
    by_model: FxHashMap<String, FxHashMap<String, Vec<usize>>>,
    /// provider -> alias -> model.
    aliases: FxHashMap<String, FxHashMap<String, String>>,
    /// A layer under these entries whose names these entries never share (the bundled
    /// LiteLLM layer under the curated catalog), parsed entry by entry when asked for, and indexed only when a name is not found above.
    lower: Option<fn() -> &'static super::bundled::Layer>,
}

impl Catalog {
    /// Every provider with at least one entry, sorted.
    pub fn providers(&self) -> Vec<String> {
        let mut out: Vec<String> = self.by_model.keys().cloned().collect();
        out.extend(
            self.lower
                .into_iter()
                .flat_map(|l| l().providers().cloned()),
        );
        crate::kernel::sort::sort(&mut out);
        out.dedup();
        out
    }

    /// Whether any entry prices `provider`.
    pub fn has_provider(&self, provider: &str) -> bool {
        self.by_model.contains_key(provider)
            || self.lower.is_some_and(|l| l().has_provider(provider))
    }

    /// Every `(provider, model)` the catalog prices, unsorted, without parsing a lazy entry.
    pub fn names(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = self
            .by_model
            .iter()
            .flat_map(|(p, models)| models.keys().map(move |m| (p.as_str(), m.as_str())))
            .collect();
        out.extend(self.lower.into_iter().flat_map(|l| l().names()));
        out
    }

    pub fn new(entries: Vec<PriceEntry>) -> Self {
        let mut catalog = Catalog {
            entries,
            ..Default::default()
        };
        for (i, e) in catalog.entries.iter().enumerate() {
            catalog
                .by_model
                .entry(e.provider.clone())
                .or_default()
                .entry(e.model.clone())
                .or_default()
                .push(i);
            for alias in &e.aliases {
                catalog
                    .aliases
                    .entry(e.provider.clone())
                    .or_default()
                    .insert(alias.clone(), e.model.clone());
            }
        }
        let entries = &catalog.entries;
        for list in catalog
            .by_model
            .values_mut()
            .flat_map(FxHashMap::values_mut)
        {
            crate::kernel::sort::sort_by_key(list, |&i| entries[i].effective_from);
        }
        catalog
    }

    pub fn entries(&self) -> &[PriceEntry] {
        &self.entries
    }

    fn knows<'s>(&'s self, provider: &str, model: &'s str) -> Option<&'s str> {
        if self
            .by_model
            .get(provider)
            .is_some_and(|models| models.contains_key(model))
        {
            return Some(model);
        }
        self.aliases
            .get(provider)
            .and_then(|aliases| aliases.get(model))
            .map(String::as_str)
            .or_else(|| self.lower.and_then(|l| l().knows(provider, model)))
    }

    fn indexes(&self, provider: &str, model: &str) -> &[usize] {
        self.by_model
            .get(provider)
            .and_then(|models| models.get(model))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Entries of a canonical model, oldest first.
    pub fn history(&self, provider: &str, model: &str) -> Vec<&PriceEntry> {
        let own: Vec<&PriceEntry> = self
            .indexes(provider, model)
            .iter()
            .map(|&i| &self.entries[i])
            .collect();
        match self.lower {
            Some(lower) if own.is_empty() => lower().history(provider, model),
            _ => own,
        }
    }

    /// The entry of a canonical model in force on `day`, optionally only of one origin.
    fn in_force(
        &self,
        provider: &str,
        model: &str,
        day: NaiveDate,
        keep: impl Fn(&PriceEntry) -> bool,
    ) -> Option<&PriceEntry> {
        // Indexes are sorted by date: the last one not after `day` is in force.
        let own = self.indexes(provider, model);
        if own.is_empty() {
            return self
                .lower
                .and_then(|l| l().in_force(provider, model, day))
                .filter(|e| keep(e));
        }
        own.iter()
            .rev()
            .map(|&i| &self.entries[i])
            .find(|e| e.effective_from <= day && keep(e))
    }
}

/// Model names as clients send them, reduced to the catalog's name: `models/gemini-1.5-pro`
/// (the Gemini SDK), `openai/gpt-4o` (LiteLLM style), and dated snapshots not listed as
/// aliases (`gpt-4o-mini-2024-07-18`, `claude-3-5-sonnet-20241022`).
pub fn candidate_names(provider: &str, model: &str) -> Vec<String> {
    let mut names = vec![model.to_string()];
    // `{provider}/`, or another name of the provider (`gemini/` and `vertex_ai/` of Google).
    if let Some((segment, rest)) = model.split_once('/') {
        if !rest.is_empty() && super::litellm::prefix_names(segment, provider) {
            names.push(rest.to_string());
        }
    }
    if let Some(rest) = model.strip_prefix("models/") {
        names.push(rest.to_string());
    }
    let stems: Vec<String> = names.iter().filter_map(|n| strip_date_suffix(n)).collect();
    names.extend(stems);
    names
}

fn strip_date_suffix(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    // -YYYY-MM-DD
    if bytes.len() > 11 {
        let tail = &bytes[bytes.len() - 11..];
        if tail[0] == b'-'
            && digits(&tail[1..5])
            && tail[5] == b'-'
            && digits(&tail[6..8])
            && tail[8] == b'-'
            && digits(&tail[9..11])
        {
            return Some(name[..name.len() - 11].to_string());
        }
    }
    // -YYYYMMDD or @YYYYMMDD
    if bytes.len() > 9 {
        let tail = &bytes[bytes.len() - 9..];
        if (tail[0] == b'-' || tail[0] == b'@') && digits(&tail[1..]) && tail[1] == b'2' {
            return Some(name[..name.len() - 9].to_string());
        }
    }
    None
}

/// The built-in catalog and the custom entries, resolved together.
pub struct PriceBook<'a> {
    pub builtin: &'a Catalog,
    pub custom: &'a Catalog,
}

impl<'a> PriceBook<'a> {
    /// The canonical model name for what a client sent, if any layer knows it.
    pub fn canonical_model(&self, provider: &str, model: &str) -> Option<String> {
        // The exact name first, without allocating: the common case.
        for layer in [self.custom, self.builtin] {
            if let Some(found) = layer.knows(provider, model) {
                return Some(found.to_string());
            }
        }
        for name in candidate_names(provider, model).into_iter().skip(1) {
            for layer in [self.custom, self.builtin] {
                if let Some(found) = layer.knows(provider, &name) {
                    return Some(found.to_string());
                }
            }
        }
        None
    }

    /// The entry in force for an event at `at`: a project's custom entries first, then
    /// global custom entries, then built-in ones; within a layer the latest `effective_from`
    /// on or before the event's UTC day.
    pub fn resolve(
        &self,
        provider: &str,
        model: &str,
        at: DateTime<Utc>,
        project: Option<&ProjectId>,
    ) -> Result<&'a PriceEntry, Unpriced> {
        let Some(canonical) = self.canonical_model(provider, model) else {
            return Err(Unpriced::UnknownModel {
                message: format!(
                    "no price for {provider}/{model}; add a custom price with POST /api/admin/prices"
                ),
            });
        };
        let day = at.date_naive();
        let is_project = |e: &PriceEntry| matches!(&e.origin, Origin::Custom { project_id: Some(p), .. } if Some(p) == project);
        let is_global = |e: &PriceEntry| {
            matches!(
                &e.origin,
                Origin::Custom {
                    project_id: None,
                    ..
                }
            )
        };
        let found = match project {
            Some(_) => self.custom.in_force(provider, &canonical, day, is_project),
            None => None,
        }
        .or_else(|| self.custom.in_force(provider, &canonical, day, is_global))
        .or_else(|| self.builtin.in_force(provider, &canonical, day, |_| true));
        found.ok_or_else(|| {
            let earliest = self
                .custom
                .history(provider, &canonical)
                .into_iter()
                .filter(|e| is_project(e) || is_global(e))
                .chain(self.builtin.history(provider, &canonical))
                .map(|e| e.effective_from)
                .min();
            match earliest {
                Some(d) => Unpriced::NoPriceInForce {
                    message: format!(
                        "{provider}/{canonical} has no price in force on {day}; the earliest is effective from {d}"
                    ),
                },
                // Only other projects' own prices name the model: to this project it is
                // unknown, as if they did not exist (tenants never see each other).
                None => Unpriced::UnknownModel {
                    message: format!(
                        "no price for {provider}/{model}; add a custom price with POST /api/admin/prices"
                    ),
                },
            }
        })
    }
}
