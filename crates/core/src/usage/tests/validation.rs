//! Validation: every problem of an event named, the model rule, and the caps.

use serde_json::{json, Value};

use crate::kernel::error::CoreError;
use crate::usage::fixtures::{fields, usd, World};

#[test]
fn seed_003s_service_names_the_operation_and_cannot_be_given_twice() {
    let world = World::new();
    let report = world
        .send(json!({
            "id": "asr-1", "provider": "hume", "service": "asr", "audio_seconds": "12.5",
            "endpoint": "/batch/jobs", "success": true, "session_id": "sess-9",
            "timestamp": "2026-11-20T11:00:00Z"
        }))
        .unwrap();
    assert_eq!(report.stored, 1);
    let stored = world.store.stored_events();
    assert_eq!(stored[0].operation, "asr");
    assert_eq!(stored[0].session_id.as_deref(), Some("sess-9"));

    let both = world.send(json!({
        "id": "asr-2", "provider": "hume", "service": "asr", "operation": "chat",
        "audio_seconds": "1"
    }));
    assert_eq!(
        fields(&both.unwrap_err()),
        vec![("operation".to_string(), Some(0))]
    );
    assert_eq!(
        world.store.stored_events().len(),
        1,
        "the refused event wrote nothing"
    );
}

#[test]
fn every_field_at_fault_is_named_in_words_a_missing_one_a_negative_count_and_no_usage() {
    let world = World::new();
    let problem = |body: Value| {
        let error = world.send(body).unwrap_err();
        let CoreError::Validation(details) = error else {
            panic!("expected a validation error, got {error:?}");
        };
        details
            .iter()
            .map(|d| (d.field.clone(), d.message.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        problem(json!({"model": "gpt-4o", "input_tokens": 5})),
        [("provider".to_string(), "is required".to_string())]
    );
    assert_eq!(
        problem(
            json!({"events": [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}, {"input_tokens": 5}]})
        ),
        [("events[1].provider".to_string(), "is required".to_string())]
    );
    assert_eq!(
        problem(
            json!({"events": [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": -1}]})
        ),
        [(
            "events[0].input_tokens".to_string(),
            "invalid value: integer `-1`, expected a whole number, 0 or more".to_string()
        )]
    );
    let all: Vec<String> =
        problem(json!({"events": [{"input_tokens": -1, "model": 5, "timestamp": []}]}))
            .into_iter()
            .map(|(field, _)| field)
            .collect();
    assert_eq!(
        all,
        [
            "events[0].provider",
            "events[0].input_tokens",
            "events[0].model",
            "events[0].timestamp"
        ],
        "every field at fault in one answer, not only the first"
    );
    let no_usage = problem(json!({"events": [{"provider": "openai", "model": "gpt-4o"}]}));
    assert_eq!(no_usage[0].0, "events[0].usage");
    assert!(no_usage[0].1.starts_with("the event reports no usage"));
}

#[test]
fn a_type_error_hides_no_other_problem_of_the_event_every_field_at_fault_is_named() {
    let world = World::new();
    let named = |body: Value| {
        let error = world.send(body).unwrap_err();
        let mut fields: Vec<String> = fields(&error).into_iter().map(|(f, _)| f).collect();
        fields.sort();
        fields
    };
    // A provider of the wrong type, a count of the wrong type, a negative count, a time that
    // is no time and an operation with a direction override: five answers in one.
    assert_eq!(
        named(
            json!({"provider": 5, "input_tokens": "abc", "output_tokens": -1,
            "timestamp": "yesterday", "operation": "chat\u{202E}"})
        ),
        [
            "input_tokens",
            "operation",
            "output_tokens",
            "provider",
            "timestamp"
        ]
    );
    // A missing required field (the model, for a provider priced by model) among type errors.
    assert_eq!(
        named(
            json!({"provider": "openai", "input_tokens": "abc", "cached": "no",
            "timestamp": "2030-01-01T00:00:00Z", "job_id": " "})
        ),
        ["cached", "input_tokens", "job_id", "model", "timestamp"]
    );
    // No provider at all, a model of the wrong type, an invisible session id, in a batch.
    assert_eq!(
        named(json!({"events": [
            {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1},
            {"input_tokens": "abc", "model": 4, "session_id": "s\u{200B}", "currency": "usd!"},
        ]})),
        [
            "events[1].currency",
            "events[1].input_tokens",
            "events[1].model",
            "events[1].provider",
            "events[1].session_id"
        ]
    );
    // Each problem carries its event's index.
    let error = world
        .send(json!({"events": [{"provider": "heygen", "credits": [], "timestamp": "soon"}]}))
        .unwrap_err();
    assert_eq!(
        fields(&error),
        [
            ("events[0].credits".to_string(), Some(0)),
            ("events[0].timestamp".to_string(), Some(0))
        ]
    );
    assert!(world.log.objects.borrow().is_empty(), "nothing was written");
}

#[test]
fn a_missing_model_is_refused_where_the_provider_prices_by_model_and_warned_of_where_it_has_a_default(
) {
    let world = World::new();
    for provider in ["openai", "anthropic", "google", "Open AI", "gemini"] {
        let error = world
            .send(json!({"provider": provider, "input_tokens": 100}))
            .unwrap_err();
        let CoreError::Validation(details) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(
            details.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
            ["model"],
            "{provider}"
        );
        assert!(
            details[0].message.starts_with("is required: "),
            "{}",
            details[0].message
        );
    }
    assert!(world.log.objects.borrow().is_empty());
    // HeyGen, ElevenLabs and Loudly have a provider-wide default: accepted, priced by it, and
    // the answer says so.
    let report = world
        .send(json!({"events": [
            {"id": "hg", "provider": "heygen", "credits": "2"},
            {"id": "el", "provider": "elevenlabs", "characters": 1000},
            {"id": "ld", "provider": "loudly", "tracks": 1},
            {"id": "ac", "provider": "acme", "tokens": 10},
            {"id": "oa", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1},
            // Seed 001's `logUsage('openai', {tokens, cost})`: its own cost counts.
            {"id": "oc", "provider": "openai", "tokens": 1500, "cost": "0.045"},
        ]}))
        .unwrap();
    assert_eq!(report.stored, 6);
    let warned: Vec<(String, Vec<(String, bool)>)> = report
        .events
        .iter()
        .map(|e| {
            (
                e.id.clone(),
                e.warnings
                    .iter()
                    .map(|w| (w.field.clone(), w.message.contains("builtin:")))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        warned,
        [
            ("hg".to_string(), vec![("model".to_string(), true)]),
            ("el".to_string(), vec![("model".to_string(), true)]),
            ("ld".to_string(), vec![("model".to_string(), true)]),
            ("ac".to_string(), vec![("model".to_string(), false)]),
            ("oa".to_string(), vec![]),
            ("oc".to_string(), vec![("model".to_string(), false)]),
        ]
    );
    assert!(report.events[5].warnings[0]
        .message
        .contains("the cost you reported counts"));
    assert_eq!(report.events[5].cost, Some(usd("0.045")));
    assert!(report.events[0].warnings[0]
        .message
        .contains("builtin:heygen/api-credits@"));
    assert!(report.events[3].warnings[0]
        .message
        .contains("no price entry of acme"));
    assert!(report.events.iter().take(3).all(|e| e.cost.is_some()));
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["events"][4].get("warnings").is_none(),
        "no warnings, no field"
    );
    let models: Vec<String> = world
        .store
        .stored_events()
        .into_iter()
        .map(|e| e.model)
        .collect();
    assert_eq!(models.iter().filter(|m| *m == "default").count(), 5);
}

/// The `model` warning of the only event of `event`, once recorded.
fn model_warning_of(event: Value) -> String {
    let report = World::new().send(event).unwrap();
    let warnings = &report.events[0].warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].field, "model");
    warnings[0].message.clone()
}

#[test]
fn an_event_without_a_model_priced_by_the_providers_default_entry_is_told_which_entry() {
    let warning = model_warning_of(
        json!({"provider": "google-cloud", "operation": "speech-to-text", "audio_seconds": 60}),
    );
    assert!(
        warning.contains("priced with google-cloud's default entry (builtin:google-cloud/speech-to-text-v2@2024-01-01)"),
        "{warning}"
    );
}

#[test]
fn a_reported_cost_without_a_model_is_told_it_counts_and_which_entry_answers_to_default() {
    let warning = model_warning_of(json!({
        "id": "gt-4", "provider": "google-cloud", "operation": "speech-to-text", "cost": 0.012
    }));
    assert!(!warning.contains("no price entry"), "{warning}");
    assert!(
        warning.contains("the cost you reported counts; google-cloud's default entry (builtin:google-cloud/speech-to-text-v2@2024-01-01) prices none of it (the event reports no billable quantity)"),
        "{warning}"
    );
}

#[test]
fn a_default_entry_without_a_rate_for_the_usage_sent_is_named_with_what_unpriced_says() {
    let report = World::new()
        .send(json!({"provider": "lahajati", "audio_seconds": 90}))
        .unwrap();
    let event = &report.events[0];
    let unpriced = event.unpriced.as_ref().unwrap().message().to_string();
    assert!(
        unpriced.starts_with("lahajati/tts has no rate for audio_seconds"),
        "{unpriced}"
    );
    let warning = &event.warnings[0].message;
    assert!(!warning.contains("no price entry"), "{warning}");
    assert!(
        warning.contains(&format!(
            "lahajati's default entry (builtin:lahajati/tts@2025-12-16) prices none of it ({unpriced})"
        )),
        "{warning}"
    );
}

#[test]
fn a_cost_over_nine_million_per_event_and_counts_over_a_billion_are_refused_and_named_alone() {
    let world = World::new();
    let fields = |body: Value| match world.send(body).unwrap_err() {
        CoreError::Validation(details) => {
            details.iter().map(|d| d.field.clone()).collect::<Vec<_>>()
        }
        other => panic!("expected a validation error, got {other:?}"),
    };
    assert_eq!(
        fields(json!({"provider": "acme", "cost": "4700000000"})),
        ["cost"]
    );
    assert_eq!(
        fields(json!({"provider": "acme", "cost": "9000000.000000001"})),
        ["cost"]
    );
    assert_eq!(
        fields(
            json!({"provider": "openai", "model": "gpt-4o-mini", "tokens": 1_000_000_000_001u64, "duration_ms": 9_223_372_036_854_775_807u64})
        ),
        ["tokens", "duration_ms"]
    );
    // A refused quantity is the only problem named: the event did report usage.
    assert_eq!(
        fields(json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000_001u64})),
        ["input_tokens"]
    );
    assert_eq!(
        fields(json!({"provider": "heygen", "credits": "1000000000.000001"})),
        ["credits"]
    );
    // 10^9 images at $0.04 would cost 4 * 10^7: priced above the cap, refused as well.
    assert_eq!(
        fields(json!({"provider": "openai", "model": "dall-e-3", "images": 1_000_000_000u64})),
        ["cost"]
    );
    let at_cap = world
        .send(json!({"provider": "acme", "cost": "9000000", "tokens": 1_000_000_000u64, "credits": "1000000000"}))
        .unwrap();
    assert_eq!(at_cap.events[0].cost, Some(usd("9000000")));
}

#[test]
fn a_batch_whose_events_all_read_gives_each_event_as_it_reads_alone() {
    use crate::usage::ingest::parse_batch;
    let events = [
        json!({"id": "a-1", "provider": "openai", "model": "gpt-4o-mini", "prompt_tokens": 10,
               "completion_tokens": 2, "metadata": {"team": "ads", "n": [1, 2]}}),
        json!({"provider": "hume", "service": "asr", "audio_seconds": "12.5", "success": false,
               "timestamp": "2026-11-20T11:00:00Z", "session_id": "s"}),
        json!({"provider": "openai", "tokens": 7, "cost": 0.25, "currency": "eur", "cached": true}),
        json!({"provider": "elevenlabs", "model": "eleven_multilingual_v2", "characters": 400,
               "job_id": null, "project_id": "ads"}),
    ];
    let batch = parse_batch(json!({ "events": events }).to_string().as_bytes()).unwrap();
    assert_eq!(batch.events.len(), events.len());
    for (read, event) in batch.events.iter().zip(&events) {
        let alone = parse_batch(event.to_string().as_bytes()).unwrap();
        let (read, alone) = (read.as_ref().unwrap(), alone.events[0].as_ref().unwrap());
        assert_eq!(format!("{read:?}"), format!("{alone:?}"));
    }
    // One event at fault: the others still read, and the one at fault is named.
    let mut broken = events.to_vec();
    broken[2] = json!({"provider": "openai", "input_tokens": "many"});
    let batch = parse_batch(json!({ "events": broken }).to_string().as_bytes()).unwrap();
    let oks: Vec<bool> = batch.events.iter().map(Result::is_ok).collect();
    assert_eq!(oks, [true, true, false, true]);
    let problems = &batch.events[2].as_ref().unwrap_err().problems;
    assert_eq!(problems[0].field, "events[2].input_tokens");
}

#[test]
fn a_body_or_raw_log_line_that_is_not_utf8_is_refused_by_name_not_misread() {
    match crate::usage::ingest::parse_batch(b"{\"provider\":\"openai\",\"model\":\"caf\xe9\"}") {
        Err(CoreError::MalformedBody { message, details }) => {
            assert_eq!(message, "request body is not valid JSON: it is not UTF-8");
            assert_eq!(details[0].field, "body");
        }
        other => panic!("expected a malformed body, got {other:?}"),
    }
    let (records, bad) = crate::usage::record::from_ndjson(b"\n{\"v\":1,\"id\":\"\xff\"}\n");
    assert!(records.is_empty());
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].line, bad[0].message.as_str()),
        (2, "the line is not UTF-8")
    );
}

