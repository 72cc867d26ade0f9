//! Import of LiteLLM's `model_prices_and_context_window.json`, so that users can bring current
//! prices without a release. LiteLLM prices per token (or per character, second or image);
//! entries here price tokens per million, so per-token rates are shifted by six decimal places
//! exactly (no float arithmetic).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::catalog::{canonical_provider, EntryInput, RateInput};
use crate::kernel::error::FieldError;
use crate::kernel::input::DecimalText;
use crate::kernel::money::Decimal;

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

/// LiteLLM fields and the usage kind and unit each maps to: (field, kind, per).
const TOKEN_FIELDS: &[(&str, &str)] = &[
    ("input_cost_per_token", "input_tokens"),
    ("output_cost_per_token", "output_tokens"),
    ("cache_read_input_token_cost", "cached_input_tokens"),
    ("cache_creation_input_token_cost", "cache_write_tokens"),
    ("output_cost_per_reasoning_token", "reasoning_tokens"),
    ("input_cost_per_audio_token", "audio_input_tokens"),
    ("output_cost_per_audio_token", "audio_output_tokens"),
];
const OTHER_FIELDS: &[(&str, &str, u64)] = &[
    ("input_cost_per_character", "characters", 1),
    ("input_cost_per_second", "audio_seconds", 1),
    ("output_cost_per_second", "audio_seconds", 1),
    ("input_cost_per_image", "images", 1),
    ("output_cost_per_image", "images", 1),
    ("input_cost_per_request", "requests", 1),
];

/// Tier fields: LiteLLM names the threshold inside the field name.
const TIER_FIELDS: &[(&str, &str, u64)] = &[
    (
        "input_cost_per_token_above_200k_tokens",
        "input_tokens",
        200_000,
    ),
    (
        "output_cost_per_token_above_200k_tokens",
        "output_tokens",
        200_000,
    ),
    (
        "cache_read_input_token_cost_above_200k_tokens",
        "cached_input_tokens",
        200_000,
    ),
    (
        "cache_creation_input_token_cost_above_200k_tokens",
        "cache_write_tokens",
        200_000,
    ),
    (
        "input_cost_per_token_above_128k_tokens",
        "input_tokens",
        128_000,
    ),
    (
        "output_cost_per_token_above_128k_tokens",
        "output_tokens",
        128_000,
    ),
];

fn number_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `price` per one unit, as decimal text per `per` units (exact decimal shift).
fn scaled(field: &str, text: &str, per: u64) -> Result<String, String> {
    let d = Decimal::parse(text).map_err(|m| format!("{field}: {m}"))?;
    if d.is_negative() {
        return Err(format!("{field}: must not be negative"));
    }
    let shift = per.to_string().len() as u32 - 1; // per is a power of ten here
    let (mantissa, scale) = if d.scale >= shift {
        (d.mantissa, d.scale - shift)
    } else {
        (d.mantissa * 10i128.pow(shift - d.scale), 0)
    };
    Ok(crate::kernel::money::format_scaled(mantissa, scale, 0))
}

