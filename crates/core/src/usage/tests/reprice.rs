//! Re-pricing stored events and the list of unpriced models.

use pollster::block_on;
use serde_json::json;

use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::kernel::money::Currency;
use crate::usage::fixtures::{fields, now, usd, World};
use crate::usage::ingest::{rebuild, RebuildRequest};
use crate::usage::record::StoredEvent;

use crate::pricing::prices::add_custom_prices;
use crate::usage::reprice::{reprice, unpriced_models, RepriceRequest};
use crate::usage::store::ScanFilter;

fn add_price(world: &World, model: &str, per_million: &str, from: &str) {
    let request = serde_json::from_value(json!({"entries": [{
        "provider": "openai", "model": model, "currency": "USD", "effective_from": from,
        "rates": {"input_tokens": {"price": per_million, "per": 1000000}}
    }]}))
    .unwrap();
    block_on(add_custom_prices(&world.store, &world.store, request)).unwrap();
}

#[test]
fn a_custom_price_of_a_model_covers_the_snapshots_the_catalog_lists_as_its_aliases() {
    // Seed 003 prices `gpt-4` in GBP by env var; apps send `gpt-4-0613`, which only the
    // built-in catalog knows to be gpt-4.
    let world = World::new();
    let request = serde_json::from_value(json!({"entries": [{
        "provider": "openai", "model": "gpt-4", "currency": "GBP", "effective_from": "2024-01-01",
        "rates": {"input_tokens": {"price": "2.50", "per": 1000000}, "output_tokens": {"price": "10", "per": 1000000}}
    }]}))
    .unwrap();
    block_on(add_custom_prices(&world.store, &world.store, request)).unwrap();
    let report = world
        .send(json!({"events": [
            {"id": "a", "provider": "openai", "model": "gpt-4-0613", "input_tokens": 1000, "output_tokens": 100},
            {"id": "b", "provider": "openai", "model": "gpt-4-0314", "input_tokens": 1000, "output_tokens": 100}
        ]}))
        .unwrap();
    for event in &report.events {
        assert_eq!(
            (
                event.cost.map(|c| c.amount_string()),
                event.currency.as_ref().map(Currency::as_str)
            ),
            (Some("0.0035".to_string()), Some("GBP")),
            "{}",
            event.id
        );
    }
}

fn try_reprice(
    world: &World,
    request: RepriceRequest,
) -> Result<crate::usage::reprice::RepriceReport, CoreError> {
    block_on(reprice(
        &world.store,
        &world.store,
        &world.log,
        &FixedClock(now()),
        &SystemEntropy,
        &request,
    ))
}

fn run(world: &World, request: RepriceRequest) -> crate::usage::reprice::RepriceReport {
    try_reprice(world, request).unwrap()
}

fn seed_unpriced(world: &World) {
    world
        .send(json!({"events": [
            {"id": "u1", "provider": "openai", "model": "house-model", "input_tokens": 1000000,
             "timestamp": "2026-11-10T10:00:00Z"},
            {"id": "u2", "provider": "openai", "model": "house-model", "input_tokens": 500000,
             "timestamp": "2026-11-12T10:00:00Z"},
            {"id": "u3", "provider": "openai", "model": "house-model", "input_tokens": 10,
             "cost": "0.5", "timestamp": "2026-11-12T11:00:00Z"},
            {"id": "p1", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000000,
             "timestamp": "2026-11-12T10:00:00Z"},
        ]}))
        .unwrap();
}

#[test]
fn unpriced_models_are_listed_with_counts_and_first_and_last_seen() {
    let world = World::new();
    seed_unpriced(&world);
    let report = block_on(unpriced_models(&world.store, &ScanFilter::default())).unwrap();
    assert_eq!(report.events, 2, "a reported cost is a price");
    assert_eq!(report.distinct_models, 1);
    let model = &report.models[0];
    assert_eq!(
        (
            model.provider.as_str(),
            model.model.as_str(),
            model.reason.as_str()
        ),
        ("openai", "house-model", "unknown_model")
    );
    assert_eq!(
        (model.first_seen.as_str(), model.last_seen.as_str()),
        ("2026-11-10T10:00:00.000Z", "2026-11-12T10:00:00.000Z")
    );
}

