//! Pricing: every usage kind, counting rules, tiers, aliases, effective dates and rounding.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::catalog::{
    builtin, builtin_source, parse_catalog_file, Catalog, EntryInput, Origin, PriceBook,
};
use super::*;
use crate::access::projects::ProjectId;
use crate::kernel::money::Currency;

fn entry(value: serde_json::Value) -> PriceEntry {
    let input: EntryInput = serde_json::from_value(value).unwrap();
    input.parse("", Origin::Builtin).unwrap()
}

fn custom(value: serde_json::Value, id: &str, project: Option<&str>) -> PriceEntry {
    let input: EntryInput = serde_json::from_value(value).unwrap();
    input
        .parse(
            "",
            Origin::Custom {
                id: id.into(),
                project_id: project.map(|p| ProjectId::parse(p).unwrap()),
            },
        )
        .unwrap()
}

fn cost(entry: &PriceEntry, usage: Usage) -> String {
    quote(entry, &usage).unwrap().unwrap().cost.amount_string()
}

fn gpt4o() -> PriceEntry {
    entry(json!({
        "provider": "openai", "model": "gpt-4o", "aliases": ["gpt-4o-2024-08-06"],
        "currency": "USD", "effective_from": "2024-08-06",
        "rates": {
            "input_tokens": {"price": "2.50", "per": 1000000},
            "cached_input_tokens": {"price": "1.25", "per": 1000000},
            "output_tokens": {"price": "10.00", "per": 1000000}
        }
    }))
}

fn sonnet() -> PriceEntry {
    entry(json!({
        "provider": "anthropic", "model": "claude-3-5-sonnet",
        "aliases": ["claude-3-5-sonnet-20241022"],
        "currency": "USD", "effective_from": "2024-06-20",
        "rates": {
            "input_tokens": {"price": "3", "per": 1000000},
            "output_tokens": {"price": "15", "per": 1000000},
            "cached_input_tokens": {"price": "0.30", "per": 1000000},
            "cache_write_tokens": {"price": "3.75", "per": 1000000}
        }
    }))
}

fn gemini_pro() -> PriceEntry {
    entry(json!({
        "provider": "google", "model": "gemini-2.5-pro",
        "currency": "USD", "effective_from": "2025-06-17",
        "rates": {
            "input_tokens": {"price": "1.25", "per": 1000000},
            "cached_input_tokens": {"price": "0.31", "per": 1000000},
            "output_tokens": {"price": "10", "per": 1000000}
        },
        "tiers": [{"above_prompt_tokens": 200000, "rates": {
            "input_tokens": {"price": "2.50", "per": 1000000},
            "cached_input_tokens": {"price": "0.625", "per": 1000000},
            "output_tokens": {"price": "15", "per": 1000000}
        }}],
        "tier_rule": "Prompts above 200,000 tokens: the whole request at the higher rates."
    }))
}

#[test]
fn input_and_output_tokens_are_priced_per_million() {
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 1500)
        .with(UsageKind::OutputTokens, 500);
    // 1500 * 2.50/1M + 500 * 10/1M = 0.00375 + 0.005
    assert_eq!(cost(&gpt4o(), usage), "0.00875");
}

#[test]
fn openai_cached_tokens_are_part_of_the_prompt_count() {
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 10_000)
        .with(UsageKind::CachedInputTokens, 4_000)
        .with(UsageKind::OutputTokens, 0);
    // 6000 uncached * 2.50/1M + 4000 cached * 1.25/1M = 0.015 + 0.005
    assert_eq!(cost(&gpt4o(), usage), "0.02");
}

#[test]
fn cached_tokens_larger_than_an_inclusive_prompt_count_are_rejected() {
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 100)
        .with(UsageKind::CachedInputTokens, 200);
    let error = quote(&gpt4o(), &usage).unwrap_err();
    assert_eq!(error.field, "cached_input_tokens");
}

#[test]
fn anthropic_cache_reads_and_writes_come_on_top_of_input_tokens() {
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 1_000)
        .with(UsageKind::CachedInputTokens, 10_000)
        .with(UsageKind::CacheWriteTokens, 2_000)
        .with(UsageKind::OutputTokens, 500);
    // 1000*3 + 10000*0.30 + 2000*3.75 + 500*15 = 3000 + 3000 + 7500 + 7500 = 21000 / 1M
    assert_eq!(cost(&sonnet(), usage), "0.021");
}

