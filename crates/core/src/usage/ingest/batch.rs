//! Parsing a request body into a batch of events; every problem of every event named at once.

use super::*;
use litemap::LiteMap;

/// The events of one request, not yet validated, with the index each had.
#[derive(Debug)]
pub struct Batch {
    /// Each event, or why it does not have the shape of an event (reported with the
    /// problems of the others, so one answer lists everything to fix).
    pub events: Vec<Result<EventInput, Misshapen>>,
    /// The request was `{"events": [...]}` (errors then name `events[i]`).
    pub enveloped: bool,
    /// A `project_id` given once for the whole batch.
    pub project_id: Option<String>,
}

/// An event some of whose fields do not have their type (a string for a count, a number for
/// a name): those fields' problems, and the event made of the fields that do, which is
/// validated like any event so that a type error hides no other problem.
#[derive(Debug)]
pub struct Misshapen {
    pub problems: Vec<FieldError>,
    /// The fields that read, with a stand-in provider when the provider is at fault; `None`
    /// when the event as a whole is at fault (not an object, a field given twice).
    pub rest: Option<Box<EventInput>>,
    /// A field at fault reports usage (a count, a cost, `cached`): the rest's "reports no
    /// usage" would be wrong.
    pub usage_at_fault: bool,
}

impl Misshapen {
    fn whole(problems: Vec<FieldError>) -> Self {
        Misshapen {
            problems,
            rest: None,
            usage_at_fault: false,
        }
    }

    /// Every problem of the event: those of its fields at fault, then those validation finds
    /// in the rest (one per field; none for a field already named).
    pub fn all_problems(&self, name: EventName, rules: &EventRules) -> Vec<FieldError> {
        let mut problems = self.problems.clone();
        if let Some(Err(more)) = self.rest.as_ref().map(|rest| rest.validate(name, rules)) {
            let usage = name.field("usage");
            let index = problems.first().and_then(|p| p.index);
            for problem in more {
                let named = problems.iter().any(|p| p.field == problem.field);
                let no_usage = self.usage_at_fault && problem.field == usage;
                if !named && !no_usage {
                    problems.push(match index {
                        Some(i) => problem.at_index(i),
                        None => problem,
                    });
                }
            }
        }
        problems
    }
}

/// Stands in for a provider at fault, so that the rest of the event can be validated; no
/// catalog knows it, so nothing is asked of its model.
pub(super) const STAND_IN_PROVIDER: &str = "stand-in";

pub(super) fn body_error(message: impl Into<String>, details: Vec<FieldError>) -> CoreError {
    CoreError::MalformedBody {
        message: message.into(),
        details,
    }
}

/// The fields of a JSON object in order, repeated names kept (a map would keep only the last).
pub(super) struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Fields<'a>, M::Error> {
                let mut fields = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push((name, value));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The fields as a map by name or, when a name is given more than once, an error for every
/// field after the first of its name, in the body's order. One sort does both (a body may hold
/// many fields; inserting each into a sorted map would be quadratic).
fn field_map(
    fields: Vec<(String, &RawValue)>,
) -> Result<LiteMap<String, &RawValue>, Vec<FieldError>> {
    let mut sorted: Vec<(usize, (String, &RawValue))> = fields.into_iter().enumerate().collect();
    // Stable: of equal names, the first in the body comes first.
    crate::kernel::sort::sort_by(&mut sorted, |a, b| a.1 .0.cmp(&b.1 .0));
    let mut repeated: Vec<(usize, &str)> = sorted
        .windows(2)
        .filter(|pair| pair[0].1 .0 == pair[1].1 .0)
        .map(|pair| (pair[1].0, pair[1].1 .0.as_str()))
        .collect();
    if repeated.is_empty() {
        let pairs = sorted.into_iter().map(|(_, field)| field).collect();
        return Ok(LiteMap::from_sorted_store_unchecked(pairs));
    }
    crate::kernel::sort::sort_by_key(&mut repeated, |r| r.0);
    Err(repeated
        .into_iter()
        .map(|(_, name)| FieldError::new(name, "is given more than once"))
        .collect())
}

