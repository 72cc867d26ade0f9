//! The span mapping, conventions and their cached-token rules, decoding, and ingestion of spans.

use std::io::Write;

use chrono::Duration;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pollster::block_on;
use prost::Message;

use super::spans::provider_name;
use super::*;
use crate::kernel::clock::SystemEntropy;
use crate::usage::fixtures::{now, World};

const TRACE: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}
fn s(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}
fn i(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

/// A span of `TRACE` with span id `[n; 8]`, ending a minute before the fixture's now.
fn span(n: u8, attributes: Vec<KeyValue>) -> Span {
    let end = (now() - Duration::minutes(1))
        .timestamp_nanos_opt()
        .unwrap() as u64;
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![n; 8],
        name: format!("chat {n}"),
        start_time_unix_nano: end - 1_500_000_000,
        end_time_unix_nano: end,
        attributes,
        ..Span::default()
    }
}

fn event(span: &Span) -> EventInput {
    match span_event(span, &[], &SpanRules::default()) {
        SpanOutcome::Event(event) => *event,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn tokens(e: &EventInput) -> (Option<u64>, Option<u64>, Option<u64>, Option<u64>) {
    (
        e.input_tokens,
        e.output_tokens,
        e.cached_input_tokens,
        e.cache_write_tokens,
    )
}

#[test]
fn a_genai_span_becomes_one_event_with_its_id_end_time_operation_and_the_trace_as_job() {
    let e = event(&span(
        1,
        vec![
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            i("gen_ai.usage.input_tokens", 1000),
            i("gen_ai.usage.output_tokens", 500),
            s("gen_ai.response.id", "chatcmpl-1"),
            s("http.url", "https://api.openai.com/v1/chat/completions"),
        ],
    ));
    assert_eq!(e.provider, "openai");
    assert_eq!(e.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(e.operation.as_deref(), Some("chat"));
    assert_eq!(tokens(&e), (Some(1000), Some(500), None, None));
    assert_eq!(
        e.id.as_deref(),
        Some("otel-4bf92f3577b34da6a3ce929d0e0e4736-0101010101010101")
    );
    assert_eq!(e.timestamp.as_deref(), Some("2026-11-20T11:59:00.000Z"));
    assert_eq!(e.duration_ms, Some(1500));
    assert_eq!(
        e.job_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(e.success, Some(true));
    let metadata = e.metadata.unwrap();
    assert_eq!(metadata["gen_ai.response.id"], "chatcmpl-1");
    assert_eq!(metadata["otel.span_name"], "chat 1");
    assert!(
        !metadata.contains_key("http.url"),
        "only whitelisted attributes"
    );
}

#[test]
fn genai_input_includes_cache_reads_which_stay_inside_the_input_count_for_openai() {
    let e = event(&span(
        1,
        vec![
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 1000),
            i("gen_ai.usage.cache_read.input_tokens", 200),
            i("gen_ai.usage.output_tokens", 50),
        ],
    ));
    assert_eq!(tokens(&e), (Some(1000), Some(50), Some(200), None));
}

#[test]
fn genai_cache_reads_and_writes_are_taken_out_of_the_input_count_for_anthropic() {
    let e = event(&span(
        1,
        vec![
            s("gen_ai.provider.name", "anthropic"),
            s("gen_ai.request.model", "claude-sonnet-4-5"),
            i("gen_ai.usage.input_tokens", 1300),
            i("gen_ai.usage.cache_read.input_tokens", 200),
            i("gen_ai.usage.cache_creation.input_tokens", 100),
            i("gen_ai.usage.output_tokens", 50),
        ],
    ));
    assert_eq!(tokens(&e), (Some(1000), Some(50), Some(200), Some(100)));
}

#[test]
fn cache_counts_larger_than_the_input_that_should_include_them_reject_the_span() {
    let outcome = span_event(
        &span(
            1,
            vec![
                s("gen_ai.provider.name", "anthropic"),
                s("gen_ai.request.model", "claude-sonnet-4-5"),
                i("gen_ai.usage.input_tokens", 100),
                i("gen_ai.usage.cache_read.input_tokens", 200),
            ],
        ),
        &[],
        &SpanRules::default(),
    );
    let SpanOutcome::Rejected(message) = outcome else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert!(
        message.contains("`gen_ai.usage.cache_read.input_tokens` (200) is larger than `gen_ai.usage.input_tokens` (100)"),
        "{message}"
    );
}

#[test]
fn the_older_genai_names_system_prompt_and_completion_tokens_are_read() {
    let e = event(&span(
        1,
        vec![
            s("gen_ai.system", "gcp.gemini"),
            s("gen_ai.request.model", "gemini-2.5-flash"),
            i("gen_ai.usage.prompt_tokens", 700),
            i("gen_ai.usage.completion_tokens", 70),
        ],
    ));
    assert_eq!(e.provider, "google");
    assert_eq!(e.model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!(tokens(&e), (Some(700), Some(70), None, None));
}

#[test]
fn openinference_prompt_counts_include_cache_reads_and_writes() {
    let e = event(&span(
        1,
        vec![
            s("openinference.span.kind", "LLM"),
            s("llm.provider", "anthropic"),
            s("llm.model_name", "claude-sonnet-4-5"),
            i("llm.token_count.prompt", 1250),
            i("llm.token_count.prompt_details.cache_read", 200),
            i("llm.token_count.prompt_details.cache_write", 50),
            i("llm.token_count.completion", 40),
            i("llm.token_count.total", 1290),
        ],
    ));
    assert_eq!(e.provider, "anthropic");
    assert_eq!(e.operation.as_deref(), Some("llm"));
    assert_eq!(tokens(&e), (Some(1000), Some(40), Some(200), Some(50)));
    // OpenAI keeps reads inside its prompt count.
    let e = event(&span(
        2,
        vec![
            s("llm.system", "openai"),
            s("llm.model_name", "gpt-4o"),
            i("llm.token_count.prompt", 1000),
            i("llm.token_count.prompt_details.cache_read", 200),
            i("llm.token_count.completion", 40),
        ],
    ));
    assert_eq!(tokens(&e), (Some(1000), Some(40), Some(200), None));
}

#[test]
fn a_vercel_ai_sdk_provider_call_counts_and_its_outer_span_is_ignored() {
    let inner = span(
        2,
        vec![
            s("ai.operationId", "ai.generateText.doGenerate"),
            s("ai.model.provider", "anthropic.messages"),
            s("ai.model.id", "claude-sonnet-4-5"),
            // The SDK's own count is Anthropic's: cache reads on top, as this project counts.
            i("ai.usage.inputTokens", 1000),
            i("ai.usage.cachedInputTokens", 200),
            i("ai.usage.outputTokens", 60),
            s("gen_ai.system", "anthropic.messages"),
            i("gen_ai.usage.input_tokens", 1000),
        ],
    );
    let e = event(&inner);
    assert_eq!(e.provider, "anthropic");
    assert_eq!(e.model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(e.operation.as_deref(), Some("ai.generateText.doGenerate"));
    assert_eq!(tokens(&e), (Some(1000), Some(60), Some(200), None));
    let outer = span(
        1,
        vec![
            s("ai.operationId", "ai.generateText"),
            s("ai.model.provider", "anthropic.messages"),
            s("ai.model.id", "claude-sonnet-4-5"),
            i("ai.usage.promptTokens", 1000),
            i("ai.usage.completionTokens", 60),
        ],
    );
    assert!(matches!(
        span_event(&outer, &[], &SpanRules::default()),
        SpanOutcome::NoUsage
    ));
}

#[test]
fn a_vercel_ai_sdk_split_of_the_input_is_read_as_a_total_that_includes_the_cache() {
    let e = event(&span(
        1,
        vec![
            s("ai.operationId", "ai.streamText.doStream"),
            s("ai.model.provider", "anthropic.messages"),
            s("ai.model.id", "claude-sonnet-4-5"),
            i("ai.usage.inputTokens", 1300),
            i("ai.usage.inputTokenDetails.noCacheTokens", 1000),
            i("ai.usage.inputTokenDetails.cacheReadTokens", 200),
            i("ai.usage.inputTokenDetails.cacheWriteTokens", 100),
            i("ai.usage.outputTokens", 60),
        ],
    ));
    assert_eq!(tokens(&e), (Some(1000), Some(60), Some(200), Some(100)));
}

#[test]
fn spans_without_usage_are_ignored_not_rejected() {
    for attributes in [
        vec![s("http.method", "GET")],
        vec![
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
        ],
    ] {
        assert!(matches!(
            span_event(&span(1, attributes), &[], &SpanRules::default()),
            SpanOutcome::NoUsage
        ));
    }
}

#[test]
fn the_same_trace_and_span_always_give_the_same_event_id_and_another_span_another() {
    assert_eq!(event_id_of(1), event_id_of(1));
    assert_ne!(event_id_of(1), event_id_of(2));
}

fn event_id_of(n: u8) -> Option<String> {
    event(&span(
        n,
        vec![
            s("gen_ai.system", "openai"),
            i("gen_ai.usage.input_tokens", 1),
        ],
    ))
    .id
}

#[test]
fn the_job_comes_from_the_configured_attribute_of_the_span_or_its_resource() {
    let rules = SpanRules {
        job_attribute: Some("app.generation_id".into()),
    };
    let resource = [
        s("app.generation_id", "gen-7"),
        s("service.name", "video-api"),
    ];
    let outcome = span_event(
        &span(
            1,
            vec![
                s("gen_ai.system", "openai"),
                i("gen_ai.usage.input_tokens", 5),
            ],
        ),
        &resource,
        &rules,
    );
    let SpanOutcome::Event(e) = outcome else {
        panic!("expected an event")
    };
    assert_eq!(e.job_id.as_deref(), Some("gen-7"));
    assert_eq!(e.metadata.unwrap()["service.name"], "video-api");
}

#[test]
fn convention_provider_names_become_the_catalogs() {
    for (raw, ours) in [
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("gcp.gemini", "google"),
        ("gcp.vertex_ai", "google"),
        ("vertexai", "google"),
        ("aws.bedrock", "bedrock"),
        ("amazon-bedrock", "bedrock"),
        ("az.ai.openai", "azure"),
        ("azure.ai.openai", "azure"),
        ("mistral_ai", "mistral"),
        ("x_ai", "xai"),
    ] {
        assert_eq!(provider_name(raw), ours, "{raw}");
    }
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "video-api")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

#[test]
fn protobuf_json_and_gzip_bodies_decode_to_the_same_request() {
    let sent = request(vec![span(
        1,
        vec![
            s("gen_ai.system", "openai"),
            i("gen_ai.usage.input_tokens", 5),
        ],
    )]);
    let proto = sent.encode_to_vec();
    let decoded = decode_request(Encoding::Protobuf, None, &proto, 1 << 20).unwrap();
    assert_eq!(decoded, sent);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&proto).unwrap();
    let zipped = gz.finish().unwrap();
    let decoded = decode_request(Encoding::Protobuf, Some("gzip"), &zipped, 1 << 20).unwrap();
    assert_eq!(decoded, sent);
    // OTLP JSON as the exporters send it: hex ids, lowerCamelCase, 64-bit integers as strings.
    let json = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"video-api"}}]},
      "scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"0101010101010101",
      "name":"chat 1","kind":3,"startTimeUnixNano":"1795175438500000000","endTimeUnixNano":"1795175940000000000",
      "attributes":[{"key":"gen_ai.system","value":{"stringValue":"openai"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}},
      {"key":"gen_ai.usage.output_tokens","value":{"intValue":7}}],"status":{}}]}]}]}"#;
    let decoded = decode_request(Encoding::Json, None, json.as_bytes(), 1 << 20).unwrap();
    let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, TRACE.to_vec());
    assert_eq!(span.end_time_unix_nano, 1_795_175_940_000_000_000);
    assert_eq!(tokens(&event(span)), (Some(5), Some(7), None, None));
}

