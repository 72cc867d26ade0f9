//! Usage stats and quarter-hour spans.

use chrono::{DateTime, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::usage::fixtures::{now, World};

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
