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

/// The plan as it was first made, one lookup per quarter hour: each quarter hour of a whole
/// UTC day labelled on its own, the day given to the label holding most of them (the earliest
/// of equals), and the stretches labelled otherwise moved.
fn plan_by_every_quarter_hour(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    period: Period,
    zone: Tz,
) -> PeriodPlan {
    let label = |q: DateTime<Utc>| {
        let day = q.with_timezone(&zone).date_naive();
        match period {
            Period::Day => day.format("%Y-%m-%d").to_string(),
            Period::Week => (day
                - Duration::days(i64::from(
                    chrono::Datelike::weekday(&day).num_days_from_monday(),
                )))
            .format("%Y-%m-%d")
            .to_string(),
            Period::Month => day.format("%Y-%m").to_string(),
        }
    };
    let stretches = |quarters: &[(DateTime<Utc>, String)]| {
        let mut out: Vec<(DateTime<Utc>, DateTime<Utc>, String)> = Vec::new();
        for (start, l) in quarters {
            match out.last_mut() {
                Some((_, end, last)) if end == start && last == l => {
                    *end = *start + Duration::minutes(15)
                }
                _ => out.push((*start, *start + Duration::minutes(15), l.clone())),
            }
        }
        out.into_iter()
            .map(|(from, to, period)| Move {
                from: quarter_bucket(from),
                to: quarter_bucket(to),
                period,
                sign: 1,
            })
            .collect::<Vec<_>>()
    };
    // Whole quarter hours: `from` rounds down, `to` up.
    let floor = |t: DateTime<Utc>| {
        let quarter = 15 * 60 * 1_000_000_000_i64;
        let nanos = t.timestamp_nanos_opt().unwrap();
        DateTime::from_timestamp_nanos(nanos - nanos.rem_euclid(quarter))
    };
    let start = floor(from);
    let end = if floor(to) == to {
        to
    } else {
        floor(to) + Duration::minutes(15)
    };
    let mut plan = PeriodPlan::default();
    let mut day = start.date_naive();
    loop {
        let midnight = day.and_time(chrono::NaiveTime::MIN).and_utc();
        if midnight >= end {
            break;
        }
        let quarters: Vec<(DateTime<Utc>, String)> = (0..96)
            .map(|q| midnight + Duration::minutes(15 * q))
            .filter(|q| *q >= start && *q < end)
            .map(|q| (q, label(q)))
            .collect();
        if quarters.len() == 96 {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for (_, l) in &quarters {
                match counts.iter_mut().find(|(c, _)| c == l) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((l.clone(), 1)),
                }
            }
            let best = counts.iter().map(|(_, n)| *n).max().unwrap();
            let anchor = counts.into_iter().find(|(_, n)| *n == best).unwrap().0;
            let elsewhere: Vec<_> = quarters.into_iter().filter(|(_, l)| *l != anchor).collect();
            for stretch in stretches(&elsewhere) {
                plan.moves.push(Move {
                    period: anchor.clone(),
                    sign: -1,
                    ..stretch.clone()
                });
                plan.moves.push(stretch);
            }
            plan.days.push((day.format("%Y-%m-%d").to_string(), anchor));
        } else {
            plan.moves.extend(stretches(&quarters));
        }
        day = day.succ_opt().unwrap();
    }
    plan
}

#[test]
fn a_plan_that_labels_each_day_by_halving_equals_the_plan_that_labels_every_quarter_hour() {
    // Zones with summer time, half- and quarter-hour offsets, half-hour summer time, a skipped
    // day (Apia, 30 December 2011), an offset in seconds (Berlin's local mean time until
    // April 1893), a change of standard offset (Kathmandu, 1986) and a zone a day from UTC.
    let cases = [
        (
            "Europe/Berlin",
            utc(1892, 12, 20, 7, 15),
            utc(1894, 1, 3, 0, 0),
        ),
        (
            "Europe/Berlin",
            utc(2025, 12, 1, 0, 0),
            utc(2026, 12, 6, 23, 0),
        ),
        (
            "America/New_York",
            utc(2025, 10, 28, 10, 30),
            utc(2026, 11, 5, 17, 45),
        ),
        ("Pacific/Apia", utc(2011, 6, 1, 0, 0), utc(2012, 6, 1, 0, 0)),
        (
            "Australia/Lord_Howe",
            utc(2025, 9, 1, 0, 0),
            utc(2026, 5, 1, 0, 0),
        ),
        (
            "Asia/Kathmandu",
            utc(1985, 9, 1, 0, 0),
            utc(1986, 3, 1, 0, 0),
        ),
        (
            "America/St_Johns",
            utc(2025, 10, 1, 2, 30),
            utc(2026, 4, 16, 3, 30),
        ),
        (
            "Antarctica/Troll",
            utc(2025, 3, 1, 0, 0),
            utc(2025, 11, 1, 0, 0),
        ),
        ("Etc/GMT+12", utc(2025, 12, 20, 0, 0), utc(2026, 3, 2, 0, 0)),
        (
            "Pacific/Kiritimati",
            utc(1994, 10, 1, 0, 0),
            utc(1995, 3, 1, 0, 0),
        ),
        ("UTC", utc(2026, 10, 3, 9, 0), utc(2026, 12, 29, 18, 20)),
    ];
    for (name, from, to) in cases {
        let zone = tz(name);
        for period in [Period::Day, Period::Week, Period::Month] {
            let got = PeriodPlan::build(from, to, period, zone).unwrap();
            let want = plan_by_every_quarter_hour(from, to, period, zone);
            assert_eq!(got, want, "{name} {period:?}");
        }
    }
}