/// Reads a request body: one event object, or `{"events": [...], "project_id"?: ...}`. Every
/// event that does not have the shape of an event is reported with its index and field.
///
/// No JSON tree is built: the body is read into borrowed slices (each event's raw JSON), in
/// one pass for a well-formed batch, and each event is deserialized straight from its slice.
pub fn parse_batch(body: &[u8]) -> Result<Batch, CoreError> {
    let text = body_text(body, "one event or {\"events\": [...]}")?;
    let not_json = |e: serde_json::Error| {
        crate::kernel::input::not_json(text, &e, "request body is not valid JSON")
    };
    // The usual batch, read in one pass; anything else (one event, a mistake) goes the
    // general way below, which names every problem but reads the events twice (the second
    // read cost about 10% of a 1,000-event request under `wrangler dev`).
    struct Envelope<'a> {
        events: Vec<&'a RawValue>,
        project_id: Option<String>,
    }
    crate::object_reader!(
        Envelope<'a>,
        deny {
            events: required,
            project_id: default,
        }
    );
    // Quicker still, the batch whose every event reads: events deserialized as the envelope is
    // read, without first cutting each one out as raw JSON (about 1.5 ms of a 1,000-event
    // request in the wasm). Any event that does not read sends the batch the way above.
    struct Typed {
        events: Vec<EventObject>,
        project_id: Option<String>,
    }

    crate::object_reader!(Typed, deny {
        events: required with at_most_a_request => Vec<EventObject>,
        project_id: default,
    });
    // Read as text, as `parse_event` reads an event, so that both share serde's reading of
    // an event's fields (one copy of that code in the wasm rather than two).
    let typed = serde_json::from_str::<Typed>(text)
        .ok()
        .filter(|e| !e.events.is_empty() && e.events.len() <= MAX_EVENTS_PER_REQUEST);
    if let Some(envelope) = typed {
        return Ok(Batch {
            events: envelope.events.into_iter().map(|e| Ok(e.0)).collect(),
            enveloped: true,
            project_id: envelope.project_id,
        });
    }
    let fast = serde_json::from_str::<Envelope>(text)
        .ok()
        .filter(|e| !e.events.is_empty() && e.events.len() <= MAX_EVENTS_PER_REQUEST);
    if let Some(envelope) = fast {
        return Ok(Batch {
            events: envelope
                .events
                .into_iter()
                .enumerate()
                .map(|(index, item)| parse_event(index, item, true))
                .collect(),
            enveloped: true,
            project_id: envelope.project_id,
        });
    }
    let object: LiteMap<String, &RawValue> = match serde_json::from_str::<Fields>(text) {
        Ok(Fields(fields)) => field_map(fields).map_err(CoreError::Validation)?,
        Err(e) if e.classify() == Category::Data => {
            return Err(body_error(
                "request body must be a JSON object: one event or {\"events\": [...]}",
                vec![FieldError::new("body", "expected a JSON object")],
            ))
        }
        Err(e) => return Err(not_json(e)),
    };
    let (items, enveloped, project_id) = match object.get("events") {
        Some(events) => {
            let mut problems = Vec::new();
            let project_id = match object.get("project_id").map(|v| v.get()) {
                None | Some("null") => None,
                Some(raw) => match serde_json::from_str::<String>(raw) {
                    Ok(id) => Some(id),
                    Err(_) => {
                        problems.push(FieldError::new("project_id", "expected a string"));
                        None
                    }
                },
            };
            if let Some(unknown) = object
                .keys()
                .find(|k| k.as_str() != "events" && k.as_str() != "project_id")
            {
                problems.push(FieldError::new(
                    unknown.clone(),
                    "unknown field; a batch has only `events` and `project_id`",
                ));
            }
            let items = match serde_json::from_str::<Vec<&RawValue>>(events.get()) {
                Ok(items) => items,
                Err(_) => {
                    problems.push(FieldError::new("events", "expected an array of events"));
                    vec![]
                }
            };
            if !problems.is_empty() {
                return Err(CoreError::Validation(problems));
            }
            (items, true, project_id)
        }
        None => {
            let whole: &RawValue = serde_json::from_str(text).map_err(not_json)?;
            (vec![whole], false, None)
        }
    };
    if items.is_empty() {
        return Err(CoreError::invalid(
            "events",
            "must contain at least one event",
        ));
    }
    if items.len() > MAX_EVENTS_PER_REQUEST {
        return Err(CoreError::invalid(
            "events",
            format!(
                "has {} events; at most {MAX_EVENTS_PER_REQUEST} per request",
                items.len()
            ),
        ));
    }
    let events = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| parse_event(index, item, enveloped))
        .collect();
    Ok(Batch {
        events,
        enveloped,
        project_id,
    })
}

/// The events of a batch, read only while there are at most [`MAX_EVENTS_PER_REQUEST`]: a
/// longer batch stops reading at the first event past it (and goes the general way, which
/// refuses it naming `events`), rather than holding every event of a megabyte of small ones.
fn at_most_a_request<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<EventObject>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Vec<EventObject>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "at most {MAX_EVENTS_PER_REQUEST} events")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut events =
                Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_EVENTS_PER_REQUEST));
            while let Some(event) = seq.next_element()? {
                if events.len() == MAX_EVENTS_PER_REQUEST {
                    return Err(serde::de::Error::invalid_length(events.len() + 1, &self));
                }
                events.push(event);
            }
            Ok(events)
        }
    }
    deserializer.deserialize_seq(Visit)
}

