use chrono::TimeZone;
use pollster::block_on;
use serde_json::json;

use super::*;
use crate::access::projects::create_project;
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::testing::{MemoryLog, MemoryStore};
use crate::usage::ingest::{ingest, IngestConfig};

#[test]
fn a_budget_in_another_zone_counts_this_local_month_and_today_exactly() {
    // 20 November 2026, 03:00 UTC: still the 19th in New York.
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap();
    let store = MemoryStore::new();
    let request = serde_json::from_value(json!({"id": "ads", "name": "Ads"})).unwrap();
    let project = block_on(create_project(
        &store,
        &FixedClock(now),
        &SystemEntropy,
        request,
    ))
    .unwrap();
    // One dollar at each instant; the New York month began at 04:00 UTC on 1 November.
    let at = [
        "2026-11-01T03:30:00Z", // 31 October in New York: not this month
        "2026-11-01T04:30:00Z", // 1 November
        "2026-11-10T12:00:00Z",
        "2026-11-19T05:30:00Z", // the 19th: today
        "2026-11-20T01:00:00Z", // still the 19th in New York
        "2026-11-20T02:59:00Z", // and again
    ];
    let events: Vec<_> = at
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": format!("e{i}"), "provider": "openai", "model": "m", "cost": "1", "timestamp": t}))
        .collect();
    block_on(ingest(
        &store,
        &store,
        &MemoryLog::default(),
        &FixedClock(now),
        &SystemEntropy,
        &crate::access::auth::Principal::Admin,
        json!({"project_id": project.id.as_str(), "events": events})
            .to_string()
            .as_bytes(),
        IngestConfig::default(),
    ))
    .unwrap();
    let ny: crate::kernel::tz::Tz = "America/New_York".parse().unwrap();
    let settings = BudgetSettings {
        project_id: project.id.clone(),
        project_name: "Ads".into(),
        project_client: None,
        amount: Some(Money::new(100 * NANOS, Currency::USD)),
        currency: Currency::USD,
        alert_threshold_percent: 80,
        levels: Vec::new(),
        daily_limit: None,
        timezone: Some("America/New_York".into()),
        emails: Vec::new(),
        webhook_url: None,
        webhook_secret: None,
        chat: Default::default(),
        last_alert_sent: None,
        report_schedule: None,
        spike: None,
        budget_mode: Default::default(),
        daily_limit_mode: Default::default(),
    };

    let rows = block_on(store.rollups(&month_query(ny, now, None))).unwrap();
    let check = measure(&rows, &settings, now);

    assert!(
        rows.iter().all(|r| r.period.is_some()),
        "read through a plan"
    );
    assert_eq!(check.spend, Money::new(5 * NANOS, Currency::USD));
    assert_eq!(check.today_spend, Money::new(3 * NANOS, Currency::USD));
}

/// A rollup row of project `ads`, openai / gpt-4o, on a local day.
fn day_row(day: &str, cost: &str) -> crate::reports::report::RollupRow {
    let mut measures = [0i64; crate::reports::report::MEASURES.len()];
    measures[0] = 1;
    crate::reports::report::RollupRow {
        bucket: None,
        period: Some(day.into()),
        project_id: Some("ads".into()),
        provider: Some("openai".into()),
        model: Some("gpt-4o".into()),
        operation: Some("chat".into()),
        currency: "USD".into(),
        cost_nanos: Money::parse(cost, Currency::USD).unwrap().nanos,
        measures,
    }
}

#[test]
fn alert_email_rounds_money_as_the_dashboard_does_and_the_check_keeps_the_exact_figures() {
    // 11 November 2026: 10 days of the month gone, 20 left; 30 USD budget.
    let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
    let usd = |text: &str| Money::parse(text, Currency::USD).unwrap();
    let settings = BudgetSettings {
        project_id: ProjectId::parse("ads").unwrap(),
        project_name: "Ads".into(),
        project_client: None,
        amount: Some(usd("30")),
        currency: Currency::USD,
        alert_threshold_percent: 80,
        levels: Vec::new(),
        daily_limit: Some(usd("1234.565")),
        timezone: None,
        emails: vec!["ops@example.com".into()],
        webhook_url: None,
        webhook_secret: None,
        chat: Default::default(),
        last_alert_sent: None,
        report_schedule: None,
        spike: None,
        budget_mode: Default::default(),
        daily_limit_mode: Default::default(),
    };
    // 16.32692592 USD spent: 13.67307408 USD left for 20 days, 0.683653704 USD a day.
    let rows = [
        day_row("2026-11-10", "16.32647"),
        day_row("2026-11-11", "0.00045592"),
    ];
    let mut check = measure(&rows, &settings, now);
    check.recommendations = recommendations(&check, &settings, now);
    check.baseline_daily = Some(usd("0.0123456"));

    let alert = render_alert(&check, "budget-50", &AlertConfig::default());

    assert_eq!(
        check.spend,
        usd("16.32692592"),
        "the check keeps the exact spend"
    );
    assert_eq!(
        alert.subject,
        "[AI spend] Ads at 54.42% of budget: 16.33 USD of 30.00 USD"
    );
    assert!(
        alert.text.contains(
            "Spent this month: 16.33 USD of 30.00 USD (54.42%).\n\
             Forecast for the month: 48.98 USD (163.27% of the budget).\n\
             Spent today: 0.000456 USD (daily limit 1,234.57 USD).\n\
             Average day of the 7 before today: 0.0123 USD"
        ),
        "{}",
        alert.text
    );
    assert!(
        alert.text.contains(
            "To stay within 30.00 USD, keep spend under 0.684 USD a day for the 20 days left."
        ),
        "{}",
        alert.text
    );
    assert!(alert.text.contains("  - openai: 16.33 USD (100.00%)\n"));
    assert!(alert
        .text
        .contains("  - openai / gpt-4o: 16.33 USD (100.00%)\n"));
    for html in [
        "<strong>16.33 USD</strong> of 30.00 USD",
        "<strong>48.98 USD</strong>",
        "Spent today: 0.000456 USD (daily limit 1,234.57 USD).",
        "keep spend under 0.684 USD a day",
        ">16.33 USD</td>",
    ] {
        assert!(alert.html.contains(html), "{html} in {}", alert.html);
    }
    for exact in ["0.683653704", "16.32692592", "0.00045592", "1234.565"] {
        assert!(!alert.text.contains(exact), "{exact} in {}", alert.text);
        assert!(!alert.html.contains(exact), "{exact} in the HTML");
    }

    let spike = render_alert(&check, "spike", &AlertConfig::default());
    assert!(
        spike
            .subject
            .starts_with("[AI spend] Ads: 0.000456 USD today, "),
        "{}",
        spike.subject
    );
    assert!(spike.subject.ends_with("its average day of 0.0123 USD"));
    let daily = render_alert(&check, "daily", &AlertConfig::default());
    assert_eq!(
        daily.subject,
        "[AI spend] Ads: 0.000456 USD today, over the daily limit of 1,234.57 USD"
    );
}