#[test]
fn undecodable_bodies_are_malformed_and_other_types_and_encodings_are_415() {
    for (encoding, body) in [
        (Encoding::Protobuf, &b"\xff\xff\xff"[..]),
        (Encoding::Json, &b"{\"resourceSpans\": 3}"[..]),
        (Encoding::Json, &b"not json"[..]),
        (Encoding::Json, &b"{\"resourceSpans\": [\"\xe9\"]}"[..]),
    ] {
        let error = decode_request(encoding, None, body, 1 << 20).unwrap_err();
        assert!(
            matches!(error, CoreError::MalformedBody { .. }),
            "{error:?}"
        );
    }
    // A field at fault is named in the details as well as in the message.
    let bad_trace = br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}"#;
    match decode_request(Encoding::Json, None, bad_trace, 1 << 20).unwrap_err() {
        CoreError::MalformedBody { message, details } => {
            let field = "resourceSpans[0].scopeSpans[0].spans[0].traceId";
            assert!(message.contains(&format!("{field}: ")), "{message}");
            assert_eq!(details.len(), 1, "{details:?}");
            assert_eq!(details[0].field, field);
            assert!(message.ends_with(&details[0].message), "{details:?}");
        }
        other => panic!("expected a malformed body, got {other:?}"),
    }
    let error = decode_request(Encoding::Json, None, b"{\"a\": \"\xff\"}", 1 << 20).unwrap_err();
    assert!(error.to_string().contains("it is not UTF-8"), "{error}");
    let error = decode_request(Encoding::Json, Some("gzip"), b"{}", 1 << 20).unwrap_err();
    assert!(error.to_string().contains("gzip"), "{error}");
    assert!(matches!(
        decode_request(Encoding::Json, Some("br"), b"{}", 1 << 20),
        Err(CoreError::UnsupportedMediaType(_))
    ));
    assert!(matches!(
        Encoding::from_content_type("text/plain"),
        Err(CoreError::UnsupportedMediaType(_))
    ));
    assert_eq!(
        Encoding::from_content_type("application/json; charset=utf-8").unwrap(),
        Encoding::Json
    );
}

