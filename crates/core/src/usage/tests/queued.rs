//! The queue path: accepted and priced at once, stored by the consumer exactly once.

use pollster::block_on;
use serde_json::{json, Value};

use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::usage::fixtures::{now, World};
use crate::usage::ingest::{
    accept_request, queue_message, queued_report, rebuild, store_delivered, Delivered,
    IngestConfig, Outcome, Prepared, RebuildReport, RebuildRequest, MAX_EVENTS_PER_REQUEST,
    MAX_MESSAGES_PER_DELIVERY, MAX_QUEUED_EVENTS,
};
use crate::usage::record::StoredEvent;

/// The producer's validation and pricing of `body`, as `POST /api/usage` in queue mode runs them.
fn accept(world: &World, body: &Value) -> Result<Prepared, CoreError> {
    block_on(accept_request(
        &world.store,
        &world.store,
        &FixedClock(now()),
        &SystemEntropy,
        &world.key(),
        body.to_string().as_bytes(),
        IngestConfig::default(),
    ))
}

/// What the producer does with a request: the message it queues and its answer.
fn enqueue(world: &World, body: Value) -> (String, Value) {
    let prepared = accept(world, &body).unwrap();
    let message = queue_message(&prepared).unwrap().unwrap();
    let answer = serde_json::to_value(queued_report(prepared)).unwrap();
    (message, answer)
}

/// A wipe of the stored events, then a rebuild from the raw log.
fn wipe_and_rebuild(world: &World) -> RebuildReport {
    world.store.wipe_events();
    block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap()
}

fn consume(world: &World, messages: &[String]) -> Result<Delivered, CoreError> {
    block_on(store_delivered(
        &world.store,
        &world.log,
        &FixedClock(now()),
        &SystemEntropy,
        messages,
    ))
}

fn sorted(mut events: Vec<StoredEvent>) -> Vec<StoredEvent> {
    events.sort_by_key(StoredEvent::key);
    events
}

#[test]
fn a_queued_request_is_answered_with_its_price_and_stores_nothing_until_consumed() {
    let world = World::new();
    let (message, answer) = enqueue(
        &world,
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1000000, "output_tokens": 0}),
    );
    assert_eq!(answer["queued"], 1);
    assert_eq!(answer["stored"], 0);
    assert_eq!(answer["events"][0]["status"], "queued");
    assert_eq!(answer["events"][0]["cost"]["amount"], "2.50");
    assert!(world.store.stored_events().is_empty());
    assert!(world.log.objects.borrow().is_empty(), "no raw object yet");
    let delivered = consume(&world, &[message]).unwrap();
    assert_eq!(delivered.reports[0].stored, 1);
    assert_eq!(world.store.stored_events().len(), 1);
    assert_eq!(
        world.store.stored_events()[0].id,
        answer["events"][0]["id"].as_str().unwrap(),
        "the id the answer gave is the id stored"
    );
}

#[test]
fn a_redelivered_batch_and_a_retried_request_store_nothing_twice_and_rebuild_gives_the_same_rows() {
    let world = World::new();
    let mut messages = Vec::new();
    for i in 0..5 {
        let (m, _) = enqueue(
            &world,
            json!({"id": format!("e{i}"), "provider": "acme", "cost": "0.10", "currency": "USD"}),
        );
        messages.push(m);
    }
    // One without an id: its id is drawn before it is queued, so a redelivery is a duplicate.
    messages.push(
        enqueue(
            &world,
            json!({"provider": "acme", "cost": "0.01", "currency": "USD"}),
        )
        .0,
    );
    // The client retries e0 (its answer was lost): a second message of the same event.
    messages.push(
        enqueue(
            &world,
            json!({"id": "e0", "provider": "acme", "cost": "0.10", "currency": "USD"}),
        )
        .0,
    );
    let first = consume(&world, &messages).unwrap();
    assert_eq!((first.reports[0].stored, first.not_stored), (6, 1));
    let again = consume(&world, &messages).unwrap();
    assert_eq!((again.reports[0].stored, again.not_stored), (0, 7));
    let stored = sorted(world.store.stored_events());
    assert_eq!(stored.len(), 6);
    assert_eq!(
        world.log.objects.borrow().len(),
        1,
        "the redelivery's object stored nothing and was withdrawn"
    );
    assert_eq!(world.logged_events().len(), 6, "one line per stored event");
    wipe_and_rebuild(&world);
    assert_eq!(sorted(world.store.stored_events()), stored);
}

