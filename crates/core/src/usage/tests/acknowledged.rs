//! Rebuild restores exactly what was acknowledged: after failed writes, lost answers, retries
//! with and without the client's own time, refused requests and rebuilds racing them, a wipe
//! and a rebuild give back exactly the events answered 2xx, with the facts they were answered
//! with, and nothing of a request that was not.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::access::auth::Principal;
use crate::access::projects::create_project;
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::kernel::testing::{MemoryLog, MemoryStore};
use crate::usage::ingest::{
    ingest, rebuild, IngestConfig, IngestReport, RebuildReport, RebuildRequest,
};
use crate::usage::record::{to_ndjson, StoredEvent};
use crate::usage::store::RawLog;

struct Tracker {
    store: MemoryStore,
    log: MemoryLog,
    principal: Principal,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

impl Tracker {
    fn new() -> Self {
        let store = MemoryStore::new();
        let request = serde_json::from_value(json!({"id": "ads", "name": "Ads"})).unwrap();
        let project = block_on(create_project(
            &store,
            &FixedClock(t0()),
            &SystemEntropy,
            request,
        ))
        .unwrap();
        Tracker {
            store,
            log: MemoryLog::default(),
            principal: Principal::Project {
                project_id: project.id,
                key_id: "key_1".into(),
            },
        }
    }

    fn send_at(&self, at: DateTime<Utc>, body: Value) -> Result<IngestReport, CoreError> {
        block_on(ingest(
            &self.store,
            &self.store,
            &self.log,
            &FixedClock(at),
            &SystemEntropy,
            &self.principal,
            body.to_string().as_bytes(),
            IngestConfig::default(),
        ))
    }

    fn rebuild_all(&self) -> RebuildReport {
        let mut total = RebuildReport::default();
        let mut cursor = None;
        loop {
            let request = RebuildRequest {
                cursor: cursor.clone(),
                ..RebuildRequest::default()
            };
            let report = block_on(rebuild(&self.store, &self.log, &request)).unwrap();
            total.inserted += report.inserted;
            total.refused_objects += report.refused_objects;
            total.void_objects += report.void_objects;
            total.unacknowledged_objects += report.unacknowledged_objects;
            if report.done {
                return total;
            }
            cursor = report.next_cursor;
        }
    }

    /// (id, time) of every stored event, sorted.
    fn stored(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .store
            .stored_events()
            .into_iter()
            .map(|e| (e.id, e.request_timestamp))
            .collect();
        rows.sort();
        rows
    }

    fn wipe_and_rebuild(&self) -> RebuildReport {
        self.store.wipe_events();
        self.rebuild_all()
    }
}

fn answered(report: &IngestReport) -> Vec<(String, String)> {
    report
        .events
        .iter()
        .map(|e| (e.id.clone(), e.timestamp.clone()))
        .collect()
}

#[test]
fn a_request_whose_store_write_failed_never_comes_back_by_a_rebuild_and_its_retry_does() {
    let tracker = Tracker::new();
    tracker.store.fail_event_writes.set(true);
    let failed = tracker.send_at(
        t0(),
        json!({"id": "x", "provider": "openai", "model": "gpt-4o", "input_tokens": 10}),
    );
    assert!(matches!(failed, Err(CoreError::Storage(_))), "{failed:?}");
    // No id of the client's own: the retry is a new event, so the failed one must stay gone.
    let no_id = tracker.send_at(
        t0(),
        json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 7}),
    );
    assert!(no_id.is_err());
    tracker.store.fail_event_writes.set(false);
    let later = t0() + Duration::seconds(30);
    let retry = tracker
        .send_at(
            later,
            json!({"id": "x", "provider": "openai", "model": "gpt-4o", "input_tokens": 10}),
        )
        .unwrap();
    let retry_no_id = tracker
        .send_at(
            later,
            json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 7}),
        )
        .unwrap();
    let mut acknowledged = answered(&retry);
    acknowledged.extend(answered(&retry_no_id));
    acknowledged.sort();
    assert_eq!(acknowledged[1].1, "2026-11-20T12:00:30.000Z");
    assert_eq!(tracker.stored(), acknowledged);
    tracker.wipe_and_rebuild();
    assert_eq!(
        tracker.stored(),
        acknowledged,
        "the server time of the retry, and one event without an id, not two"
    );
}

