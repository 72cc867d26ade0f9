//! Host tests of reports split by local period in a zone other than UTC: the period plan
//! (daily rollups plus the stretches of quarter hours that belong elsewhere) sums exactly what
//! the quarter-hour rollups sum, and local days are exact in zones with half- and
//! quarter-hour offsets.

use crate::kernel::tz::Tz;
use chrono::{DateTime, Duration, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::reports::report::{
    group_rows, quarter_bucket, read_report, Dim, Move, Period, PeriodPlan, ReportRow, RollupQuery,
    UsageReportQuery,
};
use crate::reports::store::ReportStore;
use crate::usage::fixtures::World;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn tz(name: &str) -> Tz {
    name.parse().unwrap()
}

/// `(from, to, period, sign)` as moves, for comparing plans.
fn moves(list: &[(&str, &str, &str, i64)]) -> Vec<Move> {
    list.iter()
        .map(|(from, to, period, sign)| Move {
            from: from.to_string(),
            to: to.to_string(),
            period: period.to_string(),
            sign: *sign,
        })
        .collect()
}

/// The plan of `from..to` by local day in New York.
fn new_york_by_day(from: DateTime<Utc>, to: DateTime<Utc>) -> PeriodPlan {
    PeriodPlan::build(from, to, Period::Day, tz("America/New_York")).unwrap()
}

#[test]
fn a_day_plan_moves_only_the_stretch_of_a_utc_day_that_belongs_to_another_local_day() {
    // 2 and 3 October 2026 in New York (UTC-4): local midnights at 04:00 UTC.
    let plan = new_york_by_day(utc(2026, 10, 2, 4, 0), utc(2026, 10, 4, 4, 0));

    // 2 October is partial in UTC (from 04:00): its 20 hours are read by the quarter hour.
    // 3 October is whole: it goes to local 3 October, and its first four hours move back to
    // the 2nd; 4 October's first four hours (the range's end) are local 3 October.
    assert_eq!(
        plan.days,
        vec![("2026-10-03".to_string(), "2026-10-03".to_string())]
    );
    assert_eq!(
        plan.moves,
        moves(&[
            ("2026-10-02T04:00", "2026-10-03T00:00", "2026-10-02", 1),
            ("2026-10-03T00:00", "2026-10-03T04:00", "2026-10-03", -1),
            ("2026-10-03T00:00", "2026-10-03T04:00", "2026-10-02", 1),
            ("2026-10-04T00:00", "2026-10-04T04:00", "2026-10-03", 1),
        ])
    );
}

#[test]
fn a_stretch_taken_from_one_local_day_and_added_to_another_is_listed_once_with_both_moves() {
    let plan = new_york_by_day(utc(2026, 10, 2, 4, 0), utc(2026, 10, 4, 4, 0));

    let shared = plan.shared_stretches();

    // Four moves, three stretches: 3 October's first four hours leave the 3rd for the 2nd.
    assert_eq!(
        shared.stretches,
        vec![
            ("2026-10-02T04:00", "2026-10-03T00:00"),
            ("2026-10-03T00:00", "2026-10-03T04:00"),
            ("2026-10-04T00:00", "2026-10-04T04:00"),
        ]
    );
    assert_eq!(
        shared.links,
        vec![
            (0, "2026-10-02", 1),
            (1, "2026-10-03", -1),
            (1, "2026-10-02", 1),
            (2, "2026-10-03", 1),
        ]
    );
    // Every move is its stretch, period and sign again.
    let back: Vec<Move> = shared
        .links
        .iter()
        .map(|(i, period, sign)| Move {
            from: shared.stretches[*i].0.to_string(),
            to: shared.stretches[*i].1.to_string(),
            period: period.to_string(),
            sign: *sign,
        })
        .collect();
    assert_eq!(back, plan.moves);
}

#[test]
fn a_month_by_day_in_new_york_reads_each_moved_stretch_once() {
    let plan = new_york_by_day(utc(2026, 10, 1, 4, 0), utc(2026, 11, 1, 4, 0));

    let shared = plan.shared_stretches();

    // 30 whole UTC days each move their first four hours to the day before (60 moves), and
    // the range's partial ends are a stretch each.
    assert_eq!(plan.moves.len(), 62);
    assert_eq!(shared.stretches.len(), 32);
    assert_eq!(shared.links.len(), plan.moves.len());
}

#[test]
fn in_india_and_nepal_a_day_plan_moves_the_half_and_quarter_hour_past_local_midnight() {
    // Local midnight of 3 October: 18:30 UTC the day before in Kolkata (+05:30), 18:15 in
    // Kathmandu (+05:45).
    for (zone, midnight) in [("Asia/Kolkata", "18:30"), ("Asia/Kathmandu", "18:15")] {
        let plan = PeriodPlan::build(
            utc(2026, 10, 1, 0, 0),
            utc(2026, 10, 4, 0, 0),
            Period::Day,
            tz(zone),
        )
        .unwrap();
        let whole_day = moves(&[
            (
                &format!("2026-10-02T{midnight}"),
                "2026-10-03T00:00",
                "2026-10-02",
                -1,
            ),
            (
                &format!("2026-10-02T{midnight}"),
                "2026-10-03T00:00",
                "2026-10-03",
                1,
            ),
        ]);
        assert!(plan
            .days
            .contains(&("2026-10-02".into(), "2026-10-02".into())));
        assert!(
            plan.moves.windows(2).any(|w| w == whole_day.as_slice()),
            "{zone}: {:?}",
            plan.moves
        );
    }
}

#[test]
fn a_month_plan_reads_whole_days_and_moves_only_the_hours_at_the_month_boundary() {
    // October and November 2026 in New York: summer time ends on 1 November.
    let plan = PeriodPlan::build(
        utc(2026, 10, 1, 4, 0),
        utc(2026, 12, 1, 5, 0),
        Period::Month,
        tz("America/New_York"),
    )
    .unwrap();

    assert_eq!(plan.days.len(), 60, "2 October to 30 November");
    assert!(plan.days.iter().all(|(day, label)| day[..7] == *label));
    // 20 hours of 1 October, the two moves of the boundary, 5 hours of 1 December.
    assert_eq!(
        plan.moves,
        moves(&[
            ("2026-10-01T04:00", "2026-10-02T00:00", "2026-10", 1),
            ("2026-11-01T00:00", "2026-11-01T04:00", "2026-11", -1),
            ("2026-11-01T00:00", "2026-11-01T04:00", "2026-10", 1),
            ("2026-12-01T00:00", "2026-12-01T05:00", "2026-11", 1),
        ])
    );
}

#[test]
fn a_plan_that_would_hold_too_many_moves_is_not_made() {
    // Thirty years by day at UTC+12 moves a stretch of 12 hours a day (two moves).
    let far = PeriodPlan::build(
        utc(2000, 1, 1, 0, 0),
        utc(2030, 1, 1, 0, 0),
        Period::Day,
        tz("Pacific/Fiji"),
    );
    let year = PeriodPlan::build(
        utc(2025, 1, 1, 0, 0),
        utc(2026, 1, 1, 0, 0),
        Period::Day,
        tz("Pacific/Fiji"),
    );

    assert_eq!(far, None);
    assert!(year.is_some());
}

/// A world with an event every 5 hours and 13 minutes from 20 September to 20 November 2026,
/// each with its own cost, over two providers.
fn world_with_two_months() -> World {
    let world = World::new();
    let start = utc(2026, 9, 20, 0, 7);
    let events: Vec<Value> = (0..280)
        .map(|i| {
            let at = start + Duration::minutes(313 * i);
            let provider = ["openai", "anthropic"][(i % 2) as usize];
            json!({
                "id": format!("e{i}"),
                "provider": provider,
                "model": "m",
                "cost": format!("0.{:04}", i + 1),
                "input_tokens": 100 + i,
                "timestamp": at.to_rfc3339(),
            })
        })
        .collect();
    for chunk in events.chunks(100) {
        world.send(json!({ "events": chunk })).unwrap();
    }
    world
}

/// A report grouped by period and provider, read through `query`.
fn report(world: &World, query: &RollupQuery, period: Period, zone: Tz) -> Vec<ReportRow> {
    let rows = block_on(world.store.rollups(query)).unwrap();
    group_rows(&rows, Some(period), &[Dim::Provider], zone)
}

#[test]
fn reports_by_local_period_from_a_plan_equal_those_from_the_quarter_hour_rollups_in_every_zone() {
    let world = world_with_two_months();
    let ranges = [
        // Across the end of summer time, with ends inside hours.
        (
            "America/New_York",
            utc(2026, 9, 28, 10, 30),
            utc(2026, 11, 5, 17, 45),
        ),
        (
            "Asia/Kolkata",
            utc(2026, 9, 20, 0, 0),
            utc(2026, 11, 21, 0, 0),
        ),
        (
            "Asia/Kathmandu",
            utc(2026, 10, 1, 18, 15),
            utc(2026, 11, 2, 3, 0),
        ),
        (
            "Pacific/Tongatapu",
            utc(2026, 9, 30, 11, 0),
            utc(2026, 11, 1, 11, 0),
        ),
        (
            "America/St_Johns",
            utc(2026, 10, 1, 2, 30),
            utc(2026, 11, 16, 3, 30),
        ),
        (
            "Pacific/Auckland",
            utc(2026, 9, 20, 0, 0),
            utc(2026, 11, 20, 0, 0),
        ),
        ("UTC", utc(2026, 10, 3, 9, 0), utc(2026, 10, 29, 18, 20)),
    ];
    for (name, from, to) in ranges {
        let zone = tz(name);
        for period in [Period::Day, Period::Week, Period::Month] {
            let plan = PeriodPlan::build(from, to, period, zone).unwrap();
            let by_plan = RollupQuery {
                quarters: true,
                dims: vec![Dim::Provider],
                periods: Some(plan),
                ..RollupQuery::default()
            };
            // Every bound here is on a quarter hour.
            let by_quarter = RollupQuery {
                quarters: true,
                from: Some(quarter_bucket(from)),
                to: Some(quarter_bucket(to)),
                by_bucket: true,
                dims: vec![Dim::Provider],
                ..RollupQuery::default()
            };

            let got = report(&world, &by_plan, period, zone);
            let want = report(&world, &by_quarter, period, zone);

            assert_eq!(got, want, "{name} {period:?}");
            assert!(got.len() >= 2, "{name} {period:?} holds usage");
        }
    }
}

#[test]
fn an_open_range_by_local_day_reads_a_plan_over_the_days_that_hold_data() {
    let world = world_with_two_months();
    let query = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let read = |pairs: &[(&str, &str)]| {
        let q = UsageReportQuery::parse(&query(pairs), utc(2026, 11, 20, 12, 0)).unwrap();
        let (rollup_query, rows) = block_on(read_report(&world.store, &q)).unwrap();
        (
            rollup_query.source(),
            group_rows(&rows, q.period, &q.dims, q.range.tz),
        )
    };

    let all = read(&[
        ("group", "day,provider"),
        ("preset", "all"),
        ("tz", "America/New_York"),
    ]);
    let bounded = read(&[
        ("group", "day,provider"),
        ("from", "2026-09-01"),
        ("to", "2026-11-30"),
        ("tz", "America/New_York"),
    ]);

    assert_eq!(all.0, "usage_daily+usage_quarter_hours");
    assert_eq!(all.1, bounded.1);
    let events: i64 = all.1.iter().map(|r| r.sums.measure("events")).sum();
    assert_eq!(events, 280);
    // Without any usage there is nothing to read and nothing to plan.
    let empty = World::new();
    let rows = block_on(empty.store.rollup_days()).unwrap();
    assert_eq!(rows, None);
}

#[test]
fn an_event_just_before_local_midnight_in_india_or_nepal_counts_in_its_own_day_and_month() {
    let world = World::new();
    // 18:10 UTC on 31 October is 23:40 in Kolkata and 23:55 in Kathmandu; 18:40 is 00:10 and
    // 00:25 on 1 November.
    for (id, at, cost) in [
        ("late", "2026-10-31T18:10:00Z", "90"),
        ("early", "2026-10-31T18:40:00Z", "7"),
    ] {
        world
            .send(json!({"id": id, "provider": "openai", "model": "m", "cost": cost, "timestamp": at}))
            .unwrap();
    }
    for zone in ["Asia/Kolkata", "Asia/Kathmandu"] {
        for group in ["month", "day"] {
            let pairs: Vec<(String, String)> = [
                ("group", group),
                ("from", "2026-10-01"),
                ("to", "2026-11-30"),
                ("tz", zone),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let q = UsageReportQuery::parse(&pairs, utc(2026, 11, 20, 12, 0)).unwrap();
            let (_, rows) = block_on(read_report(&world.store, &q)).unwrap();
            let got: Vec<(String, String)> = group_rows(&rows, q.period, &q.dims, q.range.tz)
                .iter()
                .map(|r| {
                    (
                        r.period.clone().unwrap_or_default(),
                        r.sums.cost.iter().map(|m| m.amount_string()).collect(),
                    )
                })
                .collect();
            let (october, november) = if group == "month" {
                ("2026-10", "2026-11")
            } else {
                ("2026-10-31", "2026-11-01")
            };
            assert_eq!(
                got,
                vec![
                    (october.to_string(), "90.00".to_string()),
                    (november.to_string(), "7.00".to_string())
                ],
                "{zone} by {group}"
            );
        }
    }
}