/// An event read only from a JSON object, as [`parse_event`] reads one: serde alone would also
/// read an array as an event, field by position.
struct EventObject(EventInput);

impl<'de> Deserialize<'de> for EventObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = EventInput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event: a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<EventInput, M::Error> {
                EventInput::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Visit).map(EventObject)
    }
}

/// One event of a batch; if it does not have the shape of an event, every field at fault and
/// the event made of the others.
pub(super) fn parse_event(
    index: usize,
    item: &RawValue,
    enveloped: bool,
) -> Result<EventInput, Misshapen> {
    let name = |path: &str| match (enveloped, path) {
        (true, ".") => format!("events[{index}]"),
        (true, path) => format!("events[{index}].{path}"),
        (false, ".") => "body".to_string(),
        (false, path) => path.to_string(),
    };
    // serde would also read a JSON array as an event, field by position.
    if !item.get().starts_with('{') {
        return Err(Misshapen::whole(vec![FieldError::new(
            name("."),
            "expected an event: a JSON object",
        )
        .at_index(index)]));
    }
    // Plain deserialization first; only an event that fails is read again, field by field.
    if let Ok(event) = serde_json::from_str::<EventInput>(item.get()) {
        return Ok(event);
    }
    let mut problems = Vec::new();
    let mut rest = serde_json::Map::new();
    let mut usage_at_fault = false;
    // serde stops at the first field at fault. Each field is tried on its own (beside a
    // stand-in provider, the one required field), so that one answer names them all.
    if let Ok(fields) = serde_json::from_str::<serde_json::Map<String, Value>>(item.get()) {
        if !fields.contains_key("provider") {
            problems.push(("provider".to_string(), "is required".to_string()));
        }
        for (name, value) in fields {
            let mut alone = serde_json::Map::new();
            if name != "provider" {
                alone.insert("provider".into(), Value::String(STAND_IN_PROVIDER.into()));
            }
            alone.insert(name.clone(), value.clone());
            match shape_problem(&crate::kernel::json_value::text(&Value::Object(alone))) {
                Ok(()) => {
                    rest.insert(name, value);
                }
                Err(problem) => {
                    usage_at_fault |= reports_usage_when_read(&name);
                    problems.push(problem);
                }
            }
        }
    }
    // Nothing wrong field by field: the whole is at fault (not an object, or a field given
    // twice, by its name and an alias).
    let whole_at_fault = problems.is_empty();
    if whole_at_fault {
        if let Err(problem) = shape_problem(item.get()) {
            problems.push(problem);
        }
    }
    rest.entry("provider")
        .or_insert_with(|| Value::String(STAND_IN_PROVIDER.into()));
    Err(Misshapen {
        problems: problems
            .into_iter()
            .map(|(path, message)| FieldError::new(name(&path), message).at_index(index))
            .collect(),
        rest: (!whole_at_fault)
            .then(|| {
                serde_json::from_str::<EventInput>(&crate::kernel::json_value::text(
                    &Value::Object(rest),
                ))
                .ok()
            })
            .flatten()
            .map(Box::new),
        usage_at_fault,
    })
}

/// Whether a field, had it been read, might have reported usage: whether an event with it set
/// to 1 (a count, a decimal) or `true` (`cached`) reports any, or it is no field of an event
/// at all (`tokenz` may well be a misspelt quantity).
pub(super) fn reports_usage_when_read(field: &str) -> bool {
    // Read from text, not from the `Value`: one reader of events in the wasm, not two.
    let read = |value: Value| {
        serde_json::from_str::<EventInput>(&crate::kernel::json_value::text(
            &crate::json!({ "provider": STAND_IN_PROVIDER, field: value }),
        ))
    };
    (field != "provider" && read(Value::Null).is_err())
        || [Value::from(1), Value::Bool(true)]
            .into_iter()
            .any(|value| read(value).is_ok_and(|e| e.reports_usage()))
}

/// Reads `text` as an event with its path tracked: the field at fault and what is wrong.
pub(super) fn shape_problem(text: &str) -> Result<(), (String, String)> {
    let mut reader = serde_json::Deserializer::from_str(text);
    EventInput::deserialize(&mut reader)
        .map(|_| ())
        .map_err(|error| field_at_fault(text, &error))
}
