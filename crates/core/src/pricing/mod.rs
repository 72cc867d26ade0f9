//! Pricing: what one usage event costs, exactly, with the price in force when it happened.
//!
//! A price entry (see [`catalog`]) has a rate per usage kind. An event reports quantities the
//! way its provider reports them, and the entry's [`Counting`] rule says how those counts
//! overlap:
//!
//! - OpenAI and Gemini count cached prompt tokens *inside* the prompt count
//!   (`prompt_tokens` includes `cached_tokens`), so the uncached part is billed at the input
//!   rate and the cached part at the cache-read rate.
//! - Anthropic reports cache reads (`cache_read_input_tokens`) and writes
//!   (`cache_creation_input_tokens`) *on top of* `input_tokens`; each is billed at its own rate.
//! - OpenAI counts reasoning tokens and audio output tokens inside `completion_tokens`;
//!   Gemini reports thinking tokens (`thoughtsTokenCount`) apart from the output count and
//!   bills them as output. Reasoning tokens use their own rate where the provider has one,
//!   otherwise the output rate.
//! - ElevenLabs credits measure a whole call (characters times the voice's multiplier): an
//!   event that reports credits is billed by its credits, and the characters beside them are
//!   kept but not billed twice.
//!
//! Money follows the rule in [`crate::kernel::money`]: each component exact to 10^-18, the event's
//! sum rounded once, half to even, to a nano-unit.

pub mod bundled;
pub mod catalog;
pub mod litellm;
pub mod memory;
pub mod prices;
pub mod store;

use serde::Serialize;

use crate::kernel::money::{div_round_half_even, Money};

pub use catalog::{Catalog, Counting, PriceEntry, Rate, Tier};

/// Everything a usage event can be billed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageKind {
    InputTokens,
    OutputTokens,
    CachedInputTokens,
    CacheWriteTokens,
    ReasoningTokens,
    AudioInputTokens,
    AudioOutputTokens,
    Characters,
    AudioSeconds,
    VideoSeconds,
    Images,
    Requests,
    Tracks,
    Credits,
}

impl UsageKind {
    pub const ALL: [UsageKind; 14] = [
        UsageKind::InputTokens,
        UsageKind::OutputTokens,
        UsageKind::CachedInputTokens,
        UsageKind::CacheWriteTokens,
        UsageKind::ReasoningTokens,
        UsageKind::AudioInputTokens,
        UsageKind::AudioOutputTokens,
        UsageKind::Characters,
        UsageKind::AudioSeconds,
        UsageKind::VideoSeconds,
        UsageKind::Images,
        UsageKind::Requests,
        UsageKind::Tracks,
        UsageKind::Credits,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            UsageKind::InputTokens => "input_tokens",
            UsageKind::OutputTokens => "output_tokens",
            UsageKind::CachedInputTokens => "cached_input_tokens",
            UsageKind::CacheWriteTokens => "cache_write_tokens",
            UsageKind::ReasoningTokens => "reasoning_tokens",
            UsageKind::AudioInputTokens => "audio_input_tokens",
            UsageKind::AudioOutputTokens => "audio_output_tokens",
            UsageKind::Characters => "characters",
            UsageKind::AudioSeconds => "audio_seconds",
            UsageKind::VideoSeconds => "video_seconds",
            UsageKind::Images => "images",
            UsageKind::Requests => "requests",
            UsageKind::Tracks => "tracks",
            UsageKind::Credits => "credits",
        }
    }

    pub fn parse(name: &str) -> Option<UsageKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Token counts, characters, images, requests and tracks are whole numbers; seconds and
    /// credits may be fractional (HeyGen bills half credits).
    pub fn is_integral(self) -> bool {
        !matches!(
            self,
            UsageKind::AudioSeconds | UsageKind::VideoSeconds | UsageKind::Credits
        )
    }

    pub fn is_token(self) -> bool {
        matches!(
            self,
            UsageKind::InputTokens
                | UsageKind::OutputTokens
                | UsageKind::CachedInputTokens
                | UsageKind::CacheWriteTokens
                | UsageKind::ReasoningTokens
                | UsageKind::AudioInputTokens
                | UsageKind::AudioOutputTokens
        )
    }
}

