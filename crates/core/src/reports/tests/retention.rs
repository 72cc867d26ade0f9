//! Host tests of retention: pruning raw rows keeps every rollup, and nothing pruned is ever
//! counted twice.

use std::cell::{Cell, RefCell};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use pollster::block_on;
use serde_json::json;

use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::{CoreError, StoreError};
use crate::reports::report::{Dim, RollupQuery, RollupRow};
use crate::reports::store::ReportStore;
use crate::usage::fixtures::World;
use crate::usage::ingest::{ingest, rebuild, IngestConfig, RebuildRequest};
use crate::usage::list::{list_usage, UsageQuery};
use crate::usage::record::StoredEvent;
use crate::usage::retention::{
    cutoff, prune, retention_status, RetentionConfig, RetentionState, PRUNE_BATCHES_PER_PASS,
    PRUNE_BATCH_ROWS,
};
use crate::usage::store::RetentionStore;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

const KEEP_100_DAYS: RetentionConfig = RetentionConfig { days: Some(100) };

/// Events of 1, 15 and 20 November 2026 (two, two and one), sent on 20 November, with jobs.
fn world_with_november() -> World {
    let world = World::new();
    let event = |id: &str, ts: &str, job: &str| {
        json!({"id": id, "provider": "openai", "model": "gpt-4o", "operation": "script-generation",
               "input_tokens": 1000, "output_tokens": 500, "timestamp": ts, "job_id": job})
    };
    let body = json!({"events": [
        event("a1", "2026-11-01T09:00:00Z", "clip-1"),
        event("a2", "2026-11-01T23:30:00Z", "clip-1"),
        event("b1", "2026-11-15T10:00:00Z", "clip-2"),
        event("b2", "2026-11-15T11:00:00Z", "clip-3"),
        event("c1", "2026-11-20T08:00:00Z", "clip-3"),
    ]});
    let report = block_on(ingest(
        &world.store,
        &world.store,
        &world.log,
        &FixedClock(at(2026, 11, 20)),
        &SystemEntropy,
        &crate::access::auth::Principal::Admin,
        json!({"project_id": world.project.as_str(), "events": body["events"]})
            .to_string()
            .as_bytes(),
        IngestConfig::default(),
    ))
    .unwrap();
    assert_eq!(report.stored, 5);
    world
}

/// A pass keeping 100 days on 24 February 2027: the watermark lands on 16 November 2026.
fn prune_100_days_on_24_february(world: &World) -> crate::usage::retention::PruneReport {
    block_on(prune(
        &world.store,
        KEEP_100_DAYS,
        IngestConfig::default(),
        at(2027, 2, 24),
    ))
    .unwrap()
}

/// Every rollup the reports read: daily and by quarter hour, by bucket and provider and
/// operation.
fn rollups(world: &World) -> (Vec<RollupRow>, Vec<RollupRow>) {
    let query = |quarters| RollupQuery {
        quarters,
        by_bucket: true,
        dims: vec![Dim::Provider, Dim::Operation],
        ..RollupQuery::default()
    };
    (
        block_on(world.store.rollups(&query(false))).unwrap(),
        block_on(world.store.rollups(&query(true))).unwrap(),
    )
}

