//! The spend guard over the in-memory stores: decisions, reservations, settlement, expiry.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::access::auth::Principal;
use crate::guard::store::{Hold, NewReservation};
use crate::guard::{budget_key, guard, release};
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::plans::store::PlanStore;
use crate::plans::{known_providers, PlanInput, ProfileInput};
use crate::usage::fixtures::{fields, now, World};
use crate::usage::ingest::{ingest, IngestConfig};

fn key(world: &World) -> Principal {
    Principal::Project {
        project_id: world.project.clone(),
        key_id: "k".into(),
    }
}

fn ask_at(world: &World, at: DateTime<Utc>, body: Value) -> Result<Value, CoreError> {
    block_on(guard(
        &world.store,
        &world.store,
        &FixedClock(at),
        &SystemEntropy,
        &key(world),
        body.to_string().as_bytes(),
    ))
}

fn ask(world: &World, body: Value) -> Value {
    ask_at(world, now(), body).unwrap()
}

fn put_plan(world: &World, body: Value) {
    let plan = serde_json::from_value::<PlanInput>(body)
        .unwrap()
        .validate()
        .unwrap();
    let long_ago = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    block_on(world.store.save_plan(&plan, long_ago)).unwrap();
}

fn put_profile(world: &World, body: Value) {
    let input: ProfileInput = serde_json::from_value(body).unwrap();
    let plans = block_on(world.store.plans()).unwrap();
    let profile = input.validate(&known_providers(&plans)).unwrap();
    block_on(world.store.save_profile(&profile)).unwrap();
}

fn record_at(world: &World, at: DateTime<Utc>, event: Value) {
    block_on(ingest(
        &world.store,
        &world.store,
        &world.log,
        &FixedClock(at),
        &SystemEntropy,
        &key(world),
        event.to_string().as_bytes(),
        IngestConfig::default(),
    ))
    .unwrap();
}

/// 10 HeyGen credits a month, 2 kept in reserve, 3 used: room for 5 clips of 1 credit, in a
/// blocking plan.
fn room_for_five_clips() -> World {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"},
               "reserve": "2", "mode": "block"}),
    );
    put_profile(
        &world,
        json!({"name": "clip", "items": [{"provider": "heygen", "amount": "1", "unit": "credits"}]}),
    );
    record_at(
        &world,
        now() - Duration::hours(1),
        json!({"provider": "heygen", "credits": "3"}),
    );
    world
}

fn limit<'a>(answer: &'a Value, kind: &str) -> &'a Value {
    answer["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} limit in {answer}"))
}

#[test]
fn a_blocking_budget_denies_what_would_cross_it_and_names_the_limit_and_its_numbers() {
    let world = World::new();
    world
        .set_budget(json!({"budget": {"amount": "10", "currency": "USD"}, "budget_mode": "block"}));
    record_at(
        &world,
        now(),
        json!({"provider": "acme", "cost": "9.50", "currency": "USD"}),
    );
    let small = ask(
        &world,
        json!({"amount": {"amount": "0.40", "currency": "USD"}}),
    );
    assert_eq!(small["decision"], "warn", "past the 80% level: {small}");
    assert_eq!(small["limiting"]["kind"], "budget");
    let big = ask(
        &world,
        json!({"amount": {"amount": "0.60", "currency": "USD"}}),
    );
    assert_eq!(big["decision"], "deny");
    assert_eq!(
        big["limiting"],
        json!({"kind": "budget", "mode": "block", "currency": "USD", "limit": "10.00",
               "spent": "9.50", "reserved": "0.00", "estimate": "0.60", "remaining": "-0.10"})
    );
    assert_eq!(big["reservation"], Value::Null);
}

#[test]
fn an_alerting_budget_warns_where_a_blocking_one_denies_and_an_empty_month_allows() {
    let world = World::new();
    world.set_budget(json!({"budget": {"amount": "10", "currency": "USD"}}));
    let fresh = ask(
        &world,
        json!({"amount": {"amount": "1", "currency": "USD"}}),
    );
    assert_eq!(
        (fresh["decision"].as_str(), &fresh["limiting"]),
        (Some("allow"), &Value::Null)
    );
    let over = ask(
        &world,
        json!({"amount": {"amount": "11", "currency": "USD"}}),
    );
    assert_eq!(over["decision"], "warn");
    assert_eq!(limit(&over, "budget")["mode"], "alert");
}