#[test]
fn repricing_prices_the_unpriced_events_with_the_price_in_force_and_reports_the_change() {
    let world = World::new();
    seed_unpriced(&world);
    // $2 per million from the 11th: u1 (the 10th) stays unpriced, u2 gets $1.
    add_price(&world, "house-model", "2", "2026-11-11");
    let dry = run(
        &world,
        RepriceRequest {
            dry_run: true,
            ..RepriceRequest::default()
        },
    );
    // u1's reason changes (no price in force yet), u2 gets a price, u3 a computed cost.
    assert_eq!((dry.examined, dry.changed, dry.newly_priced), (4, 3, 1));
    assert!(world
        .log
        .objects
        .borrow()
        .keys()
        .all(|k| !k.contains("reprice")));
    assert_eq!(
        world.store.stored_events()[1].cost_nanos,
        None,
        "a dry run changes nothing"
    );
    let report = run(&world, RepriceRequest::default());
    assert_eq!(
        (report.changed, report.newly_priced, report.now_unpriced),
        (3, 1, 0)
    );
    // u2 is now $1.00; u3 still counts its reported $0.50, before and after.
    assert_eq!(report.cost_before.get(Currency::USD), usd("0.50"));
    assert_eq!(report.cost_after.get(Currency::USD), usd("1.50"));
    let stored = world.store.stored_events();
    assert_eq!(stored[0].cost_nanos, None);
    assert_eq!(
        stored[0].unpriced_reason.as_deref(),
        Some("no_price_in_force")
    );
    assert_eq!(stored[1].cost.as_deref(), Some("1.00"));
    // The reported cost still counts; its computed cost is now visible beside it.
    assert_eq!(stored[2].cost.as_deref(), Some("0.50"));
    assert_eq!(stored[2].computed_cost_nanos, Some(20_000));
    let key = report.raw_object.clone().unwrap();
    assert!(key.starts_with("usage-logs/reprice/2026-11-20/"));
    // A second run finds nothing to change.
    let again = run(&world, RepriceRequest::default());
    assert_eq!((again.changed, again.raw_object), (0, None));
}

#[test]
fn rebuild_after_a_wipe_replays_the_reprice_log_so_prices_survive() {
    let world = World::new();
    seed_unpriced(&world);
    add_price(&world, "house-model", "2", "2026-11-01");
    run(
        &world,
        RepriceRequest {
            only_unpriced: true,
            ..RepriceRequest::default()
        },
    );
    let mut before = world.store.stored_events();
    before.sort_by_key(StoredEvent::key);
    let (after, repriced) = rebuilt_with_reprices(&world);
    assert_eq!(repriced, 2);
    assert_eq!(after, before);
}

#[test]
fn repricing_pages_with_a_cursor_and_checks_its_request() {
    let world = World::new();
    seed_unpriced(&world);
    let first = run(
        &world,
        RepriceRequest {
            limit: Some(3),
            ..RepriceRequest::default()
        },
    );
    assert_eq!((first.examined, first.done), (3, false));
    let second = run(
        &world,
        RepriceRequest {
            limit: Some(3),
            cursor: first.next_cursor.clone(),
            ..RepriceRequest::default()
        },
    );
    assert_eq!((second.examined, second.done), (1, true));
    for (request, field) in [
        (
            RepriceRequest {
                from: Some("2026-11-12".into()),
                to: Some("2026-11-11".into()),
                ..RepriceRequest::default()
            },
            "to",
        ),
        (
            RepriceRequest {
                limit: Some(0),
                ..RepriceRequest::default()
            },
            "limit",
        ),
        (
            RepriceRequest {
                cursor: Some("abc".into()),
                ..RepriceRequest::default()
            },
            "cursor",
        ),
    ] {
        let error = block_on(reprice(
            &world.store,
            &world.store,
            &world.log,
            &FixedClock(now()),
            &SystemEntropy,
            &request,
        ))
        .unwrap_err();
        assert_eq!(fields(&error), vec![(field.to_string(), None)]);
    }
}

/// The stored events after a wipe and a rebuild page by page, sorted, and how many re-priced
/// events the last page replayed.
fn rebuilt_with_reprices(world: &World) -> (Vec<StoredEvent>, usize) {
    world.store.wipe_events();
    let mut cursor = None;
    let repriced = loop {
        let report = block_on(rebuild(
            &world.store,
            &world.log,
            &RebuildRequest {
                cursor: cursor.clone(),
                ..RebuildRequest::default()
            },
        ))
        .unwrap();
        cursor = report.next_cursor;
        if cursor.is_none() {
            break report.repriced;
        }
    };
    let mut events = world.store.stored_events();
    events.sort_by_key(StoredEvent::key);
    (events, repriced)
}

fn rebuilt(world: &World) -> Vec<StoredEvent> {
    rebuilt_with_reprices(world).0
}

#[test]
fn a_reprice_whose_update_failed_leaves_no_object_for_a_rebuild_to_apply() {
    let world = World::new();
    seed_unpriced(&world);
    add_price(&world, "house-model", "2", "2026-11-01");
    let mut before = world.store.stored_events();
    before.sort_by_key(StoredEvent::key);
    world.store.fail_event_writes.set(true);
    assert!(try_reprice(&world, RepriceRequest::default()).is_err());
    world.store.fail_event_writes.set(false);
    assert!(world
        .log
        .objects
        .borrow()
        .keys()
        .all(|k| !k.contains("reprice")));
    assert_eq!(
        rebuilt(&world),
        before,
        "the prices the store kept, not the failed ones"
    );
}