#[test]
fn gemini_cached_tokens_are_inside_the_prompt_and_thinking_is_billed_as_output() {
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 100_000)
        .with(UsageKind::CachedInputTokens, 40_000)
        .with(UsageKind::OutputTokens, 1_000)
        .with(UsageKind::ReasoningTokens, 3_000);
    // 60000*1.25 + 40000*0.31 + (1000+3000)*10 = 75000 + 12400 + 40000 = 127400 / 1M
    assert_eq!(cost(&gemini_pro(), usage), "0.1274");
}

#[test]
fn a_prompt_above_the_tier_threshold_bills_the_whole_request_at_the_higher_rates() {
    let at_threshold = Usage::new()
        .with(UsageKind::InputTokens, 200_000)
        .with(UsageKind::OutputTokens, 1_000);
    assert_eq!(cost(&gemini_pro(), at_threshold), "0.26");
    let above = Usage::new()
        .with(UsageKind::InputTokens, 200_001)
        .with(UsageKind::OutputTokens, 1_000);
    let q = quote(&gemini_pro(), &above).unwrap().unwrap();
    assert_eq!(q.tier_above_prompt_tokens, Some(200_000));
    // 200001 * 2.50/1M + 1000 * 15/1M = 0.5000025 + 0.015
    assert_eq!(q.cost.amount_string(), "0.5150025");
}

#[test]
fn anthropic_prompt_size_for_tiers_includes_cache_reads_and_writes() {
    let long = entry(json!({
        "provider": "anthropic", "model": "claude-sonnet-4", "currency": "USD",
        "effective_from": "2025-05-22",
        "rates": {"input_tokens": {"price": "3", "per": 1000000}, "output_tokens": {"price": "15", "per": 1000000}},
        "tiers": [{"above_prompt_tokens": 200000, "rates": {"input_tokens": {"price": "6", "per": 1000000}, "output_tokens": {"price": "22.50", "per": 1000000}}}],
        "tier_rule": "Input above 200K tokens (including cache reads and writes): all tokens at long-context rates."
    }));
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 1_000)
        .with(UsageKind::CachedInputTokens, 250_000)
        .with(UsageKind::OutputTokens, 100);
    let q = quote(&long, &usage).unwrap().unwrap();
    assert_eq!(q.tier_above_prompt_tokens, Some(200_000));
    // no cache rates: cache reads fall back to the (tier) input rate 6/1M.
    // 1000*6 + 250000*6 + 100*22.5 = 6000 + 1500000 + 2250 = 1508250 / 1M
    assert_eq!(q.cost.amount_string(), "1.50825");
}

#[test]
fn reasoning_tokens_use_their_own_rate_where_one_exists() {
    let own = entry(json!({
        "provider": "openai", "model": "think", "currency": "USD", "effective_from": "2025-01-01",
        "rates": {"input_tokens": {"price": "1", "per": 1000000}, "output_tokens": {"price": "4", "per": 1000000},
                  "reasoning_tokens": {"price": "2", "per": 1000000}}
    }));
    let usage = Usage::new()
        .with(UsageKind::OutputTokens, 1_000)
        .with(UsageKind::ReasoningTokens, 600);
    // OpenAI counts reasoning inside output: 400*4 + 600*2 = 2800 / 1M
    assert_eq!(cost(&own, usage), "0.0028");
    // Without an own rate, reasoning inside output is simply output.
    let usage = Usage::new()
        .with(UsageKind::OutputTokens, 1_000)
        .with(UsageKind::ReasoningTokens, 600);
    assert_eq!(cost(&gpt4o(), usage), "0.01");
}

#[test]
fn audio_tokens_have_their_own_rates_inside_openai_counts() {
    let tts = entry(json!({
        "provider": "openai", "model": "gpt-4o-mini-tts", "currency": "USD", "effective_from": "2025-03-20",
        "rates": {"input_tokens": {"price": "0.60", "per": 1000000}, "audio_output_tokens": {"price": "12", "per": 1000000}}
    }));
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 100)
        .with(UsageKind::OutputTokens, 2_000)
        .with(UsageKind::AudioOutputTokens, 2_000);
    // 100*0.60 + 2000*12 = 60 + 24000 = 24060 / 1M
    assert_eq!(cost(&tts, usage), "0.02406");
}

