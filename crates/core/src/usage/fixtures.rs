//! The shared fixture of the host tests at usage and above: a [`World`] of one project, an
//! in-memory store and raw log, a fixed clock, and a few helpers.

use chrono::{DateTime, TimeZone, Utc};
use pollster::block_on;
use serde_json::{json, Value};

use crate::access::auth::Principal;
use crate::access::projects::{create_project, ProjectId};
use crate::kernel::clock::{FixedClock, SystemEntropy};
use crate::kernel::error::CoreError;
use crate::kernel::money::{Currency, Money};
use crate::kernel::testing::{MemoryLog, MemoryStore};
use crate::usage::ingest::{ingest, IngestConfig, IngestReport};
use crate::usage::record::{from_ndjson, StoredEvent};

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

pub(crate) struct World {
    pub(crate) store: MemoryStore,
    pub(crate) log: MemoryLog,
    pub(crate) project: ProjectId,
}

impl World {
    pub(crate) fn new() -> Self {
        let store = MemoryStore::new();
        let request =
            serde_json::from_value(json!({"id": "video-ads", "name": "Video ads"})).unwrap();
        let project = block_on(create_project(
            &store,
            &FixedClock(now()),
            &SystemEntropy,
            request,
        ))
        .unwrap();
        World {
            store,
            log: MemoryLog::default(),
            project: project.id,
        }
    }

    pub(crate) fn key(&self) -> Principal {
        Principal::Project {
            project_id: self.project.clone(),
            key_id: "key_1".into(),
        }
    }

    pub(crate) fn send_as(
        &self,
        principal: &Principal,
        body: Value,
    ) -> Result<IngestReport, CoreError> {
        block_on(ingest(
            &self.store,
            &self.store,
            &self.log,
            &FixedClock(now()),
            &SystemEntropy,
            principal,
            body.to_string().as_bytes(),
            IngestConfig::default(),
        ))
    }

    pub(crate) fn send(&self, body: Value) -> Result<IngestReport, CoreError> {
        self.send_as(&self.key(), body)
    }

    pub(crate) fn logged_events(&self) -> Vec<StoredEvent> {
        self.log
            .objects
            .borrow()
            .values()
            .flat_map(|bytes| from_ndjson(bytes).0)
            .collect()
    }
}

pub(crate) fn fields(error: &CoreError) -> Vec<(String, Option<usize>)> {
    match error {
        CoreError::Validation(details) | CoreError::MalformedBody { details, .. } => {
            details.iter().map(|d| (d.field.clone(), d.index)).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

pub(crate) fn usd(amount: &str) -> Money {
    Money::parse(amount, Currency::USD).unwrap()
}
