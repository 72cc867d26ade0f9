//! Plans as of a past instant (the month picker): the plans as they were then, and the usage
//! recorded until then only.

use super::*;
use crate::plans::subscriptions_report_at;

#[test]
fn the_month_picker_shows_the_plans_as_they_were_at_the_instant_asked_for() {
    let world = World::new();
    let day = |m, d| Utc.with_ymd_and_hms(2026, m, d, 12, 0, 0).unwrap();
    let heygen = |fee: &str| json!({"provider": "heygen", "monthly_fee": fee, "allotment": {"amount": "10", "unit": "credits"}});
    put_plan_at(&world, heygen("29"), day(9, 1));
    put_plan_at(&world, heygen("49"), day(10, 15));
    // A new subscription, from November 1st (a first version without `since` counts as
    // in force since always: the subscription is usually older than its entry here).
    put_plan_at(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "22", "allotment": {"amount": "100000", "unit": "characters"}, "since": "2026-11-01"}),
        day(11, 1),
    );
    assert!(block_on(world.store.delete_plan("heygen", "", None, day(11, 10))).unwrap());
    let plans_at = |at| {
        let report = block_on(subscriptions_report_at(&world.store, &world.store, at)).unwrap();
        let fees: Vec<(String, String)> = report["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let provider = s["provider"].as_str().unwrap().to_string();
                (
                    provider,
                    s["monthly_fee"]["amount"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (fees, report["fees"][0]["amount"].clone())
    };
    let plan = |provider: &str, fee: &str| (provider.to_string(), fee.to_string());
    assert_eq!(
        plans_at(day(8, 20)),
        (vec![plan("heygen", "29.00")], json!("29.00")),
        "the first version, since always"
    );
    assert_eq!(
        plans_at(day(9, 20)),
        (vec![plan("heygen", "29.00")], json!("29.00"))
    );
    assert_eq!(
        plans_at(day(10, 20)),
        (vec![plan("heygen", "49.00")], json!("49.00"))
    );
    assert_eq!(
        plans_at(day(11, 5)),
        (
            vec![plan("elevenlabs", "22.00"), plan("heygen", "49.00")],
            json!("71.00")
        )
    );
    assert_eq!(
        plans_at(day(11, 20)),
        (vec![plan("elevenlabs", "22.00")], json!("22.00"))
    );
    // Now: the plans in force, whatever their history.
    let now = block_on(subscriptions_report(
        &world.store,
        &world.store,
        day(11, 20),
    ))
    .unwrap();
    assert_eq!(now["subscriptions"].as_array().unwrap().len(), 1);
    assert_eq!(now["subscriptions"][0]["provider"], "elevenlabs");
}

#[test]
fn plans_as_of_a_past_instant_count_only_the_usage_recorded_until_then() {
    // The auditor's case: a one-time credit whose only event came after the instant asked
    // for, beside a monthly plan with usage-based billing and one with a reading.
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"},
               "overage": {"price": "1", "per": "1"}}),
    );
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "22", "allotment": {"amount": "100000", "unit": "characters"},
               "reading": {"used": "500", "at": "2026-11-12T10:30:00Z"}}),
    );
    put_plan(
        &world,
        json!({"provider": "google-cloud", "allotment": {"amount": "300", "unit": "money"},
               "term": {"starts": "2026-10-01", "expires": "2027-01-03"}}),
    );
    let now = Utc.with_ymd_and_hms(2026, 12, 20, 0, 0, 0).unwrap();
    let cloud = |id: &str, cost: &str, at: &str| json!({"id": id, "provider": "google-cloud", "model": "chirp", "characters": 1, "cost": cost, "timestamp": at});
    record(
        &world,
        now,
        json!([
            {"id": "h-before", "provider": "heygen", "credits": "2", "timestamp": "2026-11-10T09:00:00Z"},
            {"id": "h-after", "provider": "heygen", "credits": "12", "timestamp": "2026-11-20T09:00:00Z"},
            {"id": "e-before", "provider": "elevenlabs", "characters": 100, "timestamp": "2026-11-12T10:45:00Z"},
            {"id": "e-after", "provider": "elevenlabs", "characters": 1000, "timestamp": "2026-11-16T08:00:00Z"},
            cloud("g-nov", "1", "2026-11-10T12:00:00Z"),
            cloud("g-dec", "0.5", "2026-12-07T17:50:00Z"),
            cloud("g-late", "0.012", "2026-12-07T18:02:00Z")
        ]),
    );
    let at = |text: &str| {
        let at = crate::kernel::clock::parse_timestamp(text).unwrap();
        block_on(subscriptions_report_at(&world.store, &world.store, at)).unwrap()
    };
    let used = |report: &Value| {
        ["heygen", "elevenlabs", "google-cloud"].map(|p| subscription(report, p)["used"].clone())
    };

    // November 15th: the usage of November 16th and later is not counted yet, neither in a
    // plan's use (the reading's included) nor in its overage or the month's cost.
    let mid_november = at("2026-11-15T00:00:00Z");
    assert_eq!(used(&mid_november), ["2", "600", "1.00"].map(Value::from));
    let credit = subscription(&mid_november, "google-cloud");
    assert_eq!(
        (&credit["remaining"], &credit["period"]["days_left"]),
        (&json!("299.00"), &json!(49))
    );
    assert_eq!(
        subscription(&mid_november, "heygen")["overage"]["units"],
        "0"
    );
    assert_eq!(mid_november["overage"], json!([]));
    assert_eq!(mid_november["usage_spend"][0]["amount"], "1.00");
    assert_eq!(mid_november["credits_applied"][0]["amount"], "1.00");
    assert_eq!(mid_november["monthly_cost"][0]["amount"], "51.00");
    // The end of November takes in the whole month.
    let november = at("2026-11-30T23:59:59.999Z");
    assert_eq!(used(&november), ["14", "1600", "1.00"].map(Value::from));
    assert_eq!(november["overage"][0]["amount"], "4.00");

    // The rollups are kept by quarter hour: the one still under way at the instant is left
    // out, so 18:02's event counts neither at 18:00 nor at 18:07, and does by the day's end.
    for instant in ["2026-12-07T18:00:00Z", "2026-12-07T18:07:00Z"] {
        let report = at(instant);
        assert_eq!(
            subscription(&report, "google-cloud")["used"],
            "1.50",
            "{instant}"
        );
        assert_eq!(report["credits_applied"][0]["amount"], "0.50", "{instant}");
    }
    let end_of_day = at("2026-12-07T23:59:59.999Z");
    assert_eq!(subscription(&end_of_day, "google-cloud")["used"], "1.512");
    assert_eq!(end_of_day["credits_applied"][0]["amount"], "0.512");
    // Now, everything recorded in each period counts.
    let live = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    assert_eq!(used(&live), ["0", "0", "1.512"].map(Value::from));
}
