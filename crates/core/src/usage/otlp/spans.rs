//! One span to one usage event, following the conventions model-call instrumentations use.
//!
//! Three families of attributes are read, first match wins:
//!
//! - **The Vercel AI SDK** (`ai.*`): `ai.model.provider`, `ai.model.id` (or
//!   `ai.response.model`), `ai.usage.inputTokens` / `ai.usage.promptTokens`,
//!   `ai.usage.outputTokens` / `ai.usage.completionTokens`, `ai.usage.cachedInputTokens`.
//!   Only the spans of one provider call (`ai.operationId` ending in `.doGenerate`,
//!   `.doStream` or `.doEmbed`) count: the outer `ai.generateText` span sums its steps, so
//!   counting it too would count every call twice. Its input count is the provider's own (the
//!   SDK passes OpenAI's `prompt_tokens`, cached included, and Anthropic's `input_tokens`,
//!   cached apart), which is the rule of this project's events: it is taken as it is. When the
//!   SDK gives the split (`ai.usage.inputTokenDetails.*`), the total includes every part.
//! - **OpenInference** (`llm.*`): `llm.provider` / `llm.system`, `llm.model_name`,
//!   `llm.token_count.prompt`, `llm.token_count.completion`,
//!   `llm.token_count.prompt_details.cache_read` and `.cache_write`. The prompt count
//!   includes the cached parts.
//! - **OpenTelemetry GenAI** (`gen_ai.*`): `gen_ai.provider.name` (older: `gen_ai.system`),
//!   `gen_ai.response.model` else `gen_ai.request.model`, `gen_ai.usage.input_tokens` (older:
//!   `gen_ai.usage.prompt_tokens`), `gen_ai.usage.output_tokens` (older:
//!   `gen_ai.usage.completion_tokens`), `gen_ai.usage.cache_read.input_tokens`,
//!   `gen_ai.usage.cache_creation.input_tokens`, `gen_ai.operation.name`. The input count
//!   includes cache reads and writes (the conventions: "SHOULD be included in
//!   `gen_ai.usage.input_tokens`").
//!
//! An inclusive input count becomes this project's: for a provider whose events count cache
//! reads inside `input_tokens` (OpenAI, Gemini: `Counting::cached_in_input`) the cache writes
//! are taken out; for one that reports them on top (Anthropic) reads and writes both are.

use chrono::DateTime;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};
use serde_json::{Map, Value as Json};

use crate::kernel::clock::format_timestamp;
use crate::pricing::catalog::{canonical_provider, Counting};
use crate::usage::event::EventInput;

/// Settings of the span mapping.
#[derive(Debug, Clone, Default)]
pub struct SpanRules {
    /// The attribute (of the span, else of its resource) whose value is the event's job;
    /// `None`: the job is the trace id.
    pub job_attribute: Option<String>,
}

/// What became of one span.
#[derive(Debug, Clone)]
pub enum SpanOutcome {
    /// A model call with usage: its event.
    Event(Box<EventInput>),
    /// No usage on it (an HTTP span, a tool call, the Vercel SDK's outer span): ignored.
    NoUsage,
    /// Usage that cannot be recorded, and why.
    Rejected(String),
}

/// The attributes of a span over those of its resource, read by name.
pub struct Attributes<'a> {
    span: &'a [KeyValue],
    resource: &'a [KeyValue],
}

/// A count as sent: absent, a non-negative whole number, or something else (named).
enum Count {
    Absent,
    Whole(u64),
    Bad(String),
}

impl<'a> Attributes<'a> {
    pub fn new(span: &'a [KeyValue], resource: &'a [KeyValue]) -> Self {
        Attributes { span, resource }
    }