#[test]
fn characters_seconds_minutes_images_requests_tracks_and_credits_are_each_priced() {
    let all = entry(json!({
        "provider": "acme", "model": "everything", "currency": "USD", "effective_from": "2025-01-01",
        "rates": {
            "characters": {"price": "0.30", "per": 1000},
            "audio_seconds": {"price": "0.15", "per": 60},
            "video_seconds": {"price": "0.50", "per": 1},
            "images": {"price": "0.04", "per": 1},
            "requests": {"price": "0.001", "per": 1},
            "tracks": {"price": "0.06", "per": 1},
            "credits": {"price": "0.99", "per": 1}
        }
    }));
    let one = |kind, n| cost(&all, Usage::new().with(kind, n));
    assert_eq!(one(UsageKind::Characters, 500), "0.15");
    assert_eq!(one(UsageKind::AudioSeconds, 90), "0.225");
    assert_eq!(one(UsageKind::VideoSeconds, 3), "1.50");
    assert_eq!(one(UsageKind::Images, 2), "0.08");
    assert_eq!(one(UsageKind::Requests, 7), "0.007");
    assert_eq!(one(UsageKind::Tracks, 3), "0.18");
    let mut half = Usage::new();
    half.set_micros(UsageKind::Credits, MICRO / 2);
    assert_eq!(cost(&all, half), "0.495");
    // A per-minute price of seconds that does not divide evenly rounds once, half to even:
    // 1 s at 0.15/60 = 0.0025 exactly; 7 s at 0.10/60 = 0.011666...
    let minute = entry(json!({
        "provider": "hume", "model": "evi", "currency": "GBP", "effective_from": "2025-01-01",
        "rates": {"audio_seconds": {"price": "0.10", "per": 60}}
    }));
    let q = quote(&minute, &Usage::new().with(UsageKind::AudioSeconds, 7))
        .unwrap()
        .unwrap();
    assert_eq!(q.cost.nanos, 11_666_667);
    assert_eq!(q.cost.currency, Currency::parse("GBP").unwrap());
}

#[test]
fn elevenlabs_credits_reported_beside_characters_bill_the_call_once_by_its_credits() {
    let v2 = builtin()
        .entries()
        .iter()
        .find(|e| e.provider == "elevenlabs" && e.model == "eleven_multilingual_v2")
        .unwrap();
    assert!(v2.counting.credits_cover_usage);
    let chars = Usage::new().with(UsageKind::Characters, 500);
    let credits = Usage::new().with(UsageKind::Credits, 150);
    let both = chars.with(UsageKind::Credits, 150);
    assert_eq!(cost(v2, chars), "0.05");
    assert_eq!(cost(v2, credits), "0.015");
    // Seed 000 sends `characters: 500, credits: 150`: the credits are what ElevenLabs charged.
    let q = quote(v2, &both).unwrap().unwrap();
    assert_eq!(q.cost.amount_string(), "0.015");
    assert_eq!(q.lines.len(), 1, "{:?}", q.lines);
    assert!(
        q.unbilled.is_empty(),
        "covered characters are not reported as unbilled"
    );

    // Other providers bill each kind they rate; a custom entry can say otherwise either way.
    let rates = json!({
        "characters": {"price": "0.10", "per": 1000},
        "credits": {"price": "0.0001", "per": 1}
    });
    let acme = entry(json!({
        "provider": "acme", "model": "voice", "currency": "USD", "effective_from": "2025-01-01",
        "rates": rates
    }));
    assert!(!acme.counting.credits_cover_usage);
    assert_eq!(cost(&acme, both), "0.065");
    let covered = entry(json!({
        "provider": "acme", "model": "voice", "currency": "USD", "effective_from": "2025-01-01",
        "rates": rates, "counting": {"credits_cover_usage": true}
    }));
    assert_eq!(cost(&covered, both), "0.015");
    let split = entry(json!({
        "provider": "elevenlabs", "model": "voice", "currency": "USD", "effective_from": "2025-01-01",
        "rates": rates, "counting": {"credits_cover_usage": false}
    }));
    assert_eq!(cost(&split, both), "0.065");
}

