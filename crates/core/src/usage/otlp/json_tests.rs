//! `json::decode` held to opentelemetry-proto's serde JSON mapping (a dev-dependency with
//! `with-serde`): on generated documents, valid and not, and on the fixtures of the tests, it
//! refuses what the crate refuses and builds equal structs where the crate accepts.

use std::fmt::Write;

use proptest::prelude::*;

use super::json::decode;
use super::ExportTraceServiceRequest;

/// A tiny deterministic generator (xorshift), seeded by proptest: documents are built from
/// the schema below with a few hundred random choices, easier written as code than as
/// strategies.
struct Gen {
    state: u64,
    /// How often, in percent, a value is of the wrong type or an edge case.
    noise: usize,
    /// Edge cases still to place in an otherwise clean document (one alone is what catches a
    /// reader that takes a value the crate refuses, or the reverse).
    edges: usize,
}

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The schema as the test knows it: each message's fields and their types, named in text.
/// `list:` a repeated field, `opt:` a message or null; the rest are scalars.
fn schema(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "Request" => &[("resourceSpans", "list:ResourceSpans")],
        "ResourceSpans" => &[
            ("resource", "opt:Resource"),
            ("scopeSpans", "list:ScopeSpans"),
            ("schemaUrl", "text"),
        ],
        "Resource" => &[
            ("attributes", "list:KeyValue"),
            ("droppedAttributesCount", "u32"),
            ("entityRefs", "list:EntityRef"),
        ],
        "ScopeSpans" => &[
            ("scope", "opt:Scope"),
            ("spans", "list:Span"),
            ("schemaUrl", "text"),
        ],
        "Scope" => &[
            ("name", "text"),
            ("version", "text"),
            ("attributes", "list:KeyValue"),
            ("droppedAttributesCount", "u32"),
        ],
        "Span" => &[
            ("traceId", "hex"),
            ("spanId", "hex"),
            ("traceState", "text"),
            ("parentSpanId", "hex"),
            ("flags", "u32"),
            ("name", "text"),
            ("kind", "i32"),
            ("startTimeUnixNano", "time"),
            ("endTimeUnixNano", "time"),
            ("attributes", "list:KeyValue"),
            ("droppedAttributesCount", "u32"),
            ("events", "list:Event"),
            ("droppedEventsCount", "u32"),
            ("links", "list:Link"),
            ("droppedLinksCount", "u32"),
            ("status", "opt:Status"),
        ],
        "Event" => &[
            ("timeUnixNano", "time"),
            ("name", "text"),
            ("attributes", "list:KeyValue"),
            ("droppedAttributesCount", "u32"),
        ],
        "Link" => &[
            ("traceId", "hex"),
            ("spanId", "hex"),
            ("traceState", "text"),
            ("attributes", "list:KeyValue"),
            ("droppedAttributesCount", "u32"),
            ("flags", "u32"),
        ],
        "Status" => &[("message", "text"), ("code", "i32")],
        "KeyValue" => &[
            ("key", "text"),
            ("value", "opt:AnyValue"),
            ("keyStrindex", "i32"),
        ],
        "AnyValue" => &[
            ("stringValue", "text"),
            ("boolValue", "bool"),
            ("intValue", "int"),
            ("doubleValue", "double"),
            ("arrayValue", "opt:ArrayValue"),
            ("kvlistValue", "opt:KeyValueList"),
            ("bytesValue", "base64"),
        ],
        "ArrayValue" => &[("values", "list:AnyValue")],
        "KeyValueList" => &[("values", "list:KeyValue")],
        "EntityRef" => &[
            ("schemaUrl", "text"),
            ("type", "text"),
            ("idKeys", "list:text"),
            ("descriptionKeys", "list:text"),
        ],
        _ => &[],
    }
}

