//! Ingestion: pricing, ids and duplicates, validation, scoping and failures.

use pollster::block_on;
use serde_json::{json, Value};

use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::kernel::money::Currency;
use crate::usage::fixtures::{fields, now, usd, World};
use crate::usage::ingest::{ingest, parse_batch, rebuild, IngestConfig, RebuildRequest};
use crate::usage::record::{to_ndjson, StoredEvent};
use crate::usage::store::RawLog;

#[test]
fn a_single_event_is_priced_from_the_catalog_stored_and_written_to_the_raw_log() {
    let world = World::new();
    let report = world
        .send(json!({
            "id": "call-1", "provider": "openai", "model": "gpt-4o-2024-08-06",
            "operation": "script-generation", "input_tokens": 1000, "output_tokens": 500,
            "timestamp": "2026-11-20T09:30:00+02:00", "job_id": "clip-7",
            "metadata": {"scene": 3}
        }))
        .unwrap();
    assert_eq!(
        (report.accepted, report.stored, report.duplicates),
        (1, 1, 0)
    );
    // gpt-4o: $2.50 per million input tokens, $10.00 per million output tokens.
    assert_eq!(report.events[0].cost, Some(usd("0.0075")));
    assert_eq!(
        report.events[0].currency.as_ref().map(Currency::as_str),
        Some("USD")
    );
    assert_eq!(report.stored_cost.get(Currency::USD), usd("0.0075"));
    assert_eq!(report.events[0].timestamp, "2026-11-20T07:30:00.000Z");
    let stored = world.store.stored_events();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, "call-1");
    assert_eq!(stored[0].project_id, "video-ads");
    assert_eq!(stored[0].model, "gpt-4o-2024-08-06");
    assert_eq!(stored[0].cost.as_deref(), Some("0.0075"));
    assert_eq!(stored[0].cost_nanos, Some(7_500_000));
    assert_eq!(stored[0].job_id.as_deref(), Some("clip-7"));
    assert_eq!(stored[0].metadata, json!({"scene": 3}).as_object().cloned());
    assert_eq!(world.logged_events(), stored);
    let keys: Vec<String> = world.log.objects.borrow().keys().cloned().collect();
    assert_eq!(keys, vec![report.raw_object.clone()]);
    assert!(report
        .raw_object
        .starts_with("usage-logs/raw/2026-11-20/20261120T120000000Z-"));
    assert!(report.raw_object.ends_with(".ndjson"));
}

#[test]
fn seed_004s_column_names_cost_usd_and_request_timestamp_are_accepted_as_cost_in_usd_and_timestamp()
{
    let world = World::new();
    let report = world
        .send(json!({
            "id": "portal-1", "provider": "openai", "model": "gpt-4", "input_tokens": 1500,
            "output_tokens": 500, "cost_usd": "0.075", "request_timestamp": "2026-11-19T08:00:00Z"
        }))
        .unwrap();
    assert_eq!(report.events[0].cost, Some(usd("0.075")));
    assert_eq!(report.events[0].timestamp, "2026-11-19T08:00:00.000Z");
    let stored = world.store.stored_events();
    assert_eq!(stored[0].cost_nanos, Some(75_000_000));
    assert_eq!(stored[0].currency, "USD");
    for (event, field) in [
        (
            json!({"provider": "openai", "model": "gpt-4o-mini", "cost": "1", "cost_usd": "1"}),
            "cost_usd",
        ),
        (
            json!({"provider": "openai", "model": "gpt-4o-mini", "cost_usd": "1", "currency": "EUR"}),
            "currency",
        ),
        (
            json!({"provider": "openai", "model": "gpt-4o-mini", "cost_usd": "-1"}),
            "cost_usd",
        ),
    ] {
        let error = world.send(event.clone()).unwrap_err();
        assert_eq!(
            fields(&error),
            vec![(field.to_string(), Some(0))],
            "{event}"
        );
    }
    assert_eq!(world.store.stored_events().len(), 1);
}

