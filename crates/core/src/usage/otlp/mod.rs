//! OpenTelemetry traces as usage: `POST /v1/traces` (OTLP/HTTP) takes the spans an app's
//! instrumentation already exports and records every model call among them as a usage
//! event, priced and stored like one sent to `POST /api/usage`.
//!
//! - [`decode_request`] reads the body: protobuf or OTLP JSON (hex ids, lowerCamelCase names,
//!   64-bit integers as strings or numbers), gzip or not, into `opentelemetry-proto`'s types:
//!   prost decodes protobuf; [`json`] reads OTLP JSON as that crate's serde support would
//!   (which is left out of the wasm for its size). Nothing here decodes protobuf by hand;
//!   [`budget`] only walks the export's structure first, to refuse one that would take too
//!   much memory to decode.
//! - [`spans::span_event`] turns one span into one event (the conventions it reads, and how
//!   their cached tokens become this project's counts, are in its module docs).
//! - [`ingest_spans`] validates and prices the events, drops the spans that cannot be recorded
//!   (each named in the answer's `partial_success`), and stores the rest through
//!   [`store_request`]: the raw object first, then the rows, idempotent by event id, as every
//!   ingestion is. A span's event id comes from its trace and span ids, so exporting the same
//!   spans again stores nothing more.

pub mod budget;
pub mod json;
#[cfg(test)]
mod json_tests;
pub mod spans;
pub mod status;
#[cfg(test)]
mod tests;

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use crate::access::auth::Principal;
use crate::kernel::clock::{Entropy, FixedClock};
use crate::kernel::error::{CoreError, FieldError};
use crate::pricing::store::PriceStore;
use crate::usage::event::{EventInput, EventRules};
use crate::usage::ingest::{
    prepare, store_request, Batch, IngestConfig, IngestReport, MAX_EVENTS_PER_REQUEST,
};
use crate::usage::store::{RawLog, UsageStore};

pub use spans::{span_event, SpanOutcome, SpanRules};
pub use status::Status;

/// The two encodings OTLP/HTTP allows; the answer is sent in the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names; any other type is a 415.
    pub fn from_content_type(value: &str) -> Result<Encoding, CoreError> {
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Ok(Encoding::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Ok(Encoding::Json)
        } else {
            Err(CoreError::UnsupportedMediaType(format!(
                "send OTLP traces as `Content-Type: application/x-protobuf` or \
                 `application/json`, not `{value}`"
            )))
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Reads an export request: `body` as sent, `content_encoding` its `Content-Encoding` (gzip or
/// none), at most `limit` bytes once inflated.
pub fn decode_request(
    encoding: Encoding,
    content_encoding: Option<&str>,
    body: &[u8],
    limit: usize,
) -> Result<ExportTraceServiceRequest, CoreError> {
    let inflated;
    let bytes = match content_encoding
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => body,
        Some("gzip") | Some("x-gzip") => {
            inflated = gunzip(body, limit)?;
            &inflated[..]
        }
        Some(other) => {
            return Err(CoreError::UnsupportedMediaType(format!(
                "`Content-Encoding: {other}` is not supported; send gzip or no encoding"
            )))
        }
    };
    budget::check(encoding, bytes)?;
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes).map_err(|e| {
            malformed(format!(
                "the body is not an OTLP ExportTraceServiceRequest in protobuf: {e}"
            ))
        }),
        Encoding::Json => {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(malformed(
                    "the body is empty; expected OTLP JSON: {\"resourceSpans\": [...]}".into(),
                ));
            }
            let text = std::str::from_utf8(bytes).map_err(|_| {
                malformed(
                    "the body is not OTLP JSON (an ExportTraceServiceRequest: \
                     {\"resourceSpans\": [...]}): it is not UTF-8"
                        .into(),
                )
            })?;
            json::decode(text).map_err(|e| {
                let problem = crate::kernel::input::strip_position(&e.to_string());
                // The field at fault, when the problem names one, is in `details` as well.
                let details = match json::field_at_fault(&problem) {
                    Some((field, what)) => vec![FieldError::new(field, what)],
                    None => match crate::kernel::input::not_json(text, &e, "") {
                        CoreError::MalformedBody { details, .. } => details,
                        _ => Vec::new(),
                    },
                };
                CoreError::MalformedBody {
                    message: format!(
                        "the body is not OTLP JSON (an ExportTraceServiceRequest: \
                         {{\"resourceSpans\": [...]}}): {problem}"
                    ),
                    details,
                }
            })
        }
    }
}

