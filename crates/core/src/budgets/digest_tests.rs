//! The spend reports: periods, sums, rendering and sending.

use chrono::TimeZone;

use super::*;
use crate::access::projects::ProjectId;
use crate::kernel::money::Currency;
use crate::reports::report::MEASURES;

fn settings(name: &str, tz: Option<&str>) -> BudgetSettings {
    BudgetSettings {
        project_id: ProjectId::parse("ads").unwrap(),
        project_name: name.into(),
        project_client: None,
        amount: Some(Money::parse("100", Currency::USD).unwrap()),
        currency: Currency::USD,
        alert_threshold_percent: 80,
        levels: Vec::new(),
        daily_limit: None,
        timezone: tz.map(str::to_string),
        emails: vec!["ops@example.com".into()],
        webhook_url: None,
        webhook_secret: None,
        chat: Default::default(),
        last_alert_sent: None,
        report_schedule: Some(ReportSchedule::Weekly),
        spike: None,
        budget_mode: Default::default(),
        daily_limit_mode: Default::default(),
    }
}

fn row(project: &str, provider: &str, model: &str, cost: &str, events: i64) -> RollupRow {
    let mut measures = [0i64; MEASURES.len()];
    measures[0] = events;
    RollupRow {
        bucket: None,
        period: None,
        project_id: Some(project.into()),
        provider: Some(provider.into()),
        model: Some(model.into()),
        operation: Some("script".into()),
        currency: "USD".into(),
        cost_nanos: Money::parse(cost, Currency::USD).unwrap().nanos,
        measures,
    }
}

#[test]
fn a_week_is_monday_to_monday_in_the_budgets_zone_and_is_due_for_two_days_after_it_closes() {
    let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    let week = ReportPeriod::last_closed(ReportSchedule::Weekly, Tz::UTC, at(25, 9));
    assert_eq!(
        (week.first_day.to_string(), week.end_day.to_string()),
        ("2026-11-16".into(), "2026-11-23".into())
    );
    assert_eq!(week.label(), "the week of 2026-11-16 to 2026-11-22");
    assert_eq!(week.level(), "report-weekly-2026-11-16");
    assert_eq!(week.previous_from, at(9, 0));
    assert!(week.due(at(23, 0)) && week.due(at(24, 23)));
    assert!(
        !week.due(at(25, 0)),
        "two days after, the cron leaves it alone"
    );
    // Monday 01:00 in UTC is still Sunday in New York: the last closed week there is
    // the one before, and the week that ends at New York's midnight is 05:00 UTC.
    let ny: Tz = "America/New_York".parse().unwrap();
    let early = ReportPeriod::last_closed(ReportSchedule::Weekly, ny, at(23, 1));
    assert_eq!(early.first_day.to_string(), "2026-11-09");
    let later = ReportPeriod::last_closed(ReportSchedule::Weekly, ny, at(23, 6));
    assert_eq!((later.from, later.to), (at(16, 5), at(23, 5)));
}

#[test]
fn a_month_is_the_calendar_month_in_the_zone_across_a_daylight_saving_change() {
    let ny: Tz = "America/New_York".parse().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap();
    let month = ReportPeriod::last_closed(ReportSchedule::Monthly, ny, now);
    assert_eq!(month.label(), "November 2026");
    // November starts in daylight time (UTC-4) and ends in standard time (UTC-5).
    assert_eq!(
        (month.from, month.to, month.previous_from),
        (
            Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 10, 1, 4, 0, 0).unwrap()
        )
    );
    let before_midnight = Utc.with_ymd_and_hms(2026, 12, 1, 4, 0, 0).unwrap();
    assert_eq!(
        ReportPeriod::last_closed(ReportSchedule::Monthly, ny, before_midnight).label(),
        "October 2026"
    );
}