/// Quantities are kept in micro-units (10^-6), so fractional seconds and credits are exact.
pub const MICRO: i128 = 1_000_000;
/// The largest quantity of one kind in one event: a billion units (a thousand times the
/// largest context window), so that every stored quantity, micro-units included, is an
/// integer JavaScript reads exactly (below 2^53), as D1 hands values to the worker.
pub const MAX_QUANTITY: i128 = 1_000_000_000 * MICRO;

/// The quantities of one event, in micro-units, indexed by [`UsageKind::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    micros: [i128; UsageKind::COUNT],
}

impl Usage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a whole-number quantity.
    pub fn with(mut self, kind: UsageKind, units: u64) -> Self {
        self.micros[kind.index()] = i128::from(units) * MICRO;
        self
    }

    pub fn set_micros(&mut self, kind: UsageKind, micros: i128) {
        self.micros[kind.index()] = micros;
    }

    pub fn micros(&self, kind: UsageKind) -> i128 {
        self.micros[kind.index()]
    }

    pub fn units(&self, kind: UsageKind) -> i128 {
        self.micros[kind.index()] / MICRO
    }

    pub fn is_empty(&self) -> bool {
        self.micros.iter().all(|m| *m == 0)
    }

    pub fn nonzero(&self) -> impl Iterator<Item = (UsageKind, i128)> + '_ {
        UsageKind::ALL
            .into_iter()
            .map(|k| (k, self.micros[k.index()]))
            .filter(|(_, m)| *m != 0)
    }
}

/// One billed component of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// The kind whose rate was applied.
    pub kind: UsageKind,
    /// Billed quantity, as decimal text.
    pub quantity: String,
    /// The rate applied: `price` per `per` units.
    pub price: String,
    pub per: u64,
    /// This component's amount (rounded for display; the event total is rounded once).
    pub amount: Money,
}

/// Why an event could not be priced. Such events are stored with no cost, never $0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Unpriced {
    /// No entry for this provider and model.
    UnknownModel { message: String },
    /// Entries exist, but none was in force at the event's time.
    NoPriceInForce { message: String },
    /// The entry has no rate for any quantity the event reports.
    NoRateForUsage { message: String },
}

impl Unpriced {
    pub fn message(&self) -> &str {
        match self {
            Unpriced::UnknownModel { message }
            | Unpriced::NoPriceInForce { message }
            | Unpriced::NoRateForUsage { message } => message,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Unpriced::UnknownModel { .. } => "unknown_model",
            Unpriced::NoPriceInForce { .. } => "no_price_in_force",
            Unpriced::NoRateForUsage { .. } => "no_rate_for_usage",
        }
    }
}

/// A priced event: total, components, and which entry priced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub cost: Money,
    /// The components priced; empty in a quote made for storage ([`quote_as`], not itemised).
    pub lines: Vec<Line>,
    /// Kinds the event reported that this entry does not bill (for example `requests`).
    pub unbilled: Vec<UsageKind>,
    /// The prompt-size threshold of the tier applied, if any.
    pub tier_above_prompt_tokens: Option<u64>,
    pub entry: EntryRef,
}

/// Identifies the entry that priced an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryRef {
    pub provider: String,
    pub model: String,
    pub effective_from: chrono::NaiveDate,
    /// `builtin`, or the id of a custom price.
    pub origin: String,
}

/// Counting or size problems that make an event's usage impossible, named by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub field: &'static str,
    pub message: String,
}

/// The prompt size a tier threshold is compared with: every prompt token, cached or not.
pub fn prompt_tokens(usage: &Usage, counting: &Counting) -> i128 {
    let input = usage.units(UsageKind::InputTokens);
    if counting.cached_in_input {
        input
    } else {
        input + usage.units(UsageKind::CachedInputTokens) + usage.units(UsageKind::CacheWriteTokens)
    }
}