#[test]
fn a_provider_typed_as_words_is_the_provider_of_its_joined_name() {
    let world = World::new();
    let typed_names = [
        "Eleven Labs",
        " google  cloud ",
        "Hume AI",
        "Open AI",
        "Hey Gen",
        "Lahajati AI",
    ];
    for (i, typed) in typed_names.iter().enumerate() {
        world
            .send(json!({"id": format!("w{i}"), "provider": typed, "model": "m", "characters": 10}))
            .unwrap();
    }
    let providers: Vec<String> = world
        .store
        .stored_events()
        .into_iter()
        .map(|e| e.provider)
        .collect();
    assert_eq!(
        providers,
        vec![
            "elevenlabs",
            "google-cloud",
            "hume",
            "openai",
            "heygen",
            "lahajati"
        ]
    );
}

#[test]
fn a_retried_batch_is_stored_once_and_the_answer_names_the_duplicates() {
    let world = World::new();
    let batch = json!({"events": [
        {"id": "a", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 100},
        {"id": "b", "provider": "elevenlabs", "characters": 1200},
    ]});
    let first = world.send(batch.clone()).unwrap();
    assert_eq!((first.stored, first.duplicates), (2, 0));
    let retry = world
        .send(json!({"events": [
            {"id": "a", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 100},
            {"id": "b", "provider": "elevenlabs", "characters": 1200},
            {"id": "c", "provider": "heygen", "credits": "0.5"},
        ]}))
        .unwrap();
    assert_eq!((retry.stored, retry.duplicates), (1, 2));
    let statuses: Vec<(String, bool)> = retry
        .events
        .iter()
        .map(|e| (e.id.clone(), e.duplicate))
        .collect();
    assert_eq!(
        statuses,
        vec![("a".into(), true), ("b".into(), true), ("c".into(), false)]
    );
    assert_eq!(world.store.stored_events().len(), 3);
    // Both requests are in the raw log, each as its own object.
    assert_eq!(world.log.objects.borrow().len(), 2);
    assert_eq!(world.logged_events().len(), 5);
}

#[test]
fn a_duplicate_is_answered_with_the_time_and_cost_of_the_event_as_first_stored() {
    let world = World::new();
    let first = world
        .send(json!({"id": "a", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000}))
        .unwrap();
    assert_eq!(first.events[0].cost, Some(usd("0.0025")));
    // The retry comes a minute later without a timestamp (so its own would be later), and
    // spells the same usage another way; the stored event is the one that counts.
    let later = FixedClock(now() + chrono::Duration::minutes(1));
    let retry = block_on(ingest(
        &world.store,
        &world.store,
        &world.log,
        &later,
        &SystemEntropy,
        &world.key(),
        json!({"events": [
            {"id": "a", "provider": "OpenAI", "model": "gpt-4o", "prompt_tokens": 1000},
            {"id": "n", "provider": "openai", "model": "gpt-4o", "cost": "1.5"},
            {"id": "n", "provider": "openai", "model": "gpt-4o", "cost": "1.50"},
        ]})
        .to_string()
        .as_bytes(),
        IngestConfig::default(),
    ))
    .unwrap();
    let answer = |i: usize| {
        let e = &retry.events[i];
        (e.duplicate, e.cost, e.timestamp.clone())
    };
    assert_eq!(
        answer(0),
        (true, Some(usd("0.0025")), "2026-11-20T12:00:00.000Z".into())
    );
    assert_eq!(
        answer(1),
        (false, Some(usd("1.5")), "2026-11-20T12:01:00.000Z".into())
    );
    assert_eq!(
        answer(2),
        (true, Some(usd("1.5")), "2026-11-20T12:01:00.000Z".into()),
        "a repeat inside the request answers the first occurrence"
    );
    assert_eq!(retry.events[2].reported_cost, Some(usd("1.5")));
    assert_eq!(retry.stored_cost.get(Currency::USD), usd("1.5"));
}

#[test]
fn an_id_repeated_inside_one_request_is_stored_once() {
    let world = World::new();
    let report = world
        .send(json!({"events": [
            {"id": "same", "provider": "openai", "model": "gpt-4o", "input_tokens": 10},
            {"id": "same", "provider": "openai", "model": "gpt-4o", "input_tokens": 10},
        ]}))
        .unwrap();
    assert_eq!((report.stored, report.duplicates), (1, 1));
    assert!(!report.events[0].duplicate);
    assert!(report.events[1].duplicate);
}

fn reused(error: &CoreError) -> Vec<(String, Option<usize>, String)> {
    match error {
        CoreError::IdReused(details) => details
            .iter()
            .map(|d| (d.field.clone(), d.index, d.message.clone()))
            .collect(),
        other => panic!("expected reused ids, got {other:?}"),
    }
}

