//! OTLP JSON read into `opentelemetry-proto`'s prost types by hand. The crate's own JSON
//! support (its `with-serde` feature: a derived visitor per message, plus helpers for hex ids,
//! 64-bit integers as text and `AnyValue`) cost the wasm about 50 KB; this reader is one
//! visitor driven by a table of each message's fields, on the same `serde_json` reader.
//!
//! It accepts exactly what opentelemetry-proto 0.33.1's serde mapping accepts, and builds the
//! same structs (`json_tests` holds the two to each other on generated documents):
//! - Fields by their lowerCamelCase names only; unknown fields are skipped; a field given twice
//!   is refused. Every message but `AnyValue` may also be an array of its fields in declaration
//!   order (serde's sequence form of a struct), trailing fields with defaults left out.
//! - Missing fields take their defaults, except in `KeyValue` (`key` needed), `ArrayValue` and
//!   `KeyValueList` (`values` needed) and `EntityRef` (every field needed).
//! - `null` stands only for an absent message (`resource`, `scope`, `status`, a `KeyValue`'s
//!   `value`) and, in an `AnyValue`, for a member not given.
//! - Ids are hex text of any even length (an optional `0x` prefix); times are unsigned integers
//!   or text of one; counts, flags, `kind` and `code` integers (not text) in their types' ranges.
//! - An `AnyValue` is an object: the last of its members given (not `null`) wins, `intValue`
//!   an integer or text of one, `bytesValue` standard base64, unknown members skipped. Within
//!   it, whatever is skipped is still read as JSON values (the crate buffers them), so a lone
//!   UTF-16 surrogate or a number past `f64` there is refused, as it is not elsewhere.

use std::fmt;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::de::{
    DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};

use super::budget::Kind;
use super::ExportTraceServiceRequest;

/// The field an error of [`decode`] names, and what it says of it: its text before the first
/// `": "`, when that is a path (`resourceSpans[0].scopeSpans[0].spans[2].traceId`).
pub fn field_at_fault(problem: &str) -> Option<(&str, &str)> {
    let (path, what) = problem.split_once(": ")?;
    let is_path = !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'[' | b']' | b'_'));
    is_path.then_some((path, what))
}

/// Reads an export request from OTLP JSON; the error names the field at fault where there is
/// one (`resourceSpans[0].scopeSpans[0].spans[2].traceId: ...`).
pub fn decode(text: &str) -> Result<ExportTraceServiceRequest, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let root = At {
        up: None,
        seg: Seg::Root,
    };
    let out = Node {
        shape: Shape::Msg(Kind::Request),
        strict: false,
        at: &root,
    }
    .deserialize(&mut reader)?;
    reader.end()?;
    match out {
        Out::Msg(Msg::Request(request)) => Ok(request),
        _ => Err(serde_json::Error::custom(
            "expected an ExportTraceServiceRequest",
        )),
    }
}

/// What a JSON value is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A message: an object, or an array of its fields.
    Msg(Kind),
    /// A message or `null`.
    OptMsg(Kind),
    /// An array of messages (or of text).
    List(Kind),
    Text,
    /// Bytes as hex text.
    Hex,
    /// A `fixed64` time: an unsigned integer or text of one.
    Time,
    U32,
    I32,
    /// `AnyValue`'s scalar members, each also `null`.
    AnyText,
    AnyBool,
    AnyInt,
    AnyDouble,
    AnyBytes,
    /// A key of a message of this kind: the field's index, or nothing when unknown.
    Key(Kind),
    /// Any JSON value, read and dropped (an unknown member within an `AnyValue`).
    Discard,
}

/// Whether a field may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// It has a default.
    No,
    /// An `Option` without a default: absent from an object, but not from the array form.
    InArray,
    Always,
}

