//! LiteLLM's price file (`model_prices_and_context_window.json`): its conversion into price
//! entries, used both by `POST /api/admin/prices/import` and by the bundled LiteLLM layer of
//! the built-in catalog (see [`super::bundled`]). LiteLLM prices per token, character,
//! second, image or request; entries here price tokens per million, so per-token rates are
//! shifted by six decimal places exactly (no float arithmetic).
//!
//! The precision rule: a LiteLLM price is kept exactly when it has at most 18 decimal places
//! per unit (12 per million tokens, the engine's own precision); a longer one is float noise
//! from the file's authors dividing by hand (`1.1428571428571428e-6` is 8/7 per million) and
//! is rounded half to even at 18 decimal places per unit, and the entry's notes say so. An
//! entry that still cannot be used is skipped with its reason; it never blocks the others.

use litemap::LiteMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::catalog::{canonical_provider, EntryInput, RateInput, TierInput};
use crate::kernel::error::FieldError;
use crate::kernel::input::DecimalText;
use crate::kernel::money::{div_round_half_even, format_scaled};

/// An entry that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub key: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Import {
    pub entries: Vec<EntryInput>,
    pub skipped: Vec<Skipped>,
}

/// The decimal places per unit a LiteLLM price keeps (see the module docs).
pub const PRICE_DECIMALS: u32 = 18;

/// LiteLLM's per-token fields and the usage kind each maps to.
const TOKEN_FIELDS: &[(&str, &str)] = &[
    ("input_cost_per_token", "input_tokens"),
    ("output_cost_per_token", "output_tokens"),
    ("cache_read_input_token_cost", "cached_input_tokens"),
    ("cache_creation_input_token_cost", "cache_write_tokens"),
    ("output_cost_per_reasoning_token", "reasoning_tokens"),
    ("input_cost_per_audio_token", "audio_input_tokens"),
    ("output_cost_per_audio_token", "audio_output_tokens"),
];
/// Fields priced per one unit of another kind; the first field of a kind wins.
const OTHER_FIELDS: &[(&str, &str)] = &[
    ("input_cost_per_character", "characters"),
    ("output_cost_per_character", "characters"),
    ("input_cost_per_second", "audio_seconds"),
    ("output_cost_per_second", "audio_seconds"),
    ("input_cost_per_image", "images"),
    ("output_cost_per_image", "images"),
    ("input_cost_per_request", "requests"),
];

/// Whether a LiteLLM field is one the conversion reads: a base field, or a per-token field
/// with a long-context threshold (`input_cost_per_token_above_200k_tokens`). The bundled
/// layer keeps only these (`scripts/prices-update.py` applies the same rule).
pub fn is_priced_field(field: &str) -> bool {
    TOKEN_FIELDS.iter().any(|(f, _)| *f == field)
        || OTHER_FIELDS.iter().any(|(f, _)| *f == field)
        || tier_field(field).is_some()
}

/// `<token field>_above_<N>k_tokens`: the kind and the threshold in tokens.
fn tier_field(field: &str) -> Option<(&'static str, u64)> {
    let (base, rest) = field.split_once("_above_")?;
    let thousands: u64 = rest.strip_suffix("k_tokens")?.parse().ok()?;
    let kind = TOKEN_FIELDS.iter().find(|(f, _)| *f == base)?.1;
    Some((kind, thousands.checked_mul(1_000)?))
}

fn number_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A price as an exact decimal `(mantissa, scale)`, rounded half to even at
/// [`PRICE_DECIMALS`] places when longer; `true` when it was rounded.
fn parse_price(text: &str) -> Result<(i128, u32, bool), String> {
    let text = text.trim();
    let err = || format!("`{text}` is not a decimal number");
    if text.is_empty() || text.len() > 64 {
        return Err(err());
    }
    let (body, exponent) = match text.find(['e', 'E']) {
        Some(at) => (
            &text[..at],
            text[at + 1..].parse::<i64>().map_err(|_| err())?,
        ),
        None => (text, 0),
    };
    if body.starts_with('-') {
        return Err("must not be negative".into());
    }
    let body = body.strip_prefix('+').unwrap_or(body);
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        || !(-40..=40).contains(&exponent)
    {
        return Err(err());
    }
    let mut mantissa: i128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(b - b'0')))
            .ok_or_else(|| format!("`{text}` is too large"))?;
    }
    let mut scale = frac_part.len() as i64 - exponent;
    while scale < 0 {
        mantissa = mantissa
            .checked_mul(10)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        scale += 1;
    }
    let mut rounded = false;
    if scale > i64::from(PRICE_DECIMALS) {
        let drop = (scale - i64::from(PRICE_DECIMALS)) as u32;
        let divisor = 10i128.checked_pow(drop).ok_or_else(err)?;
        let kept = div_round_half_even(mantissa, divisor);
        rounded = kept * divisor != mantissa;
        mantissa = kept;
        scale = i64::from(PRICE_DECIMALS);
    }
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Ok((mantissa, scale as u32, rounded))
}