/// Converts a parsed LiteLLM file. `effective_from` is the date the prices apply from.
/// Entries that price nothing this product bills, or whose names are not usable, are
/// reported as skipped; a malformed price in an entry is an error naming entry and field.
pub fn convert(file: &Value, effective_from: &str) -> Result<Import, Vec<FieldError>> {
    let Some(object) = file.as_object() else {
        return Err(vec![FieldError::new(
            "body",
            "expected LiteLLM's JSON object of model name -> prices",
        )]);
    };
    let mut import = Import::default();
    let mut errors = Vec::new();
    for (key, value) in object {
        if key == "sample_spec" {
            continue;
        }
        let Some(spec) = value.as_object() else {
            errors.push(FieldError::new(key.clone(), "expected an object of prices"));
            continue;
        };
        match convert_one(key, spec, effective_from) {
            Ok(Some(entry)) => import.entries.push(entry),
            Ok(None) => import.skipped.push(Skipped {
                key: key.clone(),
                reason: "no token, character, second, image or request price".into(),
            }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(import)
    } else {
        Err(errors)
    }
}

fn convert_one(
    key: &str,
    spec: &Map<String, Value>,
    effective_from: &str,
) -> Result<Option<EntryInput>, FieldError> {
    let field_error =
        |m: String| FieldError::new(format!("{key}.{}", m.split(':').next().unwrap_or("")), m);
    let raw_provider = spec
        .get("litellm_provider")
        .and_then(Value::as_str)
        .unwrap_or("openai")
        .to_ascii_lowercase();
    let provider = canonical_provider(match raw_provider.as_str() {
        "text-completion-openai" => "openai",
        "gemini" | "vertex_ai-language-models" => "google",
        other => other,
    });
    let model = key
        .split_once('/')
        .filter(|(prefix, _)| {
            let p = prefix.to_ascii_lowercase();
            p == raw_provider || canonical_provider(&p) == provider
        })
        .map(|(_, rest)| rest)
        .unwrap_or(key)
        .to_ascii_lowercase();
    let mut rates = BTreeMap::new();
    let put = |rates: &mut BTreeMap<String, RateInput>, kind: &str, field: &str, per: u64| {
        if rates.contains_key(kind) {
            return Ok(());
        }
        if let Some(text) = spec.get(field).and_then(number_text) {
            let price = scaled(field, &text, per).map_err(field_error)?;
            rates.insert(
                kind.to_string(),
                RateInput {
                    price: DecimalText(price),
                    per,
                },
            );
        }
        Ok::<(), FieldError>(())
    };
    for (field, kind) in TOKEN_FIELDS {
        put(&mut rates, kind, field, 1_000_000)?;
    }
    for (field, kind, per) in OTHER_FIELDS {
        put(&mut rates, kind, field, *per)?;
    }
    if rates.is_empty() || rates.values().all(|r| r.price.0 == "0") {
        return Ok(None);
    }
    let mut tiers: BTreeMap<u64, BTreeMap<String, RateInput>> = BTreeMap::new();
    for (field, kind, threshold) in TIER_FIELDS {
        if let Some(text) = spec.get(*field).and_then(number_text) {
            let price = scaled(field, &text, 1_000_000).map_err(field_error)?;
            tiers.entry(*threshold).or_default().insert(
                kind.to_string(),
                RateInput {
                    price: DecimalText(price),
                    per: 1_000_000,
                },
            );
        }
    }
    let tier_rule = (!tiers.is_empty()).then(|| {
        "Imported from LiteLLM: when the prompt exceeds the threshold, the request is billed at \
         the higher rates."
            .to_string()
    });
    Ok(Some(EntryInput {
        provider,
        model,
        aliases: vec![],
        mode: spec.get("mode").and_then(Value::as_str).map(str::to_string),
        currency: "USD".into(),
        effective_from: effective_from.to_string(),
        source: Some(format!(
            "LiteLLM model_prices_and_context_window.json: {key}"
        )),
        source_read_on: Some(effective_from.to_string()),
        rates,
        tiers: tiers
            .into_iter()
            .map(|(above, rates)| super::catalog::TierInput {
                above_prompt_tokens: above,
                rates,
            })
            .collect(),
        tier_rule,
        counting: None,
        notes: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn per_token_prices_become_exact_per_million_prices() {
        assert_eq!(scaled("f", "2.5e-06", 1_000_000).unwrap(), "2.5");
        assert_eq!(scaled("f", "1.25e-07", 1_000_000).unwrap(), "0.125");
        assert_eq!(scaled("f", "0.000003", 1_000_000).unwrap(), "3");
        assert_eq!(scaled("f", "0.0001", 1).unwrap(), "0.0001");
        assert!(scaled("f", "-1e-6", 1_000_000).is_err());
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
                "output_cost_per_token_above_200k_tokens": 1.5e-05},
            "free-model": {"litellm_provider": "openai", "input_cost_per_token": 0}
        });
        let import = convert(&file, "2026-11-01").unwrap();
        assert_eq!(import.entries.len(), 2);
        let gemini = import
            .entries
            .iter()
            .find(|e| e.provider == "google")
            .unwrap();
        assert_eq!(gemini.model, "gemini-2.5-pro");
        assert_eq!(gemini.rates["input_tokens"].price.0, "1.25");
        assert_eq!(gemini.tiers[0].above_prompt_tokens, 200_000);
        assert_eq!(gemini.tiers[0].rates["output_tokens"].price.0, "15");
        assert_eq!(import.skipped[0].key, "free-model");
    }

    #[test]
    fn a_malformed_price_names_the_entry_and_field() {
        let file =
            json!({"gpt-x": {"litellm_provider": "openai", "input_cost_per_token": "cheap"}});
        let errors = convert(&file, "2026-11-01").unwrap_err();
        assert_eq!(errors[0].field, "gpt-x.input_cost_per_token");
        let not_object = convert(&json!([1, 2]), "2026-11-01").unwrap_err();
        assert_eq!(not_object[0].field, "body");
    }
}