/// A field of a message: its JSON name, whether it may be left out, what its value is read as.
type Field = (&'static str, Need, Shape);

/// Each message's fields in the order the prost structs declare them (the order of the array
/// form), with their JSON names.
fn fields(kind: Kind) -> &'static [Field] {
    use Need::*;
    use Shape::*;
    match kind {
        Kind::Request => &[("resourceSpans", No, List(Kind::ResourceSpans))],
        Kind::ResourceSpans => &[
            ("resource", No, OptMsg(Kind::Resource)),
            ("scopeSpans", No, List(Kind::ScopeSpans)),
            ("schemaUrl", No, Text),
        ],
        Kind::Resource => &[
            ("attributes", No, List(Kind::KeyValue)),
            ("droppedAttributesCount", No, U32),
            ("entityRefs", No, List(Kind::EntityRef)),
        ],
        Kind::ScopeSpans => &[
            ("scope", No, OptMsg(Kind::Scope)),
            ("spans", No, List(Kind::Span)),
            ("schemaUrl", No, Text),
        ],
        Kind::Scope => &[
            ("name", No, Text),
            ("version", No, Text),
            ("attributes", No, List(Kind::KeyValue)),
            ("droppedAttributesCount", No, U32),
        ],
        Kind::Span => &[
            ("traceId", No, Hex),
            ("spanId", No, Hex),
            ("traceState", No, Text),
            ("parentSpanId", No, Hex),
            ("flags", No, U32),
            ("name", No, Text),
            ("kind", No, I32),
            ("startTimeUnixNano", No, Time),
            ("endTimeUnixNano", No, Time),
            ("attributes", No, List(Kind::KeyValue)),
            ("droppedAttributesCount", No, U32),
            ("events", No, List(Kind::Event)),
            ("droppedEventsCount", No, U32),
            ("links", No, List(Kind::Link)),
            ("droppedLinksCount", No, U32),
            ("status", No, OptMsg(Kind::Status)),
        ],
        Kind::Event => &[
            ("timeUnixNano", No, Time),
            ("name", No, Text),
            ("attributes", No, List(Kind::KeyValue)),
            ("droppedAttributesCount", No, U32),
        ],
        Kind::Link => &[
            ("traceId", No, Hex),
            ("spanId", No, Hex),
            ("traceState", No, Text),
            ("attributes", No, List(Kind::KeyValue)),
            ("droppedAttributesCount", No, U32),
            ("flags", No, U32),
        ],
        Kind::Status => &[("message", No, Text), ("code", No, I32)],
        Kind::KeyValue => &[
            ("key", Always, Text),
            ("value", InArray, OptMsg(Kind::AnyValue)),
            ("keyStrindex", No, I32),
        ],
        Kind::AnyValue => &[
            ("stringValue", No, AnyText),
            ("boolValue", No, AnyBool),
            ("intValue", No, AnyInt),
            ("doubleValue", No, AnyDouble),
            ("arrayValue", No, OptMsg(Kind::ArrayValue)),
            ("kvlistValue", No, OptMsg(Kind::KeyValueList)),
            ("bytesValue", No, AnyBytes),
        ],
        Kind::ArrayValue => &[("values", Always, List(Kind::AnyValue))],
        Kind::KeyValueList => &[("values", Always, List(Kind::KeyValue))],
        Kind::EntityRef => &[
            ("schemaUrl", Always, Text),
            ("type", Always, Text),
            ("idKeys", Always, List(Kind::Text)),
            ("descriptionKeys", Always, List(Kind::Text)),
        ],
        Kind::Text => &[],
    }
}

/// A decoded message of any kind.
// Moved once, from its reader into its parent: boxing would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Request(ExportTraceServiceRequest),
    ResourceSpans(ResourceSpans),
    Resource(Resource),
    ScopeSpans(ScopeSpans),
    Scope(InstrumentationScope),
    Span(Span),
    Event(Event),
    Link(Link),
    Status(Status),
    KeyValue(KeyValue),
    AnyValue(AnyValue),
    ArrayValue(ArrayValue),
    KeyValueList(KeyValueList),
    EntityRef(EntityRef),
}

/// A repeated field's elements.
enum List {
    ResourceSpans(Vec<ResourceSpans>),
    ScopeSpans(Vec<ScopeSpans>),
    Spans(Vec<Span>),
    Events(Vec<Event>),
    Links(Vec<Link>),
    KeyValues(Vec<KeyValue>),
    AnyValues(Vec<AnyValue>),
    EntityRefs(Vec<EntityRef>),
    Texts(Vec<String>),
}

/// What one JSON value was read as.
// As `Msg`: a message is moved once, into its parent, not boxed.
#[allow(clippy::large_enum_variant)]
enum Out {
    /// `null` where it is allowed, an unknown key, or a value dropped.
    Nothing,
    Msg(Msg),
    List(List),
    Text(String),
    Bytes(Vec<u8>),
    U64(u64),
    I64(i64),
    Bool(bool),
    Double(f64),
}

