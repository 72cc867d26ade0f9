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
use crate::core::usage::otlp::{decode_request, ingest_spans, Encoding, Status};

use super::bindings::{ingest_config, raw_log, span_rules};
use super::http::{
    error_body, error_with_body, read_body_up_to, status_and_code, MAX_BODY_BYTES, MAX_IMPORT_BYTES,
};
use super::router::{internal, ok};

/// The path OTLP exporters post to: its failures are answered as OTLP/HTTP specifies.
pub const TRACES_PATH: &str = "/v1/traces";

/// The answer to a failed export (before or after authentication): every 4xx and 5xx body of
/// OTLP/HTTP is a `google.rpc.Status` in the request's encoding, with the HTTP status (and
/// `Retry-After`, ...) this error has on every route. In protobuf it is the Status alone; in
/// JSON, the service's error body with the Status's `code` and `message` beside it. A body of
/// another (or no) content type is answered in JSON.
pub fn error_response(error: &CoreError, request: &Request) -> worker::Result<Response> {
    let (http, _) = status_and_code(error);
    let mut body = error_body(error);
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let status = Status::of_http(http, message);
    let encoding = header(request, "content-type")
        .and_then(|value| Encoding::from_content_type(&value).ok())
        .unwrap_or(Encoding::Json);
    match encoding {
        Encoding::Protobuf => {
            error_with_body(error, status.protobuf(), Encoding::Protobuf.content_type())
        }
        Encoding::Json => {
            body["code"] = status.code.into();
            body["message"] = status.message.into();
            let bytes =
                serde_json::to_vec(&body).map_err(|e| worker::Error::RustError(e.to_string()))?;
            error_with_body(error, bytes, "application/json; charset=utf-8")
        }
    }
}

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
