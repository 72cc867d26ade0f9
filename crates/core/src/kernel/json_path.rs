//! Where in a JSON body a deserializer failed: the path of the value at fault
//! (`items[1].size`), read back from the byte offset that serde_json's error carries.
//!
//! serde_json stops reading at the value it could not take: after a string or number of the
//! wrong type, at the `{` or `[` of an object or array where something else was wanted, after
//! the key of an unknown field, after the `}` of an object missing a field. Reading the body
//! again up to that offset, keeping only the keys and indexes on the way in, gives the path.
//!
//! What a request type's `Deserialize` impl must do for that: raise its errors inside a
//! visitor while serde_json still stands at the value (in `visit_str`, `visit_u64`, ..., or
//! after reading a whole array or object to its end). An error raised after an inner
//! `deserialize` returned (`try_from`, a check after reading, an untagged enum) is stamped
//! when the enclosing object or array ends, so it names that object, or the next element of
//! an array; so does one raised by `visit_seq` part way through an array.
//!
//! This replaced wrapping every request type's deserializer in a path tracker
//! (`serde_path_to_error`), which cost about 90 KB of the wasm and a copy of every key read
//! by every request; now only a request that fails reads its body twice. A test holds the
//! paths to that tracker's (`crates/core/tests/json_paths.rs`).

use std::fmt::Write as _;

/// One step into a JSON value.
enum Step {
    /// In an object: the key read last, if a key has been read since the `{` or `,`.
    Object(Option<String>),
    /// In an array: the index of the element being read.
    Array(usize),
}

/// The path (`events[2].model`; `.` for the whole body) of the value that a serde_json reader
/// of `body` was reading when it failed with `error`, a data error (a wrong type or value, an
/// unknown, missing or repeated field). A repeated field is named by the message, as a missing
/// one is, so its path is the object's.
pub(crate) fn path_of_error(body: &[u8], error: &serde_json::Error) -> String {
    let mut steps = steps_before(body, offset_of(body, error.line(), error.column()));
    if error.to_string().starts_with("duplicate field `") {
        // The reader stopped right after the repeated key.
        if let Some(Step::Object(key)) = steps.last_mut() {
            *key = None;
        }
    }
    let mut path = String::new();
    for step in &steps {
        match step {
            Step::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Step::Object(None) => {}
            Step::Array(index) => {
                // Writing to a String cannot fail.
                let _ = write!(path, "[{index}]");
            }
        }
    }
    // A body cut inside a key leaves that key empty: the path ends at its object.
    while path.ends_with('.') {
        path.pop();
    }
    if path.is_empty() {
        path.push('.');
    }
    path
}

/// The byte offset of serde_json's (1-based line, 0-based byte column), which counts the
/// bytes read on that line.
fn offset_of(body: &[u8], line: usize, column: usize) -> usize {
    let start = if line <= 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1)
    };
    start.saturating_add(column).min(body.len())
}

/// The steps into the body open at `end`: the objects and arrays entered and not yet left,
/// each with its current key or index.
fn steps_before(body: &[u8], end: usize) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut i = 0;
    while i < end {
        match body[i] {
            b'{' => steps.push(Step::Object(None)),
            b'[' => steps.push(Step::Array(0)),
            b'}' | b']' => {
                steps.pop();
            }
            b',' => match steps.last_mut() {
                Some(Step::Object(key)) => *key = None,
                Some(Step::Array(index)) => *index += 1,
                None => {}
            },
            b'"' => {
                let open = i;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
                // A string read where a key is due is the key.
                if let Some(Step::Object(key @ None)) = steps.last_mut() {
                    let text = body.get(open..=i).unwrap_or_default();
                    let read = std::str::from_utf8(text).ok();
                    *key = Some(
                        read.and_then(|t| serde_json::from_str::<String>(t).ok())
                            .unwrap_or_else(|| {
                                String::from_utf8_lossy(
                                    text.get(1..text.len().saturating_sub(1))
                                        .unwrap_or_default(),
                                )
                                .into_owned()
                            }),
                    );
                }
            }
            _ => {}
        }
        i += 1;
    }
    steps
}