#[test]
fn a_gzip_body_that_inflates_past_the_limit_is_too_large() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 2 << 20]).unwrap();
    let zipped = gz.finish().unwrap();
    assert!(zipped.len() < 10_000);
    assert!(matches!(
        decode_request(Encoding::Json, Some("gzip"), &zipped, 1 << 20),
        Err(CoreError::PayloadTooLarge { .. })
    ));
}

fn ingest_request(world: &World, request: &ExportTraceServiceRequest) -> SpansReport {
    block_on(ingest_spans(
        &world.store,
        &world.store,
        &world.log,
        now(),
        &SystemEntropy,
        &world.key(),
        request,
        IngestConfig::default(),
        &SpanRules::default(),
    ))
    .unwrap()
}

#[test]
fn good_spans_are_stored_bad_ones_named_and_a_re_export_changes_nothing() {
    let world = World::new();
    let mut too_old = span(
        3,
        vec![
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 5),
        ],
    );
    too_old.end_time_unix_nano -= 400 * 86_400 * 1_000_000_000;
    let sent = request(vec![
        span(
            1,
            vec![
                s("gen_ai.system", "openai"),
                s("gen_ai.request.model", "gpt-4o"),
                i("gen_ai.usage.input_tokens", 1000),
                i("gen_ai.usage.output_tokens", 100),
            ],
        ),
        span(2, vec![s("http.method", "POST")]),
        too_old,
        span(
            4,
            vec![
                s("gen_ai.request.model", "gpt-4o"),
                i("gen_ai.usage.input_tokens", 5),
            ],
        ),
    ]);
    let report = ingest_request(&world, &sent);
    assert_eq!(report.spans, 4);
    assert_eq!(report.ignored, 1);
    let ingest = report.ingest.as_ref().unwrap();
    assert_eq!((ingest.stored, ingest.duplicates), (1, 0));
    let rejected: Vec<(&str, bool)> = report
        .rejected
        .iter()
        .map(|r| (r.span_id.as_str(), r.message.contains("timestamp")))
        .collect();
    assert_eq!(
        rejected,
        vec![("0404040404040404", false), ("0303030303030303", true)]
    );
    assert!(
        report.rejected[0].message.contains("provider"),
        "{:?}",
        report.rejected
    );
    let response = report.response();
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.starts_with("2 of 4 spans rejected"),
        "{}",
        partial.error_message
    );
    assert_eq!(report.json()["partialSuccess"]["rejectedSpans"], 2);
    assert_eq!(
        world.logged_events().len(),
        1,
        "one raw line, the stored span's"
    );

    let again = ingest_request(&world, &sent);
    let ingest = again.ingest.as_ref().unwrap();
    assert_eq!((ingest.stored, ingest.duplicates), (0, 1));
    assert_eq!(again.rejected.len(), 2);
}