#[test]
fn an_id_stored_for_another_event_refuses_the_whole_request_and_leaves_no_raw_object() {
    let world = World::new();
    world
        .send(json!({"id": "a", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000}))
        .unwrap();
    let error = world
        .send(json!({"events": [
            {"id": "b", "provider": "openai", "model": "gpt-4o", "input_tokens": 10},
            {"id": "a", "provider": "openai", "model": "gpt-4o", "input_tokens": 5000},
        ]}))
        .unwrap_err();
    assert_eq!(
        reused(&error),
        vec![(
            "events[1].id".into(),
            Some(1),
            "`a` is already stored for a different event in project `video-ads`".into()
        )]
    );
    // Nothing of the request counts: not its new event, not its raw object.
    let ids: Vec<String> = world
        .store
        .stored_events()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, vec!["a".to_string()]);
    assert_eq!(world.log.objects.borrow().len(), 1);
    assert_eq!(world.logged_events()[0].input_tokens, 1000);
}

#[test]
fn an_id_sent_twice_in_one_request_for_two_events_is_refused_before_anything_is_written() {
    let world = World::new();
    let error = world
        .send(json!({"events": [
            {"id": "x", "provider": "openai", "model": "gpt-4o", "input_tokens": 10},
            {"id": "y", "provider": "openai", "model": "gpt-4o", "input_tokens": 10},
            {"id": "x", "provider": "openai", "model": "gpt-4o", "input_tokens": 10,
             "session_id": "s2"},
        ]}))
        .unwrap_err();
    assert_eq!(
        reused(&error),
        vec![(
            "events[2].id".into(),
            Some(2),
            "`x` is the id of events[0] in this request, a different event".into()
        )]
    );
    assert!(world.store.stored_events().is_empty());
    assert!(world.log.objects.borrow().is_empty());
}

#[test]
fn a_retry_is_the_same_event_however_its_fields_are_spelled_but_any_changed_field_is_another() {
    let world = World::new();
    let first = json!({"id": "r", "provider": "openai", "model": "gpt-4o",
        "input_tokens": 100, "output_tokens": 5, "timestamp": "2026-11-20T11:00:00Z",
        "metadata": {"b": 1, "a": [true]}, "cost": "0.5"});
    world.send(first.clone()).unwrap();
    // The same instant in another offset, aliases, reordered metadata, another decimal form.
    let respelled = json!({"id": "r", "provider": "Open AI", "model": "gpt-4o",
        "prompt_tokens": 100, "completion_tokens": 5, "request_timestamp": "2026-11-20T12:00:00+01:00",
        "metadata": {"a": [true], "b": 1}, "cost_usd": "0.50"});
    assert_eq!(world.send(respelled).unwrap().duplicates, 1);
    for (field, value) in [
        ("input_tokens", json!(101)),
        ("model", json!("gpt-4o-mini")),
        ("metadata", json!({"b": 2, "a": [true]})),
        ("cost", json!("0.51")),
        ("success", json!(false)),
        ("job_id", json!("j1")),
    ] {
        let mut changed = first.clone();
        changed[field] = value;
        let error = world.send(changed).unwrap_err();
        assert_eq!(reused(&error).len(), 1, "changing {field}");
    }
    assert_eq!(world.store.stored_events().len(), 1);
    // The first request and the accepted retry; none of the refused ones.
    assert_eq!(world.log.objects.borrow().len(), 2);
}

#[test]
fn a_resend_that_differs_only_in_the_client_stamped_time_is_a_duplicate_answered_with_the_stored_time(
) {
    let world = World::new();
    // The clients stamp each `record()` call with the time of the call.
    let first = json!({"id": "clip-7", "provider": "openai", "model": "gpt-4o",
        "input_tokens": 100, "output_tokens": 5, "timestamp": "2026-11-20T11:00:00.000Z"});
    let stored = world.send(first.clone()).unwrap();
    assert_eq!(stored.stored, 1);
    let mut resent = first.clone();
    resent["timestamp"] = json!("2026-11-20T11:59:58.123Z");
    let again = world.send(resent.clone()).unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
    let outcome = &again.events[0];
    assert_eq!(outcome.status, crate::usage::ingest::Outcome::Duplicate);
    assert_eq!(
        outcome.timestamp, "2026-11-20T11:00:00.000Z",
        "the stored time"
    );
    assert_eq!(outcome.cost, stored.events[0].cost);
    // Without a time at all it is the same event too.
    let mut untimed = first.clone();
    untimed.as_object_mut().unwrap().remove("timestamp");
    assert_eq!(world.send(untimed).unwrap().duplicates, 1);
    // A different model, quantity or cost under the id is still another event.
    for (field, value) in [
        ("model", json!("gpt-4o-mini")),
        ("input_tokens", json!(101)),
        ("cost", json!("0.01")),
    ] {
        let mut changed = resent.clone();
        changed[field] = value;
        let error = world.send(changed).unwrap_err();
        assert_eq!(reused(&error).len(), 1, "changing {field}");
    }
    let events = world.store.stored_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].request_timestamp, "2026-11-20T11:00:00.000Z");
}