#[test]
fn a_lost_answer_is_answered_as_stored_and_a_retry_is_a_duplicate_with_the_first_time() {
    let tracker = Tracker::new();
    let body = json!({"id": "x", "provider": "openai", "model": "gpt-4o", "input_tokens": 10});
    let no_id = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 3});
    // The insert commits but its answer is lost: the acknowledgement says it committed, so the
    // request is answered as stored, and the event without an id is not sent (stored) again.
    tracker.store.lose_event_write_answers.set(true);
    let first = tracker
        .send_at(t0(), json!({"events": [body.clone(), no_id]}))
        .unwrap();
    tracker.store.lose_event_write_answers.set(false);
    assert_eq!((first.stored, first.duplicates), (2, 0));
    let retry = tracker
        .send_at(t0() + Duration::minutes(2), body.clone())
        .unwrap();
    assert_eq!(retry.duplicates, 1);
    assert_eq!(answered(&retry)[0].1, "2026-11-20T12:00:00.000Z");
    let acknowledged = tracker.stored();
    assert_eq!(acknowledged.len(), 2);
    tracker.wipe_and_rebuild();
    assert_eq!(tracker.stored(), acknowledged);
    // And sent a third time, with its object beside the corrected one: still the same.
    tracker
        .send_at(t0() + Duration::minutes(4), body.clone())
        .unwrap();
    tracker.wipe_and_rebuild();
    assert_eq!(tracker.stored(), acknowledged);
}

#[test]
fn a_lost_answer_the_store_cannot_confirm_keeps_the_object_and_the_retry_restores_the_time_the_duplicate_was_answered_with(
) {
    let tracker = Tracker::new();
    let body = json!({"id": "x", "provider": "openai", "model": "gpt-4o", "input_tokens": 10});
    // The insert commits, its answer is lost, and the database is then out of reach: the
    // client is told to retry, and the object stays (it is the raw copy of what committed).
    tracker.store.lose_event_write_answers.set(true);
    tracker.store.unreachable_after_event_write.set(true);
    assert!(tracker.send_at(t0(), body.clone()).is_err());
    tracker.store.lose_event_write_answers.set(false);
    *tracker.store.fail.borrow_mut() = false;
    assert_eq!(tracker.log.objects.borrow().len(), 1);
    let retry = tracker
        .send_at(t0() + Duration::minutes(2), body.clone())
        .unwrap();
    assert_eq!(retry.duplicates, 1);
    let acknowledged = answered(&retry);
    assert_eq!(acknowledged[0].1, "2026-11-20T12:00:00.000Z");
    tracker.wipe_and_rebuild();
    assert_eq!(tracker.stored(), acknowledged);
}

#[test]
fn a_write_the_store_never_took_and_cannot_confirm_leaves_an_object_a_rebuild_skips() {
    let tracker = Tracker::new();
    let body = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 10});
    tracker.store.fail_event_writes.set(true);
    tracker.store.unreachable_after_event_write.set(true);
    assert!(tracker.send_at(t0(), body.clone()).is_err());
    tracker.store.fail_event_writes.set(false);
    *tracker.store.fail.borrow_mut() = false;
    assert_eq!(
        tracker.log.objects.borrow().len(),
        1,
        "kept: the store could not say"
    );
    let retry = tracker.send_at(t0() + Duration::minutes(1), body).unwrap();
    let acknowledged = answered(&retry);
    let rebuilt = tracker.wipe_and_rebuild();
    assert_eq!(
        tracker.stored(),
        acknowledged,
        "the event once, from its retry"
    );
    assert_eq!(rebuilt.unacknowledged_objects, 1);
}

