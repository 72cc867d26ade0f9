//! Handlers of the usage routes: recording, listing, rebuilding from the raw log, and the
//! retention of raw rows.

use worker::{Context, Env, Response};

use crate::core::access::auth::Principal;
use crate::core::access::projects::ProjectId;
use crate::core::kernel::clock::format_timestamp;
use crate::core::kernel::clock::{Clock, SystemEntropy};
use crate::core::kernel::error::CoreError;
use crate::core::kernel::input::parse_json;
use crate::core::kernel::json_out::Object;
use crate::core::kernel::query::{only_known, param, parse_bound, QueryPairs};
use crate::core::pricing::catalog::canonical_provider;
use crate::core::usage::ingest::{
    accept_request, rebuild, store_request, IngestConfig, RebuildRequest,
};
use crate::core::usage::list::{events_csv, list_usage, UsageQuery};
use crate::core::usage::reprice::{reprice, unpriced_models, RepriceRequest};
use crate::core::usage::retention::{prune, retention_status};
use crate::core::usage::store::ScanFilter;

use super::bindings::{ingest_config, raw_log, retention_config};
use super::d1::D1Store;
use super::http::{csv_response, json_bytes_response};
use super::router::{internal, ok};

/// `POST /api/usage` and `POST /api/usage/log`. The answer carries the project's guard
/// state; a request that reaches a level runs the project's budget check after the answer
/// (`wait_until`), so its alert goes out now rather than at the next cron.
pub async fn record(
    store: &D1Store,
    env: &Env,
    ctx: &Context,
    clock: &impl Clock,
    principal: &Principal,
    body: &[u8],
) -> Result<Response, CoreError> {
    let log = raw_log(env)?;
    let config = IngestConfig {
        pruned_before: super::cache::watermark(store).await?,
        ..ingest_config(env)
    };
    let request = accept_request(
        store,
        &super::cache::Cached(store),
        clock,
        &SystemEntropy,
        principal,
        body,
        config,
    )
    .await?;
    let queued = if super::queue::queue_mode(env) {
        super::queue::enqueue(env, request).await?
    } else {
        Err(request)
    };
    let report = match queued {
        Ok(report) => report,
        Err(request) => store_request(store, &log, clock, &SystemEntropy, request).await?,
    };
    let status = match (report.queued, report.stored) {
        (q, _) if q > 0 => 202,
        (_, s) if s > 0 => 201,
        _ => 200,
    };
    let guard = super::watch::after_ingest(store, env, ctx, clock, &report).await;
    let body =
        answer_json(&report, &guard).map_err(|e| internal(worker::Error::SerdeJsonError(e)))?;
    json_bytes_response(status, body).map_err(internal)
}

/// The ingest report with the project's guard state after its members, in one object: written
/// by hand for the events' part, which serde's writing made a tenth of a 1,000-event request
/// (`kernel::json_out`).
fn answer_json(
    report: &crate::core::usage::ingest::IngestReport,
    guard: &serde_json::Value,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut body = Vec::with_capacity(512 + report.events.len() * 256);
    let mut answer = Object::open(&mut body);
    report.write_members(&mut answer)?;
    answer.serde("guard", guard)?;
    answer.close();
    Ok(body)
}