#[test]
fn a_row_fingerprinted_by_the_first_rule_takes_a_retry_with_its_own_time_as_a_duplicate() {
    let world = World::new();
    let event = json!({"id": "kept", "provider": "openai", "model": "gpt-4o",
        "input_tokens": 7, "timestamp": "2026-11-20T10:00:00Z"});
    world.send(event.clone()).unwrap();
    // The first rule hashed the sent time and wrote 16 hex digits with no prefix.
    world.store.set_fingerprints("00c0ffee00c0ffee");
    let retry = world.send(event).unwrap();
    assert_eq!((retry.stored, retry.duplicates), (0, 1));
    assert_eq!(
        world.store.stored_events()[0].fingerprint.as_deref(),
        Some("00c0ffee00c0ffee"),
        "a stored fingerprint is never changed"
    );
    // Events stored now carry the rule's prefix.
    let fresh = world
        .send(json!({"id": "new", "provider": "openai", "model": "gpt-4o", "input_tokens": 7}))
        .unwrap();
    assert_eq!(fresh.stored, 1);
    let new = world
        .store
        .stored_events()
        .into_iter()
        .find(|e| e.id == "new")
        .unwrap();
    assert!(new.fingerprint.unwrap().starts_with("v3:"));
}

#[test]
fn a_row_fingerprinted_by_the_second_rule_takes_any_retry_as_a_duplicate_and_keeps_its_fingerprint()
{
    let world = World::new();
    let event = json!({"id": "older", "provider": "openai", "model": "gpt-4o", "input_tokens": 7});
    world.send(event.clone()).unwrap();
    // The second rule: the same encoding under the first 64 bits of a SHA-256.
    world.store.set_fingerprints("v2:1fa64f8377913372");
    // A retry, and an event changed under the same id, are both duplicates of that row: a
    // fingerprint of another rule tells neither apart.
    let retry = world.send(event).unwrap();
    assert_eq!((retry.stored, retry.duplicates), (0, 1));
    let changed = world
        .send(json!({"id": "older", "provider": "openai", "model": "gpt-4o", "input_tokens": 9}))
        .unwrap();
    assert_eq!((changed.stored, changed.duplicates), (0, 1));
    let stored = world.store.stored_events();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].input_tokens, 7);
    assert_eq!(
        stored[0].fingerprint.as_deref(),
        Some("v2:1fa64f8377913372")
    );
    // Under the current rule the same change is refused as a reused id.
    world
        .send(json!({"id": "newer", "provider": "openai", "model": "gpt-4o", "input_tokens": 7}))
        .unwrap();
    let refused = world
        .send(json!({"id": "newer", "provider": "openai", "model": "gpt-4o", "input_tokens": 9}));
    assert!(
        matches!(refused, Err(CoreError::IdReused(_))),
        "{refused:?}"
    );
}

#[test]
fn a_row_stored_before_fingerprints_existed_takes_any_retry_as_a_duplicate() {
    let world = World::new();
    let report = world
        .send(json!({"id": "old", "provider": "openai", "model": "gpt-4o", "input_tokens": 7}))
        .unwrap();
    assert_eq!(report.stored, 1);
    world.store.forget_fingerprints();
    let retry = world
        .send(json!({"id": "old", "provider": "openai", "model": "gpt-4o", "input_tokens": 8}))
        .unwrap();
    assert_eq!((retry.stored, retry.duplicates), (0, 1));
}