#[test]
fn a_refused_requests_object_read_by_a_racing_rebuild_is_left_out_whole() {
    let tracker = Tracker::new();
    let first = tracker
        .send_at(
            t0(),
            json!({"id": "shared", "provider": "openai", "model": "gpt-4o", "input_tokens": 10}),
        )
        .unwrap();
    // A second request reuses `shared` for a different event: refused with 409. A rebuild
    // running between its raw write and its withdrawal reads its object; here the object is
    // put back to stand for that moment.
    let refused_body = json!({"events": [
        {"id": "shared", "provider": "openai", "model": "gpt-4o", "input_tokens": 999},
        {"id": "innocent", "provider": "openai", "model": "gpt-4o", "input_tokens": 1},
    ]});
    let refused = tracker.send_at(t0() + Duration::seconds(1), refused_body.clone());
    assert!(
        matches!(refused, Err(CoreError::IdReused(_))),
        "{refused:?}"
    );
    let lines: Vec<StoredEvent> = {
        // The refused request's records, as its object held them.
        let other = Tracker::new();
        other
            .send_at(t0() + Duration::seconds(1), refused_body)
            .unwrap();
        other.store.stored_events()
    };
    let object = "usage-logs/raw/2026-11-20/20261120T120001000Z-racing.ndjson";
    block_on(tracker.log.put(object, to_ndjson(&lines).unwrap())).unwrap();

    let report = tracker.rebuild_all();
    assert_eq!((report.inserted, report.refused_objects), (0, 1));
    assert_eq!(
        tracker.stored(),
        answered(&first),
        "no event of the refused request"
    );
    // After a wipe the same holds: the first object decides, the refused one is left out.
    let report = tracker.wipe_and_rebuild();
    assert_eq!((report.inserted, report.refused_objects), (1, 1));
    assert_eq!(tracker.stored(), answered(&first));
}

#[test]
fn a_withdrawn_object_whose_delete_failed_is_marked_void_and_skipped_by_rebuild() {
    let tracker = Tracker::new();
    tracker.store.fail_event_writes.set(true);
    tracker.log.fail_deletes.set(true);
    let body = json!({"id": "y", "provider": "openai", "model": "gpt-4o", "input_tokens": 3});
    assert!(tracker.send_at(t0(), body.clone()).is_err());
    let markers = block_on(tracker.log.list("usage-logs/void/", None, 10)).unwrap();
    assert_eq!(markers.keys.len(), 1);
    tracker.store.fail_event_writes.set(false);
    tracker.log.fail_deletes.set(false);
    let retry = tracker.send_at(t0() + Duration::seconds(45), body).unwrap();
    let report = tracker.wipe_and_rebuild();
    assert_eq!((report.inserted, report.void_objects), (1, 1));
    assert_eq!(tracker.stored(), answered(&retry));
    assert_eq!(tracker.stored()[0].1, "2026-11-20T12:00:45.000Z");
}

#[test]
fn a_crash_after_the_raw_write_then_a_retry_without_a_time_restores_the_retrys_time() {
    // The crashed attempt's object: written at 12:00, its insert never ran, nothing answered.
    let crashed = Tracker::new();
    let body = json!({"id": "c", "provider": "openai", "model": "gpt-4o", "input_tokens": 5});
    crashed.send_at(t0(), body.clone()).unwrap();
    let orphan = crashed.log.objects.borrow().clone();
    let tracker = Tracker::new();
    for (key, bytes) in orphan {
        block_on(tracker.log.put(&key, bytes)).unwrap();
    }
    // The client's retry three minutes later is stored and answered with its own server time.
    let retry = tracker
        .send_at(t0() + Duration::minutes(3), body.clone())
        .unwrap();
    assert_eq!(retry.stored, 1);
    let acknowledged = answered(&retry);
    assert_eq!(acknowledged[0].1, "2026-11-20T12:03:00.000Z");
    tracker.wipe_and_rebuild();
    assert_eq!(
        tracker.stored(),
        acknowledged,
        "the later object holds what was answered"
    );
    // A rebuild over the intact store changes nothing.
    tracker.rebuild_all();
    assert_eq!(tracker.stored(), acknowledged);
}

#[test]
fn a_crash_then_a_client_retry_with_a_fresh_client_time_restores_the_retrys_time() {
    let crashed = Tracker::new();
    crashed
        .send_at(
            t0(),
            json!({"id": "r", "provider": "openai", "model": "gpt-4o", "input_tokens": 5,
                   "timestamp": "2026-11-20T11:59:58Z"}),
        )
        .unwrap();
    let orphan = crashed.log.objects.borrow().clone();
    let tracker = Tracker::new();
    for (key, bytes) in orphan {
        block_on(tracker.log.put(&key, bytes)).unwrap();
    }
    // The client library stamps a fresh time when it records the call again.
    let retry = tracker
        .send_at(
            t0() + Duration::seconds(20),
            json!({"id": "r", "provider": "openai", "model": "gpt-4o", "input_tokens": 5,
                   "timestamp": "2026-11-20T12:00:19Z"}),
        )
        .unwrap();
    let acknowledged = answered(&retry);
    tracker.wipe_and_rebuild();
    assert_eq!(tracker.stored(), acknowledged);
}

