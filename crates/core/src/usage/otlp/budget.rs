//! What an export will take to decode, known before it is decoded. A message of the OTLP
//! schema costs a few bytes on the wire (an empty span is 2 bytes of protobuf, 3 of JSON) but
//! a whole struct once decoded (a `Span` is 264 bytes on a 64-bit host, a span with 20
//! attributes about 2 KB before its text), so an 8 MB export of millions of
//! empty spans, attributes or array values would take gigabytes of memory, far past a Worker
//! isolate's 128 MB. [`check`] walks the export's structure first, adding up the size of every
//! message (and element of a repeated string) the decoder would build, and refuses one past
//! [`MAX_DECODED_BYTES`] with a 400 that tells the exporter to send smaller batches.
//!
//! The walk follows the fields of `opentelemetry-proto`'s trace types that hold messages; the
//! rest (scalars, strings, bytes, unknown fields) is skipped: their decoded size is at most
//! their size on the wire, already bounded by the body's limit.

use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{Encoding, ExportTraceServiceRequest};
use crate::kernel::error::CoreError;

/// The most an export's decoded messages may take: about 10,000 spans of 20 attributes each
/// (far above an SDK's default batch of 512 spans), and a fifth of an isolate's memory, so
/// that a few exports at once still fit.
pub const MAX_DECODED_BYTES: usize = 24 << 20;

/// How deep messages may nest (an attribute's value holds arrays and lists of values); the
/// protobuf decoder refuses deeper nesting too.
const MAX_DEPTH: usize = 100;

/// A message type of the schema, or the elements of a repeated string field; the JSON reader
/// (`otlp::json`) names its messages by it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    EntityRef,
    /// An element of a repeated string field (`EntityRef`'s keys).
    Text,
}

impl Kind {
    /// What one occurrence takes once decoded (its heap text is counted by the body's limit).
    fn size(self) -> usize {
        match self {
            Kind::Request => size_of::<ExportTraceServiceRequest>(),
            Kind::ResourceSpans => size_of::<ResourceSpans>(),
            Kind::Resource => size_of::<Resource>(),
            Kind::ScopeSpans => size_of::<ScopeSpans>(),
            Kind::Scope => size_of::<InstrumentationScope>(),
            Kind::Span => size_of::<Span>(),
            Kind::Event => size_of::<span::Event>(),
            Kind::Link => size_of::<span::Link>(),
            Kind::Status => size_of::<Status>(),
            Kind::KeyValue => size_of::<KeyValue>(),
            Kind::AnyValue => size_of::<AnyValue>(),
            Kind::ArrayValue => size_of::<ArrayValue>(),
            Kind::KeyValueList => size_of::<KeyValueList>(),
            Kind::EntityRef => size_of::<EntityRef>(),
            Kind::Text => size_of::<String>(),
        }
    }

    /// The kind of a field that holds messages (or repeated strings), by its protobuf number
    /// and its OTLP JSON names; `None` for any other field.
    fn child(self, number: Option<u64>, name: Option<&str>) -> Option<Kind> {
        let fields: &[(u64, &str, &str, Kind)] = match self {
            Kind::Request => &[(1, "resourceSpans", "resource_spans", Kind::ResourceSpans)],
            Kind::ResourceSpans => &[
                (1, "resource", "resource", Kind::Resource),
                (2, "scopeSpans", "scope_spans", Kind::ScopeSpans),
            ],
            Kind::Resource => &[
                (1, "attributes", "attributes", Kind::KeyValue),
                (3, "entityRefs", "entity_refs", Kind::EntityRef),
            ],
            Kind::ScopeSpans => &[
                (1, "scope", "scope", Kind::Scope),
                (2, "spans", "spans", Kind::Span),
            ],
            Kind::Scope => &[(3, "attributes", "attributes", Kind::KeyValue)],
            Kind::Span => &[
                (9, "attributes", "attributes", Kind::KeyValue),
                (11, "events", "events", Kind::Event),
                (13, "links", "links", Kind::Link),
                (15, "status", "status", Kind::Status),
            ],
            Kind::Event => &[(3, "attributes", "attributes", Kind::KeyValue)],
            Kind::Link => &[(4, "attributes", "attributes", Kind::KeyValue)],
            Kind::KeyValue => &[(2, "value", "value", Kind::AnyValue)],
            Kind::AnyValue => &[
                (5, "arrayValue", "array_value", Kind::ArrayValue),
                (6, "kvlistValue", "kvlist_value", Kind::KeyValueList),
            ],
            Kind::ArrayValue => &[(1, "values", "values", Kind::AnyValue)],
            Kind::KeyValueList => &[(1, "values", "values", Kind::KeyValue)],
            Kind::EntityRef => &[
                (3, "idKeys", "id_keys", Kind::Text),
                (4, "descriptionKeys", "description_keys", Kind::Text),
            ],
            Kind::Status | Kind::Text => &[],
        };
        fields
            .iter()
            .find(|(n, camel, snake, _)| {
                number == Some(*n) || name.is_some_and(|name| name == *camel || name == *snake)
            })
            .map(|(_, _, _, kind)| *kind)
    }
}