#[test]
fn a_request_of_spans_without_usage_writes_nothing_and_has_no_partial_success() {
    let world = World::new();
    let report = ingest_request(
        &world,
        &request(vec![span(1, vec![s("http.method", "GET")])]),
    );
    assert_eq!((report.spans, report.ignored), (1, 1));
    assert!(report.ingest.is_none());
    assert_eq!(report.response().partial_success, None);
    assert!(world.log.objects.borrow().is_empty());
}

#[test]
fn the_admin_key_cannot_send_spans_since_they_name_no_project() {
    let world = World::new();
    let result = block_on(ingest_spans(
        &world.store,
        &world.store,
        &world.log,
        now(),
        &SystemEntropy,
        &Principal::Admin,
        &request(vec![]),
        IngestConfig::default(),
        &SpanRules::default(),
    ));
    assert!(matches!(result, Err(CoreError::Forbidden(_))));
}

/// The field a refusal names, when it is a validation error of one field.
fn refused_field(error: &CoreError) -> Option<&str> {
    match error {
        CoreError::Validation(fields) => fields.first().map(|f| f.field.as_str()),
        _ => None,
    }
}

#[test]
fn an_export_of_millions_of_empty_spans_or_attributes_is_refused_before_it_is_decoded() {
    // 4 MB of empty spans (2 bytes each on the wire, hundreds once decoded).
    let empty_spans = request((0..2_000_000).map(|_| Span::default()).collect());
    let proto = empty_spans.encode_to_vec();
    assert!(proto.len() < 8 << 20);
    let error = decode_request(Encoding::Protobuf, None, &proto, 8 << 20).unwrap_err();
    assert_eq!(refused_field(&error), Some("resourceSpans"), "{error:?}");
    assert!(error.to_string().contains("invalid"), "{error}");
    // One span with a million empty attributes, and one with a value holding a million
    // empty values.
    let many_attributes = request(vec![span(1, vec![KeyValue::default(); 1_000_000])]);
    let error = decode_request(
        Encoding::Protobuf,
        None,
        &many_attributes.encode_to_vec(),
        8 << 20,
    )
    .unwrap_err();
    assert_eq!(refused_field(&error), Some("resourceSpans"), "{error:?}");
    let values = Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
        values: vec![AnyValue::default(); 1_000_000],
    });
    let nested = request(vec![span(1, vec![kv("x", values)])]);
    let error =
        decode_request(Encoding::Protobuf, None, &nested.encode_to_vec(), 8 << 20).unwrap_err();
    assert_eq!(refused_field(&error), Some("resourceSpans"), "{error:?}");
    // The same in OTLP JSON: a million empty span objects.
    let json = format!(
        "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{}{{}}]}}]}}]}}",
        "{},".repeat(999_999)
    );
    let error = decode_request(Encoding::Json, None, json.as_bytes(), 8 << 20).unwrap_err();
    assert_eq!(refused_field(&error), Some("resourceSpans"), "{error:?}");
}