#[test]
fn rebuild_keeps_the_first_logged_event_of_a_reused_id_instead_of_failing() {
    let world = World::new();
    world
        .send(json!({"id": "k", "provider": "openai", "model": "gpt-4o", "input_tokens": 1}))
        .unwrap();
    // A raw object whose delete failed after its request was refused for reusing `k`.
    world.log.fail_writes.set(false);
    let other = StoredEvent {
        input_tokens: 2,
        fingerprint: Some("v3:another".into()),
        ..world.logged_events()[0].clone()
    };
    block_on(world.log.put(
        "usage-logs/raw/2026-11-20/20261120T235959000Z-zz.ndjson",
        to_ndjson(&[other]).unwrap(),
    ))
    .unwrap();
    world.store.wipe_events();
    let report = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();
    // The refused request's object is left out whole, not counted as already stored.
    assert_eq!(
        (
            report.inserted,
            report.already_stored,
            report.refused_objects
        ),
        (1, 0, 1)
    );
    assert_eq!(world.store.stored_events()[0].input_tokens, 1);
}

#[test]
fn events_without_an_id_get_distinct_generated_ids() {
    let world = World::new();
    let report = world
        .send(json!({"events": [
            {"provider": "openai", "model": "gpt-4o", "input_tokens": 10},
            {"provider": "openai", "model": "gpt-4o", "input_tokens": 10},
        ]}))
        .unwrap();
    assert_eq!(report.stored, 2);
    assert!(report.events[0].id.starts_with("evt_"));
    assert_eq!(report.events[0].id.len(), 4 + 32);
    assert_ne!(report.events[0].id, report.events[1].id);
}

#[test]
fn one_invalid_event_rejects_the_whole_batch_naming_index_and_field_and_writes_nothing() {
    let world = World::new();
    let error = world
        .send(json!({"events": [
            {"id": "ok", "provider": "openai", "model": "gpt-4o", "input_tokens": 10},
            {"id": "bad", "provider": "openai", "model": "gpt-4o", "input_tokens": -5},
            {"id": "bad2", "provider": "openai", "model": "gpt-4o-mini", "timestamp": "yesterday", "input_tokens": 1},
        ]}))
        .unwrap_err();
    assert_eq!(
        fields(&error),
        vec![
            ("events[1].input_tokens".to_string(), Some(1)),
            ("events[2].timestamp".to_string(), Some(2)),
        ]
    );
    assert!(world.store.stored_events().is_empty());
    assert!(world.log.objects.borrow().is_empty());
}

#[test]
fn unknown_fields_and_wrong_types_are_named_with_their_event_index() {
    let world = World::new();
    let error = world
        .send(json!({"events": [
            {"provider": "openai", "model": "gpt-4o-mini", "tokenz": 1},
            {"provider": "openai", "model": "gpt-4o-mini", "success": "yes"},
            {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "timestamp": "2030-01-01T00:00:00Z"},
        ]}))
        .unwrap_err();
    assert_eq!(
        fields(&error),
        vec![
            ("events[0].tokenz".to_string(), Some(0)),
            ("events[1].success".to_string(), Some(1)),
            // The type error no longer hides the other problem of the event; `tokenz` may be
            // a misspelt quantity, so event 0 is not also told it reports none.
            ("events[1].usage".to_string(), Some(1)),
            ("events[2].timestamp".to_string(), Some(2)),
        ]
    );
    let single = world
        .send(json!({"provider": "openai", "model": "gpt-4o-mini", "tokenz": 1}))
        .unwrap_err();
    assert_eq!(fields(&single), vec![("tokenz".to_string(), Some(0))]);
    assert!(world.log.objects.borrow().is_empty());
}

