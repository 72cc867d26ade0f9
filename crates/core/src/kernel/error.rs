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
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            index: None,
        }
    }

    /// The same problem, marked as belonging to the event at `index` of a batch.
    pub fn at_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
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
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
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
