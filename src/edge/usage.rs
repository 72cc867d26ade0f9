//! Handlers of the usage routes: recording, listing and rebuilding from the raw log.

use worker::{Env, Response};

use crate::core::auth::Principal;
use crate::core::clock::{Clock, SystemEntropy};
use crate::core::error::CoreError;
use crate::core::ingest::{ingest, rebuild, RebuildRequest};
use crate::core::input::parse_json;
use crate::core::query::{list_usage, QueryPairs, UsageQuery};

use super::bindings::{ingest_config, raw_log};
use super::d1::D1Store;
use super::router::ok;

/// `POST /api/usage` and `POST /api/usage/log`.
pub async fn record(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    principal: &Principal,
    body: &[u8],
) -> Result<Response, CoreError> {
    let log = raw_log(env)?;
    let report = ingest(
        store,
        store,
        &log,
        clock,
        &SystemEntropy,
        principal,
        body,
        ingest_config(env),
    )
    .await?;
    ok(if report.stored > 0 { 201 } else { 200 }, &report)
}

/// `GET /api/usage`.
pub async fn list(
    store: &D1Store,
    principal: &Principal,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    let query = UsageQuery::parse(query, principal)?;
    ok(200, &list_usage(store, &query).await?)
}

/// `POST /api/admin/rebuild`.
pub async fn rebuild_from_log(
    store: &D1Store,
    env: &Env,
    body: &[u8],
) -> Result<Response, CoreError> {
    let request: RebuildRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RebuildRequest::default()
    } else {
        parse_json(body)?
    };
    let log = raw_log(env)?;
    ok(200, &rebuild(store, &log, &request).await?)
}