#[test]
fn a_large_export_of_real_spans_with_attributes_still_decodes() {
    let attributes: Vec<KeyValue> = (0..20)
        .map(|n| s(&format!("app.attribute.{n}"), "a value of some length"))
        .collect();
    let sent = request(
        (0..2_000)
            .map(|n| span((n % 250) as u8, attributes.clone()))
            .collect(),
    );
    let proto = sent.encode_to_vec();
    let decoded = decode_request(Encoding::Protobuf, None, &proto, 8 << 20).unwrap();
    assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 2_000);
    assert_eq!(decoded, sent);
}

#[test]
fn a_protobuf_length_past_the_end_is_malformed_before_anything_is_decoded() {
    // resource_spans (field 1, length-delimited) claiming 100 bytes of which 2 follow.
    let error =
        decode_request(Encoding::Protobuf, None, &[0x0a, 100, 0x12, 0x00], 1 << 20).unwrap_err();
    assert!(
        matches!(error, CoreError::MalformedBody { .. }),
        "{error:?}"
    );
}

#[test]
fn a_span_whose_names_are_long_emoji_or_escapes_is_stored_with_its_metadata_clipped_under_4_kb() {
    for text in ["🤖".repeat(300), "\u{1}".repeat(300), "\"\\".repeat(150)] {
        let world = World::new();
        let mut call = span(
            1,
            vec![
                s("gen_ai.system", "openai"),
                s("gen_ai.request.model", "gpt-4o"),
                i("gen_ai.usage.input_tokens", 1000),
                i("gen_ai.usage.output_tokens", 100),
                s("gen_ai.response.id", &text),
                s("gen_ai.agent.name", &text),
                s("ai.telemetry.functionId", &text),
            ],
        );
        call.name = text.clone();
        let mut sent = request(vec![call]);
        sent.resource_spans[0].resource = Some(Resource {
            attributes: vec![s("service.name", &text)],
            ..Resource::default()
        });
        let report = ingest_request(&world, &sent);
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(report.ingest.as_ref().unwrap().stored, 1);
        let metadata = event(&sent.resource_spans[0].scope_spans[0].spans[0]).metadata;
        let written = serde_json::to_string(&metadata).unwrap();
        assert!(
            written.len() <= crate::usage::event::MAX_METADATA_BYTES,
            "{}",
            written.len()
        );
    }
}