#[test]
fn the_report_sums_its_project_compares_with_the_period_before_and_escapes_names_in_html() {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let period = ReportPeriod::last_closed(ReportSchedule::Weekly, Tz::UTC, now);
    let rows = vec![
        row("ads", "openai", "gpt-4o", "7.50", 30),
        row("ads", "heygen", "<avatar>", "4.50", 3),
        row("ads", "openai", "gpt-4o-mini", "0.00", 12),
        row("other", "openai", "gpt-4o", "99", 1),
    ];
    let previous = vec![
        row("ads", "openai", "", "10", 20),
        row("other", "openai", "", "5", 1),
    ];
    let s = settings("Ads & <Promos>", None);
    let d = digest(&s, &period, &rows, &previous);
    assert_eq!(d.cost.get(Currency::USD).amount_string(), "12.00");
    assert_eq!((d.events, d.previous_events), (45, 20));
    assert_eq!(d.change_percent.as_deref(), Some("20.0"));
    let providers: Vec<(&str, String, i64)> = d
        .providers
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.cost.get(Currency::USD).amount_string(),
                l.events,
            )
        })
        .collect();
    assert_eq!(
        providers,
        vec![("openai", "7.50".into(), 42), ("heygen", "4.50".into(), 3)]
    );
    assert_eq!(d.models[0].name, "openai / gpt-4o");
    let email = render_digest(&d, &AlertConfig::default());
    assert_eq!(
        email.subject,
        "[AI spend] Ads & <Promos>: 12.00 USD in the week of 2026-11-16 to 2026-11-22 (+20.0% on the week before)"
    );
    assert!(email.text.contains("Total: 12.00 USD\nThe week before: 10.00 USD\nEvents: 45 (0 unpriced)\nMonthly budget: 100.00 USD\n"), "{}", email.text);
    assert!(email
        .text
        .contains("  heygen / <avatar>: 4.50 USD (3 events)\n"));
    assert!(email
        .html
        .contains("Spend report: Ads &amp; &lt;Promos&gt;"));
    assert!(email.html.contains("heygen / &lt;avatar&gt;"));
    assert!(!email.html.contains("<avatar>") && !email.html.contains("<Promos>"));
    // Calls the app named no operation for are shown as `(none)`, not as an empty name.
    let mut unnamed = row("ads", "openai", "gpt-4o", "1", 1);
    unnamed.operation = Some(String::new());
    let with_unnamed = digest(&s, &period, &[unnamed], &[]);
    assert_eq!(with_unnamed.operations[0].name, "(none)");
    // A first week with nothing before it has no change to show.
    let first = digest(&s, &period, &rows, &[]);
    assert_eq!(first.change_percent, None);
    assert!(!render_digest(&first, &AlertConfig::default())
        .subject
        .contains('%'));
}

#[test]
fn the_report_email_rounds_money_as_the_dashboard_does_and_the_digest_keeps_it_exact() {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let period = ReportPeriod::last_closed(ReportSchedule::Weekly, Tz::UTC, now);
    let rows = vec![
        row("ads", "openai", "gpt-4o", "1234.565", 30),
        row("ads", "heygen", "avatar", "0.000123456", 3),
    ];
    let previous = vec![row("ads", "openai", "", "0.683653704", 20)];
    let mut s = settings("Ads", None);
    s.amount = Some(Money::parse("2500.005", Currency::USD).unwrap());
    let d = digest(&s, &period, &rows, &previous);

    let email = render_digest(&d, &AlertConfig::default());

    assert_eq!(
        d.cost.get(Currency::USD).amount_string(),
        "1234.565123456",
        "the digest keeps the exact sum"
    );
    assert!(
        email
            .subject
            .starts_with("[AI spend] Ads: 1,234.57 USD in the week of "),
        "{}",
        email.subject
    );
    assert!(
        email.text.contains(
            "Total: 1,234.57 USD\nThe week before: 0.684 USD\nEvents: 33 (0 unpriced)\n\
             Monthly budget: 2,500.01 USD\n"
        ),
        "{}",
        email.text
    );
    assert!(email.text.contains("  heygen: 0.000123 USD (3 events)\n"));
    assert!(email
        .text
        .contains("  openai / gpt-4o: 1,234.57 USD (30 events)\n"));
    for html in [
        "<strong>1,234.57 USD</strong>",
        "The week before: 0.684 USD",
        "Monthly budget: 2,500.01 USD",
        ">0.000123 USD</td>",
    ] {
        assert!(email.html.contains(html), "{html} in {}", email.html);
    }
}