/// Refuses an export whose decoded messages would take more than [`MAX_DECODED_BYTES`], or
/// whose structure the decoder could not read anyway (a protobuf length past the end, nesting
/// deeper than [`MAX_DEPTH`]).
pub fn check(encoding: Encoding, bytes: &[u8]) -> Result<(), CoreError> {
    let mut total = 0;
    match encoding {
        Encoding::Protobuf => {
            walk_protobuf(Kind::Request, bytes, 0, &mut total).map_err(|stop| match stop {
                Stop::Budget => too_large(),
                Stop::Malformed(why) => super::malformed(format!(
                    "the body is not an OTLP ExportTraceServiceRequest in protobuf: {why}"
                )),
            })
        }
        Encoding::Json => {
            // Read as text, as every JSON body is (one copy of serde_json's reader in the
            // wasm); a body that is not UTF-8 is left to the decoder, which names the problem.
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Ok(());
            };
            let mut reader = serde_json::Deserializer::from_str(text);
            let walk = Walk {
                kind: Some(Kind::Request),
                depth: 0,
                total: &mut total,
            };
            match walk.deserialize(&mut reader) {
                Ok(()) => Ok(()),
                Err(_) if total > MAX_DECODED_BYTES => Err(too_large()),
                // Not JSON, or nested too deep: the decoder names the problem.
                Err(_) => Ok(()),
            }
        }
    }
}

fn too_large() -> CoreError {
    CoreError::invalid(
        "resourceSpans",
        format!(
            "the export holds more spans, attributes and values than one request may decode \
             (more than {} MB of them once decoded); send smaller batches (for example a lower \
             OTEL_BSP_MAX_EXPORT_BATCH_SIZE, or the collector's batch processor's \
             send_batch_max_size)",
            MAX_DECODED_BYTES >> 20
        ),
    )
}

enum Stop {
    Budget,
    Malformed(&'static str),
}

/// Adds `kind`'s size, then walks its fields in `buf` (the message's bytes).
fn walk_protobuf(kind: Kind, mut buf: &[u8], depth: usize, total: &mut usize) -> Result<(), Stop> {
    *total += kind.size();
    if *total > MAX_DECODED_BYTES {
        return Err(Stop::Budget);
    }
    if depth > MAX_DEPTH {
        return Err(Stop::Malformed("messages nest too deep"));
    }
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let skip = match key & 7 {
            0 => {
                varint(&mut buf)?;
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let len = usize::try_from(varint(&mut buf)?)
                    .map_err(|_| Stop::Malformed("a length past the end"))?;
                let inner = buf
                    .get(..len)
                    .ok_or(Stop::Malformed("a length past the end"))?;
                match kind.child(Some(key >> 3), None) {
                    Some(Kind::Text) => {
                        *total += Kind::Text.size();
                        if *total > MAX_DECODED_BYTES {
                            return Err(Stop::Budget);
                        }
                    }
                    Some(child) => walk_protobuf(child, inner, depth + 1, total)?,
                    None => {}
                }
                len
            }
            _ => return Err(Stop::Malformed("a field of a wire type OTLP does not use")),
        };
        buf = buf
            .get(skip..)
            .ok_or(Stop::Malformed("a field past the end"))?;
    }
    Ok(())
}

/// A protobuf varint at the start of `buf`, which moves past it.
fn varint(buf: &mut &[u8]) -> Result<u64, Stop> {
    prost::encoding::decode_varint(buf).map_err(|_| Stop::Malformed("a truncated varint"))
}

/// A JSON value walked as `kind` (`None`: not a message of the schema, counted as nothing).
struct Walk<'t> {
    kind: Option<Kind>,
    depth: usize,
    total: &'t mut usize,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("OTLP JSON")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let kind = self.kind;
        if let Some(kind) = kind {
            self.add(kind)?;
        }
        if self.depth > MAX_DEPTH {
            return Err(serde::de::Error::custom("nested too deep"));
        }
        while let Some(Key(name)) = map.next_key_seed(KeySeed(kind))? {
            map.next_value_seed(Walk {
                kind: name,
                depth: self.depth + 1,
                total: &mut *self.total,
            })?;
        }
        Ok(())
    }

    /// A repeated field: each element is of the field's kind.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Walk {
                kind: self.kind,
                depth: self.depth + 1,
                total: &mut *self.total,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(mut self, _: &str) -> Result<(), E> {
        if self.kind == Some(Kind::Text) {
            self.add(Kind::Text)?;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

impl Walk<'_> {
    fn add<E: serde::de::Error>(&mut self, kind: Kind) -> Result<(), E> {
        *self.total += kind.size();
        if *self.total > MAX_DECODED_BYTES {
            return Err(E::custom("over the decoding budget"));
        }
        Ok(())
    }
}

/// A key of a message of `Kind`, read as the kind of the field it names.
struct KeySeed(Option<Kind>);

struct Key(Option<Kind>);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Key, E> {
        Ok(Key(self.0.and_then(|kind| kind.child(None, Some(name)))))
    }
}