#[test]
fn a_failed_insert_withdraws_the_object_and_the_retried_batch_stores_everything_once() {
    let world = World::new();
    let (message, _) = enqueue(
        &world,
        json!({"id": "x", "provider": "acme", "cost": "1", "currency": "USD"}),
    );
    world.store.fail_event_writes.set(true);
    assert!(consume(&world, std::slice::from_ref(&message)).is_err());
    assert!(world.store.stored_events().is_empty());
    assert!(
        world.logged_events().is_empty(),
        "nothing of a failed write stays in the log"
    );
    world.store.fail_event_writes.set(false);
    assert_eq!(consume(&world, &[message]).unwrap().reports[0].stored, 1);
    assert_eq!(world.logged_events().len(), 1);
}

#[test]
fn a_consumer_write_whose_answer_is_lost_counts_as_stored_and_a_rebuild_restores_exactly_the_stored_rows(
) {
    let world = World::new();
    let event = |id: &str, cost: &str| {
        enqueue(
            &world,
            json!({"id": id, "provider": "acme", "cost": cost, "currency": "USD"}),
        )
        .0
    };
    // Stored before: `same` (sent again below as the same event) and `taken` (sent again
    // below for a different event).
    let earlier = consume(&world, &[event("same", "0.10"), event("taken", "0.20")]).unwrap();
    assert_eq!(earlier.reports[0].stored, 2);
    let messages = vec![
        event("same", "0.10"),
        event("taken", "9.99"),
        event("twice", "0.30"),
        event("twice", "7.77"),
        event("new", "0.40"),
    ];
    // The insert commits, but its answer is lost on the way back: the acknowledgement says
    // what committed, so the messages are acknowledged as stored and not delivered again.
    world.store.lose_event_write_answers.set(true);
    let delivered = consume(&world, &messages).unwrap();
    world.store.lose_event_write_answers.set(false);
    assert_eq!((delivered.reports[0].stored, delivered.not_stored), (2, 3));
    let stored = sorted(world.store.stored_events());
    let costs: Vec<(String, Option<i64>)> = stored
        .iter()
        .map(|e| (e.id.clone(), e.cost_nanos))
        .collect();
    assert_eq!(
        costs,
        vec![
            ("new".to_string(), Some(400_000_000)),
            ("same".to_string(), Some(100_000_000)),
            ("taken".to_string(), Some(200_000_000)),
            ("twice".to_string(), Some(300_000_000)),
        ]
    );
    assert_eq!(
        sorted(world.logged_events()),
        stored,
        "one raw line per stored event"
    );
    // Delivered again all the same (a second lost answer, say): nothing changes.
    let again = consume(&world, &messages).unwrap();
    assert_eq!((again.reports[0].stored, again.not_stored), (0, 5));
    for _ in 0..2 {
        wipe_and_rebuild(&world);
        assert_eq!(sorted(world.store.stored_events()), stored);
    }
}

#[test]
fn a_consumer_write_the_store_never_took_leaves_nothing_a_rebuild_restores() {
    let world = World::new();
    let (message, _) = enqueue(
        &world,
        json!({"provider": "acme", "cost": "1", "currency": "USD"}),
    );
    // The database is unreachable: whether the write committed cannot be read, so its object
    // stays, unacknowledged.
    *world.store.fail.borrow_mut() = true;
    assert!(consume(&world, std::slice::from_ref(&message)).is_err());
    *world.store.fail.borrow_mut() = false;
    assert_eq!(world.log.objects.borrow().len(), 1);
    assert!(world.store.stored_events().is_empty());
    assert_eq!(consume(&world, &[message]).unwrap().reports[0].stored, 1);
    let stored = world.store.stored_events();
    let report = wipe_and_rebuild(&world);
    assert_eq!(
        world.store.stored_events(),
        stored,
        "the event once, not twice"
    );
    assert_eq!(report.unacknowledged_objects, 1);
}

