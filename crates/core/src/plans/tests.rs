//! Plans, allotments, profiles and capacity.

use chrono::{NaiveDate, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::access::auth::Principal;
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::plans::store::PlanStore;
use crate::plans::{
    capacity, known_providers, period, subscriptions_report, PlanInput, ProfileInput,
};
use crate::usage::fixtures::World;
use crate::usage::ingest::{ingest, IngestConfig};

mod as_of;
mod credits;
mod learned;

/// The plan of `provider` in a subscriptions report.
fn subscription(report: &Value, provider: &str) -> Value {
    report["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"] == provider)
        .unwrap()
        .clone()
}

/// Saves a plan as if long before the times the test reads it at.
fn put_plan(world: &World, body: Value) {
    put_plan_at(
        world,
        body,
        Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
    );
}

fn put_plan_at(world: &World, body: Value, at: chrono::DateTime<Utc>) {
    let plan = serde_json::from_value::<PlanInput>(body)
        .unwrap()
        .validate()
        .unwrap();
    block_on(world.store.save_plan(&plan, at)).unwrap();
}

fn record(world: &World, now: chrono::DateTime<Utc>, events: Value) {
    block_on(ingest(
        &world.store,
        &world.store,
        &world.log,
        &FixedClock(now),
        &SystemEntropy,
        &Principal::Project {
            project_id: world.project.clone(),
            key_id: "k".into(),
        },
        json!({ "events": events }).to_string().as_bytes(),
        IngestConfig::default(),
    ))
    .unwrap();
}

fn seed_plans(world: &World) {
    put_plan(
        world,
        json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "reserve": "2"}),
    );
    put_plan(
        world,
        json!({"provider": "elevenlabs", "monthly_fee": "99", "allotment": {"amount": "10000", "unit": "credits"}, "counts": {"usage": "characters", "per": "1"}}),
    );
    put_plan(
        world,
        json!({"provider": "openai", "monthly_fee": "0", "allotment": {"amount": "20", "unit": "money"}}),
    );
    put_plan(
        world,
        json!({"provider": "loudly", "monthly_fee": "180", "allotment": {"amount": "3000", "unit": "tracks"}, "reset_day": 15}),
    );
    let clip = serde_json::from_value::<ProfileInput>(json!({"name": "clip", "items": [
        {"provider": "heygen", "amount": "0.5", "unit": "credits"},
        {"provider": "elevenlabs", "amount": "150", "unit": "credits"},
        {"provider": "openai", "amount": "0.045", "unit": "money"},
    ]}))
    .unwrap()
    .validate(&known_providers(&block_on(world.store.plans()).unwrap()))
    .unwrap();
    block_on(world.store.save_profile(&clip)).unwrap();
}

#[test]
fn an_empty_month_fits_sixteen_clips_with_heygen_the_bottleneck_twenty_without_the_reserve() {
    let world = World::new();
    seed_plans(&world);
    let now = Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap();
    let profiles = block_on(capacity(&world.store, &world.store, now)).unwrap();
    let clip = &profiles[0];
    assert_eq!(
        (clip.units_left, clip.bottleneck.as_deref()),
        (Some(16), Some("heygen"))
    );
    let units: Vec<(String, Option<i64>)> = clip
        .per_provider
        .iter()
        .map(|p| (p.provider.clone(), p.units_left))
        .collect();
    // 10000 / 150 = 66 clips of voice; $20 / $0.045 = 444 clips of script.
    assert_eq!(
        units,
        vec![
            ("heygen".into(), Some(16)),
            ("elevenlabs".into(), Some(66)),
            ("openai".into(), Some(444))
        ]
    );
    put_plan(
        &world,
        json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}}),
    );
    let without_reserve = block_on(capacity(&world.store, &world.store, now)).unwrap();
    assert_eq!(without_reserve[0].units_left, Some(20));
    // 20 clips over the 21 days to the reset: 0.95 a day.
    assert_eq!(
        without_reserve[0].recommended_daily.as_deref(),
        Some("0.95")
    );
}

