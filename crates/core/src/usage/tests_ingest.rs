//! Host tests of ingestion, the raw log, rebuild and listing over the in-memory stores.

use chrono::{DateTime, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::access::auth::Principal;
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::usage::ingest::{ingest, parse_batch, rebuild, IngestConfig, IngestReport, RebuildRequest};
use crate::kernel::testing::{MemoryLog, MemoryStore};
use crate::kernel::money::{Currency, Money};
use crate::access::projects::{create_project, ProjectId};
use crate::kernel::query::{list_usage, UsageQuery};
use crate::usage::record::{from_ndjson, to_ndjson, StoredEvent};
use crate::usage::store::RawLog;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

pub(super) struct World {
    pub(super) store: MemoryStore,
    pub(super) log: MemoryLog,
    pub(super) project: ProjectId,
}

impl World {
    pub(super) fn new() -> Self {
        let store = MemoryStore::new();
        let request =
            serde_json::from_value(json!({"id": "video-ads", "name": "Video ads"})).unwrap();
        let project = block_on(create_project(
            &store,
            &FixedClock(now()),
            &SystemEntropy,
            request,
        ))
        .unwrap();
        World {
            store,
            log: MemoryLog::default(),
            project: project.id,
        }
    }

    fn key(&self) -> Principal {
        Principal::Project {
            project_id: self.project.clone(),
            key_id: "key_1".into(),
        }
    }

    fn send_as(&self, principal: &Principal, body: Value) -> Result<IngestReport, CoreError> {
        block_on(ingest(
            &self.store,
            &self.store,
            &self.log,
            &FixedClock(now()),
            &SystemEntropy,
            principal,
            body.to_string().as_bytes(),
            IngestConfig::default(),
        ))
    }

    pub(super) fn send(&self, body: Value) -> Result<IngestReport, CoreError> {
        self.send_as(&self.key(), body)
    }

    fn logged_events(&self) -> Vec<StoredEvent> {
        self.log
            .objects
            .borrow()
            .values()
            .flat_map(|bytes| from_ndjson(bytes).0)
            .collect()
    }
}

fn fields(error: &CoreError) -> Vec<(String, Option<usize>)> {
    match error {
        CoreError::Validation(details) | CoreError::MalformedBody { details, .. } => {
            details.iter().map(|d| (d.field.clone(), d.index)).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn usd(amount: &str) -> Money {
    Money::parse(amount, Currency::USD).unwrap()
}

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
    assert_eq!(report.events[0].currency.as_deref(), Some("USD"));
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
    assert!(new.fingerprint.unwrap().starts_with("v2:"));
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
        fingerprint: Some("v2:another".into()),
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
fn the_admin_key_must_name_an_existing_project_per_event_or_per_batch() {
    let world = World::new();
    let missing = world
        .send_as(
            &Principal::Admin,
            json!({"events": [{"provider": "openai", "model": "gpt-4o", "input_tokens": 1}]}),
        )
        .unwrap_err();
    assert_eq!(
        fields(&missing),
        vec![("events[0].project_id".to_string(), Some(0))]
    );
    let unknown = world
        .send_as(
            &Principal::Admin,
            json!({"project_id": "nope", "events": [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}]}),
        )
        .unwrap_err();
    assert_eq!(
        fields(&unknown),
        vec![("events[0].project_id".to_string(), Some(0))]
    );
    let ok = world
        .send_as(
            &Principal::Admin,
            json!({"project_id": "video-ads", "events": [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}]}),
        )
        .unwrap();
    assert_eq!(ok.events[0].project_id, "video-ads");
    assert!(world.log.objects.borrow().len() == 1);
}

#[test]
fn a_project_key_cannot_record_for_another_project() {
    let world = World::new();
    let error = world
        .send(json!({"project_id": "someone-else", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}))
        .unwrap_err();
    assert!(matches!(error, CoreError::Forbidden(_)), "{error:?}");
    assert!(world.store.stored_events().is_empty());
    assert!(world.log.objects.borrow().is_empty());
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

fn seed_days(world: &World) {
    for (day, ids) in [("2026-11-18", ["a", "b"]), ("2026-11-19", ["c", "d"])] {
        for id in ids {
            let report = world
                .send(
                    json!({"id": id, "provider": "anthropic", "model": "claude-3-5-haiku",
                         "input_tokens": 2000, "output_tokens": 100,
                         "timestamp": format!("{day}T10:00:00Z")}),
                )
                .unwrap();
            // Rename the object as if it had been received on the event's day.
            let mut objects = world.log.objects.borrow_mut();
            let bytes = objects.remove(&report.raw_object).unwrap();
            let renamed = report.raw_object.replace("2026-11-20", day);
            objects.insert(renamed, bytes);
        }
    }
}

#[test]
fn rebuild_restores_identical_rows_after_a_wipe_and_a_second_run_changes_nothing() {
    let world = World::new();
    seed_days(&world);
    world
        .send(
            json!({"id": "a", "provider": "anthropic", "model": "claude-3-5-haiku",
                     "input_tokens": 2000, "output_tokens": 100,
                     "timestamp": "2026-11-18T10:00:00Z"}),
        )
        .unwrap();
    let before = world.store.stored_events();
    assert_eq!(before.len(), 4);
    world.store.wipe_events();
    let report = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();
    assert_eq!(report.objects_read, 5);
    assert_eq!((report.inserted, report.already_stored), (4, 1));
    // The raw objects are done; the re-price log comes next (there is none here).
    assert_eq!(report.next_cursor.as_deref(), Some("usage-logs/reprice/"));
    let reprices = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest {
            cursor: report.next_cursor.clone(),
            ..RebuildRequest::default()
        },
    ))
    .unwrap();
    assert_eq!((reprices.objects_read, reprices.done), (0, true));
    let mut after = world.store.stored_events();
    let mut expected = before.clone();
    after.sort_by_key(StoredEvent::key);
    expected.sort_by_key(StoredEvent::key);
    assert_eq!(after, expected);
    let again = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();
    assert_eq!((again.inserted, again.already_stored), (0, 5));
    assert_eq!(world.store.stored_events().len(), 4);
}

#[test]
fn rebuild_walks_a_day_range_in_pages_with_a_cursor() {
    let world = World::new();
    seed_days(&world);
    world.store.wipe_events();
    let mut request = RebuildRequest {
        from: Some("2026-11-18".into()),
        to: Some("2026-11-18".into()),
        max_objects: Some(1),
        ..RebuildRequest::default()
    };
    let first = block_on(rebuild(&world.store, &world.log, &request)).unwrap();
    assert_eq!(
        (first.objects_read, first.inserted, first.done),
        (1, 1, false)
    );
    request.cursor = first.next_cursor.clone();
    let second = block_on(rebuild(&world.store, &world.log, &request)).unwrap();
    assert_eq!((second.objects_read, second.inserted), (1, 1));
    // The 19th is outside the range: the raw phase ends and the re-price phase starts there.
    assert_eq!(
        second.next_cursor.as_deref(),
        Some("usage-logs/reprice/2026-11-18")
    );
    let days: Vec<String> = world
        .store
        .stored_events()
        .iter()
        .map(|e| e.day().to_string())
        .collect();
    assert_eq!(days, vec!["2026-11-18", "2026-11-18"]);
}

#[test]
fn rebuild_stops_after_six_megabytes_of_objects_and_the_next_call_goes_on_from_there() {
    let world = World::new();
    // Eight requests of about 900 KB each: 200 events with 4 KB of metadata.
    let note = "x".repeat(4000);
    for request in 0..8 {
        let events: Vec<Value> = (0..200)
            .map(|i| json!({"id": format!("r{request}-{i}"), "provider": "openai", "model": "gpt-4o-mini",
                            "input_tokens": 10, "metadata": {"note": note}}))
            .collect();
        world.send(json!({ "events": events })).unwrap();
    }
    let sizes: Vec<usize> = world.log.objects.borrow().values().map(Vec::len).collect();
    assert_eq!(sizes.len(), 8);
    assert!(
        sizes.iter().all(|n| (800_000..1_000_000).contains(n)),
        "{sizes:?}"
    );
    let before = world.store.stored_events();
    world.store.wipe_events();

    let first = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();
    // Objects are read until 6 MB is reached: the seventh crosses it.
    assert_eq!(
        (first.objects_read, first.inserted, first.done),
        (7, 1400, false)
    );
    let keys: Vec<String> = world.log.objects.borrow().keys().cloned().collect();
    assert_eq!(first.next_cursor.as_deref(), Some(keys[6].as_str()));
    let second = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest {
            cursor: first.next_cursor.clone(),
            ..RebuildRequest::default()
        },
    ))
    .unwrap();
    assert_eq!((second.objects_read, second.inserted), (1, 200));
    let mut after = world.store.stored_events();
    let mut expected = before;
    after.sort_by_key(StoredEvent::key);
    expected.sort_by_key(StoredEvent::key);
    assert_eq!(after, expected);
}

#[test]
fn rebuild_refuses_a_reversed_range_and_bad_sizes_naming_the_field() {
    let world = World::new();
    let reversed = RebuildRequest {
        from: Some("2026-11-19".into()),
        to: Some("2026-11-18".into()),
        ..RebuildRequest::default()
    };
    let error = block_on(rebuild(&world.store, &world.log, &reversed)).unwrap_err();
    assert_eq!(fields(&error), vec![("to".to_string(), None)]);
    let big = RebuildRequest {
        max_objects: Some(0),
        from: Some("20261118".into()),
        ..RebuildRequest::default()
    };
    let error = block_on(rebuild(&world.store, &world.log, &big)).unwrap_err();
    assert_eq!(
        fields(&error),
        vec![
            ("from".to_string(), None),
            ("max_objects".to_string(), None)
        ]
    );
}

#[test]
fn rebuild_reports_unreadable_lines_and_keeps_the_readable_ones() {
    let world = World::new();
    let report = world
        .send(
            json!({"id": "good", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}),
        )
        .unwrap();
    let mut bytes = world.log.objects.borrow()[&report.raw_object].clone();
    bytes.extend_from_slice(b"{not json\n");
    block_on(world.log.put("usage-logs/raw/2026-11-20/zz.ndjson", bytes)).unwrap();
    world.store.wipe_events();
    let rebuilt = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();
    assert_eq!(rebuilt.unreadable_lines, 1);
    assert_eq!(
        rebuilt.problems[0].object,
        "usage-logs/raw/2026-11-20/zz.ndjson"
    );
    assert_eq!(rebuilt.problems[0].line.line, 2);
    assert_eq!(rebuilt.inserted, 1);
}