fn malformed(message: String) -> CoreError {
    CoreError::MalformedBody {
        message,
        details: vec![],
    }
}

/// Inflates a gzip body, refusing one that inflates past `limit` (a small body may expand a
/// thousandfold).
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    reader.read_to_end(&mut out).map_err(|e| {
        malformed(format!(
            "the body is sent with `Content-Encoding: gzip` but does not inflate: {e}"
        ))
    })?;
    if out.len() > limit {
        return Err(CoreError::PayloadTooLarge { limit });
    }
    Ok(out)
}

/// A span that was not recorded, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedSpan {
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub message: String,
}

/// What an export request did.
#[derive(Debug, Clone)]
pub struct SpansReport {
    /// Spans in the request.
    pub spans: usize,
    /// Spans without usage (not model calls, or the Vercel AI SDK's outer spans).
    pub ignored: usize,
    pub rejected: Vec<RejectedSpan>,
    /// The ingestion of the spans with usage; `None` when none was left to store.
    pub ingest: Option<IngestReport>,
}

/// The answer's `partialSuccess` message names at most this many spans.
const NAMED_IN_MESSAGE: usize = 5;

impl SpansReport {
    /// The OTLP answer: `partial_success` only when spans were rejected.
    pub fn response(&self) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: (!self.rejected.is_empty()).then(|| ExportTracePartialSuccess {
                rejected_spans: self.rejected.len() as i64,
                error_message: self.error_message(),
            }),
        }
    }

    /// The answer in protobuf.
    pub fn protobuf(&self) -> Vec<u8> {
        self.response().encode_to_vec()
    }

    /// The answer in OTLP JSON (`partialSuccess` with `rejectedSpans` and `errorMessage`),
    /// with this project's counts beside it (OTLP clients ignore fields they do not know).
    pub fn json(&self) -> serde_json::Value {
        let ingest = self.ingest.as_ref();
        let mut answer = crate::json!({
            "spans": self.spans,
            "storedSpans": ingest.map_or(0, |r| r.stored),
            "duplicateSpans": ingest.map_or(0, |r| r.duplicates),
            "ignoredSpans": self.ignored,
            "rejectedSpans": self.rejected.len(),
            "rejected": self.rejected,
            "storedCost": ingest.map(|r| &r.stored_cost),
            "rawObject": ingest.map(|r| &r.raw_object),
        });
        if !self.rejected.is_empty() {
            answer["partialSuccess"] = crate::json!({
                "rejectedSpans": self.rejected.len(),
                "errorMessage": self.error_message(),
            });
        }
        answer
    }

    fn error_message(&self) -> String {
        let named: Vec<String> = self
            .rejected
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(|r| format!("span {} ({}): {}", r.span_id, r.name, r.message))
            .collect();
        let more = self.rejected.len().saturating_sub(NAMED_IN_MESSAGE);
        format!(
            "{} of {} spans rejected; {}{}",
            self.rejected.len(),
            self.spans,
            named.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        )
    }
}

/// A span with usage, waiting to be stored.
struct Candidate {
    trace_id: String,
    span_id: String,
    name: String,
    event: EventInput,
}

impl Candidate {
    fn reject(self, message: String) -> RejectedSpan {
        RejectedSpan {
            trace_id: self.trace_id,
            span_id: self.span_id,
            name: self.name,
            message,
        }
    }
}

/// How many times the spans left are prepared again after some were rejected: each round
/// drops every span a phase found at fault, and there are few phases (shape, pricing, ids
/// within the request, ids stored before).
const MAX_ROUNDS: usize = 6;