fn ids(events: &[StoredEvent]) -> Vec<&str> {
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn the_cutoff_keeps_the_given_number_of_whole_days_before_today() {
    assert_eq!(cutoff(at(2027, 2, 24), 100), day(2026, 11, 16));
    assert_eq!(
        cutoff(Utc.with_ymd_and_hms(2027, 2, 24, 0, 0, 0).unwrap(), 1),
        day(2027, 2, 23)
    );
}

#[test]
fn the_retention_setting_reads_days_and_treats_empty_or_zero_as_keep_everything() {
    assert_eq!(
        RetentionConfig::parse(""),
        Ok(RetentionConfig { days: None })
    );
    assert_eq!(
        RetentionConfig::parse(" 0 "),
        Ok(RetentionConfig { days: None })
    );
    assert_eq!(
        RetentionConfig::parse("400"),
        Ok(RetentionConfig { days: Some(400) })
    );
    for bad in ["-3", "1.5", "forever", "36501"] {
        assert!(RetentionConfig::parse(bad).is_err(), "{bad} was accepted");
    }
}

#[test]
fn pruning_deletes_only_raw_rows_of_days_before_the_cutoff_and_every_rollup_stays_the_same() {
    let world = world_with_november();
    let before = rollups(&world);

    let report = prune_100_days_on_24_february(&world);

    assert_eq!(report.rows_deleted, 4);
    assert_eq!(report.pruned_before, Some(day(2026, 11, 16)));
    assert!(report.done);
    assert_eq!(ids(&world.store.stored_events()), vec!["c1"]);
    assert_eq!(rollups(&world), before);
    let state = block_on(world.store.retention_state()).unwrap();
    assert_eq!(state.rows_pruned, 4);
    assert_eq!(
        state.last_pruned_at.as_deref(),
        Some("2027-02-24T12:00:00.000Z")
    );
}

#[test]
fn the_event_listing_says_when_its_range_reaches_before_the_pruned_days() {
    let world = world_with_november();
    prune_100_days_on_24_february(&world);
    let listing = |from: Option<&str>| {
        let query = UsageQuery {
            from: from.map(str::to_string),
            limit: 100,
            ..UsageQuery::default()
        };
        block_on(list_usage(&world.store, &query)).unwrap()
    };

    let everything = listing(None);
    let reaching_back = listing(Some("2026-11-15T23:00:00.000Z"));
    let after = listing(Some("2026-11-16T00:00:00.000Z"));

    assert_eq!(everything.pruned_before, Some(day(2026, 11, 16)));
    assert_eq!(reaching_back.pruned_before, Some(day(2026, 11, 16)));
    assert_eq!(after.pruned_before, None);
    assert_eq!(everything.count, 1);
}

#[test]
fn a_second_pass_deletes_nothing_more_and_the_watermark_never_moves_back() {
    let world = world_with_november();
    let now = at(2027, 2, 24);
    block_on(prune(
        &world.store,
        KEEP_100_DAYS,
        IngestConfig::default(),
        now,
    ))
    .unwrap();

    let again = block_on(prune(
        &world.store,
        KEEP_100_DAYS,
        IngestConfig::default(),
        now,
    ))
    .unwrap();
    let longer = RetentionConfig { days: Some(200) };
    let after_longer = block_on(prune(&world.store, longer, IngestConfig::default(), now)).unwrap();

    assert_eq!((again.rows_deleted, again.done), (0, true));
    assert_eq!(after_longer.pruned_before, Some(day(2026, 11, 16)));
    assert_eq!(after_longer.rows_deleted, 0);
    assert_eq!(
        block_on(world.store.retention_state()).unwrap().rows_pruned,
        4
    );
}

#[test]
fn a_rebuild_skips_pruned_days_so_nothing_is_counted_twice_and_a_wiped_store_gets_every_day_back() {
    let world = world_with_november();
    let before = rollups(&world);
    prune_100_days_on_24_february(&world);

    let replay = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();

    assert_eq!(
        (replay.inserted, replay.already_stored, replay.pruned),
        (0, 1, 4)
    );
    assert_eq!(replay.pruned_before, Some(day(2026, 11, 16)));
    assert_eq!(rollups(&world), before);

    world.store.wipe_events();
    let restored = block_on(rebuild(
        &world.store,
        &world.log,
        &RebuildRequest::default(),
    ))
    .unwrap();

    assert_eq!((restored.inserted, restored.pruned), (5, 0));
    assert_eq!(
        ids(&world.store.stored_events()),
        vec!["a1", "a2", "b1", "b2", "c1"]
    );
    assert_eq!(rollups(&world), before);
}

/// Sends event `b1` of 15 November (a pruned day) again on 24 February 2027.
fn send_b1_again(
    world: &World,
    config: IngestConfig,
) -> Result<crate::usage::ingest::IngestReport, CoreError> {
    block_on(ingest(
        &world.store,
        &world.store,
        &world.log,
        &FixedClock(at(2027, 2, 24)),
        &SystemEntropy,
        &crate::access::auth::Principal::Admin,
        json!({"project_id": world.project.as_str(), "id": "b1", "provider": "openai",
               "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500,
               "timestamp": "2026-11-15T10:00:00Z"})
        .to_string()
        .as_bytes(),
        config,
    ))
}

#[test]
fn an_event_of_a_pruned_day_is_refused_naming_the_watermark_and_nothing_is_written() {
    let world = world_with_november();
    prune_100_days_on_24_february(&world);
    let objects = world.log.objects.borrow().len();
    // Only a late window longer than the retention could let it through by age alone.
    let config = IngestConfig {
        max_event_age_days: 3650,
        pruned_before: Some(day(2026, 11, 16)),
    };

    let result = send_b1_again(&world, config);

    match result {
        Err(CoreError::Validation(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "timestamp");
            assert!(
                errors[0].message.contains("before 2026-11-16"),
                "{}",
                errors[0].message
            );
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(world.log.objects.borrow().len(), objects);
}

#[test]
fn with_a_stale_watermark_an_event_of_a_pruned_day_is_a_duplicate_not_a_second_count() {
    let world = world_with_november();
    prune_100_days_on_24_february(&world);
    let before = rollups(&world);
    // As in an isolate whose cached watermark predates the prune: the store still refuses.
    let stale = IngestConfig {
        max_event_age_days: 3650,
        pruned_before: None,
    };

    let report = send_b1_again(&world, stale).unwrap();

    assert_eq!((report.stored, report.duplicates), (0, 1));
    assert_eq!(rollups(&world), before);
}

#[test]
fn a_retention_not_longer_than_the_late_window_is_refused_and_prunes_nothing() {
    let world = world_with_november();
    let short = RetentionConfig { days: Some(90) };

    let result = block_on(prune(
        &world.store,
        short,
        IngestConfig::default(),
        at(2027, 2, 24),
    ));
    let status = block_on(retention_status(
        &world.store,
        short,
        IngestConfig::default(),
        at(2027, 2, 24),
    ))
    .unwrap();

    match result {
        Err(CoreError::Conflict(refusal)) => {
            let message = refusal.message;
            assert!(message.contains("USAGE_RETENTION_DAYS (90)"), "{message}");
            assert!(message.contains("MAX_EVENT_AGE_DAYS (90)"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(world.store.stored_events().len(), 5);
    assert!(status.problem.is_some());
    assert_eq!(
        (status.pruned_before, status.next_pruned_before),
        (None, None)
    );
}

#[test]
fn without_a_retention_nothing_is_pruned_and_the_status_says_rows_are_kept() {
    let world = world_with_november();

    let report = block_on(prune(
        &world.store,
        RetentionConfig::default(),
        IngestConfig::default(),
        at(2030, 1, 1),
    ))
    .unwrap();
    let status = block_on(retention_status(
        &world.store,
        RetentionConfig::default(),
        IngestConfig::default(),
        at(2030, 1, 1),
    ))
    .unwrap();

    assert_eq!((report.rows_deleted, report.pruned_before), (0, None));
    assert_eq!(world.store.stored_events().len(), 5);
    assert_eq!((status.retention_days, status.problem), (None, None));
    assert_eq!(status.next_pruned_before, None);
}

/// A store with more rows due than one pass deletes, whose `fail_at`-th delete fails.
#[derive(Default)]
struct Backlog {
    deletes: Cell<usize>,
    fail_at: Option<usize>,
    recorded: RefCell<Vec<u64>>,
}

impl RetentionStore for Backlog {
    async fn retention_state(&self) -> Result<RetentionState, StoreError> {
        Ok(RetentionState::default())
    }
    async fn advance_watermark(&self, before: NaiveDate) -> Result<NaiveDate, StoreError> {
        Ok(before)
    }
    async fn prune_rows(&self, limit: u32) -> Result<u64, StoreError> {
        self.deletes.set(self.deletes.get() + 1);
        if self.fail_at == Some(self.deletes.get()) {
            return Err(StoreError::Unavailable("gone".into()));
        }
        Ok(u64::from(limit))
    }
    async fn record_prune(&self, rows: u64, _at: DateTime<Utc>) -> Result<(), StoreError> {
        self.recorded.borrow_mut().push(rows);
        Ok(())
    }
}

#[test]
fn a_pass_stops_after_its_batches_and_says_more_rows_are_due() {
    let store = Backlog::default();

    let report = block_on(prune(
        &store,
        KEEP_100_DAYS,
        IngestConfig::default(),
        at(2027, 2, 24),
    ))
    .unwrap();

    let expected = PRUNE_BATCHES_PER_PASS as u64 * u64::from(PRUNE_BATCH_ROWS);
    assert_eq!((report.rows_deleted, report.done), (expected, false));
    assert_eq!(store.deletes.get(), PRUNE_BATCHES_PER_PASS);
    assert_eq!(*store.recorded.borrow(), vec![expected]);
}

#[test]
fn a_failed_delete_is_reported_as_retryable_after_counting_the_rows_already_deleted() {
    let store = Backlog {
        fail_at: Some(2),
        ..Backlog::default()
    };

    let result = block_on(prune(
        &store,
        KEEP_100_DAYS,
        IngestConfig::default(),
        at(2027, 2, 24),
    ));

    assert!(matches!(
        result,
        Err(CoreError::Storage(StoreError::Unavailable(_)))
    ));
    assert_eq!(*store.recorded.borrow(), vec![u64::from(PRUNE_BATCH_ROWS)]);
}