#[test]
fn an_id_taken_by_another_event_keeps_the_first_and_the_log_holds_only_what_was_stored() {
    let world = World::new();
    let one = enqueue(
        &world,
        json!({"id": "same", "provider": "acme", "cost": "1", "currency": "USD"}),
    )
    .0;
    let other = enqueue(
        &world,
        json!({"id": "same", "provider": "acme", "cost": "9", "currency": "USD"}),
    )
    .0;
    let keep = enqueue(
        &world,
        json!({"id": "k", "provider": "acme", "cost": "2", "currency": "USD"}),
    )
    .0;
    let delivered = consume(&world, &[one, other, keep]).unwrap();
    assert_eq!((delivered.reports[0].stored, delivered.not_stored), (2, 1));
    let costs: Vec<Option<i64>> = sorted(world.store.stored_events())
        .iter()
        .map(|e| e.cost_nanos)
        .collect();
    assert_eq!(costs, vec![Some(2_000_000_000), Some(1_000_000_000)]);
    assert_eq!(
        world.logged_events().len(),
        2,
        "the dropped event is not in the log"
    );
}

#[test]
fn an_unreadable_message_fails_the_batch_and_stores_nothing() {
    let world = World::new();
    let good = enqueue(
        &world,
        json!({"provider": "acme", "cost": "1", "currency": "USD"}),
    )
    .0;
    let error = consume(&world, &[good, "{not json".into()]).unwrap_err();
    assert!(error.to_string().contains("queue message 1"), "{error}");
    assert!(world.store.stored_events().is_empty());
}

fn prepared(world: &World, events: Vec<Value>) -> Prepared {
    accept(world, &json!({ "events": events })).unwrap()
}