/// Splits the reported counts by the entry's counting rule and prices each component.
fn compute<'e>(entry: &'e PriceEntry, usage: &Usage) -> Result<Computed<'e>, UsageError> {
    let counting = entry.counting;
    let prompt = prompt_tokens(usage, &counting);
    let tier = entry
        .tiers
        .iter()
        .filter(|t| prompt > i128::from(t.above_prompt_tokens))
        .max_by_key(|t| t.above_prompt_tokens);
    let rate = |kind: UsageKind| -> Option<&Rate> {
        tier.and_then(|t| t.rates[kind.index()].as_ref())
            .or(entry.rates[kind.index()].as_ref())
    };

    let get = |kind| usage.micros(kind);
    // Every kind is billed as reported, except the input, output and reasoning counts, which
    // the counting rule below splits.
    let mut billed = usage.micros;
    billed[UsageKind::ReasoningTokens.index()] = 0;
    // Input side.
    let mut input = get(UsageKind::InputTokens);
    if counting.cached_in_input {
        input -= get(UsageKind::CachedInputTokens);
        if input < 0 {
            return Err(UsageError {
                field: "cached_input_tokens",
                message: "is larger than input_tokens, which already includes cached tokens for this provider".into(),
            });
        }
    }
    if counting.audio_in_input {
        input -= get(UsageKind::AudioInputTokens);
        if input < 0 {
            return Err(UsageError {
                field: "audio_input_tokens",
                message:
                    "is larger than the uncached input_tokens that include it for this provider"
                        .into(),
            });
        }
    }
    billed[UsageKind::InputTokens.index()] = input;
    // Output side.
    let mut output = get(UsageKind::OutputTokens);
    let reasoning = get(UsageKind::ReasoningTokens);
    let reasoning_own_rate = rate(UsageKind::ReasoningTokens).is_some();
    if counting.reasoning_in_output {
        if reasoning > output {
            return Err(UsageError {
                field: "reasoning_tokens",
                message: "is larger than output_tokens, which already includes reasoning tokens for this provider".into(),
            });
        }
        if reasoning_own_rate {
            output -= reasoning;
            billed[UsageKind::ReasoningTokens.index()] = reasoning;
        }
    } else if reasoning_own_rate {
        billed[UsageKind::ReasoningTokens.index()] = reasoning;
    } else {
        output += reasoning;
    }
    if counting.audio_in_output {
        output -= get(UsageKind::AudioOutputTokens);
        if output < 0 {
            return Err(UsageError {
                field: "audio_output_tokens",
                message: "is larger than the output_tokens that include it for this provider"
                    .into(),
            });
        }
    }
    billed[UsageKind::OutputTokens.index()] = output;
    // Credits that measure the whole call replace the other units' rates.
    if counting.credits_cover_usage
        && get(UsageKind::Credits) > 0
        && rate(UsageKind::Credits).is_some()
    {
        for kind in UsageKind::ALL {
            if !kind.is_token() && kind != UsageKind::Credits {
                billed[kind.index()] = 0;
            }
        }
    }

    // Kinds without their own rate fall back: cache reads and writes and audio input to the
    // input rate, audio output to the output rate. Anything else without a rate is unbilled.
    let fallback = |kind: UsageKind| -> Option<(UsageKind, &Rate)> {
        if let Some(r) = rate(kind) {
            return Some((kind, r));
        }
        let base = match kind {
            UsageKind::CachedInputTokens
            | UsageKind::CacheWriteTokens
            | UsageKind::AudioInputTokens => UsageKind::InputTokens,
            UsageKind::AudioOutputTokens | UsageKind::ReasoningTokens => UsageKind::OutputTokens,
            _ => return None,
        };
        rate(base).map(|r| (base, r))
    };

    let mut computed = Computed {
        components: Default::default(),
        unbilled: 0,
        total_atto: 0,
        tier: tier.map(|t| t.above_prompt_tokens),
    };
    for kind in UsageKind::ALL {
        let quantity = billed[kind.index()];
        if quantity == 0 {
            continue;
        }
        match fallback(kind) {
            Some((_, r)) => {
                let atto = component_atto(quantity, r).ok_or_else(|| UsageError {
                    field: kind.name(),
                    message: "is too large to price".into(),
                })?;
                computed.total_atto += atto;
                computed.components[kind.index()] = Some((quantity, r, atto));
            }
            None => computed.unbilled |= 1 << kind.index(),
        }
    }
    Ok(computed)
}