/// Records the model calls of an export request into the key's project.
#[allow(clippy::too_many_arguments)]
pub async fn ingest_spans(
    usage: &impl UsageStore,
    prices: &impl PriceStore,
    log: &impl RawLog,
    now: DateTime<Utc>,
    entropy: &impl Entropy,
    principal: &Principal,
    request: &ExportTraceServiceRequest,
    config: IngestConfig,
    rules: &SpanRules,
) -> Result<SpansReport, CoreError> {
    if !matches!(principal, Principal::Project { .. }) {
        return Err(CoreError::Forbidden(
            "`/v1/traces` records into the project of its key: send a project key".into(),
        ));
    }
    let mut report = SpansReport {
        spans: 0,
        ignored: 0,
        rejected: Vec::new(),
        ingest: None,
    };
    let mut candidates = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        for scope in &resource_spans.scope_spans {
            for span in &scope.spans {
                report.spans += 1;
                let candidate = |event: EventInput| Candidate {
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    name: span.name.clone(),
                    event,
                };
                match span_event(span, resource, rules) {
                    SpanOutcome::NoUsage => report.ignored += 1,
                    SpanOutcome::Event(event) => candidates.push(candidate(*event)),
                    SpanOutcome::Rejected(message) => report
                        .rejected
                        .push(candidate(EventInput::default()).reject(message)),
                }
            }
        }
    }
    if candidates.len() > MAX_EVENTS_PER_REQUEST {
        for candidate in candidates.split_off(MAX_EVENTS_PER_REQUEST) {
            report.rejected.push(candidate.reject(format!(
                "more than {MAX_EVENTS_PER_REQUEST} spans with usage in one request; \
                 export smaller batches"
            )));
        }
    }
    let event_rules = EventRules {
        now,
        max_age_days: config.max_event_age_days,
        pruned_before: config.pruned_before,
    };
    for _ in 0..MAX_ROUNDS {
        if candidates.is_empty() {
            return Ok(report);
        }
        let batch = Batch {
            events: candidates.iter().map(|c| Ok(c.event.clone())).collect(),
            enveloped: true,
            project_id: None,
        };
        let result = match prepare(usage, prices, entropy, principal, &batch, &event_rules).await {
            Ok(request) => store_request(usage, log, &FixedClock(now), entropy, request).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(ingest) => {
                report.ingest = Some(ingest);
                return Ok(report);
            }
            // Spans at fault: drop them and store the others (a refused attempt stored
            // nothing, its raw object withdrawn).
            Err(CoreError::Validation(problems)) | Err(CoreError::IdReused(problems))
                if !problems.is_empty() && problems.iter().all(|p| p.index.is_some()) =>
            {
                candidates = reject_at_fault(candidates, &problems, &mut report.rejected);
            }
            Err(e) => return Err(e),
        }
    }
    Err(CoreError::Misconfigured(
        "spans were still at fault after every round of validation".into(),
    ))
}

/// The candidates no problem names; those named go to `rejected` with their problems.
fn reject_at_fault(
    candidates: Vec<Candidate>,
    problems: &[FieldError],
    rejected: &mut Vec<RejectedSpan>,
) -> Vec<Candidate> {
    let mut kept = Vec::with_capacity(candidates.len());
    for (index, candidate) in candidates.into_iter().enumerate() {
        let own: Vec<String> = problems
            .iter()
            .filter(|p| p.index == Some(index))
            .map(|p| {
                let field = p
                    .field
                    .strip_prefix(&format!("events[{index}]."))
                    .unwrap_or(&p.field);
                if field == "usage" {
                    // The message says it whole ("the event reports no usage: ...").
                    p.message.clone()
                } else {
                    format!("the event's `{field}` {}", p.message)
                }
            })
            .collect();
        if own.is_empty() {
            kept.push(candidate);
        } else {
            rejected.push(candidate.reject(own.join("; ")));
        }
    }
    kept
}