impl Msg {
    fn new(kind: Kind) -> Msg {
        match kind {
            Kind::Request => Msg::Request(Default::default()),
            Kind::ResourceSpans => Msg::ResourceSpans(Default::default()),
            Kind::Resource => Msg::Resource(Default::default()),
            Kind::ScopeSpans => Msg::ScopeSpans(Default::default()),
            Kind::Scope => Msg::Scope(Default::default()),
            Kind::Span => Msg::Span(Default::default()),
            Kind::Event => Msg::Event(Default::default()),
            Kind::Link => Msg::Link(Default::default()),
            Kind::Status => Msg::Status(Default::default()),
            Kind::KeyValue => Msg::KeyValue(Default::default()),
            Kind::AnyValue | Kind::Text => Msg::AnyValue(Default::default()),
            Kind::ArrayValue => Msg::ArrayValue(Default::default()),
            Kind::KeyValueList => Msg::KeyValueList(Default::default()),
            Kind::EntityRef => Msg::EntityRef(Default::default()),
        }
    }

    /// Sets field `index` (of [`fields`]) to `out`, read by that field's shape; `Nothing`
    /// leaves the field as it was (`None`, or an `AnyValue`'s earlier member).
    fn set(&mut self, index: usize, out: Out) {
        use any_value::Value as V;
        match (self, index, out) {
            (_, _, Out::Nothing) => {}
            (Msg::Request(m), 0, Out::List(List::ResourceSpans(v))) => m.resource_spans = v,
            (Msg::ResourceSpans(m), 0, Out::Msg(Msg::Resource(r))) => m.resource = Some(r),
            (Msg::ResourceSpans(m), 1, Out::List(List::ScopeSpans(v))) => m.scope_spans = v,
            (Msg::ResourceSpans(m), 2, Out::Text(t)) => m.schema_url = t,
            (Msg::Resource(m), 0, Out::List(List::KeyValues(v))) => m.attributes = v,
            (Msg::Resource(m), 1, Out::U64(n)) => m.dropped_attributes_count = n as u32,
            (Msg::Resource(m), 2, Out::List(List::EntityRefs(v))) => m.entity_refs = v,
            (Msg::ScopeSpans(m), 0, Out::Msg(Msg::Scope(s))) => m.scope = Some(s),
            (Msg::ScopeSpans(m), 1, Out::List(List::Spans(v))) => m.spans = v,
            (Msg::ScopeSpans(m), 2, Out::Text(t)) => m.schema_url = t,
            (Msg::Scope(m), 0, Out::Text(t)) => m.name = t,
            (Msg::Scope(m), 1, Out::Text(t)) => m.version = t,
            (Msg::Scope(m), 2, Out::List(List::KeyValues(v))) => m.attributes = v,
            (Msg::Scope(m), 3, Out::U64(n)) => m.dropped_attributes_count = n as u32,
            (Msg::Span(m), 0, Out::Bytes(b)) => m.trace_id = b,
            (Msg::Span(m), 1, Out::Bytes(b)) => m.span_id = b,
            (Msg::Span(m), 2, Out::Text(t)) => m.trace_state = t,
            (Msg::Span(m), 3, Out::Bytes(b)) => m.parent_span_id = b,
            (Msg::Span(m), 4, Out::U64(n)) => m.flags = n as u32,
            (Msg::Span(m), 5, Out::Text(t)) => m.name = t,
            (Msg::Span(m), 6, Out::I64(n)) => m.kind = n as i32,
            (Msg::Span(m), 7, Out::U64(n)) => m.start_time_unix_nano = n,
            (Msg::Span(m), 8, Out::U64(n)) => m.end_time_unix_nano = n,
            (Msg::Span(m), 9, Out::List(List::KeyValues(v))) => m.attributes = v,
            (Msg::Span(m), 10, Out::U64(n)) => m.dropped_attributes_count = n as u32,
            (Msg::Span(m), 11, Out::List(List::Events(v))) => m.events = v,
            (Msg::Span(m), 12, Out::U64(n)) => m.dropped_events_count = n as u32,
            (Msg::Span(m), 13, Out::List(List::Links(v))) => m.links = v,
            (Msg::Span(m), 14, Out::U64(n)) => m.dropped_links_count = n as u32,
            (Msg::Span(m), 15, Out::Msg(Msg::Status(s))) => m.status = Some(s),
            (Msg::Event(m), 0, Out::U64(n)) => m.time_unix_nano = n,
            (Msg::Event(m), 1, Out::Text(t)) => m.name = t,
            (Msg::Event(m), 2, Out::List(List::KeyValues(v))) => m.attributes = v,
            (Msg::Event(m), 3, Out::U64(n)) => m.dropped_attributes_count = n as u32,
            (Msg::Link(m), 0, Out::Bytes(b)) => m.trace_id = b,
            (Msg::Link(m), 1, Out::Bytes(b)) => m.span_id = b,
            (Msg::Link(m), 2, Out::Text(t)) => m.trace_state = t,
            (Msg::Link(m), 3, Out::List(List::KeyValues(v))) => m.attributes = v,
            (Msg::Link(m), 4, Out::U64(n)) => m.dropped_attributes_count = n as u32,
            (Msg::Link(m), 5, Out::U64(n)) => m.flags = n as u32,
            (Msg::Status(m), 0, Out::Text(t)) => m.message = t,
            (Msg::Status(m), 1, Out::I64(n)) => m.code = n as i32,
            (Msg::KeyValue(m), 0, Out::Text(t)) => m.key = t,
            (Msg::KeyValue(m), 1, Out::Msg(Msg::AnyValue(a))) => m.value = Some(a),
            (Msg::KeyValue(m), 2, Out::I64(n)) => m.key_strindex = n as i32,
            (Msg::AnyValue(m), _, out) => {
                m.value = Some(match out {
                    Out::Text(t) => V::StringValue(t),
                    Out::Bool(b) => V::BoolValue(b),
                    Out::I64(n) => V::IntValue(n),
                    Out::Double(d) => V::DoubleValue(d),
                    Out::Msg(Msg::ArrayValue(a)) => V::ArrayValue(a),
                    Out::Msg(Msg::KeyValueList(l)) => V::KvlistValue(l),
                    Out::Bytes(b) => V::BytesValue(b),
                    _ => return,
                })
            }
            (Msg::ArrayValue(m), 0, Out::List(List::AnyValues(v))) => m.values = v,
            (Msg::KeyValueList(m), 0, Out::List(List::KeyValues(v))) => m.values = v,
            (Msg::EntityRef(m), 0, Out::Text(t)) => m.schema_url = t,
            (Msg::EntityRef(m), 1, Out::Text(t)) => m.r#type = t,
            (Msg::EntityRef(m), 2, Out::List(List::Texts(v))) => m.id_keys = v,
            (Msg::EntityRef(m), 3, Out::List(List::Texts(v))) => m.description_keys = v,
            // The field's shape decides what `out` is: no other pair is read.
            _ => {}
        }
    }
}