#[test]
fn usage_this_period_is_counted_in_each_plans_unit_and_cache_hits_use_no_tracks() {
    let world = World::new();
    seed_plans(&world);
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let mut events = Vec::new();
    for clip in 0..6 {
        let t = format!("2026-11-{:02}T10:00:00Z", 3 + clip);
        events.push(json!({"provider": "heygen", "credits": "0.5", "job_id": format!("c{clip}"), "operation": "video", "timestamp": t}));
        events.push(json!({"provider": "elevenlabs", "characters": 150, "job_id": format!("c{clip}"), "operation": "voice", "timestamp": t}));
        events.push(json!({"provider": "openai", "model": "gpt-4o-mini", "cost": "0.045", "job_id": format!("c{clip}"), "operation": "script", "timestamp": t}));
    }
    // Loudly: three tracks made after the 15th reset, two served from cache, one before the reset.
    for (i, cached) in [false, false, false, true, true].iter().enumerate() {
        events.push(json!({"provider": "loudly", "tracks": 1, "cached": cached, "timestamp": format!("2026-11-{:02}T09:00:00Z", 16 + i)}));
    }
    events.push(json!({"provider": "loudly", "tracks": 1, "timestamp": "2026-11-14T09:00:00Z"}));
    record(&world, now, Value::Array(events));
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let plan = |p: &str| subscription(&report, p);
    assert_eq!(
        (
            plan("heygen")["used"].as_str(),
            plan("heygen")["remaining"].as_str(),
            plan("heygen")["available"].as_str()
        ),
        (Some("3"), Some("7"), Some("5"))
    );
    assert_eq!(plan("heygen")["percent_used"], "30.00");
    assert_eq!(plan("elevenlabs")["used"], "900");
    assert_eq!(plan("openai")["used"], "0.27");
    assert_eq!(
        plan("loudly")["used"],
        "3",
        "cache hits and the track before the reset do not count"
    );
    assert_eq!(plan("loudly")["period"]["from"], "2026-11-15T00:00:00.000Z");
    // Fees 29 + 99 + 0 + 180; OpenAI's spend is usage-priced (a money plan), the rest is covered.
    assert_eq!(report["fees"][0]["amount"], "308.00");
    assert_eq!(report["usage_spend"][0]["amount"], "0.27");
    assert_eq!(report["monthly_cost"][0]["amount"], "308.27");
    let clip = &block_on(capacity(&world.store, &world.store, now)).unwrap()[0];
    assert_eq!(
        (clip.units_left, clip.bottleneck.as_deref()),
        (Some(10), Some("heygen"))
    );
}

#[test]
fn a_learned_profile_averages_past_jobs_in_each_plans_unit() {
    let world = World::new();
    seed_plans(&world);
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let mut events = Vec::new();
    for clip in 0..4 {
        let t = format!("2026-11-{:02}T10:00:00Z", 10 + clip);
        events.push(json!({"provider": "heygen", "credits": if clip % 2 == 0 { "0.5" } else { "1" }, "job_id": format!("c{clip}"), "operation": "clip", "timestamp": t}));
        events.push(json!({"provider": "elevenlabs", "characters": 200, "job_id": format!("c{clip}"), "operation": "clip", "timestamp": t}));
    }
    record(&world, now, Value::Array(events));
    let learned = serde_json::from_value::<ProfileInput>(
        json!({"name": "learned-clip", "learn": {"operations": ["clip"], "days": 30}}),
    )
    .unwrap()
    .validate(&[])
    .unwrap();
    block_on(world.store.save_profile(&learned)).unwrap();
    let all = block_on(capacity(&world.store, &world.store, now)).unwrap();
    let profile = all.iter().find(|p| p.name == "learned-clip").unwrap();
    let items: Vec<(String, String)> = profile
        .items
        .iter()
        .map(|i| (i.provider.clone(), i.amount.clone()))
        .collect();
    assert_eq!(
        items,
        vec![
            ("elevenlabs".to_string(), "200".to_string()),
            ("heygen".to_string(), "0.75".to_string())
        ]
    );
    // HeyGen: 10 - 3 used - 2 reserve = 5 credits, 0.75 a clip: 6 clips.
    assert_eq!(
        (profile.units_left, profile.bottleneck.as_deref()),
        (Some(6), Some("heygen"))
    );
    assert_eq!(profile.note.as_deref(), Some("learned from 4 past jobs"));
}