/// `GET /api/usage`.
pub async fn list(
    store: &D1Store,
    principal: &Principal,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    let query = UsageQuery::parse(query, principal)?;
    let page = list_usage(store, &query).await?;
    if !query.csv {
        return ok(200, &page);
    }
    // CSV: the next page's cursor (and the retention watermark) travel as headers.
    let response = csv_response(events_csv(&page), "events.csv").map_err(internal)?;
    let headers = response.headers().clone();
    if let Some(cursor) = &page.next_cursor {
        headers.set("x-next-cursor", cursor).map_err(internal)?;
    }
    if let Some(day) = page.pruned_before {
        headers
            .set("x-pruned-before", &day.to_string())
            .map_err(internal)?;
    }
    Ok(response.with_headers(headers))
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

/// `GET /api/admin/retention`.
pub async fn retention(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
) -> Result<Response, CoreError> {
    let status = retention_status(
        store,
        retention_config(env),
        ingest_config(env),
        clock.now(),
    )
    .await?;
    ok(200, &status)
}

/// `POST /api/admin/retention/prune`: one pruning pass now, as the cron runs it.
pub async fn prune_now(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
) -> Result<Response, CoreError> {
    let report = prune(
        &super::cache::Cached(store),
        retention_config(env),
        ingest_config(env),
        clock.now(),
    )
    .await?;
    ok(200, &report)
}

/// `GET /api/admin/prices/unpriced`.
pub async fn unpriced(store: &D1Store, query: &QueryPairs) -> Result<Response, CoreError> {
    only_known(query, &["project_id", "provider", "model", "from", "to"])?;
    let mut filter = ScanFilter::default();
    if let Some(p) = param(query, "project_id") {
        filter.project_id =
            Some(ProjectId::parse(p).map_err(|m| CoreError::invalid("project_id", m))?);
    }
    filter.provider = param(query, "provider").map(|v| canonical_provider(&v.to_ascii_lowercase()));
    filter.models = param(query, "model")
        .map(|m| vec![m.to_ascii_lowercase()])
        .unwrap_or_default();
    if let Some(v) = param(query, "from") {
        filter.from = Some(format_timestamp(
            parse_bound(v, false).map_err(|m| CoreError::invalid("from", m))?,
        ));
    }
    if let Some(v) = param(query, "to") {
        filter.to = Some(format_timestamp(
            parse_bound(v, true).map_err(|m| CoreError::invalid("to", m))?,
        ));
    }
    // Stored timestamps are text in time order, so the bounds compare as text.
    if let (Some(from), Some(to)) = (&filter.from, &filter.to) {
        if from >= to {
            return Err(CoreError::invalid("to", "must be after `from`"));
        }
    }
    ok(200, &unpriced_models(store, &filter).await?)
}

/// `POST /api/admin/usage/reprice`.
pub async fn reprice_usage(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    body: &[u8],
) -> Result<Response, CoreError> {
    let request: RepriceRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RepriceRequest::default()
    } else {
        parse_json(body)?
    };
    let log = raw_log(env)?;
    let report = reprice(store, store, &log, clock, &SystemEntropy, &request).await?;
    ok(200, &report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::kernel::money::{Currency, Money, Totals};
    use crate::core::usage::ingest::{EventOutcome, IngestReport, Outcome};

    #[test]
    fn the_ingest_answer_is_the_report_with_the_guard_after_its_members_as_serde_flattens_it() {
        #[derive(serde::Serialize)]
        struct Answer<'a> {
            #[serde(flatten)]
            report: &'a IngestReport,
            guard: &'a serde_json::Value,
        }
        let usd = Currency::parse("USD").unwrap();
        let cost = Money::new(4_500_000, usd);
        let mut stored_cost = Totals::new();
        stored_cost.add(cost);
        let event = |index: usize, status: Outcome| EventOutcome {
            index,
            id: format!("e{index}\"\n"),
            project_id: "ads".into(),
            duplicate: status == Outcome::Duplicate,
            status,
            cost: Some(cost),
            currency: Some(usd),
            computed_cost: None,
            reported_cost: Some(cost),
            unpriced: None,
            timestamp: "2026-12-06T10:00:00.000Z".into(),
            warnings: vec![],
        };
        let report = IngestReport {
            success: true,
            accepted: 2,
            stored: 1,
            duplicates: 1,
            unpriced: 0,
            stored_cost,
            raw_object: "usage-logs/raw/2026-12-06/x.ndjson".into(),
            events: vec![event(0, Outcome::Stored), event(1, Outcome::Duplicate)],
            stored_events: vec![],
            queued: 0,
        };
        let guard = serde_json::json!({"state": "ok", "limits": [{"spent": "1.00"}]});
        let written = String::from_utf8(answer_json(&report, &guard).unwrap()).unwrap();
        let by_serde = serde_json::to_string(&Answer {
            report: &report,
            guard: &guard,
        })
        .unwrap();
        assert_eq!(written, by_serde);
        assert!(written.ends_with(r#""guard":{"limits":[{"spent":"1.00"}],"state":"ok"}}"#));
    }
}
