//! Rollup reads: days and quarter hours together sum what quarter hours alone sum.

use chrono::{DateTime, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::usage::fixtures::{now, World};

#[test]
fn rollups_split_into_daily_and_hourly_reads_sum_exactly_what_hourly_reads_alone_sum() {
    use crate::reports::report::{parse_range, Dim, Period, RollupRow};
    use crate::reports::store::ReportStore;
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