/// Values of each scalar type: ones the crate takes, edge cases of the right JSON type that
/// it may refuse, and values of other types.
fn scalar(g: &mut Gen, ty: &str) -> &'static str {
    let (good, edge): (&[&str], &[&str]) = match ty {
        "text" => (
            &[
                r#""gen_ai.system""#,
                r#""caf\u00e9""#,
                r#""""#,
                r#""a\"b\\c\n""#,
            ],
            &[r#""\ud800""#, r#""\ud83d\ude00""#],
        ),
        "hex" => (
            &[
                r#""4bf92f3577b34da6a3ce929d0e0e4736""#,
                r#""0101010101010101""#,
                r#""00F067AA0BA902B7""#,
                r#""""#,
                r#""0x0102""#,
                r#""0X""#,
            ],
            &[
                r#""abc""#,
                r#""0x1""#,
                r#""zz""#,
                r#""x0""#,
                r#""4bf92f3577b34da6a3ce929d0e0e47""#,
            ],
        ),
        "time" => (
            &[
                r#""1795175438500000000""#,
                "1795175438500000000",
                r#""18446744073709551615""#,
                "18446744073709551615",
                r#""+5""#,
                "0",
            ],
            &[
                r#""18446744073709551616""#,
                "18446744073709551616",
                r#""-1""#,
                "-1",
                "1.5",
                "1e3",
                r#"" 1""#,
                "-0",
                r#""""#,
            ],
        ),
        "u32" | "i32" => (
            &["0", "7", "2147483647"],
            &[
                "2147483648",
                "4294967295",
                "4294967296",
                "-1",
                "-2147483648",
                "-2147483649",
                "1.0",
                "-0",
                r#""3""#,
            ],
        ),
        "bool" => (&["true", "false"], &[r#""true""#, "1"]),
        "int" => (
            &[
                "5",
                r#""5""#,
                "-9223372036854775808",
                "9223372036854775807",
                r#""+7""#,
                r#""-3""#,
            ],
            &[
                "9223372036854775808",
                r#""-9223372036854775809""#,
                r#""1.0""#,
                "1.0",
                "-0",
                r#""""#,
            ],
        ),
        "double" => (
            &["1.5", "3", "-4", "1e300", "-0.0", "0"],
            &[r#""NaN""#, r#""1.5""#, "1e400"],
        ),
        "base64" => (
            &[r#""aGVsbG8=""#, r#""""#, r#""AAEC/w==""#],
            &[
                r#""aGVsbG8""#,
                r#""aGVsbG9=""#,
                r#""!!""#,
                r#""aGVs bG8=""#,
                r#""AAEC_w==""#,
            ],
        ),
        // An unknown field's value: skipped, but read within an `AnyValue`.
        "unknown" => (
            &[
                "null",
                "true",
                "12",
                r#""x""#,
                "[]",
                "{}",
                r#"[{"a":-1.5}]"#,
            ],
            &[r#""\ud800""#, "1e400", r#"[[[{"a":[1,"\udc00"]}]]]"#],
        ),
        _ => (&[], &[]),
    };
    if good.is_empty() || g.chance(g.noise) {
        g.pick(&[
            "null",
            "true",
            "12",
            "-3",
            "2.5",
            r#""x""#,
            "[]",
            "{}",
            r#""\ud800""#,
            "1e400",
            r#"[[[{"a":[1,"\udc00"]}]]]"#,
        ])
    } else if g.chance(g.noise) || (g.edges > 0 && !edge.is_empty() && g.chance(4)) {
        g.edges = g.edges.saturating_sub(1);
        g.pick(edge)
    } else {
        g.pick(good)
    }
}

/// A value of `ty` (mostly right, sometimes not) appended to `out`.
fn value(g: &mut Gen, ty: &str, depth: usize, out: &mut String) {
    if let Some(kind) = ty.strip_prefix("list:") {
        if depth > 12 {
            out.push_str("[]");
        } else if !g.chance(g.noise) {
            out.push('[');
            for i in 0..g.below(if depth > 7 { 2 } else { 4 }) + usize::from(depth < 7) {
                if i > 0 {
                    out.push(',');
                }
                value(g, kind, depth + 1, out);
            }
            out.push(']');
        } else {
            out.push_str(scalar(g, "other"));
        }
    } else if let Some(kind) = ty.strip_prefix("opt:") {
        if g.chance(10) {
            out.push_str("null");
        } else {
            value(g, kind, depth, out);
        }
    } else if schema(ty).is_empty() {
        out.push_str(scalar(g, ty));
    } else if depth > 16 || g.chance(g.noise) {
        out.push_str(scalar(g, "other"));
    } else if g.chance(if ty == "AnyValue" { g.noise } else { 3 }) {
        message_array(g, ty, depth, out);
    } else {
        message(g, ty, depth, out);
    }
}

/// A message as an object: some of its fields in any order, sometimes one twice, unknown
/// fields, snake_case names.
fn message(g: &mut Gen, kind: &str, depth: usize, out: &mut String) {
    let fields = schema(kind);
    // Fields without defaults (in `KeyValue`, `ArrayValue`, `KeyValueList`, `EntityRef`) are
    // left out only as often as other mistakes are made.
    let needed = |name: &str| {
        matches!(
            kind,
            "KeyValue" | "ArrayValue" | "KeyValueList" | "EntityRef"
        ) && !matches!(name, "value" | "keyStrindex")
    };
    let mut chosen: Vec<usize> = (0..fields.len())
        .filter(|&i| {
            if needed(fields[i].0) {
                !g.chance(g.noise)
            } else {
                let percent = if fields[i].1.starts_with("list:") {
                    80
                } else {
                    60
                };
                g.chance(percent)
            }
        })
        .collect();
    if !chosen.is_empty() && g.chance(g.noise) {
        chosen.push(chosen[g.below(chosen.len())]);
    }
    for i in (1..chosen.len()).rev() {
        chosen.swap(i, g.below(i + 1));
    }
    out.push('{');
    let mut first = true;
    let mut comma = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
    };
    for index in chosen {
        let (name, ty) = fields[index];
        comma(out);
        let _ = write!(out, "\"{name}\":");
        value(g, ty, depth + 1, out);
    }
    if g.chance(15) {
        comma(out);
        let name = g.pick(&[
            "unknown",
            "trace_id",
            "scope_spans",
            "stringValueStrindex",
            "Name",
        ]);
        let _ = write!(out, "\"{name}\":");
        out.push_str(scalar(g, "unknown"));
    }
    out.push('}');
}

/// A message in serde's array form: its first fields' values in order, sometimes one too many.
fn message_array(g: &mut Gen, kind: &str, depth: usize, out: &mut String) {
    let fields = schema(kind);
    let count = fields.len() + usize::from(g.chance(g.noise)) - g.below(fields.len() + 1);
    out.push('[');
    for i in 0..count {
        if i > 0 {
            out.push(',');
        }
        match fields.get(i) {
            Some((_, ty)) => value(g, ty, depth + 1, out),
            None => out.push_str("null"),
        }
    }
    out.push(']');
}

fn document(seed: u64) -> String {
    let mut g = Gen {
        state: seed | 1,
        noise: 0,
        edges: 0,
    };
    g.noise = [0, 0, 0, 1, 2, 10][g.below(6)];
    g.edges = usize::from(g.noise == 0 && g.chance(70));
    let mut out = String::new();
    value(&mut g, "Request", 0, &mut out);
    if g.chance(3) {
        out.push_str(g.pick(&[" ", "}", " 1", "\n"]));
    }
    out
}

/// Both readers on `text`: the same outcome, and equal structs when both accept.
fn same(text: &str) -> Result<(), TestCaseError> {
    let theirs = serde_json::from_str::<ExportTraceServiceRequest>(text);
    let ours = decode(text);
    prop_assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "{}\nours: {:?}\ntheirs: {:?}",
        text,
        ours,
        theirs
    );
    if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
        prop_assert_eq!(ours, theirs, "{}", text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn generated_otlp_json_is_accepted_and_read_as_the_crates_serde_mapping_reads_it(
        seed in any::<u64>(),
    ) {
        same(&document(seed))?;
    }
}

#[test]
fn the_generated_documents_are_accepted_often_enough_to_compare_structs() {
    let accepted = (1..2000u64)
        .filter(|seed| decode(&document(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))).is_ok())
        .count();
    assert!(accepted > 500, "{accepted} of 2000 accepted");
}

#[test]
fn edge_cases_are_read_as_the_crates_serde_mapping_reads_them() {
    for text in [
        r#"{"resourceSpans":[]}"#,
        "{}",
        "[]",
        "[[]]",
        "[[],1]",
        "null",
        r#"{"resourceSpans":null}"#,
        r#"{"resourceSpans":[],"resourceSpans":[]}"#,
        r#"{"resourceSpans":[{"resource":null}]}"#,
        r#"{"resourceSpans":[{"resource":{},"resource":null}]}"#,
        r#"{"resourceSpans":[[null,[[null,[[]]]]]]}"#,
        r#"{"resourceSpans":[[null,[[null,[{"name":"a","name":"b"}]]]]]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k"}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[["k"]]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[["k",null]]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"value":{}}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":[]}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"a","boolValue":true,"stringValue":null}}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"x":"\ud800"}}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","x":"\ud800"}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"arrayValue":{"values":[],"x":1e400}}}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"arrayValue":{}}}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"arrayValue":[[{"intValue":"-3"}]]}}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"entityRefs":[{"schemaUrl":"","type":"t","idKeys":["a"]}]}}]}"#,
        r#"{"resourceSpans":[{"resource":{"entityRefs":[["","t",["a"],[]]]}}]}"#,
        r#"{"resourceSpans":[{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}"#,
    ] {
        same(text).unwrap();
    }
}

#[test]
fn the_json_fixtures_of_the_tests_are_read_as_the_crates_serde_mapping_reads_them() {
    // The exports written out in this crate's OTLP tests (raw strings holding one).
    let mut fixtures: Vec<String> = include_str!("tests.rs")
        .split("r#\"")
        .skip(1)
        .filter_map(|piece| piece.split("\"#").next())
        .filter(|text| text.contains("resourceSpans"))
        .map(String::from)
        .collect();
    assert!(!fixtures.is_empty());
    // The bodies of tests/otlp.test.mjs and tests/foundation.test.mjs: its `jsonBody` with
    // two spans as that test sends them (JSON.stringify), and the literal ones.
    let span = |id: &str, cached: &str| {
        format!(
            r#"{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"{id}","name":"chat","startTimeUnixNano":"1795175438500000000","endTimeUnixNano":"1795175439500000000","attributes":[{{"key":"gen_ai.system","value":{{"stringValue":"openai"}}}},{{"key":"gen_ai.request.model","value":{{"stringValue":"gpt-4o"}}}},{{"key":"gen_ai.usage.input_tokens","value":{{"intValue":"10"}}}},{{"key":"gen_ai.usage.output_tokens","value":{{"intValue":"5"}}}}{cached}]}}"#
        )
    };
    fixtures.push(format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[]}},"scopeSpans":[{{"spans":[{},{}]}}]}}]}}"#,
        span("eee19b7ec3c1b174", ""),
        span(
            "eee19b7ec3c1b175",
            r#",{"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":"50"}}"#
        ),
    ));
    for literal in [
        r#"{"resourceSpans": 7}"#,
        r#"{"resourceSpans": 3}"#,
        r#"{"resourceSpans": []}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{}]}]}]}"#,
    ] {
        fixtures.push(literal.into());
    }
    for text in &fixtures {
        same(text).unwrap();
    }
}