/// The raw objects of a request sent to a tracker of its own, as a crash between the R2 put
/// and the D1 commit leaves them in `tracker`'s log: written, never acknowledged.
fn crashed_objects(tracker: &Tracker, at: DateTime<Utc>, body: Value) {
    let crashed = Tracker::new();
    crashed.send_at(at, body).unwrap();
    let orphan = crashed.log.objects.borrow().clone();
    for (key, bytes) in orphan {
        block_on(tracker.log.put(&key, bytes)).unwrap();
    }
}

#[test]
fn a_crashed_request_that_is_never_retried_does_not_come_back_by_a_rebuild() {
    let tracker = Tracker::new();
    let kept = tracker
        .send_at(
            t0(),
            json!({"id": "kept", "provider": "openai", "model": "gpt-4o", "input_tokens": 5}),
        )
        .unwrap();
    crashed_objects(
        &tracker,
        t0() + Duration::seconds(5),
        json!({"id": "never-answered", "provider": "openai", "model": "gpt-4o", "input_tokens": 7}),
    );
    let report = tracker.wipe_and_rebuild();
    assert_eq!((report.inserted, report.unacknowledged_objects), (1, 1));
    assert_eq!(tracker.stored(), answered(&kept));
}

#[test]
fn a_crashed_resend_of_an_acknowledged_event_does_not_move_it_to_the_resends_time() {
    let tracker = Tracker::new();
    let body = json!({"id": "once", "provider": "openai", "model": "gpt-4o", "input_tokens": 5});
    let first = tracker.send_at(t0(), body.clone()).unwrap();
    // The app sends it again an hour later; that invocation dies before its D1 commit.
    crashed_objects(&tracker, t0() + Duration::hours(1), body);
    let report = tracker.wipe_and_rebuild();
    assert_eq!(report.unacknowledged_objects, 1);
    assert_eq!(tracker.stored(), answered(&first));
    assert_eq!(tracker.stored()[0].1, "2026-11-20T12:00:00.000Z");
}

#[test]
fn a_crash_between_a_duplicates_commit_and_its_replacement_object_keeps_the_stored_time() {
    let tracker = Tracker::new();
    let body = json!({"events": [
        {"id": "dup", "provider": "openai", "model": "gpt-4o", "input_tokens": 5},
    ]});
    let first = tracker.send_at(t0(), body.clone()).unwrap();
    // The resend, with a new event beside the duplicate: committed and acknowledged; its
    // object is replaced by one holding the stored time, and the original withdrawn.
    let resend_body = json!({"events": [
        {"id": "dup", "provider": "openai", "model": "gpt-4o", "input_tokens": 5},
        {"id": "new", "provider": "openai", "model": "gpt-4o", "input_tokens": 9},
    ]});
    let resend = tracker
        .send_at(t0() + Duration::minutes(10), resend_body.clone())
        .unwrap();
    assert_eq!((resend.stored, resend.duplicates), (1, 1));
    assert!(
        resend.raw_object.ends_with(".r.ndjson"),
        "{}",
        resend.raw_object
    );
    // Had the invocation died after the commit and before the replacement, the original
    // object (the duplicate at the resend's time) would be what R2 holds.
    let original = resend.raw_object.replace(".r.ndjson", ".ndjson");
    let replacement = tracker
        .log
        .objects
        .borrow_mut()
        .remove(&resend.raw_object)
        .unwrap();
    let mut lines: Vec<StoredEvent> = crate::usage::record::from_ndjson(&replacement).0;
    lines[0].request_timestamp = "2026-11-20T12:10:00.000Z".into();
    block_on(tracker.log.put(&original, to_ndjson(&lines).unwrap())).unwrap();
    let report = tracker.wipe_and_rebuild();
    assert_eq!(report.unacknowledged_objects, 0);
    let mut expected = answered(&first);
    expected.push(("new".into(), "2026-11-20T12:10:00.000Z".into()));
    expected.sort();
    assert_eq!(
        tracker.stored(),
        expected,
        "the duplicate keeps its first time"
    );
}