/// The arithmetic of one event, before any text is built.
struct Computed<'e> {
    /// Per kind: billed quantity (micro-units), the rate applied, and the exact amount.
    components: [Option<(i128, &'e Rate, i128)>; UsageKind::COUNT],
    /// Bit set of kinds reported but not billed by the entry.
    unbilled: u32,
    total_atto: i128,
    tier: Option<u64>,
}

impl Computed<'_> {
    fn is_unpriced(&self, usage: &Usage) -> bool {
        let nothing_billed = self.components.iter().all(Option::is_none);
        let reasoning_only = usage
            .nonzero()
            .all(|(k, _)| k == UsageKind::ReasoningTokens)
            && !usage.is_empty();
        nothing_billed && !usage.is_empty() && !reasoning_only
    }

    fn unbilled_kinds(&self) -> Vec<UsageKind> {
        UsageKind::ALL
            .into_iter()
            .filter(|k| self.unbilled & (1 << k.index()) != 0)
            .collect()
    }

    fn unpriced(&self, entry: &PriceEntry) -> Unpriced {
        let kinds: Vec<&str> = self.unbilled_kinds().iter().map(|k| k.name()).collect();
        let billable: Vec<&str> = UsageKind::ALL
            .into_iter()
            .filter(|k| entry.rates[k.index()].is_some())
            .map(UsageKind::name)
            .collect();
        Unpriced::NoRateForUsage {
            message: format!(
                "{}/{} has no rate for {}; it bills {}",
                entry.provider,
                entry.model,
                kinds.join(", "),
                billable.join(", ")
            ),
        }
    }
}

/// The cost of `usage` with `entry`, without the itemised lines: the fast path of ingestion.
pub fn price(entry: &PriceEntry, usage: &Usage) -> Result<Result<Money, Unpriced>, UsageError> {
    let computed = compute(entry, usage)?;
    if computed.is_unpriced(usage) {
        return Ok(Err(computed.unpriced(entry)));
    }
    Ok(Ok(Money::new(
        div_round_half_even(computed.total_atto, 1_000_000_000),
        entry.currency,
    )))
}

/// Prices `usage` with `entry` and itemises the components. Pure arithmetic: the caller
/// chose the entry in force.
pub fn quote(entry: &PriceEntry, usage: &Usage) -> Result<Result<Quote, Unpriced>, UsageError> {
    quote_as(entry, usage, true)
}

/// [`quote`], or when not `itemised` the quote an event is stored with: its cost, tier and
/// entry, without the itemised `lines` and `unbilled` kinds (left empty), which nothing stored
/// keeps and which took about a tenth of the wasm's pricing of a 1,000-event request.
pub fn quote_as(
    entry: &PriceEntry,
    usage: &Usage,
    itemised: bool,
) -> Result<Result<Quote, Unpriced>, UsageError> {
    let computed = compute(entry, usage)?;
    if computed.is_unpriced(usage) {
        return Ok(Err(computed.unpriced(entry)));
    }
    let (lines, unbilled) = if itemised {
        let lines = UsageKind::ALL
            .into_iter()
            .filter_map(|kind| {
                computed.components[kind.index()].map(|(quantity, r, atto)| Line {
                    kind,
                    quantity: crate::kernel::money::format_scaled(quantity, 6, 0),
                    price: r.price.to_string(),
                    per: r.per,
                    amount: Money::new(div_round_half_even(atto, 1_000_000_000), entry.currency),
                })
            })
            .collect();
        (lines, computed.unbilled_kinds())
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Ok(Quote {
        cost: Money::new(
            div_round_half_even(computed.total_atto, 1_000_000_000),
            entry.currency,
        ),
        lines,
        unbilled,
        tier_above_prompt_tokens: computed.tier,
        entry: entry.reference(),
    }))
}

/// `quantity` (micro-units) at `rate`, in 10^-18 of the currency unit, rounded half to even.
fn component_atto(quantity_micros: i128, rate: &Rate) -> Option<i128> {
    // price in pico-units (10^-12) times quantity in micro-units is in 10^-18 units.
    let numerator = quantity_micros.checked_mul(rate.price_pico)?;
    Some(div_round_half_even(numerator, i128::from(rate.per)))
}

#[cfg(test)]
mod bundled_tests;
#[cfg(test)]
mod tests;