#[test]
fn a_span_counting_zero_tokens_is_ignored_and_one_with_an_all_zero_id_is_rejected_saying_why() {
    let world = World::new();
    let call = |n: u8, input: i64| {
        span(
            n,
            vec![
                s("gen_ai.system", "openai"),
                s("gen_ai.request.model", "gpt-4o"),
                i("gen_ai.usage.input_tokens", input),
                i("gen_ai.usage.output_tokens", 0),
            ],
        )
    };
    let mut zero_id = call(2, 10);
    zero_id.span_id = vec![0; 8];
    let report = ingest_request(&world, &request(vec![call(1, 0), zero_id, call(3, 10)]));
    assert_eq!((report.spans, report.ignored), (3, 1));
    assert_eq!(report.ingest.as_ref().unwrap().stored, 1);
    assert_eq!(report.rejected.len(), 1);
    assert!(
        report.rejected[0].message.contains("all zeros"),
        "{:?}",
        report.rejected
    );
}

#[test]
fn a_span_with_an_over_long_conversation_operation_or_job_is_stored_without_them() {
    let world = World::new();
    let long = "c".repeat(300);
    let call = span(
        1,
        vec![
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.operation.name", &"o".repeat(101)),
            s("gen_ai.conversation.id", &long),
            s("app.job", &long),
            i("gen_ai.usage.input_tokens", 1000),
            i("gen_ai.usage.output_tokens", 100),
        ],
    );
    let rules = SpanRules {
        job_attribute: Some("app.job".into()),
    };
    let SpanOutcome::Event(read) = span_event(&call, &[], &rules) else {
        panic!("expected an event");
    };
    assert_eq!(read.operation, None);
    assert_eq!(read.session_id, None);
    assert_eq!(read.job_id, Some(hex::encode(&call.trace_id)));
    let report = ingest_request(&world, &request(vec![call]));
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.ingest.as_ref().unwrap().stored, 1);
    // Names within the limits are kept as they are.
    let within = span(
        2,
        vec![
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.conversation.id", &"c".repeat(128)),
            i("gen_ai.usage.input_tokens", 1),
        ],
    );
    let read = event(&within);
    assert_eq!(read.operation.as_deref(), Some("chat"));
    assert_eq!(read.session_id, Some("c".repeat(128)));
}
