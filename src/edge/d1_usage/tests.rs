//! Host tests of the D1 usage adapter's pure parts: rows, chunks and batch outcomes.

use super::rows::{write_row, Column, CHUNK_BYTES};
use super::*;
use crate::core::kernel::json_out::push_str;

/// A record with every field away from its default.
pub(super) fn full_event() -> StoredEvent {
    StoredEvent {
        v: 1,
        project_id: "p".into(),
        id: "e\"1".into(),
        provider: "openai".into(),
        model: "m".into(),
        operation: "op".into(),
        input_tokens: 1,
        output_tokens: 2,
        total_tokens: 3,
        cached_input_tokens: 4,
        cache_write_tokens: 5,
        reasoning_tokens: 6,
        audio_input_tokens: 7,
        audio_output_tokens: 8,
        characters: 9,
        audio_seconds_micros: 10,
        video_seconds_micros: 11,
        images: 12,
        requests: 13,
        tracks: 14,
        credits_micros: 15,
        cost: Some("0.000000016".into()),
        cost_nanos: Some(16),
        currency: "USD".into(),
        computed_cost_nanos: Some(17),
        computed_currency: Some("USD".into()),
        reported_cost_nanos: Some(i64::MAX),
        unpriced_reason: Some("r".into()),
        unpriced_message: Some("m".into()),
        price_id: Some("builtin:x".into()),
        cached: true,
        success: false,
        request_timestamp: "2026-11-20T00:00:00.000Z".into(),
        session_id: Some("s".into()),
        job_id: Some("j".into()),
        duration_ms: Some(18),
        endpoint: Some("/v1".into()),
        metadata: serde_json::json!({ "k": ["v", 1] }).as_object().cloned(),
        // Not a column: the raw log keeps it, D1 settles the reservation.
        reservation_id: None,
        fingerprint: Some("f".into()),
    }
}