#[test]
fn a_reprice_whose_update_committed_with_its_answer_lost_is_answered_as_done_and_rebuilt_the_same()
{
    let world = World::new();
    seed_unpriced(&world);
    add_price(&world, "house-model", "2", "2026-11-01");
    world.store.lose_event_write_answers.set(true);
    let report = try_reprice(&world, RepriceRequest::default()).unwrap();
    assert!(report.changed > 0 && report.raw_object.is_some());
    let mut repriced = world.store.stored_events();
    repriced.sort_by_key(StoredEvent::key);
    assert_eq!(rebuilt(&world), repriced);
}

#[test]
fn an_only_unpriced_reprice_whose_update_committed_with_its_answer_lost_keeps_its_object() {
    let world = World::new();
    seed_unpriced(&world);
    add_price(&world, "house-model", "2", "2026-11-01");
    world.store.lose_event_write_answers.set(true);
    // The events it priced leave the only-unpriced page: whether it committed is unknown, so
    // the error stands and the object stays for a rebuild to apply.
    let answer = try_reprice(
        &world,
        RepriceRequest {
            only_unpriced: true,
            ..RepriceRequest::default()
        },
    );
    assert!(answer.is_err());
    let mut repriced = world.store.stored_events();
    repriced.sort_by_key(StoredEvent::key);
    assert!(repriced.iter().any(|e| e.cost.as_deref() == Some("1.00")));
    assert_eq!(rebuilt(&world), repriced);
}

#[test]
fn repricing_a_model_reprices_its_dated_snapshots_too_and_no_other_model() {
    let world = World::new();
    world
        .send(json!({"events": [
            {"id": "plain", "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000000,
             "timestamp": "2026-11-19T08:00:00Z"},
            {"id": "dated", "provider": "openai", "model": "gpt-4o-mini-2024-07-18",
             "input_tokens": 1000000, "timestamp": "2026-11-19T09:00:00Z"},
            {"id": "other", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000000,
             "timestamp": "2026-11-19T10:00:00Z"},
        ]}))
        .unwrap();
    let before: Vec<Option<String>> = world
        .store
        .stored_events()
        .iter()
        .map(|e| e.cost.clone())
        .collect();
    add_price(&world, "gpt-4o-mini", "7", "2026-11-01");
    add_price(&world, "gpt-4o", "9", "2026-11-01");
    let report = run(
        &world,
        RepriceRequest {
            model: Some("gpt-4o-mini".into()),
            ..RepriceRequest::default()
        },
    );
    assert_eq!((report.examined, report.changed), (2, 2));
    let costs: Vec<(String, Option<String>)> = world
        .store
        .stored_events()
        .iter()
        .map(|e| (e.id.clone(), e.cost.clone()))
        .collect();
    assert_eq!(
        costs,
        vec![
            ("plain".into(), Some("7.00".into())),
            ("dated".into(), Some("7.00".into())),
            ("other".into(), before[2].clone()),
        ]
    );
}

#[test]
fn usage_priced_past_the_cap_is_refused_saying_what_priced_it_unless_the_client_reported_the_cost()
{
    let world = World::new();
    let request = serde_json::from_value(json!({"entries": [{
        "provider": "acme", "model": "render", "currency": "IDR", "effective_from": "2026-01-01",
        "rates": {"requests": {"price": "1000000", "per": 1}}
    }]}))
    .unwrap();
    block_on(add_custom_prices(&world.store, &world.store, request)).unwrap();
    // Ten renders at a million rupiah: past the nine million one event may cost.
    let refused = world
        .send(json!({"id": "r-1", "provider": "acme", "model": "render", "requests": 10}))
        .unwrap_err();
    let CoreError::Validation(details) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    assert_eq!(details[0].field, "cost");
    assert!(
        details[0]
            .message
            .contains("the usage prices at 10000000.00 IDR by "),
        "{}",
        details[0].message
    );
    // Nine renders fit, priced as usual.
    let nine = world
        .send(json!({"id": "r-2", "provider": "acme", "model": "render", "requests": 9}))
        .unwrap();
    assert_eq!(nine.stored, 1);
    // The client's own cost counts: stored, the price the record cannot hold left out.
    let reported = world
        .send(
            json!({"id": "r-3", "provider": "acme", "model": "render", "requests": 10,
                     "cost": "5", "currency": "IDR"}),
        )
        .unwrap();
    assert_eq!(reported.stored, 1);
    let stored = world.store.stored_events();
    let r3 = stored.iter().find(|e| e.id == "r-3").unwrap();
    assert_eq!(
        (
            r3.cost_nanos,
            r3.computed_cost_nanos,
            r3.price_id.as_deref()
        ),
        (Some(5_000_000_000), None, None)
    );
    let r2 = stored.iter().find(|e| e.id == "r-2").unwrap();
    assert_eq!(r2.cost_nanos, Some(9_000_000_000_000_000));
}