#[test]
fn a_store_that_lost_its_acknowledgements_replays_every_object_as_before() {
    let tracker = Tracker::new();
    crashed_objects(
        &tracker,
        t0(),
        json!({"id": "orphan", "provider": "openai", "model": "gpt-4o", "input_tokens": 7}),
    );
    tracker.store.wipe_acknowledgements();
    let report = tracker.wipe_and_rebuild();
    assert_eq!((report.inserted, report.unacknowledged_objects), (1, 0));
}

#[test]
fn an_object_put_under_another_name_such_as_an_import_is_replayed_without_acknowledgement() {
    let tracker = Tracker::new();
    let other = Tracker::new();
    other
        .send_at(
            t0(),
            json!({"id": "imported", "provider": "openai", "model": "gpt-4o", "input_tokens": 3}),
        )
        .unwrap();
    let lines = other.store.stored_events();
    let key = "usage-logs/raw/2026-11-20/import-2026-11.ndjson";
    block_on(tracker.log.put(key, to_ndjson(&lines).unwrap())).unwrap();
    let report = tracker.wipe_and_rebuild();
    assert_eq!((report.inserted, report.unacknowledged_objects), (1, 0));
}

#[test]
fn a_lost_answer_then_a_retry_of_the_same_facts_is_one_event_through_a_rebuild() {
    let tracker = Tracker::new();
    // The client's own time: the retry is the very same record, so no replacement object is
    // written for it, and the first object is the only raw copy of the event.
    let body = json!({"id": "x", "provider": "openai", "model": "gpt-4o", "input_tokens": 10,
        "timestamp": "2026-11-20T11:59:00Z"});
    tracker.store.lose_event_write_answers.set(true);
    assert_eq!(tracker.send_at(t0(), body.clone()).unwrap().stored, 1);
    tracker.store.lose_event_write_answers.set(false);
    let retry = tracker.send_at(t0() + Duration::minutes(2), body).unwrap();
    assert_eq!(retry.duplicates, 1);
    let acknowledged = answered(&retry);
    assert_eq!(tracker.stored(), acknowledged);
    tracker.wipe_and_rebuild();
    assert_eq!(tracker.stored(), acknowledged);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Requests of one to three events (each id always for the same event), each sent again
    /// after every failure until it is answered 2xx, some sent again after that too, with each
    /// attempt failing in one of the ways D1 fails (a lost answer, with D1 then out of reach or
    /// not, included): every event is stored once, the answers give the stored time of every
    /// event, and a wipe and a rebuild give back exactly what was answered.
    #[test]
    fn requests_retried_through_any_failures_are_stored_once_and_rebuilt_as_answered(
        requests in proptest::collection::vec(
            (proptest::collection::vec(0usize..6, 1..4), proptest::collection::vec(0u8..5, 0..3), proptest::bool::weighted(0.3)),
            1..8,
        ),
    ) {
        let tracker = Tracker::new();
        let mut answered_times = std::collections::BTreeMap::new();
        let mut at = t0();
        for (ids, failures, again) in requests {
            let events: Vec<Value> = crate::kernel::sort::distinct(ids.into_iter())
                .into_iter()
                .map(|i| json!({"id": format!("e{i}"), "provider": "openai", "model": "gpt-4o", "input_tokens": 10 + i}))
                .collect();
            let body = json!({ "events": events });
            let sends = 1 + usize::from(again);
            for _ in 0..sends {
                for failure in failures.iter().chain(std::iter::once(&0)) {
                    at += Duration::seconds(1);
                    let store = &tracker.store;
                    match failure {
                        1 => store.fail_event_writes.set(true),
                        2 => store.lose_event_write_answers.set(true),
                        3 => {
                            store.lose_event_write_answers.set(true);
                            store.unreachable_after_event_write.set(true);
                        }
                        4 => {
                            store.fail_event_writes.set(true);
                            store.unreachable_after_event_write.set(true);
                        }
                        _ => {}
                    }
                    let answer = tracker.send_at(at, body.clone());
                    store.fail_event_writes.set(false);
                    store.lose_event_write_answers.set(false);
                    store.unreachable_after_event_write.set(false);
                    *store.fail.borrow_mut() = false;
                    if let Ok(report) = answer {
                        for (id, time) in answered(&report) {
                            let first = answered_times.entry(id).or_insert_with(|| time.clone());
                            proptest::prop_assert_eq!(&*first, &time, "every answer gives the stored time");
                        }
                        break;
                    }
                }
            }
        }
        let answered: Vec<(String, String)> = answered_times.into_iter().collect();
        proptest::prop_assert_eq!(tracker.stored(), answered.clone());
        tracker.wipe_and_rebuild();
        proptest::prop_assert_eq!(tracker.stored(), answered);
    }
}