#[test]
fn late_events_land_on_their_own_day_and_future_or_too_old_ones_are_refused() {
    let world = World::new();
    let late = world
        .send(
            json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1,
                     "timestamp": "2026-09-01T23:59:59.999-01:00"}),
        )
        .unwrap();
    assert_eq!(late.events[0].timestamp, "2026-09-02T00:59:59.999Z");
    assert_eq!(world.store.stored_events()[0].day(), "2026-09-02");
    let future = world
        .send(
            json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1,
                     "timestamp": "2026-11-20T12:06:00Z"}),
        )
        .unwrap_err();
    assert_eq!(fields(&future), vec![("timestamp".to_string(), Some(0))]);
    let skew = world
        .send(
            json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1,
                     "timestamp": "2026-11-20T12:04:00Z"}),
        )
        .unwrap();
    assert_eq!(skew.stored, 1);
    let old = world
        .send(
            json!({"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1,
                     "timestamp": "2026-08-01T00:00:00Z"}),
        )
        .unwrap_err();
    assert_eq!(fields(&old), vec![("timestamp".to_string(), Some(0))]);
}

#[test]
fn stored_events_survive_the_raw_log_format_unchanged() {
    let world = World::new();
    world
        .send(json!({"events": [
            {"provider": "hume", "model": "evi", "audio_seconds": "90.5", "success": false,
             "session_id": "s1", "duration_ms": 90500, "endpoint": "/v0/evi"},
            {"provider": "loudly", "tracks": 1, "cached": true},
            {"provider": "heygen", "credits": 0.5, "cost": "0.30", "currency": "eur"},
        ]}))
        .unwrap();
    let stored = world.store.stored_events();
    let (back, bad) = from_ndjson(&to_ndjson(&stored).unwrap());
    assert!(bad.is_empty());
    assert_eq!(back, stored);
    assert_eq!(stored[0].audio_seconds_micros, 90_500_000);
    assert!(!stored[0].success);
    assert!(stored[1].cached);
    assert_eq!(stored[1].tracks, 0, "a cache hit uses no track");
    assert_eq!(stored[2].credits_micros, 500_000);
    assert_eq!(stored[2].currency, "EUR");
}

#[test]
fn a_cache_hit_costs_nothing_uses_no_allotment_and_shows_what_it_saved() {
    let world = World::new();
    let report = world
        .send(json!({"events": [
            {"id": "hit", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
             "output_tokens": 500, "cached": true},
            {"id": "miss", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
             "output_tokens": 500},
        ]}))
        .unwrap();
    assert_eq!(report.events[0].cost, Some(usd("0")));
    assert_eq!(
        report.events[0].computed_cost,
        Some(usd("0.0075")),
        "what the cache saved"
    );
    assert_eq!(report.events[1].cost, Some(usd("0.0075")));
    let stored = world.store.stored_events();
    assert_eq!((stored[0].input_tokens, stored[0].output_tokens), (0, 0));
    assert_eq!(
        stored[0].metadata.as_ref().unwrap()["cached_usage"],
        json!({"input_tokens": 1000, "output_tokens": 500})
    );
    assert_eq!(stored[1].input_tokens, 1000);
}

#[test]
fn a_cache_hit_refuses_client_metadata_under_the_key_its_saved_usage_goes_to() {
    let world = World::new();
    let error = world
        .send(
            json!({"id": "hit", "provider": "openai", "model": "gpt-4o", "input_tokens": 1,
            "cached": true, "metadata": {"cached_usage": "mine", "scene": 3}}),
        )
        .unwrap_err();
    assert_eq!(
        fields(&error),
        vec![("metadata.cached_usage".to_string(), Some(0))]
    );
    assert!(world.store.stored_events().is_empty());
    // Not a cache hit: the key is the client's own.
    let report = world
        .send(
            json!({"id": "miss", "provider": "openai", "model": "gpt-4o", "input_tokens": 1,
            "metadata": {"cached_usage": "mine"}}),
        )
        .unwrap();
    assert_eq!(report.stored, 1);
    assert_eq!(
        world.store.stored_events()[0].metadata.as_ref().unwrap()["cached_usage"],
        json!("mine")
    );
}

fn query(pairs: &[(&str, &str)], principal: &Principal) -> Result<UsageQuery, CoreError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    UsageQuery::parse(&pairs, principal)
}

#[test]
fn listing_pages_newest_first_with_a_cursor_until_every_event_was_seen_once() {
    let world = World::new();
    let events: Vec<Value> = (0..25)
        .map(|i| {
            json!({"id": format!("e{i:02}"), "provider": "openai", "model": "gpt-4o",
                   "input_tokens": 10, "job_id": if i % 2 == 0 { "even" } else { "odd" },
                   // Pairs share a timestamp so the sequence number must break ties.
                   "timestamp": format!("2026-11-19T10:{:02}:00Z", i / 2)})
        })
        .collect();
    world.send(json!({ "events": events })).unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs = vec![("limit", "10")];
        if let Some(c) = &cursor {
            pairs.push(("cursor", c.as_str()));
        }
        let q = query(&pairs, &world.key()).unwrap();
        let page = block_on(list_usage(&world.store, &q)).unwrap();
        seen.extend(page.events.iter().map(|e| e.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..25).rev().map(|i| format!("e{i:02}")).collect();
    // Within a shared timestamp, the later-stored event comes first.
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
    let odd = query(
        &[("job_id", "odd"), ("from", "2026-11-19T10:05:00Z")],
        &world.key(),
    )
    .unwrap();
    let page = block_on(list_usage(&world.store, &odd)).unwrap();
    let ids: Vec<&str> = page.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["e23", "e21", "e19", "e17", "e15", "e13", "e11"]);
}

#[test]
fn listing_filters_by_metadata_values_as_the_d1_query_does() {
    let world = World::new();
    world
        .send(json!({"events": [
            {"id": "m1", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "metadata": {"customer": "acme", "scene": 3, "draft": true}},
            {"id": "m2", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "metadata": {"customer": "acme", "scene": 4.5}},
            {"id": "m3", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1, "metadata": {"customer": {"name": "acme"}}},
            {"id": "m4", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1}
        ]}))
        .unwrap();
    let ids = |pairs: &[(&str, &str)]| {
        let q = query(pairs, &world.key()).unwrap();
        let mut ids: Vec<String> = block_on(list_usage(&world.store, &q))
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&[("metadata.customer", "acme")]), vec!["m1", "m2"]);
    assert_eq!(ids(&[("metadata.scene", "4.5")]), vec!["m2"]);
    assert_eq!(
        ids(&[("metadata.draft", "true"), ("metadata.scene", "3")]),
        vec!["m1"]
    );
    assert!(
        ids(&[("metadata.draft", "1")]).is_empty(),
        "a boolean is true, not 1"
    );
    let six: Vec<(String, String)> = (0..6)
        .map(|i| (format!("metadata.k{i}"), "v".to_string()))
        .collect();
    let pairs: Vec<(&str, &str)> = six.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        fields(&query(&pairs, &world.key()).unwrap_err()),
        vec![("metadata".to_string(), None)]
    );
}

#[test]
fn listing_parameters_are_checked_and_a_project_key_is_confined_to_its_project() {
    let world = World::new();
    let key = world.key();
    for (pairs, field) in [
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "1001")], "limit"),
        (vec![("from", "2026-11-20"), ("to", "2026-11-19")], "to"),
        (vec![("from", "last week")], "from"),
        (vec![("cursor", "zz")], "cursor"),
        (vec![("unpriced", "maybe")], "unpriced"),
        (vec![("colour", "red")], "colour"),
    ] {
        let error = query(&pairs, &key).unwrap_err();
        assert_eq!(fields(&error), vec![(field.to_string(), None)], "{pairs:?}");
    }
    let own = query(&[], &key).unwrap();
    assert_eq!(own.project_id, Some(world.project.clone()));
    let other = query(&[("project_id", "other")], &key).unwrap_err();
    assert!(matches!(other, CoreError::Forbidden(_)));
    let admin = query(&[("to", "2026-11-19")], &Principal::Admin).unwrap();
    assert_eq!(admin.project_id, None);
    assert_eq!(admin.to.as_deref(), Some("2026-11-20T00:00:00.000Z"));
}