#[test]
fn a_plan_over_more_than_ten_years_of_days_is_not_made() {
    let berlin = tz("Europe/Berlin");
    let century = PeriodPlan::build(
        utc(1899, 12, 31, 23, 0),
        utc(2026, 12, 6, 23, 0),
        Period::Month,
        berlin,
    );
    let decade = PeriodPlan::build(
        utc(2016, 12, 31, 23, 0),
        utc(2026, 12, 6, 23, 0),
        Period::Month,
        berlin,
    );

    assert_eq!(century, None);
    assert_eq!(decade.map(|p| p.days.len()), Some(3626));
}

/// A report of `pairs` read from `world` at 20 November 2026: the query read and its rows.
fn read_at_november(world: &World, pairs: &[(&str, &str)]) -> (RollupQuery, Vec<ReportRow>) {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let q = UsageReportQuery::parse(&pairs, utc(2026, 11, 20, 12, 0)).unwrap();
    let (rollup_query, rows) = block_on(read_report(&world.store, &q)).unwrap();
    let rows = group_rows(&rows, q.period, &q.dims, q.range.tz);
    (rollup_query, rows)
}

#[test]
fn a_report_by_local_month_over_centuries_plans_only_the_days_that_hold_data() {
    let world = world_with_two_months();
    let month = |from: &str| {
        read_at_november(
            &world,
            &[
                ("group", "month,provider"),
                ("from", from),
                ("to", "2026-12-06"),
                ("tz", "Europe/Berlin"),
            ],
        )
    };

    let (centuries, rows) = month("1900-01-01");
    let (_, recent) = month("2026-09-01");

    // The events fall on the UTC days from 20 September to 19 November 2026.
    let plan = centuries.periods.clone().expect("a plan");
    assert_eq!(plan.days.first().map(|d| d.0.as_str()), Some("2026-09-20"));
    assert_eq!(plan.days.last().map(|d| d.0.as_str()), Some("2026-11-19"));
    assert_eq!(plan.days.len(), 61);
    assert_eq!(centuries.source(), "usage_daily+usage_quarter_hours");
    assert_eq!(rows, recent);
    let events: i64 = rows.iter().map(|r| r.sums.measure("events")).sum();
    assert_eq!(events, 280);
}

#[test]
fn a_report_by_local_day_over_decades_without_usage_plans_nothing_and_reads_nothing() {
    let world = World::new();

    let (query, rows) = read_at_november(
        &world,
        &[
            ("group", "day"),
            ("from", "1990-01-01"),
            ("to", "2026-12-06"),
            ("tz", "Europe/Berlin"),
        ],
    );

    assert_eq!(query.periods, Some(PeriodPlan::default()));
    assert_eq!(rows, Vec::new());
}

#[test]
fn a_report_to_the_last_day_of_9999_ends_at_its_last_instant_and_counts_every_event() {
    let world = world_with_two_months();
    // The local day ends in year 10000 at UTC and west of it, so the range stops at the last
    // instant of 9999; east of UTC it ends before.
    for (zone, end) in [
        ("UTC", "9999-12-31T23:59:59.999Z"),
        ("America/New_York", "9999-12-31T23:59:59.999Z"),
        ("Asia/Tokyo", "9999-12-31T15:00:00.000Z"),
    ] {
        let pairs: Vec<(String, String)> = [
            ("group", "month"),
            ("from", "2026-01-01"),
            ("to", "9999-12-31"),
            ("tz", zone),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let q = UsageReportQuery::parse(&pairs, utc(2026, 11, 20, 12, 0)).unwrap();
        let (_, rows) = block_on(read_report(&world.store, &q)).unwrap();
        let rows = group_rows(&rows, q.period, &q.dims, q.range.tz);

        assert_eq!(q.range.describe()["to"], json!(end), "{zone}");
        let events: i64 = rows.iter().map(|r| r.sums.measure("events")).sum();
        assert_eq!(events, 280, "{zone}");
    }
}