impl List {
    fn new(kind: Kind) -> List {
        match kind {
            Kind::ResourceSpans => List::ResourceSpans(Vec::new()),
            Kind::ScopeSpans => List::ScopeSpans(Vec::new()),
            Kind::Span => List::Spans(Vec::new()),
            Kind::Event => List::Events(Vec::new()),
            Kind::Link => List::Links(Vec::new()),
            Kind::AnyValue => List::AnyValues(Vec::new()),
            Kind::EntityRef => List::EntityRefs(Vec::new()),
            Kind::Text => List::Texts(Vec::new()),
            _ => List::KeyValues(Vec::new()),
        }
    }

    fn push(&mut self, out: Out) {
        match (self, out) {
            (List::ResourceSpans(v), Out::Msg(Msg::ResourceSpans(m))) => v.push(m),
            (List::ScopeSpans(v), Out::Msg(Msg::ScopeSpans(m))) => v.push(m),
            (List::Spans(v), Out::Msg(Msg::Span(m))) => v.push(m),
            (List::Events(v), Out::Msg(Msg::Event(m))) => v.push(m),
            (List::Links(v), Out::Msg(Msg::Link(m))) => v.push(m),
            (List::KeyValues(v), Out::Msg(Msg::KeyValue(m))) => v.push(m),
            (List::AnyValues(v), Out::Msg(Msg::AnyValue(m))) => v.push(m),
            (List::EntityRefs(v), Out::Msg(Msg::EntityRef(m))) => v.push(m),
            (List::Texts(v), Out::Text(t)) => v.push(t),
            _ => {}
        }
    }
}

/// Where a value is in the document, for errors: a chain up to the root on the stack.
struct At<'a> {
    up: Option<&'a At<'a>>,
    seg: Seg,
}