#[test]
fn a_known_model_without_a_rate_for_the_reported_usage_is_unpriced_not_free() {
    let usage = Usage::new().with(UsageKind::Characters, 500);
    let result = quote(&gpt4o(), &usage).unwrap();
    let Err(Unpriced::NoRateForUsage { message }) = result else {
        panic!("expected unpriced, got {result:?}");
    };
    assert!(message.contains("characters"), "{message}");
    // Unbilled kinds next to billed ones are listed, not silently dropped.
    let usage = Usage::new()
        .with(UsageKind::InputTokens, 10)
        .with(UsageKind::Requests, 1);
    let q = quote(&gpt4o(), &usage).unwrap().unwrap();
    assert_eq!(q.unbilled, vec![UsageKind::Requests]);
}

#[test]
fn aliases_and_dated_snapshots_resolve_to_their_entry() {
    let builtin = Catalog::new(vec![gpt4o(), sonnet()]);
    let custom = Catalog::default();
    let book = PriceBook {
        builtin: &builtin,
        custom: &custom,
    };
    let at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    for (provider, model, expected) in [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-2024-11-20", "gpt-4o"),
        ("openai", "openai/gpt-4o", "gpt-4o"),
        (
            "anthropic",
            "claude-3-5-sonnet-20241022",
            "claude-3-5-sonnet",
        ),
        (
            "anthropic",
            "claude-3-5-sonnet-20240620",
            "claude-3-5-sonnet",
        ),
    ] {
        assert_eq!(
            book.resolve(provider, model, at, None).unwrap().model,
            expected,
            "{model}"
        );
    }
    assert!(matches!(
        book.resolve("openai", "gpt-99", at, None),
        Err(Unpriced::UnknownModel { .. })
    ));
}

#[test]
fn the_price_in_force_at_the_event_time_is_used_so_history_never_changes() {
    let old = entry(json!({
        "provider": "openai", "model": "o3", "currency": "USD", "effective_from": "2025-04-16",
        "rates": {"input_tokens": {"price": "10", "per": 1000000}, "output_tokens": {"price": "40", "per": 1000000}}
    }));
    let new = entry(json!({
        "provider": "openai", "model": "o3", "currency": "USD", "effective_from": "2025-06-10",
        "rates": {"input_tokens": {"price": "2", "per": 1000000}, "output_tokens": {"price": "8", "per": 1000000}}
    }));
    let builtin = Catalog::new(vec![new, old]);
    let custom = Catalog::default();
    let book = PriceBook {
        builtin: &builtin,
        custom: &custom,
    };
    let usage = Usage::new().with(UsageKind::InputTokens, 1_000_000);
    let before = Utc.with_ymd_and_hms(2025, 6, 9, 23, 59, 59).unwrap();
    let after = Utc.with_ymd_and_hms(2025, 6, 10, 0, 0, 0).unwrap();
    assert_eq!(
        cost(book.resolve("openai", "o3", before, None).unwrap(), usage),
        "10.00"
    );
    assert_eq!(
        cost(book.resolve("openai", "o3", after, None).unwrap(), usage),
        "2.00"
    );
    let too_early = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    assert!(matches!(
        book.resolve("openai", "o3", too_early, None),
        Err(Unpriced::NoPriceInForce { .. })
    ));
}