proptest::proptest! {
    #[test]
    fn a_field_given_again_is_named_once_per_repeat_in_the_bodys_order(
        names in proptest::collection::vec(proptest::sample::select(vec!["provider", "model", "tokens", "id", "zz"]), 1..12),
    ) {
        use crate::usage::ingest::parse_batch;
        let body = format!(
            "{{{}}}",
            names.iter().map(|n| format!("\"{n}\": \"x\"")).collect::<Vec<_>>().join(", ")
        );
        // What inserting the fields one by one into a map finds: each name already in it.
        let mut seen = std::collections::BTreeSet::new();
        let expected: Vec<String> = names
            .iter()
            .filter(|n| !seen.insert(**n))
            .map(|n| n.to_string())
            .collect();
        match parse_batch(body.as_bytes()) {
            Err(CoreError::Validation(problems)) => {
                proptest::prop_assert!(!expected.is_empty(), "{body}");
                let named: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
                proptest::prop_assert_eq!(named, expected);
                proptest::prop_assert!(problems.iter().all(|p| p.message == "is given more than once"));
            }
            _ => proptest::prop_assert!(expected.is_empty(), "{body}"),
        }
    }
}

#[test]
fn an_unknown_field_of_an_event_lists_every_name_and_alias_in_serdes_order() {
    use crate::usage::event::EventInput;
    let refused = serde_json::from_str::<EventInput>(r#"{"provider": "openai", "colour": 1}"#)
        .map_err(|e| e.to_string());
    assert_eq!(
        refused.map(|_| ()),
        Err(
            "unknown field `colour`, expected one of `id`, `project_id`, `provider`, `model`, \
             `operation`, `service`, `input_tokens`, `prompt_tokens`, `completion_tokens`, \
             `output_tokens`, `cache_read_input_tokens`, `cached_input_tokens`, `cached_tokens`, \
             `cache_creation_input_tokens`, `cache_write_tokens`, `reasoning_tokens`, \
             `audio_input_tokens`, `audio_output_tokens`, `tokens`, `total_tokens`, `characters`, \
             `audio_seconds`, `video_seconds`, `images`, `requests`, `tracks`, `credits`, `cost`, \
             `cost_usd`, `currency`, `cached`, `request_timestamp`, `timestamp`, `session_id`, \
             `job_id`, `duration_ms`, `success`, `endpoint`, `metadata`, `reservation_id` \
             at line 1 column 31"
                .to_string()
        )
    );
}

#[test]
fn a_request_sent_as_an_array_is_refused_as_the_wrong_type_of_body() {
    use crate::kernel::input::parse_json;
    use crate::usage::reprice::RepriceRequest;
    match parse_json::<RepriceRequest>(br#"["openai"]"#) {
        Err(CoreError::MalformedBody { message, details }) => {
            assert_eq!(
                message,
                "`body`: invalid type: sequence, expected struct RepriceRequest"
            );
            assert_eq!(details.len(), 1);
            assert_eq!(details[0].field, "body");
        }
        other => panic!("expected a malformed body, got {other:?}"),
    }
}

#[test]
fn a_problem_found_across_fields_names_each_field_as_the_request_spelled_it() {
    let world = World::new();
    // Seed 004's columns: `total_tokens` for `tokens`.
    let alone = world
        .send(
            json!({"provider": "openai", "model": "gpt-4", "input_tokens": 1500,
                     "output_tokens": 500, "total_tokens": 1999}),
        )
        .unwrap_err();
    assert_eq!(fields(&alone), vec![("total_tokens".to_string(), Some(0))]);
    // OpenAI's own names, in a batch: a problem found in pricing names `cached_tokens`.
    let priced = world
        .send(json!({"events": [
            {"provider": "openai", "model": "gpt-4o", "prompt_tokens": 100,
             "cached_tokens": 200, "completion_tokens": 5},
        ]}))
        .unwrap_err();
    assert_eq!(
        fields(&priced),
        vec![("events[0].cached_tokens".to_string(), Some(0))]
    );
    // The event that spelled it `tokens` keeps `tokens`.
    let batch = world
        .send(json!({"events": [
            {"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5},
            {"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5,
             "tokens": 1},
        ]}))
        .unwrap_err();
    assert_eq!(
        fields(&batch),
        vec![("events[1].tokens".to_string(), Some(1))]
    );
    assert!(
        world.store.stored_events().is_empty(),
        "nothing was written"
    );
}

#[test]
fn a_body_that_ends_early_names_where_it_stopped() {
    for (body, field) in [
        (
            r#"{"events": [{"provider": "openai", "input_tokens": 5}"#,
            "events[0]",
        ),
        (
            r#"{"provider": "openai", "input_tokens": 5 "#,
            "input_tokens",
        ),
        (r#"{"provider": "openai""#, "provider"),
    ] {
        match crate::usage::ingest::parse_batch(body.as_bytes()) {
            Err(CoreError::MalformedBody { message, details }) => {
                assert!(
                    message.starts_with("request body is not valid JSON"),
                    "{message}"
                );
                assert_eq!(
                    details.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
                    vec![field],
                    "{body}"
                );
            }
            other => panic!("expected a malformed body for {body}, got {other:?}"),
        }
    }
}

#[test]
fn a_quantity_past_what_micro_units_hold_is_too_large_and_one_with_seven_places_has_too_many() {
    let world = World::new();
    let message = |audio_seconds: &str| match world
        .send(json!({"provider": "hume", "service": "asr", "audio_seconds": audio_seconds}))
        .unwrap_err()
    {
        CoreError::Validation(details) => {
            assert_eq!(details[0].field, "audio_seconds");
            details[0].message.clone()
        }
        other => panic!("expected a validation error, got {other:?}"),
    };
    let huge = format!("1{}", "0".repeat(33));
    assert!(
        message(&huge).starts_with("is too large"),
        "{}",
        message(&huge)
    );
    assert_eq!(message("1.0000001"), "has more than 6 decimal places");
    assert!(world.store.stored_events().is_empty());
}

#[test]
fn an_event_may_cost_nine_million_units_of_its_currency_and_not_a_nano_more() {
    let world = World::new();
    let sent = |id: &str, cost: &str| {
        world.send(json!({
            "id": id, "provider": "acme", "model": "video-long", "cost": cost, "currency": "IDR"
        }))
    };
    // About 550 US dollars: the old cap of a million rupiah (about 60) refused it.
    let stored = sent("idr-1", "9000000").unwrap();
    assert_eq!(stored.stored, 1);
    assert_eq!(
        world.store.stored_events()[0].cost_nanos,
        Some(9_000_000_000_000_000)
    );
    match sent("idr-2", "9000000.000000001").unwrap_err() {
        CoreError::Validation(details) => {
            assert_eq!(details[0].field, "cost");
            assert!(
                details[0].message.contains("at most 9000000"),
                "{}",
                details[0].message
            );
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(world.store.stored_events().len(), 1);
}