#[test]
fn rollups_split_into_daily_and_hourly_reads_sum_exactly_what_hourly_reads_alone_sum() {
    use crate::reports::report::{parse_range, Dim, Period, ReportStore, RollupRow};
    let world = World::new();
    // An event every 7 hours for 27 days before `now`, each with its own cost.
    let start = Utc.with_ymd_and_hms(2026, 10, 24, 1, 30, 0).unwrap();
    let events: Vec<Value> = (0..90)
        .map(|i| {
            let at = start + chrono::Duration::hours(7 * i);
            let provider = ["openai", "anthropic"][(i % 2) as usize];
            json!({
                "id": format!("e{i}"),
                "provider": provider,
                "model": "m",
                "cost": format!("0.{:03}", i + 1),
                "timestamp": at.to_rfc3339(),
            })
        })
        .collect();
    world.send(json!({ "events": events })).unwrap();
    let totals = |rows: Vec<RollupRow>| {
        let mut by: std::collections::BTreeMap<String, (i128, i64)> = Default::default();
        for r in rows {
            let e = by.entry(r.provider.unwrap_or_default()).or_default();
            e.0 += r.cost_nanos;
            e.1 += r.measures[0];
        }
        by
    };
    for (tz, from, to) in [
        ("America/New_York", "2026-10-26", "2026-11-19"),
        ("Asia/Kolkata", "2026-10-24", "2026-11-20"),
        ("Pacific/Auckland", "2026-11-01", "2026-11-03"),
        ("UTC", "2026-10-30", "2026-11-10"),
    ] {
        let range = parse_range(
            &[("tz", tz), ("from", from), ("to", to)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
            now(),
            "month",
        )
        .unwrap();
        let mut split = range.rollup_query(None);
        split.dims = vec![Dim::Provider];
        let mut hours = range.rollup_query(Some(Period::Day));
        hours.dims = vec![Dim::Provider];
        hours.by_bucket = false;
        // The hourly rollups alone, not a period plan.
        hours.periods = None;
        let want = totals(block_on(world.store.rollups(&hours)).unwrap());
        let got = totals(block_on(world.store.rollups(&split)).unwrap());
        assert_eq!(got, want, "{tz} {from}..{to}");
        // And both equal the events whose instant falls in the range.
        let (lo, hi) = (range.from.unwrap(), range.to.unwrap());
        let mut direct: std::collections::BTreeMap<String, (i128, i64)> = Default::default();
        for e in world.logged_events() {
            let at = DateTime::parse_from_rfc3339(&e.request_timestamp).unwrap();
            if at >= lo && at < hi {
                let d = direct.entry(e.provider.clone()).or_default();
                d.0 += i128::from(e.cost_nanos.unwrap_or_default());
                d.1 += 1;
            }
        }
        assert_eq!(got, direct, "{tz} {from}..{to}");
        assert!(!direct.is_empty(), "{tz} {from}..{to} holds events");
    }
}

mod repricing {
    use super::*;
    use crate::pricing::prices::add_custom_prices;
    use crate::usage::reprice::{reprice, unpriced_models, RepriceRequest};
    use crate::usage::store::ScanFilter;

    fn add_price(world: &World, model: &str, per_million: &str, from: &str) {
        let request = serde_json::from_value(json!({"entries": [{
            "provider": "openai", "model": model, "currency": "USD", "effective_from": from,
            "rates": {"input_tokens": {"price": per_million, "per": 1000000}}
        }]}))
        .unwrap();
        block_on(add_custom_prices(&world.store, &world.store, request)).unwrap();
    }

    #[test]
    fn a_custom_price_of_a_model_covers_the_snapshots_the_catalog_lists_as_its_aliases() {
        // Seed 003 prices `gpt-4` in GBP by env var; apps send `gpt-4-0613`, which only the
        // built-in catalog knows to be gpt-4.
        let world = World::new();
        let request = serde_json::from_value(json!({"entries": [{
            "provider": "openai", "model": "gpt-4", "currency": "GBP", "effective_from": "2024-01-01",
            "rates": {"input_tokens": {"price": "2.50", "per": 1000000}, "output_tokens": {"price": "10", "per": 1000000}}
        }]}))
        .unwrap();
        block_on(add_custom_prices(&world.store, &world.store, request)).unwrap();
        let report = world
            .send(json!({"events": [
                {"id": "a", "provider": "openai", "model": "gpt-4-0613", "input_tokens": 1000, "output_tokens": 100},
                {"id": "b", "provider": "openai", "model": "gpt-4-0314", "input_tokens": 1000, "output_tokens": 100}
            ]}))
            .unwrap();
        for event in &report.events {
            assert_eq!(
                (
                    event.cost.map(|c| c.amount_string()),
                    event.currency.as_deref()
                ),
                (Some("0.0035".to_string()), Some("GBP")),
                "{}",
                event.id
            );
        }
    }

    fn run(world: &World, request: RepriceRequest) -> crate::usage::reprice::RepriceReport {
        block_on(reprice(
            &world.store,
            &world.store,
            &world.log,
            &FixedClock(now()),
            &SystemEntropy,
            &request,
        ))
        .unwrap()
    }

    fn seed_unpriced(world: &World) {
        world
            .send(json!({"events": [
                {"id": "u1", "provider": "openai", "model": "house-model", "input_tokens": 1000000,
                 "timestamp": "2026-11-10T10:00:00Z"},
                {"id": "u2", "provider": "openai", "model": "house-model", "input_tokens": 500000,
                 "timestamp": "2026-11-12T10:00:00Z"},
                {"id": "u3", "provider": "openai", "model": "house-model", "input_tokens": 10,
                 "cost": "0.5", "timestamp": "2026-11-12T11:00:00Z"},
                {"id": "p1", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000000,
                 "timestamp": "2026-11-12T10:00:00Z"},
            ]}))
            .unwrap();
    }

    #[test]
    fn unpriced_models_are_listed_with_counts_and_first_and_last_seen() {
        let world = World::new();
        seed_unpriced(&world);
        let report = block_on(unpriced_models(&world.store, &ScanFilter::default())).unwrap();
        assert_eq!(report.events, 2, "a reported cost is a price");
        assert_eq!(report.distinct_models, 1);
        let model = &report.models[0];
        assert_eq!(
            (
                model.provider.as_str(),
                model.model.as_str(),
                model.reason.as_str()
            ),
            ("openai", "house-model", "unknown_model")
        );
        assert_eq!(
            (model.first_seen.as_str(), model.last_seen.as_str()),
            ("2026-11-10T10:00:00.000Z", "2026-11-12T10:00:00.000Z")
        );
    }

    #[test]
    fn repricing_prices_the_unpriced_events_with_the_price_in_force_and_reports_the_change() {
        let world = World::new();
        seed_unpriced(&world);
        // $2 per million from the 11th: u1 (the 10th) stays unpriced, u2 gets $1.
        add_price(&world, "house-model", "2", "2026-11-11");
        let dry = run(
            &world,
            RepriceRequest {
                dry_run: true,
                ..RepriceRequest::default()
            },
        );
        // u1's reason changes (no price in force yet), u2 gets a price, u3 a computed cost.
        assert_eq!((dry.examined, dry.changed, dry.newly_priced), (4, 3, 1));
        assert!(world
            .log
            .objects
            .borrow()
            .keys()
            .all(|k| !k.contains("reprice")));
        assert_eq!(
            world.store.stored_events()[1].cost_nanos,
            None,
            "a dry run changes nothing"
        );
        let report = run(&world, RepriceRequest::default());
        assert_eq!(
            (report.changed, report.newly_priced, report.now_unpriced),
            (3, 1, 0)
        );
        // u2 is now $1.00; u3 still counts its reported $0.50, before and after.
        assert_eq!(report.cost_before.get(Currency::USD), usd("0.50"));
        assert_eq!(report.cost_after.get(Currency::USD), usd("1.50"));
        let stored = world.store.stored_events();
        assert_eq!(stored[0].cost_nanos, None);
        assert_eq!(
            stored[0].unpriced_reason.as_deref(),
            Some("no_price_in_force")
        );
        assert_eq!(stored[1].cost.as_deref(), Some("1.00"));
        // The reported cost still counts; its computed cost is now visible beside it.
        assert_eq!(stored[2].cost.as_deref(), Some("0.50"));
        assert_eq!(stored[2].computed_cost_nanos, Some(20_000));
        let key = report.raw_object.clone().unwrap();
        assert!(key.starts_with("usage-logs/reprice/2026-11-20/"));
        // A second run finds nothing to change.
        let again = run(&world, RepriceRequest::default());
        assert_eq!((again.changed, again.raw_object), (0, None));
    }

    #[test]
    fn rebuild_after_a_wipe_replays_the_reprice_log_so_prices_survive() {
        let world = World::new();
        seed_unpriced(&world);
        add_price(&world, "house-model", "2", "2026-11-01");
        run(
            &world,
            RepriceRequest {
                only_unpriced: true,
                ..RepriceRequest::default()
            },
        );
        let mut before = world.store.stored_events();
        world.store.wipe_events();
        let mut cursor = None;
        loop {
            let report = block_on(rebuild(
                &world.store,
                &world.log,
                &RebuildRequest {
                    cursor: cursor.clone(),
                    ..RebuildRequest::default()
                },
            ))
            .unwrap();
            cursor = report.next_cursor;
            if cursor.is_none() {
                assert_eq!(report.repriced, 2);
                break;
            }
        }
        let mut after = world.store.stored_events();
        before.sort_by_key(StoredEvent::key);
        after.sort_by_key(StoredEvent::key);
        assert_eq!(after, before);
    }

    #[test]
    fn repricing_pages_with_a_cursor_and_checks_its_request() {
        let world = World::new();
        seed_unpriced(&world);
        let first = run(
            &world,
            RepriceRequest {
                limit: Some(3),
                ..RepriceRequest::default()
            },
        );
        assert_eq!((first.examined, first.done), (3, false));
        let second = run(
            &world,
            RepriceRequest {
                limit: Some(3),
                cursor: first.next_cursor.clone(),
                ..RepriceRequest::default()
            },
        );
        assert_eq!((second.examined, second.done), (1, true));
        for (request, field) in [
            (
                RepriceRequest {
                    from: Some("2026-11-12".into()),
                    to: Some("2026-11-11".into()),
                    ..RepriceRequest::default()
                },
                "to",
            ),
            (
                RepriceRequest {
                    limit: Some(0),
                    ..RepriceRequest::default()
                },
                "limit",
            ),
            (
                RepriceRequest {
                    cursor: Some("abc".into()),
                    ..RepriceRequest::default()
                },
                "cursor",
            ),
        ] {
            let error = block_on(reprice(
                &world.store,
                &world.store,
                &world.log,
                &FixedClock(now()),
                &SystemEntropy,
                &request,
            ))
            .unwrap_err();
            assert_eq!(fields(&error), vec![(field.to_string(), None)]);
        }
    }
}

mod reports {
    use chrono::{TimeZone, Utc};
    use chrono_tz::Tz;

    use crate::kernel::money::{Currency, Money};
    use crate::access::projects::{Project, ProjectId};
    use crate::reports::report::{
        budget_status, group_rows, parse_range, period_of, report_csv, Dim, Period, RollupRow,
        UsageReportQuery, MEASURES,
    };

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_bucket_counts_in_the_local_day_week_and_month_it_starts_in() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        // 18:15 UTC is 23:45 in Kolkata, 18:30 is midnight.
        assert_eq!(
            period_of("2026-10-31T18:15", Period::Month, kolkata).unwrap(),
            "2026-10"
        );
        assert_eq!(
            period_of("2026-10-31T18:30", Period::Month, kolkata).unwrap(),
            "2026-11"
        );
        assert_eq!(
            period_of("2026-11-02T03", Period::Day, ny).unwrap(),
            "2026-11-01"
        );
        assert_eq!(
            period_of("2026-11-02T05", Period::Day, ny).unwrap(),
            "2026-11-02"
        );
        assert_eq!(
            period_of("2026-11-01T03", Period::Month, ny).unwrap(),
            "2026-10"
        );
        // 2026-11-23 is a Monday; the Sunday before belongs to the week of the 16th.
        assert_eq!(
            period_of("2026-11-22", Period::Week, Tz::UTC).unwrap(),
            "2026-11-16"
        );
        assert_eq!(
            period_of("2026-11-23", Period::Week, Tz::UTC).unwrap(),
            "2026-11-23"
        );
    }

    #[test]
    fn a_report_without_periods_reads_whole_utc_days_daily_and_only_its_ends_by_the_quarter_hour() {
        use crate::reports::report::{DaySpan, RollupPart, RollupTable};
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let part = |table, from: Option<&str>, to: Option<&str>| RollupPart {
            table,
            from: from.map(String::from),
            to: to.map(String::from),
        };
        // November in New York: local midnights at 04:00 UTC (summer time) and 05:00 UTC.
        let ny = parse_range(
            &pairs(&[("preset", "month"), ("tz", "America/New_York")]),
            now,
            "month",
        )
        .unwrap();
        let q = ny.rollup_query(None);
        assert_eq!(
            q.days,
            Some(DaySpan {
                from: Some("2026-11-02".into()),
                to: Some("2026-12-01".into()),
            })
        );
        assert_eq!(q.source(), "usage_daily+usage_quarter_hours");
        assert_eq!(
            q.parts(),
            vec![
                part(
                    RollupTable::QuarterHours,
                    Some("2026-11-01T04:00"),
                    Some("2026-11-02T00:00")
                ),
                part(RollupTable::Daily, Some("2026-11-02"), Some("2026-12-01")),
                part(
                    RollupTable::QuarterHours,
                    Some("2026-12-01T00:00"),
                    Some("2026-12-01T05:00")
                ),
            ]
        );
        // Split by day, every local day needs its hours.
        let by_day = ny.rollup_query(Some(Period::Day));
        assert_eq!((by_day.quarters, by_day.days.is_some()), (true, false));
        assert_eq!(
            by_day.parts(),
            vec![part(
                RollupTable::QuarterHours,
                Some("2026-11-01T04:00"),
                Some("2026-12-01T05:00")
            )]
        );
        // All time has no ends: the daily rollups alone, whatever the zone.
        let all = parse_range(
            &pairs(&[("preset", "all"), ("tz", "America/New_York")]),
            now,
            "month",
        )
        .unwrap();
        assert_eq!(
            all.rollup_query(None).parts(),
            vec![part(RollupTable::Daily, None, None)]
        );
        // An end on a UTC midnight leaves no hours at that end.
        let tokyo_to_utc = parse_range(
            &pairs(&[
                ("from", "2026-11-02"),
                ("to", "2026-11-05"),
                ("tz", "Asia/Tokyo"),
            ]),
            now,
            "month",
        )
        .unwrap();
        assert_eq!(
            tokyo_to_utc.rollup_query(None).parts(),
            vec![
                part(
                    RollupTable::QuarterHours,
                    Some("2026-11-01T15:00"),
                    Some("2026-11-02T00:00")
                ),
                part(RollupTable::Daily, Some("2026-11-02"), Some("2026-11-05")),
                part(
                    RollupTable::QuarterHours,
                    Some("2026-11-05T00:00"),
                    Some("2026-11-05T15:00")
                ),
            ]
        );
        // Less than a whole UTC day: hours only.
        let today = parse_range(
            &pairs(&[("preset", "today"), ("tz", "America/New_York")]),
            now,
            "month",
        )
        .unwrap();
        let q = today.rollup_query(None);
        assert_eq!((q.quarters, q.days.is_some()), (true, false));
    }

    #[test]
    fn presets_and_dates_become_local_midnights_and_pick_the_rollup_table() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let month = parse_range(&pairs(&[]), now, "month").unwrap();
        assert_eq!(
            month.from,
            Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            month.to,
            Some(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap())
        );
        let q = month.rollup_query(Some(Period::Day));
        assert!(!q.quarters);
        assert_eq!(
            (q.from.as_deref(), q.to.as_deref()),
            (Some("2026-11-01"), Some("2026-12-01"))
        );
        // In New York it is still the 22nd; its "today" starts at 05:00 UTC on the 22nd.
        let today = parse_range(
            &pairs(&[("preset", "today"), ("tz", "America/New_York")]),
            now,
            "month",
        )
        .unwrap();
        assert_eq!(
            today.from,
            Some(Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap())
        );
        let q = today.rollup_query(None);
        assert!(q.quarters);
        assert_eq!(
            (q.from.as_deref(), q.to.as_deref()),
            (Some("2026-11-22T05:00"), Some("2026-11-23T05:00"))
        );
        let week = parse_range(&pairs(&[("preset", "week")]), now, "month").unwrap();
        assert_eq!(
            week.from,
            Some(Utc.with_ymd_and_hms(2026, 11, 17, 0, 0, 0).unwrap())
        );
        let dates = parse_range(
            &pairs(&[("from", "2026-11-01"), ("to", "2026-11-01")]),
            now,
            "month",
        )
        .unwrap();
        assert_eq!(
            dates.to,
            Some(Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap())
        );
    }

    fn row(bucket: &str, provider: &str, currency: &str, nanos: i128, events: i64) -> RollupRow {
        let mut measures = [0; MEASURES.len()];
        measures[0] = events;
        RollupRow {
            bucket: Some(bucket.into()),
            provider: Some(provider.into()),
            currency: currency.into(),
            cost_nanos: nanos,
            measures,
            ..RollupRow::default()
        }
    }

    #[test]
    fn grouping_adds_per_currency_and_never_mixes_currencies() {
        let rows = vec![
            row("2026-11-20", "openai", "USD", 1_500_000_000, 2),
            row("2026-11-20", "openai", "EUR", 250_000_000, 1),
            row("2026-11-21", "openai", "USD", 500_000_000, 1),
            row("2026-11-21", "openai", "", 0, 4),
        ];
        let grouped = group_rows(&rows, Some(Period::Month), &[Dim::Provider], Tz::UTC);
        assert_eq!(grouped.len(), 1);
        let sums = &grouped[0].sums;
        assert_eq!(
            sums.cost.get(Currency::USD),
            Money::new(2_000_000_000, Currency::USD)
        );
        assert_eq!(
            sums.cost.get(Currency::parse("EUR").unwrap()).nanos,
            250_000_000
        );
        assert_eq!(sums.measure("events"), 8);
        let daily = group_rows(&rows, Some(Period::Day), &[], Tz::UTC);
        assert_eq!(
            daily
                .iter()
                .map(|r| r.period.clone().unwrap())
                .collect::<Vec<_>>(),
            ["2026-11-20", "2026-11-21"]
        );
    }

    #[test]
    fn csv_quotes_commas_and_neutralises_spreadsheet_formulas() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let q = UsageReportQuery::parse(&pairs(&[("group", "provider"), ("format", "csv")]), now)
            .unwrap();
        let rows = group_rows(
            &[
                row("2026-11-20", "=HYPERLINK(\"x\")", "USD", 1, 1),
                row("2026-11-20", "a,b", "USD", 2, 1),
            ],
            None,
            &[Dim::Provider],
            Tz::UTC,
        );
        let csv = report_csv(&q, &rows, &Default::default());
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("provider,cost_usd,events,"));
        assert!(
            lines[1].starts_with("'=HYPERLINK(\"x\")")
                || lines[1].starts_with("\"'=HYPERLINK(\"\"x\"\")\"")
        );
        assert!(lines[2].starts_with("\"a,b\",0.000000002,1,"));
    }

    #[test]
    fn budget_status_is_ok_alert_or_over_at_the_projects_levels() {
        let project = |budget: Option<&str>| Project {
            id: ProjectId::parse("p").unwrap(),
            name: "P".into(),
            description: None,
            client: None,
            budget_threshold_usd: budget.map(|b| Money::parse(b, Currency::USD).unwrap()),
            budget_alert_threshold_percent: 80,
            last_budget_alert_sent: None,
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        };
        let usd = |s: &str| Money::parse(s, Currency::USD).unwrap().nanos;
        let status_of = |p: Project, spent: i128| {
            budget_status(
                p.budget_threshold_usd,
                p.budget_alert_threshold_percent,
                spent,
            )
        };
        assert_eq!(status_of(project(None), usd("5")).status, "no_budget");
        let ok = status_of(project(Some("100")), usd("79.99"));
        assert_eq!(
            (ok.status, ok.percent_used.as_deref()),
            ("ok", Some("79.99"))
        );
        assert_eq!(status_of(project(Some("100")), usd("80")).status, "alert");
        let over = status_of(project(Some("100")), usd("100.005"));
        assert_eq!(
            (over.status, over.percent_used.as_deref()),
            ("over", Some("100.00"))
        );
    }
}