#[test]
fn custom_prices_win_over_builtin_ones_and_project_prices_over_global_ones() {
    let builtin = Catalog::new(vec![gpt4o()]);
    let rates = |input: &str| {
        json!({
            "provider": "openai", "model": "gpt-4o", "currency": "USD", "effective_from": "2025-01-01",
            "rates": {"input_tokens": {"price": input, "per": 1000000}}
        })
    };
    let custom = Catalog::new(vec![
        custom(rates("2.00"), "price_global", None),
        custom(rates("1.00"), "price_ads", Some("ads")),
    ]);
    let book = PriceBook {
        builtin: &builtin,
        custom: &custom,
    };
    let at = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
    let ads = ProjectId::parse("ads").unwrap();
    let other = ProjectId::parse("other").unwrap();
    let usage = Usage::new().with(UsageKind::InputTokens, 1_000_000);
    let pick = |project| {
        book.resolve("openai", "gpt-4o-2024-08-06", at, project)
            .unwrap()
    };
    assert_eq!(cost(pick(Some(&ads)), usage), "1.00");
    assert_eq!(pick(Some(&ads)).reference().origin, "price_ads");
    assert_eq!(cost(pick(Some(&other)), usage), "2.00");
    assert_eq!(cost(pick(None), usage), "2.00");
    // Before the custom prices took effect, the built-in price applies.
    let earlier = Utc.with_ymd_and_hms(2024, 12, 31, 0, 0, 0).unwrap();
    let entry = book
        .resolve("openai", "gpt-4o", earlier, Some(&ads))
        .unwrap();
    assert_eq!(entry.reference().origin, "builtin");
}

#[test]
fn a_model_only_another_project_prices_is_unknown_to_this_one_as_if_that_price_did_not_exist() {
    let builtin = Catalog::new(vec![gpt4o()]);
    let custom = Catalog::new(vec![custom(
        json!({
            "provider": "acme", "model": "acme-x", "currency": "EUR", "effective_from": "2025-01-01",
            "rates": {"input_tokens": {"price": "0.7", "per": 1000000}}
        }),
        "price_ads",
        Some("ads"),
    )]);
    let book = PriceBook {
        builtin: &builtin,
        custom: &custom,
    };
    let at = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
    let (ads, other) = (
        ProjectId::parse("ads").unwrap(),
        ProjectId::parse("other").unwrap(),
    );
    assert!(book.resolve("acme", "acme-x", at, Some(&ads)).is_ok());
    let unknown = |project: Option<&ProjectId>| {
        matches!(
            book.resolve("acme", "acme-x", at, project),
            Err(Unpriced::UnknownModel { .. })
        )
    };
    assert!(unknown(Some(&other)), "another project's price is not seen");
    assert!(unknown(None));
    // The same answer as for a model no project prices.
    let never = book.resolve("acme", "acme-y", at, Some(&other));
    let seen = book.resolve("acme", "acme-x", at, Some(&other));
    assert_eq!(
        never.err().map(|u| u.message().replace("acme-y", "acme-x")),
        seen.err().map(|u| u.message().to_string())
    );
}