#[test]
fn a_one_time_credit_is_drawn_over_its_term_counts_down_to_its_expiry_and_is_gone_after_it() {
    // Seed 000: "Google Cloud: $300 credit, 88 days remaining - 25,000+ clip capacity".
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "google-cloud", "name": "Free trial credit", "allotment": {"amount": "300", "unit": "money"},
               "term": {"starts": "2026-10-01", "expires": "2027-02-18"}, "alert_percent": 50}),
    );
    let clip = serde_json::from_value::<ProfileInput>(json!({"name": "clip", "items": [
        {"provider": "google-cloud", "amount": "0.012", "unit": "money"}
    ]}))
    .unwrap()
    .validate(&["google-cloud".to_string()])
    .unwrap();
    block_on(world.store.save_profile(&clip)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    // Usage in October and November is drawn from the credit; usage before its start is not.
    let mut events = Vec::new();
    for (i, day) in ["2026-10-05", "2026-11-03", "2026-11-21"]
        .iter()
        .enumerate()
    {
        events.push(json!({"id": format!("tts-{i}"), "provider": "google-cloud", "model": "chirp", "characters": 1000,
                           "cost": "10.50", "timestamp": format!("{day}T12:00:00Z")}));
    }
    events.push(
        json!({"id": "early", "provider": "google-cloud", "model": "chirp", "characters": 1000,
                       "cost": "99", "timestamp": "2026-09-30T23:00:00Z"}),
    );
    record(&world, now, Value::Array(events));
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let credit = &report["subscriptions"][0];
    assert_eq!(credit["used"], "31.50");
    assert_eq!(credit["remaining"], "268.50");
    assert_eq!(credit["period"]["from"], "2026-10-01T00:00:00.000Z");
    assert_eq!(credit["period"]["to"], "2027-02-18T00:00:00.000Z");
    assert_eq!(credit["period"]["days_left"], 88);
    // Late in the day the day still counts: the last hour's minutes are not dropped.
    for (h, m, left) in [(23, 19, 88), (23, 59, 88), (12, 0, 88)] {
        let later = Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap();
        let report = block_on(subscriptions_report(&world.store, &world.store, later)).unwrap();
        assert_eq!(
            report["subscriptions"][0]["period"]["days_left"], left,
            "at {h}:{m}"
        );
    }
    assert_eq!(
        credit["term"],
        json!({"starts": "2026-10-01", "expires": "2027-02-18"})
    );
    assert_eq!(credit["reset_day"], Value::Null);
    assert_eq!(credit["expired"], false);
    assert_eq!(report["fees"], json!([]), "a credit has no monthly fee");
    // $268.50 / $0.012 a clip = 22,375 clips, over the 88 days to the expiry.
    let profile = &block_on(capacity(&world.store, &world.store, now)).unwrap()[0];
    assert_eq!(profile.units_left, Some(22_375));
    assert_eq!(profile.per_provider[0].days_left, Some(88));

    // The day it expires, nothing of it is left, whatever was unused.
    let after = Utc.with_ymd_and_hms(2027, 2, 18, 0, 0, 0).unwrap();
    let report = block_on(subscriptions_report(&world.store, &world.store, after)).unwrap();
    let credit = &report["subscriptions"][0];
    assert_eq!(
        (
            credit["expired"].as_bool(),
            credit["used"].as_str(),
            credit["remaining"].as_str(),
            credit["available"].as_str()
        ),
        (Some(true), Some("31.50"), Some("0.00"), Some("0.00"))
    );
    assert_eq!(credit["period"]["days_left"], 0);
    // From then on the provider is paid as used: the credit limits nothing, as the guard
    // counts it.
    let profile = &block_on(capacity(&world.store, &world.store, after)).unwrap()[0];
    assert_eq!(profile.units_left, None);
    assert_eq!(
        profile.per_provider[0].note.as_deref(),
        Some("the one-time credit is not in force (expired, or not started): paid as used, not a limit")
    );

    // This month's $21 came from the credit: none of it is spent money.
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    assert_eq!(report["usage_spend"][0]["amount"], "21.00");
    assert_eq!(report["credits_applied"][0]["amount"], "21.00");
    assert_eq!(report["monthly_cost"][0]["amount"], "0.00");
    // A $280 render runs the credit out: $10.50 went before this month, so $289.50 of
    // November's $301 is paid from it and $11.50 is spent.
    record(
        &world,
        now,
        json!([{"id": "render", "provider": "google-cloud", "model": "chirp", "characters": 1, "cost": "280", "timestamp": "2026-11-21T18:00:00Z"}]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    assert_eq!(report["usage_spend"][0]["amount"], "301.00");
    assert_eq!(report["credits_applied"][0]["amount"], "289.50");
    assert_eq!(report["monthly_cost"][0]["amount"], "11.50");
    assert_eq!(report["subscriptions"][0]["remaining"], "0.00");
}

#[test]
fn a_run_out_date_is_given_only_when_it_falls_within_ten_years_and_a_plan_amount_is_at_most_a_trillion(
) {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "5", "allotment": {"amount": "1000000000000", "unit": "characters"}}),
    );
    let too_large = serde_json::from_value::<PlanInput>(
        json!({"provider": "elevenlabs", "monthly_fee": "5", "overage": {"price": "0.3", "per": "1000"},
               "allotment": {"amount": "1000000000000.5", "unit": "characters"}}),
    )
    .unwrap()
    .validate()
    .unwrap_err();
    let CoreError::Validation(problems) = too_large else {
        panic!("{too_large:?}")
    };
    let problems: Vec<(String, String)> =
        problems.into_iter().map(|f| (f.field, f.message)).collect();
    assert_eq!(
        problems,
        vec![(
            "allotment.amount".to_string(),
            "must be at most 1000000000000".to_string()
        )]
    );
    put_plan(
        &world,
        json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}}),
    );
    // One character and one credit in the first hour of the period.
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 1, 0, 0).unwrap();
    record(
        &world,
        now,
        json!([
            {"id": "a", "provider": "elevenlabs", "characters": 1, "timestamp": "2026-11-01T00:30:00Z"},
            {"id": "b", "provider": "heygen", "credits": "1", "timestamp": "2026-11-01T00:30:00Z"}
        ]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let plan = |p: &str| subscription(&report, p);
    let voice = plan("elevenlabs");
    assert_eq!(voice["run_rate_per_day"], "24");
    assert_eq!(voice["run_out"], Value::Null);
    assert_eq!(voice["runs_out_before_reset"], false);
    // 9 credits left at 24 a day: gone in 9 hours, on the first.
    let video = plan("heygen");
    assert_eq!(video["run_out"], "2026-11-01");
    assert_eq!(video["runs_out_before_reset"], true);
}

#[test]
fn a_reading_from_the_providers_dashboard_replaces_the_usage_before_it_in_its_period() {
    // Seed 002: ElevenLabs' and Lahajati's dashboards show what was really used, including
    // calls no app reported. A reading of 6 credits at 10:30 on the 15th:
    let world = World::new();
    let plan = |reading: Value| {
        put_plan(
            &world,
            json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"}, "reading": reading}),
        )
    };
    plan(json!({"used": "6", "at": "2026-11-15T10:30:00Z"}));
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    record(
        &world,
        now,
        json!([
            {"id": "before", "provider": "heygen", "credits": "0.5", "timestamp": "2026-11-10T09:00:00Z"},
            {"id": "same-hour", "provider": "heygen", "credits": "0.5", "timestamp": "2026-11-15T10:45:00Z"},
            {"id": "after", "provider": "heygen", "credits": "1", "timestamp": "2026-11-16T08:00:00Z"}
        ]),
    );
    let heygen = |at| {
        block_on(subscriptions_report(&world.store, &world.store, at)).unwrap()["subscriptions"][0]
            .clone()
    };
    // 6 read + 0.5 in the reading's hour + 1 after it; the 0.5 before it is in the reading.
    let state = heygen(now);
    assert_eq!(
        (state["used"].as_str(), state["remaining"].as_str()),
        (Some("7.5"), Some("2.5"))
    );
    assert_eq!(
        state["reading"],
        json!({"used": "6", "at": "2026-11-15T10:30:00.000Z", "applied": true})
    );
    // Read before it was taken, or in the next period, it does not apply: usage alone counts.
    let earlier = Utc.with_ymd_and_hms(2026, 11, 15, 9, 0, 0).unwrap();
    assert_eq!(
        heygen(earlier)["used"],
        "2",
        "every recorded use of the period"
    );
    assert_eq!(heygen(earlier)["reading"]["applied"], false);
    let next_month = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
    assert_eq!(heygen(next_month)["used"], "0");
    // A reading of last period does not apply to this one.
    plan(json!({"used": "9", "at": "2026-10-28T00:00:00Z"}));
    assert_eq!(heygen(now)["used"], "2");
    let refused = serde_json::from_value::<PlanInput>(json!({"provider": "heygen", "monthly_fee": "1", "reading": {"used": "-1", "at": "yesterday"}}))
        .unwrap()
        .validate();
    let Err(CoreError::Validation(details)) = refused else {
        panic!("{refused:?}")
    };
    let fields: Vec<String> = details.into_iter().map(|d| d.field).collect();
    assert_eq!(fields, vec!["reading.used", "reading.at", "reading"]);
}

#[test]
fn a_plan_or_profile_name_with_a_direction_override_is_refused_naming_the_name() {
    let plan = serde_json::from_value::<PlanInput>(
        json!({"provider": "heygen", "monthly_fee": "1", "name": "Pro \u{202E}xem"}),
    )
    .unwrap()
    .validate();
    let Err(CoreError::Validation(details)) = plan else {
        panic!("{plan:?}")
    };
    assert_eq!(
        details.into_iter().map(|d| d.field).collect::<Vec<_>>(),
        ["name"]
    );
    let profile = serde_json::from_value::<ProfileInput>(json!({"name": "cl\u{200B}ip", "items": [
        {"provider": "heygen", "amount": "1", "unit": "credits"}]}))
    .unwrap()
    .validate(&["heygen".to_string()]);
    let Err(CoreError::Validation(details)) = profile else {
        panic!("{profile:?}")
    };
    assert_eq!(
        details.into_iter().map(|d| d.field).collect::<Vec<_>>(),
        ["name"]
    );
}

#[test]
fn usage_past_an_allotment_with_usage_based_billing_is_priced_and_added_to_the_months_cost() {
    // Seed 002: "Pro ($99/mo) with usage-based billing enabled": ElevenLabs bills
    // characters past the allotment at $0.30 per 1,000.
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "99", "allotment": {"amount": "100000", "unit": "characters"},
               "overage": {"price": "0.30", "per": "1000"}}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    record(
        &world,
        now,
        json!([{"id": "tts", "provider": "elevenlabs", "characters": 130500, "timestamp": "2026-11-19T10:00:00Z"}]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let plan = &report["subscriptions"][0];
    assert_eq!(plan["used"], "130500");
    assert_eq!(plan["remaining"], "0");
    // 30,500 characters past it: 30.5 x $0.30 = $9.15.
    assert_eq!(plan["overage"]["units"], "30500");
    assert_eq!(plan["overage"]["cost"]["amount"], "9.15");
    assert_eq!(report["overage"][0]["amount"], "9.15");
    assert_eq!(report["monthly_cost"][0]["amount"], "108.15");
    let refused =
        serde_json::from_value::<PlanInput>(json!({"provider": "openai", "monthly_fee": "0",
        "allotment": {"amount": "20", "unit": "money"}, "overage": {"price": "1"}}))
        .unwrap()
        .validate();
    let Err(CoreError::Validation(details)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(details[0].field, "overage");
}

#[test]
fn an_overage_at_the_largest_price_is_capped_at_a_trillion_and_the_months_cost_stays_positive() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "29", "allotment": {"amount": "1", "unit": "characters"},
               "overage": {"price": "1000000000000", "per": "0.000001"}}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    record(
        &world,
        now,
        json!([{"id": "huge", "provider": "elevenlabs", "model": "custom-voice", "characters": 1_000_000_000_u64,
                "timestamp": "2026-11-20T10:00:00Z"}]),
    );
    let report = block_on(subscriptions_report(&world.store, &world.store, now)).unwrap();
    let voice = subscription(&report, "elevenlabs");
    assert_eq!(voice["overage"]["cost"]["amount"], "1000000000000.00");
    assert_eq!(
        report["monthly_cost"][0]["amount"], "1000000000029.00",
        "the fee plus the capped overage"
    );
}

#[test]
fn a_provider_may_have_a_plan_per_unit_and_capacity_reads_the_one_in_the_items_unit() {
    // Seed 002: Lahajati Premium is 1M points and 1,500 voice minutes.
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "lahajati", "monthly_fee": "11", "allotment": {"amount": "1000000", "unit": "points"}}),
    );
    put_plan(
        &world,
        json!({"provider": "lahajati", "monthly_fee": "0", "allotment": {"amount": "1500", "unit": "minutes"}}),
    );
    let plans = block_on(world.store.plans()).unwrap();
    assert_eq!(plans.len(), 2, "the second plan does not replace the first");
    let dub = serde_json::from_value::<ProfileInput>(json!({"name": "dub", "items": [
        {"provider": "lahajati", "amount": "3", "unit": "minutes"}
    ]}))
    .unwrap()
    .validate(&["lahajati".to_string()])
    .unwrap();
    block_on(world.store.save_profile(&dub)).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    record(
        &world,
        now,
        json!([{"id": "d1", "provider": "lahajati", "characters": 5000, "audio_seconds": "600", "timestamp": "2026-11-19T10:00:00Z"}]),
    );
    let profile = &block_on(capacity(&world.store, &world.store, now)).unwrap()[0];
    // 1,500 - 10 minutes used = 1,490 minutes; 3 a dub: 496 dubs.
    assert_eq!(profile.units_left, Some(496));
    assert_eq!(profile.per_provider[0].available.as_deref(), Some("1490"));
    // Deleting one unit leaves the other.
    assert!(block_on(
        world
            .store
            .delete_plan("lahajati", "", Some("minutes"), now)
    )
    .unwrap());
    let left: Vec<String> = block_on(world.store.plans())
        .unwrap()
        .iter()
        .map(|p| p.unit.name())
        .collect();
    assert_eq!(left, vec!["points"]);
    assert!(block_on(world.store.delete_plan("lahajati", "", None, now)).unwrap());
    assert!(block_on(world.store.plans()).unwrap().is_empty());
}

