//! An ElevenLabs credits plan over events that report credits and events that do not.

use super::*;

#[test]
fn a_models_events_without_credits_count_their_characters_beside_those_that_report_credits() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "99", "allotment": {"amount": "100000", "unit": "credits"}}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let t = "2026-11-20T10:00:00Z";
    record(
        &world,
        now,
        json!([
            // Seed 000's logger: characters and the credits it estimated.
            {"provider": "elevenlabs", "model": "eleven_multilingual_v2", "characters": 500, "credits": "150", "timestamp": t},
            // The client helpers: characters only, at the model's rate (1, and 0.5 on flash).
            {"provider": "elevenlabs", "model": "eleven_multilingual_v2", "characters": 1000, "timestamp": t},
            {"provider": "elevenlabs", "model": "eleven_flash_v2_5", "characters": 1000, "credits": "0", "timestamp": t},
        ]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    // 150 reported + 1,000 at 1 + 1,000 at 0.5.
    assert_eq!(subscription(&report, "elevenlabs")["used"], "1650");
}

#[test]
fn a_money_plan_whose_providers_events_all_cost_another_currency_says_it_counts_none_of_them() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "anthropic", "monthly_fee": "0", "currency": "EUR", "allotment": {"amount": "1", "unit": "money"}}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    record(
        &world,
        now,
        json!([{"provider": "anthropic", "model": "claude-sonnet-4-5", "cost": "4.50", "currency": "USD", "timestamp": "2026-11-20T10:00:00Z"}]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let plan = subscription(&report, "anthropic");
    assert_eq!(plan["used"], "0.00");
    assert_eq!(
        plan["warning"],
        "the plan counts spend in EUR, but the 1 anthropic events recorded this period cost other currencies (amounts are never converted)"
    );
    // One event in the plan's currency: it counts, and there is nothing to warn of.
    record(
        &world,
        now,
        json!([{"provider": "anthropic", "model": "claude-sonnet-4-5", "cost": "0.20", "currency": "EUR", "timestamp": "2026-11-20T10:00:00Z"}]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let plan = subscription(&report, "anthropic");
    assert_eq!(
        (plan["used"].as_str(), plan["warning"].is_null()),
        (Some("0.20"), true)
    );
}

#[test]
fn a_one_time_credit_whose_term_starts_later_is_shown_but_limits_nothing_yet() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "google-cloud", "allotment": {"amount": "300", "unit": "money"},
               "term": {"starts": "2027-01-01", "expires": "2027-03-01"}, "mode": "block"}),
    );
    let clip = serde_json::from_value::<ProfileInput>(json!({"name": "clip", "items": [
        {"provider": "google-cloud", "amount": "0.012", "unit": "money"}]}))
    .unwrap()
    .validate(&known_providers(&block_on(world.store.plans()).unwrap()))
    .unwrap();
    block_on(world.store.save_profile(&clip)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let credit = subscription(&report, "google-cloud");
    assert_eq!(
        (credit["not_started"].as_bool(), credit["expired"].as_bool()),
        (Some(true), Some(false))
    );
    let profile = &block_on(capacity(&world.store, &world.store, now)).unwrap()[0];
    assert_eq!(profile.units_left, None, "{profile:?}");
    // From its first day it counts.
    let started = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let report = block_on(subscriptions_report(&world.store, &world.store, started)).unwrap();
    assert_eq!(subscription(&report, "google-cloud")["not_started"], false);
    let profile = &block_on(capacity(&world.store, &world.store, started)).unwrap()[0];
    assert_eq!(profile.units_left, Some(25_000));
}
