//! Host tests of the usage report: totals past 2^63 - 1 nano-units stay exact, and grouping
//! by model keeps the provider and gathers a model's dated aliases in one row.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use crate::reports::report::{group_rows, read_report, report_csv, report_json, UsageReportQuery};
use crate::usage::fixtures::World;

/// The JSON and CSV answers of `GET /api/admin/usage` with `query`, as of the tests' now.
fn report(world: &World, query: &[(&str, &str)]) -> (Value, String) {
    let pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let q = UsageReportQuery::parse(&pairs, now).unwrap();
    let (rollup_query, rollups) = pollster::block_on(read_report(&world.store, &q)).unwrap();
    let rows = group_rows(&rollups, q.period, &q.dims, q.range.tz);
    let projects = Default::default();
    (
        report_json(&q, rollup_query.source(), &rows, &projects, false),
        report_csv(&q, &rows, &projects),
    )
}

#[test]
fn idr_totals_past_two_to_the_63_nano_units_are_exact_in_the_report_and_its_csv() {
    let world = World::new();
    // 10,000 events of 999,999.123456789 IDR on one day: 9,999,991,234.56789 IDR, past
    // 2^63 - 1 nano-units (9,223,372,036.854775807).
    for batch in 0..10 {
        let events: Vec<Value> = (0..1000)
            .map(|i| {
                json!({"id": format!("idr-{batch}-{i}"), "provider": "acme", "model": "m",
                       "cost": "999999.123456789", "currency": "IDR",
                       "timestamp": "2026-11-19T08:00:00Z"})
            })
            .collect();
        world.send(json!({"events": events})).unwrap();
    }

    let (json, csv) = report(
        &world,
        &[
            ("from", "2026-11-19"),
            ("to", "2026-11-19"),
            ("group", "day"),
        ],
    );

    assert_eq!(json["rows"][0]["cost"][0]["amount"], "9999991234.56789");
    assert_eq!(json["rows"][0]["cost"][0]["currency"], "IDR");
    assert_eq!(json["totals"]["cost"][0]["amount"], "9999991234.56789");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("period,cost_idr,"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("2026-11-19,9999991234.56789,10000,"),
        "{}",
        lines[1]
    );
}

#[test]
fn grouping_by_model_keeps_the_provider_and_puts_dated_aliases_under_their_catalog_model() {
    let world = World::new();
    world
        .send(json!({"events": [
            {"id": "a", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
             "timestamp": "2026-11-19T08:00:00Z"},
            {"id": "b", "provider": "openai", "model": "gpt-4o-2024-08-06", "input_tokens": 1000,
             "timestamp": "2026-11-19T09:00:00Z"},
            {"id": "c", "provider": "heygen", "model": "default", "cost": "2",
             "timestamp": "2026-11-19T10:00:00Z"},
            {"id": "d", "provider": "acme", "model": "gpt-4o", "cost": "1",
             "timestamp": "2026-11-19T11:00:00Z"},
        ]}))
        .unwrap();

    let (json, csv) = report(
        &world,
        &[
            ("from", "2026-11-19"),
            ("to", "2026-11-19"),
            ("group", "model"),
        ],
    );

    let rows: Vec<(String, String, Value, String, i64)> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap().to_string(),
                r["model"].as_str().unwrap().to_string(),
                r["aliases"].clone(),
                r["cost"][0]["amount"].as_str().unwrap().to_string(),
                r["events"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("acme".into(), "gpt-4o".into(), json!([]), "1.00".into(), 1),
            // HeyGen's `default` is an alias of its catalog model, never OpenAI's.
            (
                "heygen".into(),
                "api-credits".into(),
                json!(["default"]),
                "2.00".into(),
                1
            ),
            // gpt-4o: $2.50 per million input tokens, twice 1,000 tokens.
            (
                "openai".into(),
                "gpt-4o".into(),
                json!(["gpt-4o-2024-08-06"]),
                "0.005".into(),
                2
            ),
        ]
    );
    assert_eq!(json["group"]["by"], json!(["provider", "model"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("provider,model,aliases,cost_usd,events,"),
        "{}",
        lines[0]
    );
    assert!(
        lines[3].starts_with("openai,gpt-4o,gpt-4o-2024-08-06,0.005,2,"),
        "{}",
        lines[3]
    );
}

#[test]
fn a_model_filter_totals_what_that_models_row_of_the_grouping_shows_its_snapshots_included() {
    let world = World::new();
    world
        .send(json!({"events": [
            {"id": "a", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
             "timestamp": "2026-11-19T08:00:00Z"},
            {"id": "b", "provider": "openai", "model": "gpt-4o-2024-08-06", "input_tokens": 1000,
             "timestamp": "2026-11-19T09:00:00Z"},
            {"id": "c", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000,
             "timestamp": "2026-11-19T10:00:00Z"},
        ]}))
        .unwrap();
    let day = [("from", "2026-11-19"), ("to", "2026-11-19")];
    let (grouped, _) = report(&world, &[day[0], day[1], ("group", "model")]);
    let row = grouped["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "gpt-4o")
        .unwrap()
        .clone();
    let (filtered, _) = report(&world, &[day[0], day[1], ("model", "gpt-4o")]);
    assert_eq!(filtered["totals"]["events"], 2);
    assert_eq!(filtered["totals"]["events"], row["events"]);
    assert_eq!(filtered["totals"]["cost"], row["cost"]);
    // By provider with the filter: only the model's events, its snapshot among them.
    let (by_provider, _) = report(
        &world,
        &[day[0], day[1], ("model", "gpt-4o"), ("group", "provider")],
    );
    assert_eq!(by_provider["rows"][0]["events"], 2);
    // A snapshot's own name still finds that name alone.
    let (snapshot, _) = report(&world, &[day[0], day[1], ("model", "gpt-4o-2024-08-06")]);
    assert_eq!(snapshot["totals"]["events"], 1);
}

#[test]
fn a_report_says_which_bounds_it_counted_when_its_ends_fall_inside_quarter_hours() {
    let world = World::new();
    let (inside, _) = report(
        &world,
        &[
            ("from", "2026-11-19T19:22:55Z"),
            ("to", "2026-11-19T19:23:01Z"),
        ],
    );
    assert_eq!(
        (
            &inside["range"]["from"],
            &inside["range"]["counted_from"],
            &inside["range"]["counted_to"]
        ),
        (
            &json!("2026-11-19T19:22:55.000Z"),
            &json!("2026-11-19T19:15:00.000Z"),
            &json!("2026-11-19T19:30:00.000Z")
        )
    );
    let (whole, _) = report(&world, &[("from", "2026-11-19"), ("to", "2026-11-19")]);
    assert_eq!(whole["range"]["counted_from"], whole["range"]["from"]);
    assert_eq!(whole["range"]["counted_to"], whole["range"]["to"]);
}