mod alerting {
    use chrono::{TimeZone, Utc};

    use crate::budgets::alerts::{escape_html, forecast_nanos, mime_message, sign_webhook, RenderedAlert};
    use crate::budgets::settings::{valid_email, BudgetPatch, BudgetSettings};
    use crate::kernel::error::CoreError;
    use crate::kernel::money::{Currency, Money};
    use crate::access::projects::ProjectId;

    fn settings() -> BudgetSettings {
        BudgetSettings {
            project_id: ProjectId::parse("p").unwrap(),
            project_name: "P".into(),
            project_client: None,
            amount: None,
            currency: Currency::USD,
            alert_threshold_percent: 80,
            levels: Vec::new(),
            daily_limit: None,
            timezone: None,
            emails: Vec::new(),
            webhook_url: None,
            webhook_secret: None,
            last_alert_sent: None,
            report_schedule: None,
            spike: None,
        }
    }

    #[test]
    fn the_forecast_extrapolates_the_months_spend_and_is_rounded_to_the_cent() {
        let usd = |s: &str| Money::parse(s, Currency::USD).unwrap().nanos;
        let day = 86_400;
        // 76.125 after 22.6 days of 30 extrapolates to 101.0508849..., shown as 101.05.
        assert_eq!(
            forecast_nanos(usd("76.125"), 22 * day + 51_840, 30 * day),
            usd("101.05")
        );
        // Half a cent rounds to the even cent: 10.005 and 10.015 over a whole period.
        assert_eq!(
            forecast_nanos(usd("5.0025"), 15 * day, 30 * day),
            usd("10.00")
        );
        assert_eq!(
            forecast_nanos(usd("5.0075"), 15 * day, 30 * day),
            usd("10.02")
        );
        // The first hours count as a whole day, not as a tiny fraction of the month.
        assert_eq!(forecast_nanos(usd("2"), 3_600, 30 * day), usd("60"));
        // At the month's end the forecast is the exact spend, never rounded below it.
        assert_eq!(
            forecast_nanos(usd("76.125"), 30 * day, 30 * day),
            usd("76.125")
        );
        assert_eq!(forecast_nanos(0, 10 * day, 30 * day), 0);
    }