#[test]
fn a_batch_must_hold_between_one_and_a_thousand_events() {
    let empty = parse_batch(br#"{"events":[]}"#).unwrap_err();
    assert_eq!(fields(&empty), vec![("events".to_string(), None)]);
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": i}))
        .collect();
    let body = json!({ "events": many }).to_string();
    let error = parse_batch(body.as_bytes()).unwrap_err();
    assert_eq!(fields(&error), vec![("events".to_string(), None)]);
    let thousand: Vec<Value> = (0..1000)
        .map(|i| json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": i}))
        .collect();
    let body = json!({ "events": thousand }).to_string();
    assert_eq!(parse_batch(body.as_bytes()).unwrap().events.len(), 1000);
}

#[test]
fn a_batch_envelope_gives_its_project_to_every_event_and_a_bare_object_is_one_event() {
    let event = r#"{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}"#;
    let named =
        parse_batch(format!(r#"{{"project_id": "ads", "events": [{event}, {event}]}}"#).as_bytes())
            .unwrap();
    assert_eq!(
        (
            named.enveloped,
            named.project_id.as_deref(),
            named.events.len()
        ),
        (true, Some("ads"), 2)
    );
    let null =
        parse_batch(format!(r#"{{"events": [{event}], "project_id": null}}"#).as_bytes()).unwrap();
    assert_eq!((null.enveloped, null.project_id), (true, None));
    let bare = parse_batch(event.as_bytes()).unwrap();
    assert_eq!((bare.enveloped, bare.events.len()), (false, 1));
    assert_eq!(bare.events[0].as_ref().unwrap().input_tokens, Some(1));
    let error = parse_batch(br#"{"events": [], "project_id": 5}"#).unwrap_err();
    assert_eq!(fields(&error), vec![("project_id".to_string(), None)]);
}

#[test]
fn a_repeated_batch_key_is_refused_rather_than_one_copy_silently_dropped() {
    let one = r#"{"id": "A", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}"#;
    let two = r#"{"id": "B", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}"#;
    let error =
        parse_batch(format!(r#"{{"events": [{one}], "events": [{two}]}}"#).as_bytes()).unwrap_err();
    assert_eq!(fields(&error), vec![("events".to_string(), None)]);
    let error = parse_batch(
        format!(r#"{{"project_id": "a", "events": [{one}], "project_id": "b"}}"#).as_bytes(),
    )
    .unwrap_err();
    assert_eq!(fields(&error), vec![("project_id".to_string(), None)]);
    // A bare event with white space around it is still one event.
    let bare = parse_batch(format!(" \n{one}\n ").as_bytes()).unwrap();
    assert_eq!(bare.events[0].as_ref().unwrap().id.as_deref(), Some("A"));
}

#[test]
fn an_event_must_be_an_object_not_an_array_read_by_position() {
    let batch =
        parse_batch(br#"{"events": [["arr-1", null, "openai", "gpt-4o-mini"], {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}]}"#)
            .unwrap();
    let problems = &batch.events[0].as_ref().unwrap_err().problems;
    assert_eq!(
        problems
            .iter()
            .map(|p| (p.field.as_str(), p.index))
            .collect::<Vec<_>>(),
        [("events[0]", Some(0))]
    );
    assert!(batch.events[1].is_ok());
}

#[test]
fn an_id_is_kept_exactly_as_sent_and_invisible_characters_are_refused() {
    let world = World::new();
    for id in [" abc", "abc\t", "abc\u{200b}", "\u{202e}cba", "ab\u{feff}c"] {
        let error = world
            .send(
                json!({"id": id, "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}),
            )
            .unwrap_err();
        assert_eq!(fields(&error), vec![("id".to_string(), Some(0))], "{id:?}");
    }
    let stored = world
        .send(json!({"id": "abc", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}))
        .unwrap();
    assert_eq!(stored.events[0].id, "abc");
    assert!(
        world.log.objects.borrow().len() == 1,
        "only the valid request was logged"
    );
}

#[test]
fn an_events_names_cannot_hide_or_reorder_characters_and_each_field_at_fault_is_named() {
    let world = World::new();
    let error = world
        .send(json!({
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": 1,
            "operation": "chat\u{202E}",
            "job_id": "job\u{200B}1",
            "session_id": "\u{2067}s1",
            "endpoint": "/v1/chat\u{FEFF}",
            "metadata": {"team\u{202D}": "a", "ok": "values are kept \u{202E} as sent"}
        }))
        .unwrap_err();
    let mut named: Vec<String> = fields(&error).into_iter().map(|(f, _)| f).collect();
    named.sort();
    assert_eq!(
        named,
        ["endpoint", "job_id", "metadata", "operation", "session_id"]
    );
    let CoreError::Validation(details) = &error else {
        panic!("{error:?}")
    };
    let metadata = details.iter().find(|d| d.field == "metadata").unwrap();
    assert!(
        metadata.message.contains("team\\u{202d}"),
        "the key is named escaped: {}",
        metadata.message
    );
    assert!(world.log.objects.borrow().is_empty(), "nothing was written");
    for (field, value) in [
        ("operation", "a\u{2069}"),
        ("job_id", "\u{061C}j"),
        ("session_id", "s\u{200F}"),
        ("endpoint", "e\u{0085}x"),
        ("operation", "tag\u{E0041}"),
    ] {
        let mut event = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1});
        event[field] = json!(value);
        let error = world.send(event).unwrap_err();
        assert_eq!(
            fields(&error),
            vec![(field.to_string(), Some(0))],
            "{value:?}"
        );
    }
    let stored = world
        .send(
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1,
            "operation": "résumé 要約", "job_id": "job-1", "metadata": {"équipe": "a"}}),
        )
        .unwrap();
    assert_eq!(stored.stored, 1, "letters of any script are fine");
}

#[test]
fn a_leap_second_is_refused_since_stored_times_have_none() {
    let world = World::new();
    let error = world
        .send(json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "timestamp": "2026-11-20T12:00:60Z"}))
        .unwrap_err();
    assert_eq!(fields(&error), vec![("timestamp".to_string(), Some(0))]);
}

#[test]
fn a_batch_envelope_refuses_unknown_keys_and_non_arrays() {
    let error = parse_batch(br#"{"events":[], "evnts": 1}"#).unwrap_err();
    assert_eq!(fields(&error), vec![("evnts".to_string(), None)]);
    let error = parse_batch(br#"{"events": {"provider": "openai"}}"#).unwrap_err();
    assert_eq!(fields(&error), vec![("events".to_string(), None)]);
    let error = parse_batch(b"[1,2]").unwrap_err();
    assert_eq!(fields(&error), vec![("body".to_string(), None)]);
}

#[test]
fn an_unknown_model_is_stored_unpriced_never_at_zero() {
    let world = World::new();
    let report = world
        .send(json!({"provider": "openai", "model": "gpt-99-ultra", "input_tokens": 10}))
        .unwrap();
    assert_eq!(report.unpriced, 1);
    assert_eq!(report.events[0].cost, None);
    assert_eq!(
        report.events[0].unpriced.as_ref().unwrap().code(),
        "unknown_model"
    );
    assert!(report.stored_cost.is_empty());
    let stored = &world.store.stored_events()[0];
    assert_eq!((stored.cost_nanos, stored.currency.as_str()), (None, ""));
    assert_eq!(stored.unpriced_reason.as_deref(), Some("unknown_model"));
}

#[test]
fn a_reported_cost_is_kept_and_the_computed_cost_is_visible_beside_it() {
    let world = World::new();
    let report = world
        .send(
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
                     "output_tokens": 500, "cost": "0.01"}),
        )
        .unwrap();
    let event = &report.events[0];
    assert_eq!(event.cost, Some(usd("0.01")));
    assert_eq!(event.reported_cost, Some(usd("0.01")));
    assert_eq!(event.computed_cost, Some(usd("0.0075")));
}

#[test]
fn a_raw_log_failure_is_retryable_and_stores_nothing() {
    let world = World::new();
    world.log.fail_writes.set(true);
    let error = world
        .send(json!({"id": "x", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}))
        .unwrap_err();
    assert!(matches!(error, CoreError::Storage(_)), "{error:?}");
    assert!(world.store.stored_events().is_empty());
    world.log.fail_writes.set(false);
    let retry = world
        .send(json!({"id": "x", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}))
        .unwrap();
    assert_eq!(retry.stored, 1);
}

#[test]
fn a_store_failure_after_the_raw_write_is_retryable_and_the_raw_object_is_withdrawn() {
    let world = World::new();
    world.store.fail_event_writes.set(true);
    let error = world
        .send(json!({"id": "x", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}))
        .unwrap_err();
    assert!(matches!(error, CoreError::Storage(_)), "{error:?}");
    assert!(
        world.logged_events().is_empty(),
        "nothing acknowledged, nothing to replay"
    );
    assert!(world.store.stored_events().is_empty());
    world.store.fail_event_writes.set(false);
    let report = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();
    assert_eq!((report.inserted, report.already_stored), (0, 0));
    // The client's retry is what stores the event, once.
    let retry = world
        .send(json!({"id": "x", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}))
        .unwrap();
    assert_eq!((retry.stored, retry.duplicates), (1, 0));
    assert_eq!(world.store.stored_events().len(), 1);
    assert_eq!(world.logged_events().len(), 1);
}