#[test]
fn a_credit_term_must_be_dated_in_order_with_no_fee_or_reset_day() {
    let problems = |body: Value| match serde_json::from_value::<PlanInput>(body)
        .unwrap()
        .validate()
    {
        Err(CoreError::Validation(d)) => d.into_iter().map(|f| f.field).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let credit = |extra: Value| {
        let mut body = json!({"provider": "google-cloud", "allotment": {"amount": "300", "unit": "money"},
                              "term": {"starts": "2026-10-01", "expires": "2027-01-01"}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    assert_eq!(
        problems(credit(
            json!({"term": {"starts": "2026-10-01", "expires": "2026-10-01"}})
        )),
        vec!["term.expires"]
    );
    assert_eq!(
        problems(credit(
            json!({"term": {"starts": "2026-10-01", "expires": "2040-01-01"}})
        )),
        vec!["term.expires"]
    );
    assert_eq!(
        problems(credit(
            json!({"term": {"starts": "1 Oct", "expires": "2027-01-01"}})
        )),
        vec!["term.starts"]
    );
    assert_eq!(
        problems(credit(json!({"monthly_fee": "5"}))),
        vec!["monthly_fee"]
    );
    assert_eq!(problems(credit(json!({"reset_day": 3}))), vec!["reset_day"]);
    assert_eq!(
        problems(
            json!({"provider": "google-cloud", "term": {"starts": "2026-10-01", "expires": "2027-01-01"}})
        ),
        vec!["allotment"]
    );
    assert_eq!(
        problems(json!({"provider": "heygen"})),
        vec!["monthly_fee"],
        "a monthly plan still needs its fee"
    );
    let ok = serde_json::from_value::<PlanInput>(credit(json!({"monthly_fee": "0"})))
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(ok.monthly_fee, "0");
}

#[test]
fn the_period_rolls_over_on_the_reset_day() {
    let at = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
    let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    assert_eq!(period(15, at(14)), (day(10, 15), day(11, 15)));
    assert_eq!(period(15, at(15)), (day(11, 15), day(12, 15)));
    assert_eq!(period(1, at(1)), (day(11, 1), day(12, 1)));
}

#[test]
fn bad_plans_and_profiles_name_the_field() {
    let plan = |body: Value| {
        serde_json::from_value::<PlanInput>(body)
            .unwrap()
            .validate()
            .unwrap_err()
    };
    let field = |e: CoreError| match e {
        CoreError::Validation(d) => d.into_iter().map(|f| f.field).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let many: Vec<String> = (0..21).map(|i| format!("a{i}@example.com")).collect();
    assert_eq!(
        field(plan(
            json!({"provider": "heygen", "monthly_fee": "1", "alert_emails": many})
        )),
        vec!["alert_emails"]
    );
    assert_eq!(
        field(plan(
            json!({"provider": "heygen", "monthly_fee": "1", "allotment": {"amount": "-1", "unit": "credits"}})
        )),
        vec!["allotment.amount"]
    );
    assert_eq!(
        field(plan(
            json!({"provider": "heygen", "monthly_fee": "1", "allotment": {"amount": "1", "unit": "parsecs"}})
        )),
        vec!["allotment.unit"]
    );
    assert_eq!(
        field(plan(
            json!({"provider": "heygen", "monthly_fee": "1", "reset_day": 29})
        )),
        vec!["reset_day"]
    );
    assert_eq!(
        field(plan(json!({"provider": "heygen", "monthly_fee": "-1"}))),
        vec!["monthly_fee"]
    );
    assert_eq!(
        field(plan(
            json!({"provider": "heygen", "monthly_fee": "1", "allotment": {"amount": "1", "unit": "credits"}, "reserve": "2"})
        )),
        vec!["reserve"]
    );
    let profile = serde_json::from_value::<ProfileInput>(
        json!({"name": "x", "items": [{"provider": "nobody", "amount": "1", "unit": "credits"}]}),
    )
    .unwrap()
    .validate(&["heygen".to_string()])
    .unwrap_err();
    assert_eq!(field(profile), vec!["items[0].provider"]);
    // An amount finer than the plans count (a millionth of a credit; a nano of money), and a
    // provider's unit given twice, would each make the capacity and the guard count wrong.
    let profile = |items: Value| {
        serde_json::from_value::<ProfileInput>(json!({"name": "x", "items": items}))
            .unwrap()
            .validate(&["heygen".to_string(), "openai".to_string()])
    };
    let credit = |amount: &str| json!({"provider": "heygen", "amount": amount, "unit": "credits"});
    assert_eq!(
        field(profile(json!([credit("0.3333333")])).unwrap_err()),
        vec!["items[0].amount"]
    );
    assert!(profile(json!([credit("0.333333")])).is_ok());
    assert!(
        profile(json!([{"provider": "openai", "amount": "0.000000001", "unit": "money"}])).is_ok()
    );
    assert_eq!(
        field(profile(json!([credit("0.25"), credit("0.25")])).unwrap_err()),
        vec!["items[1].provider"]
    );
    assert!(profile(
        json!([credit("0.25"), {"provider": "heygen", "amount": "1", "unit": "money"}])
    )
    .is_ok());
}

#[test]
fn every_unit_reads_back_by_the_name_it_is_written_with() {
    for (name, unit) in super::UNITS {
        assert_eq!(serde_json::to_value(unit).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<super::Unit>(json!(name)).unwrap(),
            *unit
        );
        assert_eq!(
            (super::Unit::parse(name), unit.name()),
            (Some(*unit), name.to_string())
        );
    }
    assert_eq!(super::Unit::parse("Tokens"), None);
}
