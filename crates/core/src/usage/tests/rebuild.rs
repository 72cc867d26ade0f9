//! Rebuild from the raw log: identical rows after a wipe, paging, limits, unreadable lines.

use pollster::block_on;
use serde_json::{json, Value};

use crate::usage::fixtures::{fields, World};
use crate::usage::ingest::{rebuild, RebuildRequest};
use crate::usage::record::StoredEvent;
use crate::usage::store::RawLog;

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
            // Rename the object as if it had been received on the event's day, with its
            // acknowledgement.
            let mut objects = world.log.objects.borrow_mut();
            let bytes = objects.remove(&report.raw_object).unwrap();
            let renamed = report.raw_object.replace("2026-11-20", day);
            let mut acks = world.store.usage_tables().acks.borrow_mut();
            let ack = acks.objects.remove(&report.raw_object).unwrap();
            acks.objects.insert(renamed.clone(), ack);
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