fn openai_events(from: usize, count: usize) -> Vec<Value> {
    (from..from + count)
        .map(|i| json!({"id": format!("evt-{i:04}"), "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "operation": "a-fairly-long-operation-name", "job_id": format!("job-{i}")}))
        .collect()
}

#[test]
fn a_request_of_more_events_than_a_message_may_hold_is_left_to_the_synchronous_path() {
    let world = World::new();
    let at_most = prepared(&world, openai_events(0, MAX_QUEUED_EVENTS));
    assert!(
        queue_message(&at_most).unwrap().is_some(),
        "{MAX_QUEUED_EVENTS} events are queued"
    );
    let over = prepared(&world, openai_events(0, MAX_QUEUED_EVENTS + 1));
    assert_eq!(
        queue_message(&over).unwrap(),
        None,
        "{} events are stored at once",
        MAX_QUEUED_EVENTS + 1
    );
    let large = prepared(&world, openai_events(0, 600));
    assert_eq!(queue_message(&large).unwrap(), None);
    let report = queued_report(large);
    assert!(report.events.iter().all(|e| e.status == Outcome::Queued));
}

#[test]
fn the_largest_delivery_of_the_largest_queued_requests_is_one_write_of_at_most_a_requests_events() {
    let world = World::new();
    let messages: Vec<String> = (0..MAX_MESSAGES_PER_DELIVERY)
        .map(|m| {
            let request = prepared(
                &world,
                openai_events(m * MAX_QUEUED_EVENTS, MAX_QUEUED_EVENTS),
            );
            let message = queue_message(&request).unwrap();
            assert!(message.is_some(), "message {m} is queued");
            message.unwrap_or_default()
        })
        .collect();
    let delivered = consume(&world, &messages).unwrap();
    assert_eq!(delivered.reports.len(), 1, "one raw object and one insert");
    assert_eq!(delivered.reports[0].stored, MAX_EVENTS_PER_REQUEST);
    assert_eq!(world.log.objects.borrow().len(), 1);
    assert_eq!(world.store.stored_events().len(), MAX_EVENTS_PER_REQUEST);
}

/// How one delivery of the property test below fails, if it does.
#[derive(Debug, Clone, Copy)]
enum Failure {
    None,
    /// The insert fails and stores nothing.
    Insert,
    /// The insert commits and its answer is lost.
    LostAnswer,
    /// The insert commits, its answer is lost, and the database is then out of reach.
    LostAnswerUnreachable,
    /// The insert fails, and the database is then out of reach.
    InsertUnreachable,
    /// The raw object cannot be written.
    RawPut,
}

fn failure() -> impl proptest::strategy::Strategy<Value = Failure> {
    use proptest::prelude::*;
    prop_oneof![
        3 => Just(Failure::None),
        1 => Just(Failure::Insert),
        1 => Just(Failure::LostAnswer),
        1 => Just(Failure::LostAnswerUnreachable),
        1 => Just(Failure::InsertUnreachable),
        1 => Just(Failure::RawPut),
    ]
}

/// Delivers `messages` once with `failure` switched on; whether the queue may drop them
/// (the consumer acknowledged them).
fn deliver_with(world: &World, messages: &[String], failure: Failure) -> bool {
    let store = &world.store;
    match failure {
        Failure::None => {}
        Failure::Insert => store.fail_event_writes.set(true),
        Failure::LostAnswer => store.lose_event_write_answers.set(true),
        Failure::LostAnswerUnreachable => {
            store.lose_event_write_answers.set(true);
            store.unreachable_after_event_write.set(true);
        }
        Failure::InsertUnreachable => {
            store.fail_event_writes.set(true);
            store.unreachable_after_event_write.set(true);
        }
        Failure::RawPut => world.log.fail_writes.set(true),
    }
    let acknowledged = consume(world, messages).is_ok();
    store.fail_event_writes.set(false);
    store.lose_event_write_answers.set(false);
    store.unreachable_after_event_write.set(false);
    *store.fail.borrow_mut() = false;
    world.log.fail_writes.set(false);
    acknowledged
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Requests of one to three events (ids from a small pool, some sent again for another
    /// event, some without an id), delivered in random groups, some again after they were
    /// acknowledged, each delivery failing in one of the ways a database or a bucket fails
    /// (a lost answer included), and what was not acknowledged delivered until it is: every
    /// event queued is stored once, the raw log holds exactly the stored rows, and a wipe and
    /// a rebuild give the same rows back.
    #[test]
    fn queued_events_delivered_in_any_groups_through_any_failures_are_stored_once_and_rebuilt_the_same(
        requests in proptest::collection::vec(
            proptest::collection::vec((proptest::option::weighted(0.8, 0usize..6), 1u32..4), 1..4),
            1..10,
        ),
        deliveries in proptest::collection::vec((0usize..10, 1usize..5, failure(), proptest::bool::weighted(0.2)), 0..12),
    ) {
        let world = World::new();
        let messages: Vec<String> = requests
            .iter()
            .filter_map(|events| {
                let events: Vec<Value> = events
                    .iter()
                    .map(|(id, cents)| match id {
                        Some(id) => json!({"id": format!("e{id}"), "provider": "acme", "cost": format!("0.0{cents}"), "currency": "USD"}),
                        None => json!({"provider": "acme", "cost": format!("0.0{cents}"), "currency": "USD"}),
                    })
                    .collect();
                // A request giving one id to two different events is refused (409) before
                // anything is queued.
                let prepared = accept(&world, &json!({ "events": events })).ok()?;
                queue_message(&prepared).unwrap()
            })
            .collect();
        if messages.is_empty() {
            return Ok(());
        }
        let mut acknowledged = vec![false; messages.len()];
        for (start, len, failure, again) in deliveries {
            let start = start % messages.len();
            let group: Vec<usize> = (start..(start + len).min(messages.len()))
                .filter(|&i| again || !acknowledged[i])
                .collect();
            if group.is_empty() {
                continue;
            }
            let batch: Vec<String> = group.iter().map(|&i| messages[i].clone()).collect();
            if deliver_with(&world, &batch, failure) {
                for i in group {
                    acknowledged[i] = true;
                }
            }
        }
        let rest: Vec<String> = messages
            .iter()
            .zip(&acknowledged)
            .filter(|(_, done)| !**done)
            .map(|(m, _)| m.clone())
            .collect();
        if !rest.is_empty() {
            proptest::prop_assert!(deliver_with(&world, &rest, Failure::None));
        }
        let queued: std::collections::BTreeSet<(String, String)> = messages
            .iter()
            .flat_map(|m| crate::usage::record::from_ndjson(m.as_bytes()).0)
            .map(|r| r.key())
            .collect();
        let stored = sorted(world.store.stored_events());
        let keys: Vec<(String, String)> = stored.iter().map(StoredEvent::key).collect();
        proptest::prop_assert_eq!(keys, queued.into_iter().collect::<Vec<_>>());
        wipe_and_rebuild(&world);
        proptest::prop_assert_eq!(sorted(world.store.stored_events()), stored);
    }
}