/// A per-unit price as a rate: per million for tokens; per one unit for other kinds unless
/// that needs more than 12 decimal places (the engine's precision), then per million too.
fn rate(field: &str, text: &str, token: bool) -> Result<(RateInput, bool), String> {
    let (mantissa, scale, rounded) = parse_price(text).map_err(|m| format!("{field}: {m}"))?;
    let (mantissa, scale, per) = if !token && scale <= 12 {
        (mantissa, scale, 1)
    } else if scale >= 6 {
        (mantissa, scale - 6, 1_000_000)
    } else {
        (mantissa * 10i128.pow(6 - scale), 0, 1_000_000)
    };
    Ok((
        RateInput {
            price: DecimalText(format_scaled(mantissa, scale, 0)),
            per,
        },
        rounded,
    ))
}

/// The provider a client calls for a LiteLLM label: LiteLLM's catalog-only labels are
/// folded into the provider they price (`vertex_ai-anthropic_models` is Vertex AI, which is
/// Google's; `bedrock_converse` is Bedrock; `text-completion-openai` is OpenAI). Entries
/// without a label take the key's first segment, or the vendor its model name shows.
pub fn provider_for(label: Option<&str>, key: &str) -> String {
    let label = match label.map(str::to_ascii_lowercase) {
        Some(l) if !l.is_empty() => l,
        _ => match key.split_once('/') {
            Some((prefix, _)) => prefix.to_ascii_lowercase(),
            None if key.starts_with("claude") => "anthropic".into(),
            None if key.starts_with("gemini") => "google".into(),
            None => "openai".into(),
        },
    };
    canonical_provider(&label)
}

/// Whether `segment` (the first part of a `segment/model` key) names `provider`.
pub fn prefix_names(segment: &str, provider: &str) -> bool {
    let segment = segment.to_ascii_lowercase();
    segment == provider || canonical_provider(&segment) == provider
}

/// The model name of a key under its provider: the key without its provider prefix
/// (`azure/eu/gpt-4o` is `eu/gpt-4o` of Azure, `gemini/gemini-2.5-pro` is `gemini-2.5-pro`
/// of Google, `cloudflare/@cf/meta/llama-3-8b` is `@cf/meta/llama-3-8b` of Cloudflare).
pub fn model_for(key: &str, provider: &str) -> String {
    let lower = key.to_ascii_lowercase();
    match lower.split_once('/') {
        Some((prefix, rest)) if prefix_names(prefix, provider) && !rest.is_empty() => {
            rest.to_string()
        }
        _ => lower,
    }
}

/// Converts a parsed LiteLLM file. `effective_from` is the date the prices apply from.
/// Entries that price nothing this product bills, or that cannot be used, are skipped with
/// their reason; only a body that is not LiteLLM's object of entries is an error.
pub fn convert(file: &Value, effective_from: &str) -> Result<Import, Vec<FieldError>> {
    let Some(object) = file.as_object() else {
        return Err(vec![FieldError::new(
            "body",
            "expected LiteLLM's JSON object of model name -> prices",
        )]);
    };
    let mut import = Import::default();
    for (key, value) in object {
        if key == "sample_spec" {
            continue;
        }
        let skip = |reason: String| Skipped {
            key: key.clone(),
            reason,
        };
        match value.as_object() {
            None => import
                .skipped
                .push(skip("expected an object of prices".into())),
            Some(spec) => match convert_one(key, spec, effective_from, None) {
                Ok(Some(entry)) => import.entries.push(entry),
                Ok(None) => import.skipped.push(skip(
                    "no token, character, second, image or request price".into(),
                )),
                Err(reason) => import.skipped.push(skip(reason)),
            },
        }
    }
    Ok(import)
}

