//! Pricing through the bundled LiteLLM layer: every per-token price LiteLLM lists resolves, by
//! its label and key, to LiteLLM's exact price (split from `tests.rs` by subject).

use chrono::{TimeZone, Utc};

use super::catalog::{builtin, Catalog, PriceBook};
use super::*;

/// LiteLLM's per-token price (decimal text) per million tokens, exactly; `None` for float
/// noise beyond 18 decimal places.
fn litellm_per_million(text: &str) -> Option<crate::kernel::money::Decimal> {
    let d = crate::kernel::money::Decimal::parse(text).ok()?;
    let per_million = if d.scale >= 6 {
        format!("{}e-{}", d.mantissa, d.scale - 6)
    } else {
        format!("{}e{}", d.mantissa, 6 - d.scale)
    };
    crate::kernel::money::Decimal::parse(&per_million).ok()
}

/// Every LiteLLM key with a per-token price, as a client sends it: LiteLLM's provider label
/// and the key itself, with the key's input and output prices.
fn litellm_token_cases() -> Vec<(String, String, Option<String>, Option<String>)> {
    super::bundled::text()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            let field = |name: &str| {
                c[4].split(' ')
                    .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                    .map(str::to_string)
            };
            let (input, output) = (
                field("input_cost_per_token"),
                field("output_cost_per_token"),
            );
            let label = if c[2].is_empty() {
                super::litellm::provider_for(None, c[1])
            } else {
                c[2].to_string()
            };
            (input.is_some() || output.is_some())
                .then(|| (label, c[1].to_ascii_lowercase(), input, output))
        })
        .collect()
}

#[test]
fn litellm_per_token_entries_resolve_by_label_and_key_to_litellms_exact_prices() {
    let none = Catalog::default();
    let book = PriceBook {
        builtin: builtin(),
        custom: &none,
    };
    let at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let cases = litellm_token_cases();
    let mut exact = 0;
    let mut misses = Vec::new();
    for (label, key, input, output) in &cases {
        let provider = super::catalog::canonical_provider(label);
        let Ok(entry) = book.resolve(&provider, key, at, None) else {
            misses.push(format!("{label} {key}: unpriced"));
            continue;
        };
        let same = |kind: UsageKind, text: &Option<String>| match text {
            None => true,
            Some(t) => match (litellm_per_million(t), &entry.rates[kind.index()]) {
                (Some(want), Some(rate)) => rate.per == 1_000_000 && rate.price == want,
                (_, None) => crate::kernel::money::Decimal::parse(t).is_ok_and(|d| d.mantissa == 0),
                // Float noise: priced with LiteLLM's entry, rounded at 18 decimals per token.
                (None, Some(_)) => entry
                    .notes
                    .as_deref()
                    .is_some_and(|n| n.contains(t.as_str())),
            },
        };
        if same(UsageKind::InputTokens, input) && same(UsageKind::OutputTokens, output) {
            exact += 1;
        } else {
            misses.push(format!("{label} {key}: {:?}", entry.source));
        }
    }
    assert!(cases.len() > 3_500, "{} cases", cases.len());
    let share = exact as f64 / cases.len() as f64;
    assert!(
        share >= 0.99,
        "{exact} of {} exact; misses: {misses:#?}",
        cases.len()
    );
}

/// The input and output prices per million tokens of what resolves for `provider`/`model`.
fn bundled_prices(provider: &str, model: &str) -> (String, String) {
    let none = Catalog::default();
    let book = PriceBook {
        builtin: builtin(),
        custom: &none,
    };
    let at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let provider = super::catalog::canonical_provider(provider);
    let entry = book.resolve(&provider, model, at, None).unwrap();
    let rate = |k: UsageKind| entry.rates[k.index()].as_ref().unwrap().price.to_string();
    (rate(UsageKind::InputTokens), rate(UsageKind::OutputTokens))
}

#[test]
fn a_litellm_key_keeps_its_price_when_another_key_reduces_to_its_name() {
    // `perplexity/perplexity/sonar` (the agent API) reduces to `perplexity/sonar`, a key of its own.
    assert_eq!(
        bundled_prices("perplexity", "perplexity/sonar"),
        ("1".into(), "1".into())
    );
    assert_eq!(
        bundled_prices("perplexity", "sonar"),
        ("1".into(), "1".into())
    );
}

#[test]
fn a_provider_prefix_spelt_with_a_hyphen_resolves_like_its_label() {
    // LiteLLM keys `amazon-nova/nova-micro-v1` under the label `amazon_nova`.
    for (provider, model) in [
        ("amazon_nova", "nova-micro-v1"),
        ("amazon-nova", "nova-micro-v1"),
        ("amazon_nova", "amazon-nova/nova-micro-v1"),
    ] {
        assert_eq!(
            bundled_prices(provider, model),
            ("0.035".into(), "0.14".into()),
            "{provider} {model}"
        );
    }
}

#[test]
fn a_vertex_ai_key_keeps_vertexs_price_where_the_curated_gemini_api_price_differs() {
    assert_eq!(
        bundled_prices("vertex_ai", "vertex_ai/gemini-2.0-flash"),
        ("0.15".into(), "0.6".into())
    );
    // The Gemini API's price, curated, still answers to the plain name.
    assert_eq!(
        bundled_prices("google", "gemini-2.0-flash"),
        ("0.1".into(), "0.4".into())
    );
}

#[test]
fn every_model_the_bundled_layer_lists_resolves_and_its_line_columns_say_so() {
    // GET /api/prices counts the models of other pages from the lines' date and mode
    // columns: a listed model must resolve, to an entry of that mode, or totals drift.
    let layer = super::bundled::layer();
    let none = Catalog::default();
    let book = PriceBook {
        builtin: builtin(),
        custom: &none,
    };
    let at = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
    let mut wrong = Vec::new();
    for (p, m) in layer.names() {
        let modes = layer.line_modes(p, m, Some(at.date_naive()));
        let resolved = book.resolve(p, m, at, None).ok();
        let mode = resolved.and_then(|e| e.mode.as_deref()).unwrap_or("");
        if modes.len() != 1 || resolved.is_none() || modes[0] != mode {
            wrong.push(format!(
                "{p} {m}: lines {modes:?}, resolved {:?}",
                resolved.map(|e| &e.model)
            ));
        }
    }
    assert!(layer.names().count() > 4000);
    assert_eq!(wrong, Vec::<String>::new());
}

#[test]
fn the_owned_provider_canonicalization_agrees_with_the_borrowed_one_for_every_label() {
    use super::catalog::{canonical_provider, canonical_provider_of, BUILTIN_PROVIDERS};
    let mut names: Vec<String> = litellm_token_cases().into_iter().map(|c| c.0).collect();
    names.extend(BUILTIN_PROVIDERS.iter().map(|p| p.to_string()));
    names.extend(
        [
            "open-ai",
            "eleven-labs",
            "claude",
            "gemini",
            "hume-ai",
            "vertex_ai-x",
            "acme",
        ]
        .map(String::from),
    );
    for name in names {
        assert_eq!(
            canonical_provider_of(name.clone()),
            canonical_provider(&name),
            "{name}"
        );
    }
    for builtin in BUILTIN_PROVIDERS {
        assert_eq!(canonical_provider(builtin), builtin);
    }
}
