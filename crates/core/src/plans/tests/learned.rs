//! Learned profiles and a project profile's capacity: the plans that cover the profile, each
//! counted as the plan's own state counts it.

use super::*;

fn put_profile(world: &World, body: Value) {
    let profile = serde_json::from_value::<ProfileInput>(body)
        .unwrap()
        .validate(&known_providers(&block_on(world.store.plans()).unwrap()))
        .unwrap();
    block_on(world.store.save_profile(&profile)).unwrap();
}

/// A profile's items as (provider, amount).
fn items_of(profile: &crate::plans::ProfileCapacity) -> Vec<(&str, &str)> {
    profile
        .items
        .iter()
        .map(|i| (i.provider.as_str(), i.amount.as_str()))
        .collect()
}

#[test]
fn a_learned_profile_has_one_item_per_provider_from_the_plans_that_cover_it_at_each_models_credit_rate(
) {
    let world = World::new();
    let credits = |amount: &str| json!({"amount": amount, "unit": "credits"});
    // ElevenLabs: a global plan and the project's own, both in credits; HeyGen: a global plan
    // and another project's, which counts nothing of this project's work.
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "monthly_fee": "99", "allotment": credits("100000")}),
    );
    put_plan(
        &world,
        json!({"provider": "elevenlabs", "project_id": "video-ads", "monthly_fee": "22", "allotment": credits("30000")}),
    );
    put_plan(
        &world,
        json!({"provider": "heygen", "monthly_fee": "29", "allotment": credits("10")}),
    );
    put_plan(
        &world,
        json!({"provider": "heygen", "project_id": "podcasts", "monthly_fee": "29", "allotment": credits("10")}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let mut events = Vec::new();
    for job in 0..2 {
        let t = format!("2026-11-1{job}T10:00:00Z");
        // 1,000 characters of a flash model: 500 credits, as the plan counts them.
        events.push(
            json!({"provider": "elevenlabs", "model": "eleven_flash_v2_5", "characters": 1000,
                           "job_id": format!("j{job}"), "operation": "voice", "timestamp": t}),
        );
        events.push(
            json!({"provider": "heygen", "credits": "0.5", "job_id": format!("j{job}"),
                           "operation": "video", "timestamp": t}),
        );
    }
    record(&world, now, Value::Array(events));
    put_profile(
        &world,
        json!({"name": "clip", "project_id": "video-ads", "learn": {"operations": ["voice", "video"], "days": 30}}),
    );
    let all = block_on(capacity(&world.store, &world.store, now)).unwrap();
    let clip = all.iter().find(|p| p.name == "clip").unwrap();
    assert_eq!(
        items_of(clip),
        vec![("elevenlabs", "500"), ("heygen", "0.5")]
    );
    let providers: Vec<&str> = clip
        .per_provider
        .iter()
        .map(|p| p.provider.as_str())
        .collect();
    assert_eq!(providers, vec!["elevenlabs", "heygen"]);
    // HeyGen: 10 - 1 used = 9 credits, 0.5 a clip; ElevenLabs' own plan: 29,000 / 500.
    assert_eq!(
        (clip.units_left, clip.bottleneck.as_deref()),
        (Some(18), Some("heygen"))
    );
    assert_eq!(clip.per_provider[0].units_left, Some(58));

    // A global profile learns from the global plans only, each once.
    put_profile(
        &world,
        json!({"name": "any-clip", "learn": {"operations": ["voice", "video"], "days": 30}}),
    );
    let all = block_on(capacity(&world.store, &world.store, now)).unwrap();
    let global = all.iter().find(|p| p.name == "any-clip").unwrap();
    assert_eq!(
        items_of(global),
        vec![("elevenlabs", "500"), ("heygen", "0.5")]
    );
    assert!(
        global.per_provider.iter().all(|p| p.note.is_none()),
        "{global:?}"
    );
    // The global ElevenLabs plan: 100,000 - 1,000 used, 500 a clip.
    assert_eq!(global.per_provider[0].units_left, Some(198));
}

#[test]
fn a_project_profiles_capacity_is_that_of_the_tightest_plan_covering_it() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "heygen", "monthly_fee": "99", "allotment": {"amount": "30", "unit": "credits"}}),
    );
    put_plan(
        &world,
        json!({"provider": "heygen", "project_id": "video-ads", "monthly_fee": "29",
               "allotment": {"amount": "5", "unit": "credits"}, "mode": "block"}),
    );
    put_profile(
        &world,
        json!({"name": "clip", "project_id": "video-ads", "items": [{"provider": "heygen", "amount": "0.5", "unit": "credits"}]}),
    );
    put_profile(
        &world,
        json!({"name": "clip", "items": [{"provider": "heygen", "amount": "0.5", "unit": "credits"}]}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let all = block_on(capacity(&world.store, &world.store, now)).unwrap();
    let units = |project: Option<&str>| {
        all.iter()
            .find(|p| p.project_id.as_deref() == project)
            .and_then(|p| p.units_left)
    };
    // The project's 5 credits hold 10 clips, whatever the global 30 would; the global
    // profile counts the global plan only.
    assert_eq!(units(Some("video-ads")), Some(10));
    assert_eq!(units(None), Some(60));
}

#[test]
fn a_global_profile_in_one_projects_capacity_counts_that_projects_plans_as_its_work_would() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "heygen", "project_id": "video-ads", "monthly_fee": "29",
               "allotment": {"amount": "5", "unit": "credits"}, "mode": "block"}),
    );
    put_profile(
        &world,
        json!({"name": "clip", "items": [{"provider": "heygen", "amount": "0.5", "unit": "credits"}]}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let states = block_on(crate::plans::plan_states(&world.store, &world.store, now)).unwrap();
    let of = |project: Option<&str>| {
        block_on(crate::plans::capacity_in(
            &states,
            &world.store,
            &world.store,
            now,
            project,
        ))
        .unwrap()[0]
            .clone()
    };
    // For every project at once, no global plan limits it; for video-ads, its own plan does.
    assert_eq!(of(None).units_left, None);
    let mine = of(Some("video-ads"));
    assert_eq!(
        (mine.units_left, mine.project_id.as_deref()),
        (Some(10), None)
    );
    assert_eq!(of(Some("podcasts")).units_left, None);
}