#[test]
fn resends_changed_under_an_id_of_an_older_fingerprint_rule_never_cost_a_rebuild_a_request() {
    let tracker = Tracker::new();
    let old = |input: u64| json!({"id": "old", "provider": "openai", "model": "gpt-4o", "input_tokens": input});
    tracker.send_at(t0(), old(7)).unwrap();
    // The event as the second rule stored it: its row and its raw-log line.
    const SECOND_RULE: &str = "v2:1fa64f8377913372";
    tracker.store.set_fingerprints(SECOND_RULE);
    {
        let mut objects = tracker.log.objects.borrow_mut();
        for bytes in objects.values_mut() {
            let (mut lines, _) = crate::usage::record::from_ndjson(bytes);
            for line in &mut lines {
                line.fingerprint = Some(SECOND_RULE.into());
            }
            *bytes = to_ndjson(&lines).unwrap();
        }
    }
    // Two requests each resend the id changed (both duplicates: another rule's fingerprint
    // tells nothing apart) beside events of their own.
    let later = t0() + Duration::seconds(30);
    let mut answered_stored = vec![("old".to_string(), t0())];
    for (n, input) in [(1, 11), (2, 22)] {
        let mut events = vec![old(input)];
        for i in 0..3 {
            events.push(json!({"id": format!("new-{n}-{i}"), "provider": "openai",
                               "model": "gpt-4o-mini", "input_tokens": 5}));
        }
        let report = tracker.send_at(later, json!({ "events": events })).unwrap();
        assert_eq!((report.stored, report.duplicates), (3, 1));
        for e in &report.events[1..] {
            answered_stored.push((e.id.clone(), later));
        }
    }
    // Each request's object now holds the stored event's facts for the id, its fingerprint too.
    let lines_of_old: Vec<StoredEvent> = tracker
        .log
        .objects
        .borrow()
        .values()
        .flat_map(|bytes| crate::usage::record::from_ndjson(bytes).0)
        .filter(|line| line.id == "old")
        .collect();
    assert_eq!(lines_of_old.len(), 3);
    for line in &lines_of_old {
        assert_eq!(line.fingerprint.as_deref(), Some(SECOND_RULE));
        assert_eq!(line.request_timestamp, "2026-11-20T12:00:00.000Z");
        assert_eq!(line.cost, lines_of_old[0].cost);
        assert_eq!(line.cost_nanos, lines_of_old[0].cost_nanos);
    }
    // A rebuild one object per call: the original is read in an earlier call than the resends.
    tracker.store.wipe_events();
    let mut refused = 0;
    let mut cursor = None;
    loop {
        let request = RebuildRequest {
            cursor: cursor.clone(),
            max_objects: Some(1),
            ..RebuildRequest::default()
        };
        let report = block_on(rebuild(&tracker.store, &tracker.log, &request)).unwrap();
        refused += report.refused_objects;
        if report.done {
            break;
        }
        cursor = report.next_cursor;
    }
    assert_eq!(refused, 0);
    let mut expected: Vec<(String, String)> = answered_stored
        .into_iter()
        .map(|(id, at)| (id, crate::kernel::clock::format_timestamp(at)))
        .collect();
    expected.sort();
    assert_eq!(tracker.stored(), expected);
    let stored = tracker.store.stored_events();
    let kept = stored.iter().find(|e| e.id == "old").unwrap();
    assert_eq!(
        (kept.input_tokens, kept.fingerprint.as_deref()),
        (7, Some(SECOND_RULE))
    );
}