#[test]
fn invalid_entries_name_every_field() {
    let input: EntryInput = serde_json::from_value(json!({
        "provider": "openai", "model": "x", "currency": "USDX", "effective_from": "2025-13-01",
        "rates": {"input_tokens": {"price": "-1", "per": 1000000}, "output_tokens": {"price": "abc", "per": 1000000},
                  "smiles": {"price": "1", "per": 1}, "images": {"price": "1", "per": 0}},
        "tiers": [{"above_prompt_tokens": 100, "rates": {}}]
    }))
    .unwrap();
    let errors = input.parse("entries[4]", Origin::Builtin).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for expected in [
        "entries[4].currency",
        "entries[4].effective_from",
        "entries[4].rates.input_tokens.price",
        "entries[4].rates.output_tokens.price",
        "entries[4].rates.smiles",
        "entries[4].rates.images.per",
        "entries[4].tier_rule",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
}

#[test]
fn the_builtin_catalog_parses_with_unique_aliases_and_dated_sources() {
    let entries = parse_catalog_file(builtin_source()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(entries.len() >= 60, "only {} entries", entries.len());
    let mut names = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for e in &entries {
        assert!(
            e.source.as_deref().is_some_and(|s| !s.is_empty()),
            "{} has no source",
            e.model
        );
        assert!(e.source_read_on.is_some(), "{} has no read date", e.model);
        assert!(
            keys.insert((e.provider.clone(), e.model.clone(), e.effective_from)),
            "{} twice",
            e.model
        );
        names.insert((e.provider.clone(), e.model.clone()));
    }
    let mut aliases = std::collections::HashMap::new();
    for e in &entries {
        for a in &e.aliases {
            assert!(
                !names.contains(&(e.provider.clone(), a.clone())),
                "alias {a} is a model"
            );
            let previous = aliases.insert((e.provider.clone(), a.clone()), e.model.clone());
            assert!(
                previous.is_none() || previous.as_deref() == Some(e.model.as_str()),
                "alias {a} of two models"
            );
        }
    }
}

#[test]
fn the_builtin_catalog_covers_every_model_the_seed_teams_name() {
    let custom = Catalog::default();
    let book = PriceBook {
        builtin: builtin(),
        custom: &custom,
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    for (provider, model) in [
        ("openai", "gpt-4"),
        ("openai", "gpt-4-turbo"),
        ("openai", "gpt-3.5-turbo"),
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("openai", "gpt-4o-mini-tts"),
        ("openai", "text-embedding-3-small"),
        ("openai", "text-embedding-3-large"),
        ("openai", "text-embedding-ada-002"),
        ("openai", "gpt-4.1"),
        ("openai", "gpt-4.1-mini"),
        ("openai", "o1"),
        ("openai", "o3"),
        ("openai", "o3-mini"),
        ("openai", "o4-mini"),
        ("openai", "gpt-5"),
        ("openai", "gpt-5-mini"),
        ("openai", "gpt-5-nano"),
        ("anthropic", "claude-3-opus"),
        ("anthropic", "claude-3-sonnet"),
        ("anthropic", "claude-3-haiku"),
        ("anthropic", "claude-3-5-sonnet"),
        ("anthropic", "claude-3-5-haiku"),
        ("anthropic", "claude-3-7-sonnet"),
        ("anthropic", "claude-sonnet-4"),
        ("anthropic", "claude-opus-4"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("google", "gemini-pro"),
        ("google", "gemini-pro-vision"),
        ("google", "gemini-1.5-pro"),
        ("google", "gemini-1.5-flash"),
        ("google", "gemini-2.0-flash"),
        ("google", "gemini-2.5-pro"),
        ("google", "gemini-2.5-flash"),
    ] {
        assert!(
            book.resolve(provider, model, at, None).is_ok(),
            "{provider}/{model} is not priced"
        );
    }
    for provider in [
        "elevenlabs",
        "heygen",
        "hume",
        "loudly",
        "lahajati",
        "google-cloud",
    ] {
        assert!(
            builtin().entries().iter().any(|e| e.provider == provider),
            "no entry for {provider}"
        );
    }
}

#[test]
fn builtin_prices_match_the_providers_published_pages() {
    let custom = Catalog::default();
    let book = PriceBook {
        builtin: builtin(),
        custom: &custom,
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let million_in_and_out = |provider, model| {
        let e = book.resolve(provider, model, at, None).unwrap();
        let input = cost(e, Usage::new().with(UsageKind::InputTokens, 1_000_000));
        let output = cost(e, Usage::new().with(UsageKind::OutputTokens, 1_000_000));
        (input, output)
    };
    assert_eq!(
        million_in_and_out("openai", "gpt-4o"),
        ("2.50".into(), "10.00".into())
    );
    assert_eq!(
        million_in_and_out("openai", "gpt-4o-mini"),
        ("0.15".into(), "0.60".into())
    );
    assert_eq!(
        million_in_and_out("openai", "gpt-4"),
        ("30.00".into(), "60.00".into())
    );
    assert_eq!(
        million_in_and_out("anthropic", "claude-3-5-sonnet-20241022"),
        ("3.00".into(), "15.00".into())
    );
    assert_eq!(
        million_in_and_out("anthropic", "claude-3-opus"),
        ("15.00".into(), "75.00".into())
    );
    assert_eq!(
        million_in_and_out("anthropic", "claude-3-haiku"),
        ("0.25".into(), "1.25".into())
    );
    let pro = book.resolve("google", "gemini-2.5-pro", at, None).unwrap();
    assert!(!pro.tiers.is_empty(), "gemini-2.5-pro has its 200k tier");
}

proptest! {
    #[test]
    fn an_event_cost_is_within_half_a_nano_unit_of_the_exact_sum(
        quantities in proptest::collection::vec(0u64..5_000_000, 4),
        prices in proptest::collection::vec(0u64..100_000_000, 4),
        scale in 3u32..10,
    ) {
        let pers = [1_000_000u64, 1_000, 60, 1];
        let kinds = [UsageKind::InputTokens, UsageKind::Characters, UsageKind::AudioSeconds, UsageKind::Images];
        let mut rates = serde_json::Map::new();
        for i in 0..4 {
            let price = crate::kernel::money::format_scaled(i128::from(prices[i]), scale, 0);
            rates.insert(kinds[i].name().into(), json!({"price": price, "per": pers[i]}));
        }
        let e = entry(json!({"provider": "acme", "model": "m", "currency": "USD",
            "effective_from": "2025-01-01", "rates": rates}));
        let mut usage = Usage::new();
        for i in 0..4 {
            usage = usage.with(kinds[i], quantities[i]);
        }
        let q = quote(&e, &usage).unwrap().unwrap();
        // Exact sum as a fraction over the common denominator 3_000_000 (lcm of pers), in
        // units of 10^-scale.
        let lcm: i128 = 3_000_000;
        let exact_num: i128 = (0..4)
            .map(|i| i128::from(quantities[i]) * i128::from(prices[i]) * (lcm / i128::from(pers[i])))
            .sum();
        // cost in nanos vs exact: |nanos * 10^scale * lcm - exact_num * 10^9| <= half a nano.
        let lhs = q.cost.nanos * 10i128.pow(scale) * lcm;
        let rhs = exact_num * 1_000_000_000;
        let half_nano = 10i128.pow(scale) * lcm / 2 + 10i128.pow(scale) * lcm / 1_000_000_000 * 4 + 4;
        prop_assert!((lhs - rhs).abs() <= half_nano, "cost {} exact {}/{}", q.cost.nanos, exact_num, lcm);
    }

    #[test]
    fn more_usage_never_costs_less(a in 0u64..10_000_000, b in 0u64..10_000_000) {
        let e = gpt4o();
        let small = cost(&e, Usage::new().with(UsageKind::InputTokens, a.min(b)));
        let large = cost(&e, Usage::new().with(UsageKind::InputTokens, a.max(b)));
        let parse = |s: &str| crate::kernel::money::Money::parse(s, Currency::USD).unwrap().nanos;
        prop_assert!(parse(&small) <= parse(&large));
    }
}

#[test]
fn the_curated_provider_list_names_every_provider_of_the_curated_catalog_and_no_other() {
    assert_eq!(
        super::catalog::curated().providers(),
        super::catalog::BUILTIN_PROVIDERS
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_custom_price_with_an_empty_tier_is_stored_as_text_that_reads_back_the_same() {
    let input: EntryInput = serde_json::from_value(json!({
        "provider": "acme", "model": "m-1", "currency": "USD", "effective_from": "2026-01-01",
        "rates": {"input_tokens": {"price": "1", "per": 1000000}},
        "tiers": [{"above_prompt_tokens": 100, "rates": {}}],
        "tier_rule": "above 100 prompt tokens, nothing more"
    }))
    .unwrap();
    let text = serde_json::to_string(&input).unwrap();
    assert!(text.contains(r#""rates":{}"#), "{text}");
    let back: EntryInput = serde_json::from_str(&text).unwrap();
    assert_eq!(back, input);
    let stored = input.parse("", Origin::Builtin).unwrap().to_input();
    assert_eq!(
        serde_json::from_str::<EntryInput>(&serde_json::to_string(&stored).unwrap()).unwrap(),
        stored
    );
}

#[test]
fn a_price_too_large_to_hold_is_told_so_and_one_too_fine_is_told_to_raise_per() {
    let problem = |price: &str| {
        let input: EntryInput = serde_json::from_value(json!({
            "provider": "acme", "model": "render", "currency": "USD",
            "effective_from": "2026-01-01", "rates": {"requests": {"price": price, "per": 1}}
        }))
        .unwrap();
        let errors = input.parse("", Origin::Builtin).unwrap_err();
        (errors[0].field.clone(), errors[0].message.clone())
    };
    let huge = format!("1{}", "0".repeat(30));
    assert_eq!(
        problem(&huge),
        (
            "rates.requests.price".into(),
            "is larger than 1000000".into()
        )
    );
    assert_eq!(
        problem("0.0000000000001").1,
        "has more than 12 decimal places; raise `per` instead"
    );
    assert_eq!(problem("1000000.000000000001").1, "is larger than 1000000");
}