fn row_of(event: &StoredEvent, columns: &[Column]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    write_row(&mut out, event, columns).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn a_text_cell_is_written_as_serde_json_writes_the_string() {
    let mut texts: Vec<String> = [
        "",
        "evt_1",
        "gpt-4o-mini",
        "2026-11-20T00:00:00.000Z",
        "a\"b",
        "back\\slash",
        "tab\there",
        "line\nbreak",
        "nul\u{0}",
        "del\u{7f}",
        "café",
        "\u{202E}cba",
        "😀",
        "</script>",
        "\u{1f}",
        " ",
    ]
    .map(String::from)
    .to_vec();
    // Every character below U+0100 alone and between letters.
    texts.extend(
        (0u32..0x100)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b")),
    );
    for text in texts {
        let mut ours = Vec::new();
        push_str(&mut ours, &text);
        assert_eq!(ours, serde_json::to_vec(&text).unwrap(), "{text:?}");
    }
}

#[test]
fn every_column_is_a_field_of_the_stored_record_with_its_value_and_every_field_but_the_version_a_column(
) {
    let event = full_event();
    let serde_json::Value::Object(mut fields) = serde_json::to_value(&event).unwrap() else {
        panic!("a record is an object");
    };
    fields.remove("v");
    let row = row_of(&event, COLUMNS);
    assert_eq!(row.len(), fields.len());
    for ((name, _, _), value) in COLUMNS.iter().zip(row) {
        assert_eq!(fields.get(*name), Some(&value), "column {name}");
    }
}

/// A stored record with only its required fields, every other at its default.
fn plain_record() -> StoredEvent {
    serde_json::from_value(serde_json::json!({
        "project_id": "p", "id": "x", "provider": "openai", "model": "m",
        "request_timestamp": "2026-11-20T00:00:00.000Z",
    }))
    .unwrap()
}

#[test]
fn a_record_at_its_defaults_writes_nulls_zeros_and_empty_text_in_the_columns_it_names() {
    let event = plain_record();
    let row = row_of(&event, COLUMNS);
    let value = |name: &str| &row[COLUMNS.iter().position(|(c, _, _)| *c == name).unwrap()];
    assert_eq!(value("operation"), "");
    assert_eq!(value("input_tokens"), 0);
    assert_eq!(value("cost_nanos"), &serde_json::Value::Null);
    assert_eq!(value("success"), true);
    assert_eq!(value("cached"), false);
    assert_eq!(value("metadata"), &serde_json::Value::Null);
}

#[test]
fn a_zero_or_empty_value_of_an_optional_field_still_names_its_column() {
    let plain = plain_record();
    let mut zeros = plain.clone();
    zeros.cost_nanos = Some(0);
    zeros.duration_ms = Some(0);
    zeros.session_id = Some(String::new());
    let plain_columns = names(&used_columns(std::slice::from_ref(&plain)));
    let zero_columns = names(&used_columns(std::slice::from_ref(&zeros)));
    for column in ["cost_nanos", "duration_ms", "session_id"] {
        assert!(!plain_columns.contains(&column), "{column}");
        assert!(zero_columns.contains(&column), "{column}");
    }
    assert_eq!(zero_columns.len(), plain_columns.len() + 3);
    let every = names(&used_columns(std::slice::from_ref(&full_event())));
    assert_eq!(every, names(COLUMNS));
}

#[test]
fn a_batch_names_only_the_columns_some_event_sets() {
    let plain: StoredEvent = serde_json::from_value(serde_json::json!({
        "project_id": "p", "id": "x", "provider": "openai", "model": "m",
        "request_timestamp": "2026-11-20T00:00:00.000Z", "input_tokens": 5,
    }))
    .unwrap();
    let mut failed = plain.clone();
    failed.success = false;
    failed.job_id = Some("j".into());
    assert_eq!(
        names(&used_columns(std::slice::from_ref(&plain))),
        vec![
            "project_id",
            "id",
            "provider",
            "model",
            "input_tokens",
            "request_timestamp"
        ]
    );
    let both = names(&used_columns(&[plain, failed]));
    assert!(both.contains(&"success") && both.contains(&"job_id"));
    assert!(!both.contains(&"cached") && !both.contains(&"characters"));
}

#[test]
fn of_a_batch_only_new_keys_are_stored_and_a_duplicate_answers_the_price_that_counts() {
    let event = |project: &str, id: &str, cost: i64| StoredEvent {
        project_id: project.into(),
        id: id.into(),
        cost_nanos: Some(cost),
        ..full_event()
    };
    let events = [
        event("p", "a", 1),
        event("p", "b", 2),
        event("q", "a", 3),
        event("p", "a", 4),
        event("p", "c", 5),
        event("p", "old", 6),
    ];
    let stored_b = StoredPrice {
        cost_nanos: Some(20),
        ..StoredPrice::of(&events[1])
    };
    let found = [
        (("p".to_string(), "b".to_string()), Some(stored_b.clone())),
        (("p".to_string(), "old".to_string()), None),
    ];
    assert_eq!(
        outcomes(&events, &found),
        vec![
            Inserted::Stored,
            Inserted::Duplicate(Some(stored_b)),
            Inserted::Stored,
            Inserted::Duplicate(Some(StoredPrice::of(&events[0]))),
            Inserted::Stored,
            Inserted::Duplicate(None),
        ]
    );
}

#[test]
fn the_insert_skips_rows_before_the_retention_watermark_by_their_own_time_column() {
    let sql = insert_sql(
        &["project_id", "id", "provider", "model", "request_timestamp"],
        InsertMode::KeepFirst,
        false,
    );
    assert!(sql.contains(&format!("WHERE row ->> 4 >= {WATERMARK_SQL}")));
    let sql = insert_sql(
        &["request_timestamp", "project_id", "id"],
        InsertMode::KeepFirst,
        true,
    );
    assert!(sql.contains(
        "(request_timestamp, project_id, id, rolled_up) SELECT row ->> 0, row ->> 1, row ->> 2, 1 "
    ));
    assert!(sql.contains(&format!("WHERE row ->> 0 >= {WATERMARK_SQL}")));
}

#[test]
fn rows_are_split_into_chunks_below_the_value_limit_without_losing_any_and_keys_follow_rows() {
    let event = |i: usize| StoredEvent {
        id: format!("e{i}"),
        metadata: serde_json::json!({ "pad": "x".repeat(3000) })
            .as_object()
            .cloned(),
        ..full_event()
    };
    let events: Vec<StoredEvent> = (0..1000).map(event).collect();
    let chunks = chunks_of(&events, COLUMNS).unwrap();
    assert!(chunks.len() > 2);
    let key_lists = keys_of(&events, &chunks).unwrap();
    assert_eq!(key_lists.len(), chunks.len());
    let mut ids = Vec::new();
    for (chunk, keys) in chunks.iter().zip(&key_lists) {
        assert!(chunk.rows.len() <= CHUNK_BYTES);
        let rows: Vec<Vec<serde_json::Value>> = serde_json::from_str(&chunk.rows).unwrap();
        assert_eq!(rows.len(), chunk.len);
        let keys: Vec<(String, String, String)> = serde_json::from_str(keys).unwrap();
        assert_eq!(rows.len(), keys.len());
        for (row, key) in rows.iter().zip(&keys) {
            let time = names(COLUMNS)
                .iter()
                .position(|c| *c == "request_timestamp")
                .unwrap();
            assert_eq!(
                (&row[0], &row[1], &row[time]),
                (
                    &key.0.clone().into(),
                    &key.1.clone().into(),
                    &key.2.clone().into()
                )
            );
        }
        ids.extend(keys.into_iter().map(|(_, id, _)| id));
    }
    assert_eq!(ids, (0..1000).map(|i| format!("e{i}")).collect::<Vec<_>>());
}