    #[test]
    fn the_webhook_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently with Python's hmac module.
        assert_eq!(
            sign_webhook("whsec_test", "1700000000", r#"{"a":1}"#),
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn html_escaping_covers_every_markup_character() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_mime_message_has_both_parts_in_base64_and_an_encoded_non_ascii_subject() {
        use base64::Engine;
        let alert = RenderedAlert {
            subject: "Café at 80%".into(),
            text: "plain body".into(),
            html: "<p>html body</p>".into(),
        };
        let date = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let raw = mime_message(
            "a@example.com",
            "b@example.com",
            &alert,
            "<m@example.com>",
            date,
            "BOUNDARY",
        );
        assert!(raw.contains("Subject: =?UTF-8?B?"));
        assert!(raw.contains("Date: Mon, 23 Nov 2026 06:00:00 +0000\r\n"));
        assert!(raw.contains("Content-Type: multipart/alternative; boundary=\"BOUNDARY\""));
        assert!(raw.ends_with("--BOUNDARY--\r\n"));
        let parts: Vec<&str> = raw.split("--BOUNDARY\r\n").skip(1).collect();
        assert_eq!(parts.len(), 2);
        let decode = |part: &str| {
            let body = part
                .split("\r\n\r\n")
                .nth(1)
                .unwrap()
                .split("\r\n--")
                .next()
                .unwrap();
            let clean: String = body.split("\r\n").collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .unwrap(),
            )
            .unwrap()
        };
        assert!(parts[0].starts_with("Content-Type: text/plain; charset=utf-8"));
        assert_eq!(decode(parts[0]), "plain body");
        assert_eq!(decode(parts[1]), "<p>html body</p>");
    }

    #[test]
    fn levels_default_to_the_alert_percent_plus_one_hundred_and_can_be_named() {
        let mut s = settings();
        assert_eq!(s.effective_levels(), vec![80, 100]);
        let patch: BudgetPatch = serde_json::from_value(serde_json::json!({
            "budget_threshold_usd": "100", "alert_levels": "default"
        }))
        .unwrap();
        patch.apply(&mut s, || Ok("secret".into())).unwrap();
        assert_eq!(s.effective_levels(), vec![50, 80, 100]);
        assert_eq!(s.amount, Some(Money::parse("100", Currency::USD).unwrap()));
    }

    #[test]
    fn a_spike_rule_defaults_its_minimum_to_one_unit_of_the_budgets_currency_and_follows_it() {
        let mut s = settings();
        let patch: BudgetPatch = serde_json::from_value(serde_json::json!({
            "budget": {"amount": "500", "currency": "EUR"}, "spike_alert": {"percent": 400}
        }))
        .unwrap();
        patch.apply(&mut s, || Ok("secret".into())).unwrap();
        let rule = s.spike.unwrap();
        assert_eq!(
            (rule.percent, rule.min_spend),
            (
                400,
                Money::parse("1", Currency::parse("EUR").unwrap()).unwrap()
            )
        );
        let to_usd: BudgetPatch =
            serde_json::from_value(serde_json::json!({"budget_threshold_usd": "100"})).unwrap();
        to_usd.apply(&mut s, || Ok("secret".into())).unwrap();
        assert_eq!(
            s.spike.unwrap().min_spend,
            Money::parse("1", Currency::USD).unwrap()
        );
        // A minimum set by hand is not relabelled: a change of currency must give it again.
        let five: BudgetPatch = serde_json::from_value(
            serde_json::json!({"spike_alert": {"percent": 400, "min_spend": "5"}, "daily_limit": "20"}),
        )
        .unwrap();
        five.apply(&mut s, || Ok("secret".into())).unwrap();
        let before = s.clone();
        let to_eur: BudgetPatch = serde_json::from_value(
            serde_json::json!({"budget": {"amount": "100", "currency": "EUR"}}),
        )
        .unwrap();
        let CoreError::Validation(problems) =
            to_eur.apply(&mut s, || Ok("secret".into())).unwrap_err()
        else {
            panic!("a validation error")
        };
        let fields: Vec<String> = problems.into_iter().map(|f| f.field).collect();
        assert_eq!(fields, vec!["daily_limit", "spike_alert.min_spend"]);
        assert_eq!(s, before, "a refused patch changes nothing");
        let off: BudgetPatch =
            serde_json::from_value(serde_json::json!({"spike_alert": null})).unwrap();
        off.apply(&mut s, || Ok("secret".into())).unwrap();
        assert_eq!(s.spike, None);
        // 70000 would wrap a u16 to 4464: refused, not stored wrong.
        let huge: BudgetPatch =
            serde_json::from_value(serde_json::json!({"spike_alert": {"percent": 70000}})).unwrap();
        assert!(huge.apply(&mut s, || Ok("secret".into())).is_err());
        assert_eq!(s.spike, None);
    }

    #[test]
    fn an_invalid_patch_names_every_field_and_changes_nothing() {
        let mut s = settings();
        let before = s.clone();
        let patch: BudgetPatch = serde_json::from_value(serde_json::json!({
            "budget_threshold_usd": "-1", "alert_emails": ["x"], "webhook_url": "http://a.b",
            "budget_alert_threshold_percent": 0
        }))
        .unwrap();
        let error = patch.apply(&mut s, || Ok("secret".into())).unwrap_err();
        let CoreError::Validation(details) = error else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "budget_threshold_usd",
                "budget_alert_threshold_percent",
                "alert_emails[0]",
                "webhook_url"
            ]
        );
        assert_eq!(s, before);
    }

    #[test]
    fn email_addresses_are_checked_plainly() {
        for good in ["a@example.com", "first.last+tag@sub.example.org"] {
            assert!(valid_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@.com",
            "a b@example.com",
            "<a@example.com>",
            "a@example.com.",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}

mod plans {
    use chrono::{NaiveDate, TimeZone, Utc};
    use pollster::block_on;
    use serde_json::{json, Value};

    use super::World;
    use crate::access::auth::Principal;
    use crate::kernel::clock::{FixedClock, SystemEntropy};
    use crate::kernel::error::CoreError;
    use crate::usage::ingest::{ingest, IngestConfig};
    use crate::plans::{
        capacity, known_providers, period, subscriptions_report, subscriptions_report_at,
        PlanInput, PlanStore, ProfileInput,
    };

    /// The plan of `provider` in a subscriptions report.
    fn subscription(report: &Value, provider: &str) -> Value {
        report["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["provider"] == provider)
            .unwrap()
            .clone()
    }

    /// Saves a plan as if long before the times the test reads it at.
    fn put_plan(world: &World, body: Value) {
        put_plan_at(
            world,
            body,
            Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        );
    }

    fn put_plan_at(world: &World, body: Value, at: chrono::DateTime<Utc>) {
        let plan = serde_json::from_value::<PlanInput>(body)
            .unwrap()
            .validate()
            .unwrap();
        block_on(world.store.save_plan(&plan, at)).unwrap();
    }

    fn record(world: &World, now: chrono::DateTime<Utc>, events: Value) {
        block_on(ingest(
            &world.store,
            &world.store,
            &world.log,
            &FixedClock(now),
            &SystemEntropy,
            &Principal::Project {
                project_id: world.project.clone(),
                key_id: "k".into(),
            },
            json!({ "events": events }).to_string().as_bytes(),
            IngestConfig::default(),
        ))
        .unwrap();
    }

    fn seed_plans(world: &World) {
        put_plan(
            world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "reserve": "2"}),
        );
        put_plan(
            world,
            json!({"provider": "elevenlabs", "monthly_fee": "99", "allotment": {"amount": "10000", "unit": "credits"}, "counts": {"usage": "characters", "per": "1"}}),
        );
        put_plan(
            world,
            json!({"provider": "openai", "monthly_fee": "0", "allotment": {"amount": "20", "unit": "money"}}),
        );
        put_plan(
            world,
            json!({"provider": "loudly", "monthly_fee": "180", "allotment": {"amount": "3000", "unit": "tracks"}, "reset_day": 15}),
        );
        let clip = serde_json::from_value::<ProfileInput>(json!({"name": "clip", "items": [
            {"provider": "heygen", "amount": "0.5", "unit": "credits"},
            {"provider": "elevenlabs", "amount": "150", "unit": "credits"},
            {"provider": "openai", "amount": "0.045", "unit": "money"},
        ]}))
        .unwrap()
        .validate(&known_providers(&block_on(world.store.plans()).unwrap()))
        .unwrap();
        block_on(world.store.save_profile(&clip)).unwrap();
    }

    #[test]
    fn an_empty_month_fits_sixteen_clips_with_heygen_the_bottleneck_twenty_without_the_reserve() {
        let world = World::new();
        seed_plans(&world);
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap();
        let profiles = block_on(capacity(&world.store, &world.store, now)).unwrap();
        let clip = &profiles[0];
        assert_eq!(
            (clip.units_left, clip.bottleneck.as_deref()),
            (Some(16), Some("heygen"))
        );
        let units: Vec<(String, Option<i64>)> = clip
            .per_provider
            .iter()
            .map(|p| (p.provider.clone(), p.units_left))
            .collect();
        // 10000 / 150 = 66 clips of voice; $20 / $0.045 = 444 clips of script.
        assert_eq!(
            units,
            vec![
                ("heygen".into(), Some(16)),
                ("elevenlabs".into(), Some(66)),
                ("openai".into(), Some(444))
            ]
        );
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}}),
        );
        let without_reserve = block_on(capacity(&world.store, &world.store, now)).unwrap();
        assert_eq!(without_reserve[0].units_left, Some(20));
        // 20 clips over the 21 days to the reset: 0.95 a day.
        assert_eq!(
            without_reserve[0].recommended_daily.as_deref(),
            Some("0.95")
        );
    }

    #[test]
    fn usage_this_period_is_counted_in_each_plans_unit_and_cache_hits_use_no_tracks() {
        let world = World::new();
        seed_plans(&world);
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let mut events = Vec::new();
        for clip in 0..6 {
            let t = format!("2026-11-{:02}T10:00:00Z", 3 + clip);
            events.push(json!({"provider": "heygen", "credits": "0.5", "job_id": format!("c{clip}"), "operation": "video", "timestamp": t}));
            events.push(json!({"provider": "elevenlabs", "characters": 150, "job_id": format!("c{clip}"), "operation": "voice", "timestamp": t}));
            events.push(json!({"provider": "openai", "model": "gpt-4o-mini", "cost": "0.045", "job_id": format!("c{clip}"), "operation": "script", "timestamp": t}));
        }
        // Loudly: three tracks made after the 15th reset, two served from cache, one before the reset.
        for (i, cached) in [false, false, false, true, true].iter().enumerate() {
            events.push(json!({"provider": "loudly", "tracks": 1, "cached": cached, "timestamp": format!("2026-11-{:02}T09:00:00Z", 16 + i)}));
        }
        events
            .push(json!({"provider": "loudly", "tracks": 1, "timestamp": "2026-11-14T09:00:00Z"}));
        record(&world, now, Value::Array(events));
        let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
        let plan = |p: &str| subscription(&report, p);
        assert_eq!(
            (
                plan("heygen")["used"].as_str(),
                plan("heygen")["remaining"].as_str(),
                plan("heygen")["available"].as_str()
            ),
            (Some("3"), Some("7"), Some("5"))
        );
        assert_eq!(plan("heygen")["percent_used"], "30.00");
        assert_eq!(plan("elevenlabs")["used"], "900");
        assert_eq!(plan("openai")["used"], "0.27");
        assert_eq!(
            plan("loudly")["used"],
            "3",
            "cache hits and the track before the reset do not count"
        );
        assert_eq!(plan("loudly")["period"]["from"], "2026-11-15T00:00:00.000Z");
        // Fees 29 + 99 + 0 + 180; OpenAI's spend is usage-priced (a money plan), the rest is covered.
        assert_eq!(report["fees"][0]["amount"], "308.00");
        assert_eq!(report["usage_spend"][0]["amount"], "0.27");
        assert_eq!(report["monthly_cost"][0]["amount"], "308.27");
        let clip = &block_on(capacity(&world.store, &world.store, now)).unwrap()[0];
        assert_eq!(
            (clip.units_left, clip.bottleneck.as_deref()),
            (Some(10), Some("heygen"))
        );
    }

    #[test]
    fn a_learned_profile_averages_past_jobs_in_each_plans_unit() {
        let world = World::new();
        seed_plans(&world);
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let mut events = Vec::new();
        for clip in 0..4 {
            let t = format!("2026-11-{:02}T10:00:00Z", 10 + clip);
            events.push(json!({"provider": "heygen", "credits": if clip % 2 == 0 { "0.5" } else { "1" }, "job_id": format!("c{clip}"), "operation": "clip", "timestamp": t}));
            events.push(json!({"provider": "elevenlabs", "characters": 200, "job_id": format!("c{clip}"), "operation": "clip", "timestamp": t}));
        }
        record(&world, now, Value::Array(events));
        let learned = serde_json::from_value::<ProfileInput>(
            json!({"name": "learned-clip", "learn": {"operations": ["clip"], "days": 30}}),
        )
        .unwrap()
        .validate(&[])
        .unwrap();
        block_on(world.store.save_profile(&learned)).unwrap();
        let all = block_on(capacity(&world.store, &world.store, now)).unwrap();
        let profile = all.iter().find(|p| p.name == "learned-clip").unwrap();
        let items: Vec<(String, String)> = profile
            .items
            .iter()
            .map(|i| (i.provider.clone(), i.amount.clone()))
            .collect();
        assert_eq!(
            items,
            vec![
                ("elevenlabs".to_string(), "200".to_string()),
                ("heygen".to_string(), "0.75".to_string())
            ]
        );
        // HeyGen: 10 - 3 used - 2 reserve = 5 credits, 0.75 a clip: 6 clips.
        assert_eq!(
            (profile.units_left, profile.bottleneck.as_deref()),
            (Some(6), Some("heygen"))
        );
        assert_eq!(profile.note.as_deref(), Some("learned from 4 past jobs"));
    }

    #[test]
    fn a_one_time_credit_is_drawn_over_its_term_counts_down_to_its_expiry_and_is_gone_after_it() {
        // Seed 000: "Google Cloud: $300 credit, 88 days remaining - 25,000+ clip capacity".
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "google-cloud", "name": "Free trial credit", "allotment": {"amount": "300", "unit": "money"},
                   "term": {"starts": "2026-10-01", "expires": "2027-02-18"}, "alert_percent": 50}),
        );
        let clip = serde_json::from_value::<ProfileInput>(json!({"name": "clip", "items": [
            {"provider": "google-cloud", "amount": "0.012", "unit": "money"}
        ]}))
        .unwrap()
        .validate(&["google-cloud".to_string()])
        .unwrap();
        block_on(world.store.save_profile(&clip)).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        // Usage in October and November is drawn from the credit; usage before its start is not.
        let mut events = Vec::new();
        for (i, day) in ["2026-10-05", "2026-11-03", "2026-11-21"]
            .iter()
            .enumerate()
        {
            events.push(json!({"id": format!("tts-{i}"), "provider": "google-cloud", "model": "chirp", "characters": 1000,
                               "cost": "10.50", "timestamp": format!("{day}T12:00:00Z")}));
        }
        events.push(
            json!({"id": "early", "provider": "google-cloud", "model": "chirp", "characters": 1000,
                           "cost": "99", "timestamp": "2026-09-30T23:00:00Z"}),
        );
        record(&world, now, Value::Array(events));
        let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
        let credit = &report["subscriptions"][0];
        assert_eq!(credit["used"], "31.50");
        assert_eq!(credit["remaining"], "268.50");
        assert_eq!(credit["period"]["from"], "2026-10-01T00:00:00.000Z");
        assert_eq!(credit["period"]["to"], "2027-02-18T00:00:00.000Z");
        assert_eq!(credit["period"]["days_left"], 88);
        // Late in the day the day still counts: the last hour's minutes are not dropped.
        for (h, m, left) in [(23, 19, 88), (23, 59, 88), (12, 0, 88)] {
            let later = Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap();
            let report = block_on(subscriptions_report(&world.store, &world.store, later)).unwrap();
            assert_eq!(
                report["subscriptions"][0]["period"]["days_left"], left,
                "at {h}:{m}"
            );
        }
        assert_eq!(
            credit["term"],
            json!({"starts": "2026-10-01", "expires": "2027-02-18"})
        );
        assert_eq!(credit["reset_day"], Value::Null);
        assert_eq!(credit["expired"], false);
        assert_eq!(report["fees"], json!([]), "a credit has no monthly fee");
        // $268.50 / $0.012 a clip = 22,375 clips, over the 88 days to the expiry.
        let profile = &block_on(capacity(&world.store, &world.store, now)).unwrap()[0];
        assert_eq!(profile.units_left, Some(22_375));
        assert_eq!(profile.per_provider[0].days_left, Some(88));

        // The day it expires, nothing of it is left, whatever was unused.
        let after = Utc.with_ymd_and_hms(2027, 2, 18, 0, 0, 0).unwrap();
        let report = block_on(subscriptions_report(&world.store, &world.store, after)).unwrap();
        let credit = &report["subscriptions"][0];
        assert_eq!(
            (
                credit["expired"].as_bool(),
                credit["used"].as_str(),
                credit["remaining"].as_str(),
                credit["available"].as_str()
            ),
            (Some(true), Some("31.50"), Some("0.00"), Some("0.00"))
        );
        assert_eq!(credit["period"]["days_left"], 0);
        let profile = &block_on(capacity(&world.store, &world.store, after)).unwrap()[0];
        assert_eq!(profile.units_left, Some(0));

        // This month's $21 came from the credit: none of it is spent money.
        let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
        assert_eq!(report["usage_spend"][0]["amount"], "21.00");
        assert_eq!(report["credits_applied"][0]["amount"], "21.00");
        assert_eq!(report["monthly_cost"][0]["amount"], "0.00");
        // A $280 render runs the credit out: $10.50 went before this month, so $289.50 of
        // November's $301 is paid from it and $11.50 is spent.
        record(
            &world,
            now,
            json!([{"id": "render", "provider": "google-cloud", "model": "chirp", "characters": 1, "cost": "280", "timestamp": "2026-11-21T18:00:00Z"}]),
        );
        let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
        assert_eq!(report["usage_spend"][0]["amount"], "301.00");
        assert_eq!(report["credits_applied"][0]["amount"], "289.50");
        assert_eq!(report["monthly_cost"][0]["amount"], "11.50");
        assert_eq!(report["subscriptions"][0]["remaining"], "0.00");
    }

    #[test]
    fn a_run_out_date_is_given_only_when_it_falls_within_ten_years_and_a_plan_amount_is_at_most_a_trillion(
    ) {
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "elevenlabs", "monthly_fee": "5", "allotment": {"amount": "1000000000000", "unit": "characters"}}),
        );
        let too_large = serde_json::from_value::<PlanInput>(
            json!({"provider": "elevenlabs", "monthly_fee": "5", "overage": {"price": "0.3", "per": "1000"},
                   "allotment": {"amount": "1000000000000.5", "unit": "characters"}}),
        )
        .unwrap()
        .validate()
        .unwrap_err();
        let CoreError::Validation(problems) = too_large else {
            panic!("{too_large:?}")
        };
        let problems: Vec<(String, String)> =
            problems.into_iter().map(|f| (f.field, f.message)).collect();
        assert_eq!(
            problems,
            vec![(
                "allotment.amount".to_string(),
                "must be at most 1000000000000".to_string()
            )]
        );
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}}),
        );
        // One character and one credit in the first hour of the period.
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 1, 0, 0).unwrap();
        record(
            &world,
            now,
            json!([
                {"id": "a", "provider": "elevenlabs", "characters": 1, "timestamp": "2026-11-01T00:30:00Z"},
                {"id": "b", "provider": "heygen", "credits": "1", "timestamp": "2026-11-01T00:30:00Z"}
            ]),
        );
        let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
        let plan = |p: &str| subscription(&report, p);
        let voice = plan("elevenlabs");
        assert_eq!(voice["run_rate_per_day"], "24");
        assert_eq!(voice["run_out"], Value::Null);
        assert_eq!(voice["runs_out_before_reset"], false);
        // 9 credits left at 24 a day: gone in 9 hours, on the first.
        let video = plan("heygen");
        assert_eq!(video["run_out"], "2026-11-01");
        assert_eq!(video["runs_out_before_reset"], true);
    }

    #[test]
    fn the_month_picker_shows_the_plans_as_they_were_at_the_instant_asked_for() {
        let world = World::new();
        let day = |m, d| Utc.with_ymd_and_hms(2026, m, d, 12, 0, 0).unwrap();
        let heygen = |fee: &str| json!({"provider": "heygen", "monthly_fee": fee, "allotment": {"amount": "10", "unit": "credits"}});
        put_plan_at(&world, heygen("29"), day(9, 1));
        put_plan_at(&world, heygen("49"), day(10, 15));
        // A new subscription, from November 1st (a first version without `since` counts as
        // in force since always: the subscription is usually older than its entry here).
        put_plan_at(
            &world,
            json!({"provider": "elevenlabs", "monthly_fee": "22", "allotment": {"amount": "100000", "unit": "characters"}, "since": "2026-11-01"}),
            day(11, 1),
        );
        assert!(block_on(world.store.delete_plan("heygen", "", None, day(11, 10))).unwrap());
        let plans_at = |at| {
            let report = block_on(subscriptions_report_at(&world.store, &world.store, at)).unwrap();
            let fees: Vec<(String, String)> = report["subscriptions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let provider = s["provider"].as_str().unwrap().to_string();
                    (
                        provider,
                        s["monthly_fee"]["amount"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (fees, report["fees"][0]["amount"].clone())
        };
        let plan = |provider: &str, fee: &str| (provider.to_string(), fee.to_string());
        assert_eq!(
            plans_at(day(8, 20)),
            (vec![plan("heygen", "29.00")], json!("29.00")),
            "the first version, since always"
        );
        assert_eq!(
            plans_at(day(9, 20)),
            (vec![plan("heygen", "29.00")], json!("29.00"))
        );
        assert_eq!(
            plans_at(day(10, 20)),
            (vec![plan("heygen", "49.00")], json!("49.00"))
        );
        assert_eq!(
            plans_at(day(11, 5)),
            (
                vec![plan("elevenlabs", "22.00"), plan("heygen", "49.00")],
                json!("71.00")
            )
        );
        assert_eq!(
            plans_at(day(11, 20)),
            (vec![plan("elevenlabs", "22.00")], json!("22.00"))
        );
        // Now: the plans in force, whatever their history.
        let now = block_on(subscriptions_report(
            &world.store,
            &world.store,
            day(11, 20),
        ))
        .unwrap();
        assert_eq!(now["subscriptions"].as_array().unwrap().len(), 1);
        assert_eq!(now["subscriptions"][0]["provider"], "elevenlabs");
    }

    #[test]
    fn a_reading_from_the_providers_dashboard_replaces_the_usage_before_it_in_its_period() {
        // Seed 002: ElevenLabs' and Lahajati's dashboards show what was really used, including
        // calls no app reported. A reading of 6 credits at 10:30 on the 15th:
        let world = World::new();
        let plan = |reading: Value| {
            put_plan(
                &world,
                json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "reading": reading}),
            )
        };
        plan(json!({"used": "6", "at": "2026-11-15T10:30:00Z"}));
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        record(
            &world,
            now,
            json!([
                {"id": "before", "provider": "heygen", "credits": "0.5", "timestamp": "2026-11-10T09:00:00Z"},
                {"id": "same-hour", "provider": "heygen", "credits": "0.5", "timestamp": "2026-11-15T10:45:00Z"},
                {"id": "after", "provider": "heygen", "credits": "1", "timestamp": "2026-11-16T08:00:00Z"}
            ]),
        );
        let heygen = |at| {
            block_on(subscriptions_report(&world.store, &world.store, at)).unwrap()["subscriptions"]
                [0]
            .clone()
        };
        // 6 read + 0.5 in the reading's hour + 1 after it; the 0.5 before it is in the reading.
        let state = heygen(now);
        assert_eq!(
            (state["used"].as_str(), state["remaining"].as_str()),
            (Some("7.5"), Some("2.5"))
        );
        assert_eq!(
            state["reading"],
            json!({"used": "6", "at": "2026-11-15T10:30:00.000Z", "applied": true})
        );
        // Read before it was taken, or in the next period, it does not apply: usage alone counts.
        let earlier = Utc.with_ymd_and_hms(2026, 11, 15, 9, 0, 0).unwrap();
        assert_eq!(
            heygen(earlier)["used"],
            "2",
            "every recorded use of the period"
        );
        assert_eq!(heygen(earlier)["reading"]["applied"], false);
        let next_month = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        assert_eq!(heygen(next_month)["used"], "0");
        // A reading of last period does not apply to this one.
        plan(json!({"used": "9", "at": "2026-10-28T00:00:00Z"}));
        assert_eq!(heygen(now)["used"], "2");
        let refused = serde_json::from_value::<PlanInput>(json!({"provider": "heygen", "monthly_fee": "1", "reading": {"used": "-1", "at": "yesterday"}}))
            .unwrap()
            .validate();
        let Err(CoreError::Validation(details)) = refused else {
            panic!("{refused:?}")
        };
        let fields: Vec<String> = details.into_iter().map(|d| d.field).collect();
        assert_eq!(fields, vec!["reading.used", "reading.at", "reading"]);
    }

    #[test]
    fn a_plan_or_profile_name_with_a_direction_override_is_refused_naming_the_name() {
        let plan = serde_json::from_value::<PlanInput>(
            json!({"provider": "heygen", "monthly_fee": "1", "name": "Pro \u{202E}xem"}),
        )
        .unwrap()
        .validate();
        let Err(CoreError::Validation(details)) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            details.into_iter().map(|d| d.field).collect::<Vec<_>>(),
            ["name"]
        );
        let profile =
            serde_json::from_value::<ProfileInput>(json!({"name": "cl\u{200B}ip", "items": [
            {"provider": "heygen", "amount": "1", "unit": "credits"}]}))
            .unwrap()
            .validate(&["heygen".to_string()]);
        let Err(CoreError::Validation(details)) = profile else {
            panic!("{profile:?}")
        };
        assert_eq!(
            details.into_iter().map(|d| d.field).collect::<Vec<_>>(),
            ["name"]
        );
    }

    #[test]
    fn usage_past_an_allotment_with_usage_based_billing_is_priced_and_added_to_the_months_cost() {
        // Seed 002: "Pro ($99/mo) with usage-based billing enabled": ElevenLabs bills
        // characters past the allotment at $0.30 per 1,000.
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "elevenlabs", "monthly_fee": "99", "allotment": {"amount": "100000", "unit": "characters"},
                   "overage": {"price": "0.30", "per": "1000"}}),
        );
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        record(
            &world,
            now,
            json!([{"id": "tts", "provider": "elevenlabs", "characters": 130500, "timestamp": "2026-11-19T10:00:00Z"}]),
        );
        let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
        let plan = &report["subscriptions"][0];
        assert_eq!(plan["used"], "130500");
        assert_eq!(plan["remaining"], "0");
        // 30,500 characters past it: 30.5 x $0.30 = $9.15.
        assert_eq!(plan["overage"]["units"], "30500");
        assert_eq!(plan["overage"]["cost"]["amount"], "9.15");
        assert_eq!(report["overage"][0]["amount"], "9.15");
        assert_eq!(report["monthly_cost"][0]["amount"], "108.15");
        let refused =
            serde_json::from_value::<PlanInput>(json!({"provider": "openai", "monthly_fee": "0",
            "allotment": {"amount": "20", "unit": "money"}, "overage": {"price": "1"}}))
            .unwrap()
            .validate();
        let Err(CoreError::Validation(details)) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(details[0].field, "overage");
    }

    #[test]
    fn an_overage_at_the_largest_price_is_capped_at_a_trillion_and_the_months_cost_stays_positive()
    {
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "elevenlabs", "monthly_fee": "29", "allotment": {"amount": "1", "unit": "characters"},
                   "overage": {"price": "1000000000000", "per": "0.000001"}}),
        );
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        record(
            &world,
            now,
            json!([{"id": "huge", "provider": "elevenlabs", "model": "custom-voice", "characters": 1_000_000_000_u64,
                    "timestamp": "2026-11-20T10:00:00Z"}]),
        );
        let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
        let voice = subscription(&report, "elevenlabs");
        assert_eq!(voice["overage"]["cost"]["amount"], "1000000000000.00");
        assert_eq!(
            report["monthly_cost"][0]["amount"], "1000000000029.00",
            "the fee plus the capped overage"
        );
    }

    #[test]
    fn a_provider_may_have_a_plan_per_unit_and_capacity_reads_the_one_in_the_items_unit() {
        // Seed 002: Lahajati Premium is 1M points and 1,500 voice minutes.
        let world = World::new();
        put_plan(
            &world,
            json!({"provider": "lahajati", "monthly_fee": "11", "allotment": {"amount": "1000000", "unit": "points"}}),
        );
        put_plan(
            &world,
            json!({"provider": "lahajati", "monthly_fee": "0", "allotment": {"amount": "1500", "unit": "minutes"}}),
        );
        let plans = block_on(world.store.plans()).unwrap();
        assert_eq!(plans.len(), 2, "the second plan does not replace the first");
        let dub = serde_json::from_value::<ProfileInput>(json!({"name": "dub", "items": [
            {"provider": "lahajati", "amount": "3", "unit": "minutes"}
        ]}))
        .unwrap()
        .validate(&["lahajati".to_string()])
        .unwrap();
        block_on(world.store.save_profile(&dub)).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        record(
            &world,
            now,
            json!([{"id": "d1", "provider": "lahajati", "characters": 5000, "audio_seconds": "600", "timestamp": "2026-11-19T10:00:00Z"}]),
        );
        let profile = &block_on(capacity(&world.store, &world.store, now)).unwrap()[0];
        // 1,500 - 10 minutes used = 1,490 minutes; 3 a dub: 496 dubs.
        assert_eq!(profile.units_left, Some(496));
        assert_eq!(profile.per_provider[0].available.as_deref(), Some("1490"));
        // Deleting one unit leaves the other.
        assert!(block_on(
            world
                .store
                .delete_plan("lahajati", "", Some("minutes"), now)
        )
        .unwrap());
        let left: Vec<String> = block_on(world.store.plans())
            .unwrap()
            .iter()
            .map(|p| p.unit.name())
            .collect();
        assert_eq!(left, vec!["points"]);
        assert!(block_on(world.store.delete_plan("lahajati", "", None, now)).unwrap());
        assert!(block_on(world.store.plans()).unwrap().is_empty());
    }

    #[test]
    fn a_credit_term_must_be_dated_in_order_with_no_fee_or_reset_day() {
        let problems = |body: Value| match serde_json::from_value::<PlanInput>(body)
            .unwrap()
            .validate()
        {
            Err(CoreError::Validation(d)) => d.into_iter().map(|f| f.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let credit = |extra: Value| {
            let mut body = json!({"provider": "google-cloud", "allotment": {"amount": "300", "unit": "money"},
                                  "term": {"starts": "2026-10-01", "expires": "2027-01-01"}});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        assert_eq!(
            problems(credit(
                json!({"term": {"starts": "2026-10-01", "expires": "2026-10-01"}})
            )),
            vec!["term.expires"]
        );
        assert_eq!(
            problems(credit(
                json!({"term": {"starts": "2026-10-01", "expires": "2040-01-01"}})
            )),
            vec!["term.expires"]
        );
        assert_eq!(
            problems(credit(
                json!({"term": {"starts": "1 Oct", "expires": "2027-01-01"}})
            )),
            vec!["term.starts"]
        );
        assert_eq!(
            problems(credit(json!({"monthly_fee": "5"}))),
            vec!["monthly_fee"]
        );
        assert_eq!(problems(credit(json!({"reset_day": 3}))), vec!["reset_day"]);
        assert_eq!(
            problems(
                json!({"provider": "google-cloud", "term": {"starts": "2026-10-01", "expires": "2027-01-01"}})
            ),
            vec!["allotment"]
        );
        assert_eq!(
            problems(json!({"provider": "heygen"})),
            vec!["monthly_fee"],
            "a monthly plan still needs its fee"
        );
        let ok = serde_json::from_value::<PlanInput>(credit(json!({"monthly_fee": "0"})))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(ok.monthly_fee, "0");
    }

    #[test]
    fn the_period_rolls_over_on_the_reset_day() {
        let at = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
        let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert_eq!(period(15, at(14)), (day(10, 15), day(11, 15)));
        assert_eq!(period(15, at(15)), (day(11, 15), day(12, 15)));
        assert_eq!(period(1, at(1)), (day(11, 1), day(12, 1)));
    }

    #[test]
    fn bad_plans_and_profiles_name_the_field() {
        let plan = |body: Value| {
            serde_json::from_value::<PlanInput>(body)
                .unwrap()
                .validate()
                .unwrap_err()
        };
        let field = |e: CoreError| match e {
            CoreError::Validation(d) => d.into_iter().map(|f| f.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let many: Vec<String> = (0..21).map(|i| format!("a{i}@example.com")).collect();
        assert_eq!(
            field(plan(
                json!({"provider": "heygen", "monthly_fee": "1", "alert_emails": many})
            )),
            vec!["alert_emails"]
        );
        assert_eq!(
            field(plan(
                json!({"provider": "heygen", "monthly_fee": "1", "allotment": {"amount": "-1", "unit": "credits"}})
            )),
            vec!["allotment.amount"]
        );
        assert_eq!(
            field(plan(
                json!({"provider": "heygen", "monthly_fee": "1", "allotment": {"amount": "1", "unit": "parsecs"}})
            )),
            vec!["allotment.unit"]
        );
        assert_eq!(
            field(plan(
                json!({"provider": "heygen", "monthly_fee": "1", "reset_day": 29})
            )),
            vec!["reset_day"]
        );
        assert_eq!(
            field(plan(json!({"provider": "heygen", "monthly_fee": "-1"}))),
            vec!["monthly_fee"]
        );
        assert_eq!(
            field(plan(
                json!({"provider": "heygen", "monthly_fee": "1", "allotment": {"amount": "1", "unit": "credits"}, "reserve": "2"})
            )),
            vec!["reserve"]
        );
        let profile = serde_json::from_value::<ProfileInput>(json!({"name": "x", "items": [{"provider": "nobody", "amount": "1", "unit": "credits"}]}))
            .unwrap()
            .validate(&["heygen".to_string()])
            .unwrap_err();
        assert_eq!(field(profile), vec!["items[0].provider"]);
    }
}

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

#[test]
fn a_cost_over_a_million_per_event_and_counts_over_a_billion_are_refused_and_named_alone() {
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
        fields(json!({"provider": "acme", "cost": "1000000.000000001"})),
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
        .send(json!({"provider": "acme", "cost": "1000000", "tokens": 1_000_000_000u64, "credits": "1000000000"}))
        .unwrap();
    assert_eq!(at_cap.events[0].cost, Some(usd("1000000")));
}

/// Each provider's `last_updated` in a block of `GET /api/usage/stats`.
fn newest_of(block: &Value) -> Vec<(String, Value)> {
    block["by_provider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["provider"].as_str().unwrap().to_string(),
                p["last_updated"].clone(),
            )
        })
        .collect()
}

#[test]
fn usage_stats_name_each_providers_newest_event_of_today_and_of_the_month_in_the_zone_asked() {
    use crate::reports::report::usage_stats;
    let world = World::new();
    let call = |provider: &str, at: &str| json!({"provider": provider, "model": "m", "input_tokens": 1, "timestamp": at});
    world
        .send(json!({"events": [
            call("openai", "2026-11-20T09:00:00Z"),
            call("openai", "2026-11-20T11:59:00.250Z"),
            call("openai", "2026-10-31T23:00:00Z"),
            call("heygen", "2026-11-20T03:00:00Z"),
            call("elevenlabs", "2026-11-03T08:00:00Z"),
            call("elevenlabs", "2026-11-01T02:00:00Z"),
        ]}))
        .unwrap();
    let stats_at = |tz: &str, at: DateTime<Utc>| {
        let query = vec![("tz".to_string(), tz.to_string())];
        block_on(usage_stats(&world.store, at, None, &query)).unwrap()
    };
    let stats = |tz: &str| stats_at(tz, now());
    let at = |text: &str| Value::from(text);
    let utc = stats("UTC");
    assert_eq!(
        newest_of(&utc["today"]),
        vec![
            ("heygen".into(), at("2026-11-20T03:00:00.000Z")),
            ("openai".into(), at("2026-11-20T11:59:00.250Z")),
        ]
    );
    assert_eq!(
        newest_of(&utc["month"]),
        vec![
            ("elevenlabs".into(), at("2026-11-03T08:00:00.000Z")),
            ("heygen".into(), at("2026-11-20T03:00:00.000Z")),
            ("openai".into(), at("2026-11-20T11:59:00.250Z")),
        ]
    );
    // In New York today began at 05:00 UTC (so heygen's call was yesterday) and November at
    // 04:00 UTC on the 1st (so 02:00 UTC was still October).
    let ny = stats("America/New_York");
    assert_eq!(
        newest_of(&ny["today"]),
        vec![("openai".into(), at("2026-11-20T11:59:00.250Z"))]
    );
    assert_eq!(
        newest_of(&ny["month"]),
        vec![
            ("elevenlabs".into(), at("2026-11-03T08:00:00.000Z")),
            ("heygen".into(), at("2026-11-20T03:00:00.000Z")),
            ("openai".into(), at("2026-11-20T11:59:00.250Z")),
        ]
    );
    assert_eq!(ny["last_updated"], at("2026-11-20T11:59:00.250Z"));
    // At 23:58 in Auckland (UTC+13), openai's call at 11:59 UTC is already tomorrow there.
    let auckland = stats_at(
        "Pacific/Auckland",
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 58, 0).unwrap(),
    );
    assert_eq!(
        newest_of(&auckland["today"]),
        vec![
            ("heygen".into(), at("2026-11-20T03:00:00.000Z")),
            ("openai".into(), at("2026-11-20T09:00:00.000Z")),
        ]
    );
}

#[test]
fn a_quarter_span_rounds_to_whole_quarter_hours_and_names_the_utc_days_it_touches() {
    use crate::reports::report::QuarterSpan;
    let t = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
    let new_york_day = QuarterSpan::new(t(20, 5, 0), t(21, 5, 0)).unwrap();
    assert_eq!(
        (
            new_york_day.first_quarter.as_str(),
            new_york_day.last_quarter.as_str(),
            new_york_day.first_day.as_str(),
            new_york_day.last_day.as_str()
        ),
        (
            "2026-11-20T05:00",
            "2026-11-21T04:45",
            "2026-11-20",
            "2026-11-21"
        )
    );
    assert!(new_york_day.holds("2026-11-21T04:59:59.999Z"));
    assert!(!new_york_day.holds("2026-11-21T05:00:00.000Z"));
    assert!(!new_york_day.holds("2026-11-20T04:59:59.999Z"));
    let utc_day = QuarterSpan::new(t(20, 0, 0), t(21, 0, 0)).unwrap();
    assert_eq!(utc_day.last_day, "2026-11-20");
    let rounded = QuarterSpan::new(t(20, 5, 7), t(20, 5, 20)).unwrap();
    assert_eq!(
        (
            rounded.first_quarter.as_str(),
            rounded.last_quarter.as_str()
        ),
        ("2026-11-20T05:00", "2026-11-20T05:15")
    );
    assert_eq!(QuarterSpan::new(t(20, 5, 0), t(20, 5, 0)), None);
}
