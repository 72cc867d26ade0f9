//! `POST /v1/traces`: OpenTelemetry spans (OTLP/HTTP, protobuf or JSON, gzip or not) as usage,
//! through `core::usage::otlp`. The answer is an OTLP `ExportTraceServiceResponse` in the
//! request's encoding; the JSON one also carries the counts and the project's guard state, and
//! a request that reaches a budget level runs the check after the answer, as `POST /api/usage`
//! does.

use worker::{Context, Env, Request, Response};

use crate::core::access::auth::Principal;
use crate::core::kernel::clock::{Clock, SystemEntropy};
use crate::core::kernel::error::CoreError;
use crate::core::usage::ingest::IngestConfig;
use crate::core::usage::otlp::{decode_request, ingest_spans, Encoding};

use super::bindings::{ingest_config, raw_log, span_rules};
use super::http::{read_body_up_to, MAX_BODY_BYTES, MAX_IMPORT_BYTES};
use super::router::{internal, ok};

fn header(request: &Request, name: &str) -> Option<String> {
    request.headers().get(name).ok().flatten()
}

pub async fn traces(
    store: &super::d1::D1Store,
    env: &Env,
    ctx: &Context,
    clock: &impl Clock,
    principal: &Principal,
    request: &mut Request,
) -> Result<Response, CoreError> {
    let encoding =
        Encoding::from_content_type(&header(request, "content-type").unwrap_or_default())?;
    let body = read_body_up_to(request, MAX_BODY_BYTES).await?;
    let content_encoding = header(request, "content-encoding");
    // A gzip body of at most 1 MB may inflate to at most 8 MB.
    let export = decode_request(
        encoding,
        content_encoding.as_deref(),
        &body,
        MAX_IMPORT_BYTES,
    )?;
    let log = raw_log(env)?;
    let config = IngestConfig {
        pruned_before: super::cache::watermark(store).await?,
        ..ingest_config(env)
    };
    let report = ingest_spans(
        store,
        &super::cache::Cached(store),
        &log,
        clock.now(),
        &SystemEntropy,
        principal,
        &export,
        config,
        &span_rules(env),
    )
    .await?;
    let guard = match &report.ingest {
        Some(ingest) => Some(super::watch::after_ingest(store, env, ctx, clock, ingest).await),
        None => None,
    };
    match encoding {
        Encoding::Json => {
            let mut answer = report.json();
            if let Some(guard) = guard {
                answer["guard"] = guard;
            }
            ok(200, &answer)
        }
        Encoding::Protobuf => {
            let headers = worker::Headers::new();
            headers
                .set("content-type", Encoding::Protobuf.content_type())
                .map_err(internal)?;
            headers.set("cache-control", "no-store").map_err(internal)?;
            Ok(Response::from_bytes(report.protobuf())
                .map_err(internal)?
                .with_status(200)
                .with_headers(headers))
        }
    }
}