#[derive(Clone, Copy)]
enum Seg {
    Root,
    Field(&'static str),
    Index(usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Some(up) = self.up {
            up.fmt(f)?;
        }
        match self.seg {
            Seg::Root => Ok(()),
            Seg::Field(name) if self.up.is_some_and(|up| !matches!(up.seg, Seg::Root)) => {
                write!(f, ".{name}")
            }
            Seg::Field(name) => f.write_str(name),
            Seg::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A value to read as `shape`, at `at`; `strict` within an `AnyValue`, where what is skipped
/// is still read (see the module docs).
#[derive(Clone, Copy)]
struct Node<'a> {
    shape: Shape,
    strict: bool,
    at: &'a At<'a>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Out;

    /// Every value through `deserialize_any`: the visitor refuses the JSON types its shape
    /// does not take, as serde's typed reads do (one visitor, one copy of serde_json's reader).
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Out, D::Error> {
        d.deserialize_any(self)
    }
}

impl Node<'_> {
    /// An error at this value: its path, then `what`.
    fn fail<E: serde::de::Error>(&self, what: fmt::Arguments) -> E {
        match self.at.seg {
            Seg::Root => E::custom(what),
            _ => E::custom(format_args!("{}: {what}", self.at)),
        }
    }

    fn wrong<E: serde::de::Error>(&self, found: Unexpected) -> E {
        self.fail(format_args!("expected {}, found {found}", self.expected()))
    }

    fn expected(&self) -> &'static str {
        match self.shape {
            Shape::Msg(Kind::AnyValue) => "an object (an AnyValue)",
            Shape::Msg(_) => "an object",
            Shape::OptMsg(_) => "an object or null",
            Shape::List(_) => "an array",
            Shape::Text | Shape::Key(_) => "a string",
            Shape::Hex => "a string of an even number of hex digits",
            Shape::Time => "nanoseconds as an unsigned integer or a string of one",
            Shape::U32 => "an unsigned 32-bit integer",
            Shape::I32 => "a 32-bit integer",
            Shape::AnyText => "a string or null",
            Shape::AnyBool => "a boolean or null",
            Shape::AnyInt => "a 64-bit integer, a string of one, or null",
            Shape::AnyDouble => "a number or null",
            Shape::AnyBytes => "base64 text or null",
            Shape::Discard => "a JSON value",
        }
    }

    /// A message in its object form.
    fn message<'de, A: MapAccess<'de>>(&self, kind: Kind, mut map: A) -> Result<Out, A::Error> {
        let fields = fields(kind);
        let strict = self.strict || kind == Kind::AnyValue;
        let mut msg = Msg::new(kind);
        let mut seen = 0u32;
        let key = Node {
            shape: Shape::Key(kind),
            strict,
            at: self.at,
        };
        while let Some(name) = map.next_key_seed(key)? {
            let known = match name {
                Out::U64(index) => fields.get(index as usize).map(|f| (index as usize, f)),
                _ => None,
            };
            let Some((index, field)) = known else {
                // Unknown: skipped as serde's derived readers skip it.
                if strict {
                    map.next_value_seed(Node {
                        shape: Shape::Discard,
                        ..key
                    })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
                continue;
            };
            // An `AnyValue`'s members are not fields of a struct: given again, they replace.
            if kind != Kind::AnyValue && seen & (1 << index) != 0 {
                return Err(self.fail(format_args!("`{}` is given twice", field.0)));
            }
            seen |= 1 << index;
            let at = At {
                up: Some(self.at),
                seg: Seg::Field(field.0),
            };
            let out = map.next_value_seed(Node {
                shape: field.2,
                strict,
                at: &at,
            })?;
            msg.set(index, out);
        }
        for (index, field) in fields.iter().enumerate() {
            if field.1 == Need::Always && seen & (1 << index) == 0 {
                return Err(self.fail(format_args!("missing field `{}`", field.0)));
            }
        }
        Ok(Out::Msg(msg))
    }

    /// A message in its array form: its fields' values in declaration order.
    fn message_array<'de, A: SeqAccess<'de>>(
        &self,
        kind: Kind,
        mut seq: A,
    ) -> Result<Out, A::Error> {
        let mut msg = Msg::new(kind);
        for (index, field) in fields(kind).iter().enumerate() {
            let at = At {
                up: Some(self.at),
                seg: Seg::Field(field.0),
            };
            let node = Node {
                shape: field.2,
                strict: self.strict,
                at: &at,
            };
            match seq.next_element_seed(node)? {
                Some(out) => msg.set(index, out),
                None if field.1 == Need::No => {}
                None => {
                    return Err(self.fail(format_args!(
                        "the array form of the message lacks `{}`",
                        field.0
                    )))
                }
            }
        }
        Ok(Out::Msg(msg))
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Out;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Out, E> {
        match self.shape {
            Shape::OptMsg(_)
            | Shape::AnyText
            | Shape::AnyBool
            | Shape::AnyInt
            | Shape::AnyDouble
            | Shape::AnyBytes
            | Shape::Discard => Ok(Out::Nothing),
            _ => Err(self.wrong(Unexpected::Unit)),
        }
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Out, E> {
        match self.shape {
            Shape::AnyBool => Ok(Out::Bool(v)),
            Shape::Discard => Ok(Out::Nothing),
            _ => Err(self.wrong(Unexpected::Bool(v))),
        }
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Out, E> {
        match self.shape {
            Shape::Time => Ok(Out::U64(v)),
            Shape::U32 if v <= u64::from(u32::MAX) => Ok(Out::U64(v)),
            Shape::I32 if v <= i32::MAX as u64 => Ok(Out::I64(v as i64)),
            Shape::AnyInt if v <= i64::MAX as u64 => Ok(Out::I64(v as i64)),
            Shape::AnyDouble => Ok(Out::Double(v as f64)),
            Shape::Discard => Ok(Out::Nothing),
            _ => Err(self.wrong(Unexpected::Unsigned(v))),
        }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Out, E> {
        match self.shape {
            Shape::Time if v >= 0 => Ok(Out::U64(v as u64)),
            Shape::U32 if u32::try_from(v).is_ok() => Ok(Out::U64(v as u64)),
            Shape::I32 if i32::try_from(v).is_ok() => Ok(Out::I64(v)),
            Shape::AnyInt => Ok(Out::I64(v)),
            Shape::AnyDouble => Ok(Out::Double(v as f64)),
            Shape::Discard => Ok(Out::Nothing),
            _ => Err(self.wrong(Unexpected::Signed(v))),
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Out, E> {
        match self.shape {
            Shape::AnyDouble => Ok(Out::Double(v)),
            Shape::Discard => Ok(Out::Nothing),
            _ => Err(self.wrong(Unexpected::Float(v))),
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Out, E> {
        let out = match self.shape {
            Shape::Text | Shape::AnyText => Some(Out::Text(v.to_owned())),
            Shape::Key(kind) => Some(
                fields(kind)
                    .iter()
                    .position(|field| field.0 == v)
                    .map_or(Out::Nothing, |index| Out::U64(index as u64)),
            ),
            Shape::Hex => hex(v).map(Out::Bytes),
            Shape::Time => v.parse().ok().map(Out::U64),
            Shape::AnyInt => v.parse().ok().map(Out::I64),
            Shape::AnyBytes => base64::engine::general_purpose::STANDARD
                .decode(v)
                .ok()
                .map(Out::Bytes),
            Shape::Discard => Some(Out::Nothing),
            _ => None,
        };
        out.ok_or_else(|| self.wrong(Unexpected::Str(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Out, A::Error> {
        match self.shape {
            Shape::List(kind) => {
                let shape = match kind {
                    Kind::Text => Shape::Text,
                    _ => Shape::Msg(kind),
                };
                let mut list = List::new(kind);
                let mut index = 0;
                loop {
                    let at = At {
                        up: Some(self.at),
                        seg: Seg::Index(index),
                    };
                    let node = Node {
                        shape,
                        strict: self.strict,
                        at: &at,
                    };
                    match seq.next_element_seed(node)? {
                        Some(out) => list.push(out),
                        None => return Ok(Out::List(list)),
                    }
                    index += 1;
                }
            }
            // serde reads a struct from an array too; not `AnyValue`, read as a map.
            Shape::Msg(kind) | Shape::OptMsg(kind) if kind != Kind::AnyValue => {
                self.message_array(kind, seq)
            }
            Shape::Discard => {
                while seq.next_element_seed(self)?.is_some() {}
                Ok(Out::Nothing)
            }
            _ => Err(self.wrong(Unexpected::Seq)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Out, A::Error> {
        match self.shape {
            Shape::Msg(kind) | Shape::OptMsg(kind) => self.message(kind, map),
            Shape::Discard => {
                while map.next_key_seed(self)?.is_some() {
                    map.next_value_seed(self)?;
                }
                Ok(Out::Nothing)
            }
            _ => Err(self.wrong(Unexpected::Map)),
        }
    }
}

/// Hex text as `const_hex::decode` (the crate's) reads it: an even length counted with the
/// optional `0x` prefix, digits of either case.
fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(digits).ok()
}
