//! Report views: grouping, CSV, budget status, summaries.

use crate::kernel::tz::Tz;
use chrono::{TimeZone, Utc};

use crate::access::projects::{Project, ProjectId};
use crate::kernel::money::{Currency, Money};
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
    let q =
        UsageReportQuery::parse(&pairs(&[("group", "provider"), ("format", "csv")]), now).unwrap();
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
            Currency::USD,
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
