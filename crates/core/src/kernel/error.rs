//! The core's error type. Every failure the core can report is a variant here; the edge maps
//! each variant to exactly one HTTP status in `edge::http`, so the mapping lives in one place.

use serde::Serialize;

/// One problem with one field of the input, named by its JSON path (for example
/// `events[3].input_tokens`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The position of the event in a batch the problem belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

impl FieldError {
    /// A problem of `field`; a long value quoted in either is shortened ([`shorten`]).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: shorten(field.into()),
            message: shorten(message.into()),
            index: None,
        }
    }

    /// The same problem, marked as belonging to the event at `index` of a batch.
    pub fn at_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}

/// What a refusal (403, 409) says, and the field of the request that caused it, when one did:
/// the answer's `details` then name it, with the same message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub field: Option<String>,
}

impl Refusal {
    /// A refusal caused by `field`.
    pub fn of(field: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: Some(field.to_string()),
        }
    }
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Self {
            message,
            field: None,
        }
    }
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A failure of a storage adapter (D1, R2, or an in-memory fake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A row with the same unique key exists already.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store could not be reached or refused the operation; retrying may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded into domain types.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// These (project, id) keys are stored for events with different content; nothing of the
    /// write was stored.
    #[error("{} event id(s) stored with different content", .0.len())]
    IdReused(Vec<(String, String)>),
}

/// Everything the core can answer instead of a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The request body is not valid JSON, or not the expected shape.
    #[error("{message}")]
    MalformedBody {
        message: String,
        details: Vec<FieldError>,
    },
    /// The input parsed but one or more values are not acceptable.
    #[error("{} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// No or an unknown credential.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid credential that may not do this.
    #[error("{0}")]
    Forbidden(Refusal),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(Refusal),
    /// Events whose id is stored (or sent earlier in the request) for a different event;
    /// nothing of the request was stored.
    #[error("{} event id(s) already used for a different event", .0.len())]
    IdReused(Vec<FieldError>),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `allowed` are the methods the path has (the 405's `Allow` header).
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: Vec<String>,
    },
    /// The input was accepted but could not be stored; the client should retry.
    #[error("storage failed: {0}")]
    Storage(#[from] StoreError),
    /// A server-side misconfiguration (a missing binding or secret).
    #[error("server misconfigured: {0}")]
    Misconfigured(String),
}

impl CoreError {
    /// A validation error about a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// Collects field errors so that a request reports every problem at once, not only the first.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Records the error of `result` under its field and returns the value if there was one.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(())` when nothing was recorded, else a validation error with every problem.
    pub fn finish(self) -> Result<(), CoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Validation(self.0))
        }
    }
}

/// A value quoted in a message (between backticks) is shown up to this many characters: more
/// than any valid id, name or address takes, so only a value refused for its size is cut.
const QUOTED_CHARS: usize = 256;

/// A whole message (or field name) is shown up to this many characters.
const MESSAGE_CHARS: usize = 1000;

/// `text` as an answer shows it: each value quoted between backticks cut to its first
/// [`QUOTED_CHARS`] characters, and the whole to [`MESSAGE_CHARS`], each cut marked with `…`
/// and the length it had. A 500,000-character model name sent by mistake (or on purpose)
/// then takes a line of the answer, not a megabyte, wherever an error repeats it.
pub fn shorten(text: String) -> String {
    if text.len() <= QUOTED_CHARS {
        return text;
    }
    let mut out = String::with_capacity(text.len().min(MESSAGE_CHARS + 64));
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&cut(part, QUOTED_CHARS));
        } else {
            out.push_str(part);
        }
    }
    cut(&out, MESSAGE_CHARS).into_owned()
}

/// `text` up to `max` characters, a longer one cut and marked with its length; one cut
/// already (a message passed on and shortened again) is kept as it is.
fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let cut_before = text
        .rfind("… (")
        .filter(|at| text.ends_with(" characters)") && text[..*at].chars().count() <= max);
    if cut_before.is_some() {
        return std::borrow::Cow::Borrowed(text);
    }
    match text.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => std::borrow::Cow::Owned(format!(
            "{}… ({} characters)",
            &text[..end],
            text.chars().count()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_quoted_value_is_cut_to_its_start_and_its_length_and_short_text_is_kept() {
        let long = "a".repeat(500_000);
        let e = FieldError::new(
            "model",
            format!("`{long}` is not a valid name (1-128 of a-z)"),
        );
        assert_eq!(
            e.message,
            format!(
                "`{}… (500000 characters)` is not a valid name (1-128 of a-z)",
                "a".repeat(256)
            )
        );
        let short = FieldError::new("model", "`gpt 4` is not a valid name");
        assert_eq!(short.message, "`gpt 4` is not a valid name");
        let field = FieldError::new(format!("events[0].{long}"), "unknown field");
        assert!(field.field.len() < 1100, "{}", field.field.len());
        assert!(
            field.field.ends_with("… (500010 characters)"),
            "{}",
            &field.field[990..]
        );
        // Multi-byte characters are cut on a character boundary.
        assert_eq!(
            shorten(format!("`{}`", "é".repeat(300))),
            format!("`{}… (300 characters)`", "é".repeat(256))
        );
        // Shortening again changes nothing (an error passed on keeps its length).
        assert_eq!(shorten(e.message.clone()), e.message);
        assert_eq!(shorten(field.field.clone()), field.field);
        // Any valid id or name (at most 128 characters) is shown whole.
        let id = "x".repeat(128);
        assert_eq!(
            shorten(format!("`{id}` is already stored")),
            format!("`{id}` is already stored")
        );
    }
}