#[test]
fn an_estimate_event_is_priced_as_recording_it_would_be_and_checked_against_the_daily_limit() {
    let world = World::new();
    world.set_budget(
        json!({"daily_limit": {"amount": "0.01", "currency": "USD"}, "daily_limit_mode": "block"}),
    );
    // gpt-4o: 2.50 per million input tokens, 10.00 per million output tokens.
    let answer = ask(
        &world,
        json!({"estimate": {"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}}),
    );
    assert_eq!(
        answer["estimate"],
        json!({"cost": "0.0075", "currency": "USD"})
    );
    assert_eq!(answer["decision"], "allow");
    assert_eq!(limit(&answer, "daily_limit")["remaining"], "0.0025");
    let twice = ask(
        &world,
        json!({"estimate": {"provider": "openai", "model": "gpt-4o", "input_tokens": 2000, "output_tokens": 1000}}),
    );
    assert_eq!(twice["decision"], "deny");
    assert_eq!(twice["limiting"]["kind"], "daily_limit");
}

#[test]
fn reservations_against_the_last_units_of_a_blocking_plan_are_granted_exactly_that_many() {
    let world = room_for_five_clips();
    let decisions: Vec<String> = (0..16)
        .map(|i| {
            let a = ask(
                &world,
                json!({"profile": "clip", "units": 1, "reserve": true, "id": format!("app-{i}")}),
            );
            a["decision"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        decisions.iter().filter(|d| *d != "deny").count(),
        5,
        "{decisions:?}"
    );
    assert!(decisions[..5].iter().all(|d| d != "deny"));
    let after = ask(&world, json!({"profile": "clip", "units": 1}));
    let plan = limit(&after, "plan");
    assert_eq!(
        (
            plan["spent"].as_str(),
            plan["reserved"].as_str(),
            plan["reserve"].as_str()
        ),
        (Some("3"), Some("5"), Some("2"))
    );
    assert_eq!(limit(&after, "capacity")["limit"], "0");
    assert_eq!(after["decision"], "deny");
}

#[test]
fn the_capacity_report_counts_open_reservations_as_the_guard_does_until_they_are_released() {
    // Two of the five clips reserved by apps in flight.
    let world = room_for_five_clips();
    let units_left = || {
        let all = block_on(crate::guard::capacity_now(&world.store, now(), None)).unwrap();
        all[0].units_left
    };
    assert_eq!(units_left(), Some(5));
    let ids: Vec<String> = (0..2)
        .map(|i| {
            ask(
                &world,
                json!({"profile": "clip", "units": 1, "reserve": true, "id": format!("app-{i}")}),
            )["reservation"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(units_left(), Some(3));
    block_on(release(
        &world.store,
        &FixedClock(now()),
        &key(&world),
        None,
        &ids[0],
    ))
    .unwrap();
    assert_eq!(units_left(), Some(4));
    // The guard agrees: four more clips fit, a fifth does not.
    assert_eq!(
        ask(&world, json!({"profile": "clip", "units": 4}))["decision"],
        "allow"
    );
    assert_eq!(
        ask(&world, json!({"profile": "clip", "units": 5}))["decision"],
        "deny"
    );
}

#[test]
fn a_profile_whose_alert_mode_plan_ran_out_is_warned_not_denied_while_its_blocking_plan_has_room() {
    let world = World::new();
    // HeyGen blocks and has room for 7 clips; the OpenAI allotment (alert mode) is used up.
    put_plan(
        &world,
        json!({"provider": "heygen", "monthly_fee": "29", "allotment": {"amount": "10", "unit": "credits"},
               "reserve": "2", "mode": "block"}),
    );
    put_plan(
        &world,
        json!({"provider": "openai", "monthly_fee": "0", "allotment": {"amount": "20", "unit": "money"}}),
    );
    put_profile(
        &world,
        json!({"name": "clip", "items": [
            {"provider": "heygen", "amount": "1", "unit": "credits"},
            {"provider": "openai", "amount": "0.045", "unit": "money"}]}),
    );
    record_at(
        &world,
        now() - Duration::hours(1),
        json!({"provider": "heygen", "credits": "1"}),
    );
    record_at(
        &world,
        now() - Duration::hours(1),
        json!({"provider": "openai", "cost": "20.50", "currency": "USD"}),
    );
    let answer = ask(&world, json!({"profile": "clip", "units": 1}));
    assert_eq!(answer["decision"], "warn", "{answer}");
    let capacity = limit(&answer, "capacity");
    assert_eq!(
        (capacity["mode"].as_str(), capacity["limit"].as_str()),
        (Some("alert"), Some("0"))
    );
    // Past what the blocking plan holds, the capacity is the blocking plan's, and denies.
    let answer = ask(&world, json!({"profile": "clip", "units": 8}));
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert_eq!(answer["limiting"]["kind"], "plan");
    assert_eq!(answer["limiting"]["provider"], "heygen");
}

#[test]
fn a_learned_profile_is_guarded_by_the_plans_its_past_jobs_used_as_a_declared_one_is() {
    let world = World::new();
    put_plan(
        &world,
        json!({"provider": "heygen", "project_id": "video-ads", "monthly_fee": "29",
               "allotment": {"amount": "10", "unit": "credits"}, "mode": "block"}),
    );
    for job in ["j1", "j2"] {
        record_at(
            &world,
            now() - Duration::days(2),
            json!({"provider": "heygen", "credits": "0.5", "job_id": job, "operation": "video"}),
        );
    }
    put_profile(
        &world,
        json!({"name": "clip", "project_id": "video-ads", "learn": {"operations": ["video"], "days": 30}}),
    );
    // 9 credits left, 0.5 a clip (learned from two jobs): 18 clips fit, 100 do not.
    let answer = ask(&world, json!({"profile": "clip", "units": 100}));
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert_eq!(answer["limiting"]["provider"], "heygen");
    assert_eq!(limit(&answer, "capacity")["limit"], "18");
    let answer = ask(&world, json!({"profile": "clip", "units": 18}));
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(limit(&answer, "plan")["estimate"], "9");
}

#[test]
fn a_reservation_granted_after_others_were_between_its_read_and_its_grant_is_answered_with_their_holds(
) {
    let world = World::new();
    world.set_budget(json!({"budget": {"amount": "1", "currency": "USD"}, "budget_mode": "block"}));
    // Seven reservations of 0.10 are granted by other requests after this one read the holds
    // (none then) and before its own grant.
    for i in 0..7 {
        world.store.grant_first(NewReservation {
            project_id: world.project.clone(),
            id: format!("other-{i}"),
            holds: vec![Hold {
                limit: budget_key(&world.project),
                amount: 100_000_000,
            }],
            limits: vec![budget_key(&world.project)],
            ceilings: Vec::new(),
            answer: "{}".into(),
            created_at: now(),
            expires_at: now() + Duration::minutes(10),
            version: 0,
        });
    }
    let body =
        json!({"amount": {"amount": "0.10", "currency": "USD"}, "reserve": true, "id": "mine"});
    let answer = ask(&world, body.clone());
    // 0.70 held by the others and 0.10 by this one: the budget's alert percent (80) is reached.
    assert_eq!(answer["decision"], "warn", "{answer}");
    let budget = limit(&answer, "budget");
    assert_eq!(
        (budget["reserved"].as_str(), budget["remaining"].as_str()),
        (Some("0.70"), Some("0.20"))
    );
    assert_eq!(answer["reservation"]["id"], "mine");
    // A retry of the same id is answered the same.
    assert_eq!(ask(&world, body), answer);
}

#[test]
fn a_retried_reservation_id_answers_the_same_reservation_and_holds_once() {
    let world = World::new();
    world.set_budget(json!({"budget": {"amount": "1", "currency": "USD"}, "budget_mode": "block"}));
    let body =
        json!({"amount": {"amount": "0.60", "currency": "USD"}, "reserve": true, "id": "r-1"});
    let first = ask(&world, body.clone());
    let again = ask(&world, body);
    assert_eq!(first, again);
    assert_eq!(first["reservation"]["id"], "r-1");
    assert_eq!(
        first["reservation"]["expires_at"],
        "2026-11-20T12:05:00.000Z"
    );
    let other = ask(
        &world,
        json!({"amount": {"amount": "0.60", "currency": "USD"}, "reserve": true}),
    );
    assert_eq!(
        other["decision"], "deny",
        "0.60 held once leaves 0.40: {other}"
    );
}

#[test]
fn a_one_time_credit_not_started_or_expired_limits_nothing_and_one_in_its_term_denies() {
    let world = World::new();
    let credit = |starts: &str, expires: &str| {
        json!({"provider": "google-cloud", "allotment": {"amount": "1", "unit": "money"},
               "term": {"starts": starts, "expires": expires}, "mode": "block"})
    };
    put_plan(&world, credit("2026-12-01", "2027-01-01"));
    put_profile(
        &world,
        json!({"name": "clip", "items": [{"provider": "google-cloud", "amount": "0.5", "unit": "money"}]}),
    );
    // `now()` is 2026-11-20: the credit starts later.
    let answer = ask(&world, json!({"profile": "clip", "units": 10}));
    assert_eq!(answer["decision"], "allow", "{answer}");
    let in_term = now() + Duration::days(15);
    let answer = ask_at(&world, in_term, json!({"profile": "clip", "units": 10})).unwrap();
    assert_eq!(answer["decision"], "deny", "{answer}");
    let after = Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap();
    let answer = ask_at(&world, after, json!({"profile": "clip", "units": 10})).unwrap();
    assert_eq!(answer["decision"], "allow", "{answer}");
}

#[test]
fn an_id_whose_reservation_ended_is_refused_never_answered_as_granted_again() {
    let world = World::new();
    world.set_budget(json!({"budget": {"amount": "1", "currency": "USD"}, "budget_mode": "block"}));
    let reserve = |id: &str, amount: &str| json!({"amount": {"amount": amount, "currency": "USD"}, "reserve": true, "id": id, "ttl_seconds": 60});
    let ended = |answer: Result<Value, CoreError>| match answer {
        Err(CoreError::Conflict(refusal)) => refusal.field,
        other => panic!("expected a 409, got {other:?}"),
    };
    // Settled by the event that names it: the id is spent, and the budget is too.
    assert_eq!(ask(&world, reserve("s-1", "0.10"))["decision"], "allow");
    record_at(
        &world,
        now(),
        json!({"provider": "openai", "cost": "0.95", "currency": "USD", "reservation_id": "s-1"}),
    );
    let big = reserve("s-1", "100");
    assert_eq!(ended(ask_at(&world, now(), big)), Some("id".to_string()));
    assert_eq!(ask(&world, reserve("s-2", "100"))["decision"], "deny");
    // Released, and expired: the same.
    let world = World::new();
    assert_eq!(ask(&world, reserve("r-1", "1"))["decision"], "allow");
    block_on(release(
        &world.store,
        &FixedClock(now()),
        &key(&world),
        None,
        "r-1",
    ))
    .unwrap();
    assert_eq!(
        ended(ask_at(&world, now(), reserve("r-1", "1"))),
        Some("id".to_string())
    );
    assert_eq!(ask(&world, reserve("x-1", "1"))["decision"], "allow");
    let later = now() + Duration::seconds(61);
    assert_eq!(
        ended(ask_at(&world, later, reserve("x-1", "1"))),
        Some("id".to_string())
    );
}

#[test]
fn an_expired_reservation_frees_its_room_and_a_released_one_too() {
    let world = World::new();
    world.set_budget(json!({"budget": {"amount": "1", "currency": "USD"}, "budget_mode": "block"}));
    let held = ask(
        &world,
        json!({"amount": {"amount": "0.90", "currency": "USD"}, "reserve": true, "ttl_seconds": 60}),
    );
    assert_eq!(held["decision"], "warn");
    let blocked = json!({"amount": {"amount": "0.50", "currency": "USD"}});
    assert_eq!(ask(&world, blocked.clone())["decision"], "deny");
    let later = ask_at(&world, now() + Duration::seconds(61), blocked.clone()).unwrap();
    assert_eq!(later["decision"], "allow", "the hold expired: {later}");
    // Released before its time, a reservation frees its room at once.
    let later = now() + Duration::seconds(120);
    let id = ask_at(
        &world,
        later,
        json!({"amount": {"amount": "0.90", "currency": "USD"}, "reserve": true}),
    )
    .unwrap()["reservation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ask_at(&world, later, blocked.clone()).unwrap()["decision"],
        "deny"
    );
    let released = block_on(release(
        &world.store,
        &FixedClock(later),
        &key(&world),
        None,
        &id,
    ))
    .unwrap();
    assert_eq!(released, json!({"id": id, "released": true}));
    assert_eq!(ask_at(&world, later, blocked).unwrap()["decision"], "allow");
    let unknown = block_on(release(
        &world.store,
        &FixedClock(now()),
        &key(&world),
        None,
        "nope",
    ));
    assert!(matches!(unknown, Err(CoreError::NotFound(_))));
}

#[test]
fn a_settled_reservation_counts_the_actual_cost_not_the_estimate() {
    let world = World::new();
    world.set_budget(json!({"budget": {"amount": "1", "currency": "USD"}, "budget_mode": "block"}));
    let id = ask(
        &world,
        json!({"amount": {"amount": "0.80", "currency": "USD"}, "reserve": true}),
    )["reservation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    record_at(
        &world,
        now(),
        json!({"provider": "acme", "cost": "0.30", "currency": "USD", "reservation_id": id}),
    );
    let after = ask(
        &world,
        json!({"amount": {"amount": "0.70", "currency": "USD"}}),
    );
    let budget = limit(&after, "budget");
    assert_eq!(
        (budget["spent"].as_str(), budget["reserved"].as_str()),
        (Some("0.30"), Some("0.00"))
    );
    assert_eq!(after["decision"], "warn");
}

#[test]
fn a_project_key_guards_only_its_own_project_and_bad_requests_name_their_fields() {
    let world = World::new();
    let other = ask_at(
        &world,
        now(),
        json!({"project_id": "someone-else", "amount": {"amount": "1", "currency": "USD"}}),
    );
    assert!(matches!(other, Err(CoreError::Forbidden(_))), "{other:?}");
    let cases = [
        (json!({}), vec!["estimate"]),
        (
            json!({"amount": {"amount": "1", "currency": "USD"}, "profile": "clip"}),
            vec!["estimate", "profile"],
        ),
        (
            json!({"amount": {"amount": "-1", "currency": "USD"}}),
            vec!["amount.amount"],
        ),
        (
            json!({"amount": {"amount": "1", "currency": "XXX1"}}),
            vec!["amount.currency"],
        ),
        (
            json!({"profile": "nope", "units": 0}),
            vec!["units", "profile"],
        ),
        (
            json!({"amount": {"amount": "1", "currency": "USD"}, "reserve": true, "ttl_seconds": 0}),
            vec!["ttl_seconds"],
        ),
        (
            json!({"estimate": {"provider": "openai", "model": "gpt-4o", "input_tokens": -5}}),
            vec!["estimate.input_tokens"],
        ),
    ];
    for (body, expected) in cases {
        let error = ask_at(&world, now(), body.clone()).unwrap_err();
        let named: Vec<String> = fields(&error).into_iter().map(|(f, _)| f).collect();
        assert_eq!(named, expected, "{body}");
    }
}

#[test]
fn a_grant_that_committed_with_its_answer_lost_is_not_held_twice_by_the_retry() {
    use crate::guard::store::ReservationStore;
    let world = World::new();
    world
        .set_budget(json!({"budget": {"amount": "10", "currency": "USD"}, "budget_mode": "block"}));
    // No `id`: a plain HTTP client (the documented example bodies all carry one, but
    // `id` is optional and the guard makes a `res_…` one).
    let body = json!({"amount": {"amount": "6", "currency": "USD"}, "reserve": true});
    world.store.lose_grant_answers(true);
    let first = ask_at(&world, now(), body.clone());
    world.store.lose_grant_answers(false);
    // The client sees a 503 and asks again, as it would after any 5xx.
    let answer = match first {
        Ok(answer) => answer,
        Err(_) => ask(&world, body),
    };
    let open = block_on(world.store.activity(&world.project, now()))
        .unwrap()
        .reservations;
    assert_ne!(
        answer["decision"], "deny",
        "the retry is denied by the first attempt's hold: {answer}"
    );
    assert_eq!(open.len(), 1, "one reservation, not two: {open:?}");
}

#[test]
fn a_grant_with_a_client_id_whose_answer_was_lost_is_answered_the_same_on_retry() {
    use crate::guard::store::ReservationStore;
    let world = World::new();
    world
        .set_budget(json!({"budget": {"amount": "10", "currency": "USD"}, "budget_mode": "block"}));
    let body =
        json!({"amount": {"amount": "6", "currency": "USD"}, "reserve": true, "id": "job-1"});
    world.store.lose_grant_answers(true);
    let _ = ask_at(&world, now(), body.clone()); // an error before the fix, granted after
    world.store.lose_grant_answers(false);
    let retry = ask(&world, body);
    assert_eq!(retry["reservation"]["id"], "job-1");
    assert_ne!(retry["decision"], "deny");
    let open = block_on(world.store.activity(&world.project, now()))
        .unwrap()
        .reservations;
    assert_eq!(open.len(), 1);
}

#[test]
fn a_reservation_past_what_one_hold_stores_is_refused_naming_the_amount_and_holds_nothing() {
    let world = World::new();
    world.set_budget(json!({"budget": {"amount": "10", "currency": "USD"}}));
    let huge = ask_at(
        &world,
        now(),
        json!({"amount": {"amount": "9223372036.854775808", "currency": "USD"}, "reserve": true}),
    );
    match huge {
        Err(CoreError::Validation(details)) => assert_eq!(details[0].field, "amount"),
        other => panic!("expected a 400, got {other:?}"),
    }
    // The largest hold there is is granted, and counted exactly.
    let largest = ask(
        &world,
        json!({"amount": {"amount": "9223372036.854775807", "currency": "USD"}, "reserve": true}),
    );
    assert_eq!(largest["decision"], "warn");
    let after = ask(
        &world,
        json!({"amount": {"amount": "0.01", "currency": "USD"}}),
    );
    assert_eq!(limit(&after, "budget")["reserved"], "9223372036.854775807");
}