    fn value(&self, name: &str) -> Option<&'a Value> {
        let find = |list: &'a [KeyValue]| {
            list.iter()
                .rev()
                .find(|kv| kv.key == name)
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| v.value.as_ref())
        };
        find(self.span).or_else(|| find(self.resource))
    }

    /// Whether the span itself carries an attribute starting with `prefix`.
    fn span_has_prefix(&self, prefix: &str) -> bool {
        self.span.iter().any(|kv| kv.key.starts_with(prefix))
    }

    /// A string attribute, or a number or boolean as text; empty strings are absent.
    pub fn text(&self, name: &str) -> Option<String> {
        let text = match self.value(name)? {
            Value::StringValue(s) => s.trim().to_string(),
            Value::IntValue(i) => i.to_string(),
            Value::DoubleValue(d) => d.to_string(),
            Value::BoolValue(b) => b.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    fn first_text(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.text(n))
    }

    fn count(&self, name: &str) -> Count {
        let bad = || {
            Count::Bad(format!(
                "`{name}` must be a whole number of tokens, at least 0"
            ))
        };
        match self.value(name) {
            None => Count::Absent,
            Some(Value::IntValue(i)) => u64::try_from(*i)
                .map(Count::Whole)
                .unwrap_or_else(|_| bad()),
            Some(Value::DoubleValue(d)) if d.fract() == 0.0 && *d >= 0.0 && *d < 9.0e15 => {
                Count::Whole(*d as u64)
            }
            Some(Value::StringValue(s)) => s
                .trim()
                .parse::<u64>()
                .map(Count::Whole)
                .unwrap_or_else(|_| bad()),
            Some(_) => bad(),
        }
    }

    /// The first of `names` that is present, with its name; an ill-formed one is an error.
    fn first_count(&self, names: &[&'static str]) -> Result<Option<(u64, &'static str)>, String> {
        for name in names {
            match self.count(name) {
                Count::Absent => continue,
                Count::Whole(n) => return Ok(Some((n, *name))),
                Count::Bad(message) => return Err(message),
            }
        }
        Ok(None)
    }
}

/// Which convention a span follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    VercelAi,
    OpenInference,
    GenAi,
}

/// How a convention counts its input tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputRule {
    /// The input count includes cache reads and writes.
    IncludesCache,
    /// The input count is the provider's own, as this project's events take it.
    ProviderNative,
}

/// The attributes that go to an event's metadata when present (span first, then resource).
pub const METADATA_ATTRIBUTES: &[&str] = &[
    "service.name",
    "gen_ai.response.id",
    "gen_ai.agent.name",
    "ai.telemetry.functionId",
];