#[test]
fn an_alert_names_the_months_spend_in_other_currencies_in_every_channel_and_only_when_there_is_some(
) {
    let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
    let settings = BudgetSettings {
        amount: Some(Money::parse("30", Currency::USD).unwrap()),
        project_id: ProjectId::parse("ads").unwrap(),
        ..crate::budgets::tests::settings()
    };
    let mut check = measure(&[day_row("2026-11-10", "25")], &settings, now);
    let line = "Also spent this month in other currencies, not counted against the budget:";
    let config = AlertConfig::default();
    let without = render_alert(&check, "budget-80", &config);
    assert!(!without.text.contains(line), "{}", without.text);
    let webhook: serde_json::Value =
        serde_json::from_str(&webhook_body(&check, "budget-80", &without, &config)).unwrap();
    assert_eq!(webhook["spend_other_currencies"], json!([]));

    let eur = Currency::parse("EUR").unwrap();
    check
        .spend_other_currencies
        .add(Money::parse("12.3", eur).unwrap());
    check
        .spend_other_currencies
        .add(Money::parse("4", Currency::parse("GBP").unwrap()).unwrap());
    let alert = render_alert(&check, "budget-80", &config);
    assert!(
        alert
            .text
            .contains(&format!("{line} 12.30 EUR, 4.00 GBP.\n"))
            || alert
                .text
                .contains(&format!("{line} 4.00 GBP, 12.30 EUR.\n")),
        "{}",
        alert.text
    );
    assert!(alert.html.contains(line), "{}", alert.html);
    let webhook: serde_json::Value =
        serde_json::from_str(&webhook_body(&check, "budget-80", &alert, &config)).unwrap();
    let mut listed: Vec<(String, String)> = webhook["spend_other_currencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["amount"].as_str().unwrap().to_string(),
                m["currency"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        vec![
            ("12.30".to_string(), "EUR".to_string()),
            ("4.00".to_string(), "GBP".to_string())
        ]
    );
    let chat = budget_chat_message(&check, "budget-80", &alert, &config);
    assert!(
        chat.fields
            .iter()
            .any(|(name, value)| name == "Other currencies" && value.contains("12.30 EUR")),
        "{:?}",
        chat.fields
    );
}

const NANOS: i128 = crate::kernel::money::NANOS_PER_UNIT;

#[test]
fn a_name_holding_an_at_sign_or_a_percent_is_written_apart_in_a_level_and_others_are_kept() {
    assert_eq!(level_part("clip"), "clip");
    assert!(matches!(
        level_part("voice clip"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(level_part("clip@ads"), "clip%40ads");
    // The literal text of an escape is escaped too, so it cannot stand for an `@`.
    assert_eq!(level_part("clip%40ads"), "clip%2540ads");
    assert_ne!(level_part("clip@ads"), level_part("clip%40ads"));
    // A global profile `clip@ads` and project ads's profile `clip` get different levels.
    assert_ne!(
        format!("capacity-{}", level_part("clip@ads")),
        "capacity-clip@ads"
    );
}

#[test]
fn an_alert_and_a_spend_report_list_a_models_snapshots_under_it_as_the_reports_do() {
    let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
    let settings = BudgetSettings {
        project_id: ProjectId::parse("ads").unwrap(),
        amount: Some(Money::new(NANOS, Currency::USD)),
        ..crate::budgets::tests::settings()
    };
    let mut snapshot = day_row("2026-11-10", "0.75");
    snapshot.model = Some("gpt-4o-2024-08-06".into());
    let rows = [snapshot, day_row("2026-11-10", "0.33")];
    let check = measure(&rows, &settings, now);
    let models: Vec<(Option<&str>, String, &str)> = check
        .top_models
        .iter()
        .map(|b| (b.model.as_deref(), b.cost.amount_string(), b.share.as_str()))
        .collect();
    assert_eq!(models, vec![(Some("gpt-4o"), "1.08".to_string(), "100.00")]);

    let period = crate::budgets::digest::ReportPeriod::last_closed(
        crate::budgets::settings::ReportSchedule::Monthly,
        crate::kernel::tz::Tz::UTC,
        now,
    );
    let report = crate::budgets::digest::digest(&settings, &period, &rows, &[]);
    let lines: Vec<(&str, i64)> = report
        .models
        .iter()
        .map(|l| (l.name.as_str(), l.events))
        .collect();
    assert_eq!(lines, vec![("openai / gpt-4o", 2)]);
}