/// One LiteLLM entry as a price entry; `None` when it prices nothing billable. `source` names
/// where the file came from (the bundled layer names LiteLLM's version).
pub fn convert_one(
    key: &str,
    spec: &Map<String, Value>,
    effective_from: &str,
    source: Option<&str>,
) -> Result<Option<EntryInput>, String> {
    let provider = provider_for(spec.get("litellm_provider").and_then(Value::as_str), key);
    let model = model_for(key, &provider);
    let mut rates = LiteMap::new();
    let mut rounded = Vec::new();
    let mut put = |rates: &mut LiteMap<String, RateInput>,
                   kind: &str,
                   field: &str,
                   token: bool|
     -> Result<(), String> {
        if rates.contains_key(kind) {
            return Ok(());
        }
        if let Some(text) = spec.get(field).and_then(number_text) {
            let (rate, was_rounded) = rate(field, &text, token)?;
            if was_rounded {
                rounded.push(format!("{field} {text}"));
            }
            rates.insert(kind.to_string(), rate);
        }
        Ok(())
    };
    for (field, kind) in TOKEN_FIELDS {
        put(&mut rates, kind, field, true)?;
    }
    for (field, kind) in OTHER_FIELDS {
        put(&mut rates, kind, field, false)?;
    }
    // LiteLLM's explicit 0 is a price (local and free models: Ollama, free tiers), kept so
    // that such events are priced at zero rather than unpriced; no price at all is skipped.
    if rates.is_empty() {
        return Ok(None);
    }
    let mut tiers: LiteMap<u64, LiteMap<String, RateInput>> = LiteMap::new();
    for (field, value) in spec {
        let Some((kind, threshold)) = tier_field(field) else {
            continue;
        };
        if let Some(text) = number_text(value) {
            let (rate, was_rounded) = rate(field, &text, true)?;
            if was_rounded {
                rounded.push(format!("{field} {text}"));
            }
            tiers
                .entry(threshold)
                .or_default()
                .insert(kind.to_string(), rate);
        }
    }
    let tier_rule = (!tiers.is_empty()).then(|| {
        "Imported from LiteLLM: when the prompt exceeds the threshold, the request is billed at \
         the higher rates."
            .to_string()
    });
    let notes = (!rounded.is_empty()).then(|| {
        format!(
            "LiteLLM's price rounded half to even at {PRICE_DECIMALS} decimal places per unit: {}",
            rounded.join(", ")
        )
    });
    Ok(Some(EntryInput {
        provider,
        model,
        aliases: vec![],
        mode: spec.get("mode").and_then(Value::as_str).map(str::to_string),
        currency: "USD".into(),
        effective_from: effective_from.to_string(),
        source: Some(format!(
            "{}: {key}",
            source.unwrap_or("LiteLLM model_prices_and_context_window.json")
        )),
        source_read_on: Some(effective_from.to_string()),
        rates,
        tiers: tiers
            .into_iter()
            .map(|(above, rates)| TierInput {
                above_prompt_tokens: above,
                rates,
            })
            .collect(),
        tier_rule,
        counting: None,
        notes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn per_million(text: &str) -> String {
        rate("f", text, true).unwrap().0.price.0
    }

    #[test]
    fn per_token_prices_become_exact_per_million_prices() {
        assert_eq!(per_million("2.5e-06"), "2.5");
        assert_eq!(per_million("1.25e-07"), "0.125");
        assert_eq!(per_million("0.000003"), "3");
        assert_eq!(per_million("3"), "3000000");
        assert_eq!(rate("f", "0.0001", false).unwrap().0.per, 1);
        assert!(rate("f", "-1e-6", true).is_err());
    }

    #[test]
    fn float_noise_beyond_18_decimals_per_unit_is_rounded_half_to_even_and_flagged() {
        let (rate8_7, rounded) = rate("f", "1.1428571428571428e-6", true).unwrap();
        assert_eq!(rate8_7.price.0, "1.142857142857");
        assert!(rounded);
        let (noise, rounded) = rate("f", "2.9999900000000002e-06", true).unwrap();
        assert_eq!(noise.price.0, "2.99999");
        assert!(rounded);
        // Per second, 19 decimals: per million seconds at the engine's 12 decimals.
        let (second, _) = rate("f", "0.0005666666666666667", false).unwrap();
        assert_eq!(
            (second.price.0.as_str(), second.per),
            ("566.666666666667", 1_000_000)
        );
        assert!(!rate("f", "1.5e-08", true).unwrap().1);
    }

    #[test]
    fn catalog_only_labels_become_the_provider_a_client_calls() {
        assert_eq!(
            provider_for(
                Some("vertex_ai-anthropic_models"),
                "vertex_ai/claude-3-5-haiku"
            ),
            "google"
        );
        assert_eq!(
            model_for("vertex_ai/claude-3-5-haiku", "google"),
            "claude-3-5-haiku"
        );
        assert_eq!(
            provider_for(Some("gemini"), "gemini/gemini-2.5-pro"),
            "google"
        );
        assert_eq!(provider_for(Some("bedrock_converse"), "x"), "bedrock");
        assert_eq!(provider_for(Some("text-completion-openai"), "x"), "openai");
        assert_eq!(provider_for(None, "bedrock/claude-opus-latest"), "bedrock");
        assert_eq!(provider_for(None, "claude-sonnet-latest"), "anthropic");
        assert_eq!(model_for("azure/eu/gpt-4o", "azure"), "eu/gpt-4o");
        assert_eq!(
            model_for("cloudflare/@cf/meta/llama-3-8b-instruct", "cloudflare"),
            "@cf/meta/llama-3-8b-instruct"
        );
    }

    #[test]
    fn a_litellm_file_converts_to_entries_with_tiers_and_provider_prefixes_removed() {
        let file = json!({
            "sample_spec": {"input_cost_per_token": 0},
            "gpt-4o": {"litellm_provider": "openai", "mode": "chat",
                "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
                "cache_read_input_token_cost": 1.25e-06},
            "gemini/gemini-2.5-pro": {"litellm_provider": "gemini", "mode": "chat",
                "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
                "input_cost_per_token_above_200k_tokens": 2.5e-06,
                "output_cost_per_token_above_200k_tokens": 1.5e-05,
                "input_cost_per_token_above_272k_tokens_priority": 9e-06},
            "free-model": {"litellm_provider": "ollama", "input_cost_per_token": 0},
            "search-only": {"litellm_provider": "openai", "search_context_cost_per_query": 0.01}
        });
        let import = convert(&file, "2026-11-01").unwrap();
        assert_eq!(import.entries.len(), 3);
        let free = import
            .entries
            .iter()
            .find(|e| e.provider == "ollama")
            .unwrap();
        assert_eq!(free.rates[&"input_tokens".to_string()].price.0, "0");
        let gemini = import
            .entries
            .iter()
            .find(|e| e.provider == "google")
            .unwrap();
        assert_eq!(gemini.model, "gemini-2.5-pro");
        assert_eq!(gemini.rates[&"input_tokens".to_string()].price.0, "1.25");
        assert_eq!(gemini.tiers.len(), 1);
        assert_eq!(gemini.tiers[0].above_prompt_tokens, 200_000);
        assert_eq!(
            gemini.tiers[0].rates[&"output_tokens".to_string()].price.0,
            "15"
        );
        assert_eq!(import.skipped[0].key, "search-only");
    }

    #[test]
    fn a_malformed_price_skips_its_entry_with_a_reason_naming_the_field_and_keeps_the_rest() {
        let file = json!({
            "gpt-x": {"litellm_provider": "openai", "input_cost_per_token": "cheap"},
            "gpt-y": {"litellm_provider": "openai", "input_cost_per_token": 1e-06},
            "gpt-z": "not an object"
        });
        let import = convert(&file, "2026-11-01").unwrap();
        assert_eq!(import.entries.len(), 1);
        assert_eq!(import.entries[0].model, "gpt-y");
        assert_eq!(import.skipped.len(), 2);
        assert_eq!(import.skipped[0].key, "gpt-x");
        assert!(import.skipped[0]
            .reason
            .starts_with("input_cost_per_token:"));
        let not_object = convert(&json!([1, 2]), "2026-11-01").unwrap_err();
        assert_eq!(not_object[0].field, "body");
    }
}