/// The counts one convention gives, before conversion to this project's rule.
struct Counts {
    input: Option<(u64, &'static str)>,
    output: Option<u64>,
    cache_read: Option<(u64, &'static str)>,
    cache_write: Option<(u64, &'static str)>,
    total: Option<u64>,
    rule: InputRule,
}

impl Counts {
    fn is_zero(&self) -> bool {
        let first = |c: Option<(u64, &'static str)>| c.map_or(0, |c| c.0);
        first(self.input) == 0
            && self.output.unwrap_or(0) == 0
            && first(self.cache_read) == 0
            && first(self.cache_write) == 0
            && self.total.unwrap_or(0) == 0
    }
}

/// The span's event, or why it has none.
pub fn span_event(span: &Span, resource: &[KeyValue], rules: &SpanRules) -> SpanOutcome {
    let attrs = Attributes::new(&span.attributes, resource);
    let convention = if attrs.span_has_prefix("ai.usage.")
        || attrs.span_has_prefix("ai.model.")
        || attrs.text("ai.operationId").is_some()
    {
        Convention::VercelAi
    } else if attrs.span_has_prefix("llm.token_count.") {
        Convention::OpenInference
    } else {
        Convention::GenAi
    };
    if convention == Convention::VercelAi {
        let operation = attrs.text("ai.operationId").unwrap_or_default();
        let one_call = [".doGenerate", ".doStream", ".doEmbed"]
            .iter()
            .any(|suffix| operation.ends_with(suffix));
        if !one_call {
            return SpanOutcome::NoUsage;
        }
    }
    let counts = match read_counts(&attrs, convention) {
        // Counts that are all zero (a call that failed before using anything) are no usage.
        Ok(Some(counts)) if counts.is_zero() => return SpanOutcome::NoUsage,
        Ok(Some(counts)) => counts,
        Ok(None) => return SpanOutcome::NoUsage,
        Err(message) => return SpanOutcome::Rejected(message),
    };
    let Some(provider) = provider_of(&attrs, convention) else {
        return SpanOutcome::Rejected(
            match convention {
                Convention::VercelAi => "usage without a provider: `ai.model.provider` is missing",
                Convention::OpenInference => {
                    "usage without a provider: set `llm.provider` (or `llm.system`)"
                }
                Convention::GenAi => {
                    "usage without a provider: set `gen_ai.provider.name` (or `gen_ai.system`)"
                }
            }
            .to_string(),
        );
    };
    let mut event = EventInput {
        provider: provider.clone(),
        model: match convention {
            Convention::VercelAi => {
                attrs.first_text(&["ai.response.model", "ai.model.id", "gen_ai.response.model"])
            }
            Convention::OpenInference => attrs.first_text(&["llm.model_name"]),
            Convention::GenAi => {
                attrs.first_text(&["gen_ai.response.model", "gen_ai.request.model"])
            }
        },
        operation: attrs
            .first_text(&["gen_ai.operation.name"])
            .or_else(|| match convention {
                Convention::VercelAi => attrs.text("ai.operationId"),
                Convention::OpenInference => attrs
                    .text("openinference.span.kind")
                    .map(|k| k.to_ascii_lowercase()),
                Convention::GenAi => None,
            })
            .and_then(|o| kept(o, OPERATION_CHARS)),
        ..EventInput::default()
    };
    if let Err(message) = convert_counts(&counts, &provider, &mut event) {
        return SpanOutcome::Rejected(message);
    }
    let trace = hex::encode(&span.trace_id);
    let span_id = hex::encode(&span.span_id);
    if span.trace_id.len() != 16 || span.span_id.len() != 8 {
        return SpanOutcome::Rejected(
            "a span needs a 16-byte trace id and an 8-byte span id".to_string(),
        );
    }
    // OTLP calls an all-zero id invalid: spans of different calls would share its event id.
    if span.trace_id.iter().all(|b| *b == 0) || span.span_id.iter().all(|b| *b == 0) {
        return SpanOutcome::Rejected(
            "a span's trace id and span id must not be all zeros (OTLP calls them invalid)"
                .to_string(),
        );
    }
    if span.end_time_unix_nano == 0 {
        return SpanOutcome::Rejected("the span has no end time".to_string());
    }
    let Some(end) = i64::try_from(span.end_time_unix_nano)
        .ok()
        .map(DateTime::from_timestamp_nanos)
    else {
        return SpanOutcome::Rejected("the span's end time is out of range".to_string());
    };
    event.id = Some(event_id(&span.trace_id, &span.span_id));
    event.timestamp = Some(format_timestamp(end));
    event.duration_ms = span
        .end_time_unix_nano
        .checked_sub(span.start_time_unix_nano)
        .filter(|_| span.start_time_unix_nano > 0)
        .map(|nanos| nanos / 1_000_000);
    event.success = Some(
        span.status
            .as_ref()
            .is_none_or(|s| s.code != StatusCode::Error as i32),
    );
    event.job_id = Some(
        rules
            .job_attribute
            .as_deref()
            .and_then(|name| attrs.text(name))
            .and_then(|job| kept(job, LABEL_CHARS))
            .unwrap_or_else(|| trace.clone()),
    );
    event.session_id = attrs
        .first_text(&[
            "gen_ai.conversation.id",
            "session.id",
            "ai.telemetry.metadata.sessionId",
        ])
        .and_then(|session| kept(session, LABEL_CHARS));
    let mut metadata = Map::new();
    metadata.insert("otel.trace_id".into(), Json::String(trace));
    metadata.insert("otel.span_id".into(), Json::String(span_id));
    if !span.name.is_empty() {
        metadata.insert("otel.span_name".into(), Json::String(clip(&span.name)));
    }
    for name in METADATA_ATTRIBUTES {
        if let Some(value) = attrs.text(name) {
            metadata.insert((*name).into(), Json::String(clip(&value)));
        }
    }
    event.metadata = Some(metadata);
    SpanOutcome::Event(Box::new(event))
}

/// The event id of a span: the same trace and span always give the same id, so a re-exported
/// span is a duplicate of the first.
pub fn event_id(trace_id: &[u8], span_id: &[u8]) -> String {
    format!("otel-{}-{}", hex::encode(trace_id), hex::encode(span_id))
}

/// The most characters of an event's operation, and of its session and job ids.
const OPERATION_CHARS: usize = 100;
const LABEL_CHARS: usize = 128;

/// An attribute's text for a field the event limits (`max` characters, nothing invisible), or
/// `None` for one the event would refuse: a label the tracker cannot keep is left out (the job
/// falls back to the trace) rather than losing the span's usage with it.
fn kept(text: String, max: usize) -> Option<String> {
    crate::usage::event::short_text(String::new(), &text, max).ok()
}

/// A metadata value kept short: at most 200 characters and 600 bytes as JSON writes them (a
/// control character counted as its 6-byte escape), so that a span's metadata (its two ids and
/// five such values) stays under the 4 KB limit whatever the characters.
fn clip(text: &str) -> String {
    let mut out = String::new();
    let mut bytes = 0;
    for ch in text.chars().take(200) {
        bytes += match ch {
            '"' | '\\' => 2,
            c if u32::from(c) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if bytes > 600 {
            break;
        }
        out.push(ch);
    }
    out
}

fn read_counts(attrs: &Attributes, convention: Convention) -> Result<Option<Counts>, String> {
    let counts = match convention {
        Convention::VercelAi => {
            let split = attrs.first_count(&["ai.usage.inputTokenDetails.noCacheTokens"])?;
            Counts {
                input: attrs.first_count(&["ai.usage.inputTokens", "ai.usage.promptTokens"])?,
                output: attrs
                    .first_count(&["ai.usage.outputTokens", "ai.usage.completionTokens"])?
                    .map(|c| c.0),
                cache_read: attrs.first_count(&[
                    "ai.usage.inputTokenDetails.cacheReadTokens",
                    "ai.usage.cachedInputTokens",
                ])?,
                cache_write: attrs.first_count(&["ai.usage.inputTokenDetails.cacheWriteTokens"])?,
                total: attrs.first_count(&["ai.usage.totalTokens"])?.map(|c| c.0),
                rule: if split.is_some() {
                    InputRule::IncludesCache
                } else {
                    InputRule::ProviderNative
                },
            }
        }
        Convention::OpenInference => Counts {
            input: attrs.first_count(&["llm.token_count.prompt"])?,
            output: attrs
                .first_count(&["llm.token_count.completion"])?
                .map(|c| c.0),
            cache_read: attrs.first_count(&["llm.token_count.prompt_details.cache_read"])?,
            cache_write: attrs.first_count(&["llm.token_count.prompt_details.cache_write"])?,
            total: attrs.first_count(&["llm.token_count.total"])?.map(|c| c.0),
            rule: InputRule::IncludesCache,
        },
        Convention::GenAi => Counts {
            input: attrs
                .first_count(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"])?,
            output: attrs
                .first_count(&[
                    "gen_ai.usage.output_tokens",
                    "gen_ai.usage.completion_tokens",
                ])?
                .map(|c| c.0),
            cache_read: attrs.first_count(&["gen_ai.usage.cache_read.input_tokens"])?,
            cache_write: attrs.first_count(&["gen_ai.usage.cache_creation.input_tokens"])?,
            total: attrs
                .first_count(&["gen_ai.usage.total_tokens"])?
                .map(|c| c.0),
            rule: InputRule::IncludesCache,
        },
    };
    let any = counts.input.is_some()
        || counts.output.is_some()
        || counts.cache_read.is_some()
        || counts.cache_write.is_some()
        || counts.total.is_some();
    Ok(any.then_some(counts))
}

/// Sets the event's token counts by this project's rule for `provider`.
fn convert_counts(counts: &Counts, provider: &str, event: &mut EventInput) -> Result<(), String> {
    let read = counts.cache_read.map_or(0, |c| c.0);
    let write = counts.cache_write.map_or(0, |c| c.0);
    event.input_tokens = match (counts.input, counts.rule) {
        (None, _) => None,
        (Some((input, _)), InputRule::ProviderNative) => Some(input),
        (Some((input, name)), InputRule::IncludesCache) => {
            let inside = if Counting::for_provider(provider).cached_in_input {
                write
            } else {
                read.saturating_add(write)
            };
            match input.checked_sub(read.saturating_add(write)) {
                Some(_) => Some(input - inside),
                None => {
                    let parts: Vec<&str> = [counts.cache_read, counts.cache_write]
                        .iter()
                        .flatten()
                        .map(|c| c.1)
                        .collect();
                    return Err(format!(
                        "`{}` ({}) is larger than `{name}` ({input}), which includes it under \
                         this convention",
                        parts.join("` + `"),
                        read.saturating_add(write)
                    ));
                }
            }
        }
    };
    event.output_tokens = counts.output;
    event.cached_input_tokens = counts.cache_read.map(|c| c.0).filter(|n| *n > 0);
    event.cache_write_tokens = counts.cache_write.map(|c| c.0).filter(|n| *n > 0);
    if event.input_tokens.is_none() && event.output_tokens.is_none() {
        event.tokens = counts.total;
    }
    Ok(())
}

/// This project's provider name for a convention's.
fn provider_of(attrs: &Attributes, convention: Convention) -> Option<String> {
    let raw = match convention {
        Convention::VercelAi => attrs
            .text("ai.model.provider")
            // `openai.chat`, `anthropic.messages`, `google.vertex.chat`: the first part names
            // the provider; its API comes after the dot.
            .map(|p| p.split('.').next().unwrap_or_default().to_string())
            .or_else(|| attrs.first_text(&["gen_ai.provider.name", "gen_ai.system"])),
        Convention::OpenInference => attrs.first_text(&["llm.provider", "llm.system"]),
        Convention::GenAi => attrs.first_text(&["gen_ai.provider.name", "gen_ai.system"]),
    }?;
    Some(provider_name(&raw))
}

/// This project's name for a provider as the conventions name it (`gcp.gemini`,
/// `aws.bedrock`, `az.ai.openai`, OpenInference's `vertexai`, the AI SDK's `amazon-bedrock`).
pub fn provider_name(raw: &str) -> String {
    let name = raw.trim().to_ascii_lowercase();
    match name.as_str() {
        "gcp.gemini"
        | "gcp.vertex_ai"
        | "gcp.gen_ai"
        | "vertexai"
        | "google"
        | "gemini"
        | "google.generative-ai"
        | "google.vertex" => "google".to_string(),
        "aws.bedrock" | "aws" | "amazon-bedrock" | "bedrock" => "bedrock".to_string(),
        "az.ai.openai" | "azure.ai.openai" | "az.ai.inference" | "azure.ai.inference" | "azure"
        | "azure-openai" | "azure_openai" => "azure".to_string(),
        "mistral_ai" | "mistralai" => "mistral".to_string(),
        "x_ai" | "xai" => "xai".to_string(),
        "ibm.watsonx.ai" => "watsonx".to_string(),
        other => canonical_provider(other),
    }
}
