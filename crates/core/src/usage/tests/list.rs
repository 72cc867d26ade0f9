//! The stored form of an event, cache hits, and listing (`GET /api/usage`).

use pollster::block_on;
use serde_json::{json, Value};

use crate::access::auth::Principal;
use crate::kernel::error::CoreError;
use crate::usage::fixtures::{fields, usd, World};
use crate::usage::list::{list_usage, UsageQuery};
use crate::usage::record::{from_ndjson, to_ndjson};

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
fn a_listed_event_names_the_catalog_model_reports_group_it_under() {
    let world = World::new();
    world
        .send(json!({"events": [
            {"id": "snap", "provider": "openai", "model": "gpt-4o-2024-08-06", "input_tokens": 10},
            {"id": "own", "provider": "openai", "model": "house-model", "input_tokens": 10},
        ]}))
        .unwrap();
    let events: Vec<(String, String, String)> = world
        .store
        .stored_events()
        .iter()
        .map(|e| {
            let view = e.view();
            (view.id, view.model, view.catalog_model)
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("snap".into(), "gpt-4o-2024-08-06".into(), "gpt-4o".into()),
            ("own".into(), "house-model".into(), "house-model".into()),
        ]
    );
}
