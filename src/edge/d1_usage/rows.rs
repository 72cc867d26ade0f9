//! How an `api_usage` row travels to D1: each event as a positional JSON array of the
//! [`COLUMNS`] a batch uses (SQLite re-reads the element for every column it extracts, and
//! arrays without key names made the insert about 40% faster under the local runtime, see
//! BENCHMARKS.md), the batch as chunks of such rows below D1's limit per bound value.

use crate::core::kernel::error::StoreError;
use crate::core::kernel::json_out::{push_int, push_str};
use crate::core::usage::record::StoredEvent;

use super::super::d1::corrupt;

/// One value of a row as it travels in the batch's JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cell<'a> {
    Null,
    Int(i64),
    Flag(bool),
    Text(&'a str),
    Object(&'a serde_json::Map<String, serde_json::Value>),
}

impl Cell<'_> {
    /// Whether the column's default would store the same value, so the column may be left out
    /// of the insert. A nullable column's default is NULL only: a cost of 0 is not "no cost".
    fn is_default(self, default: Omitted) -> bool {
        match (self, default) {
            (Cell::Null, _) => true,
            (_, Omitted::Null) => false,
            (Cell::Int(n), _) => n == 0,
            (Cell::Text(s), _) => s.is_empty(),
            (Cell::Flag(b), Omitted::True) => b,
            (Cell::Flag(b), Omitted::Zero) => !b,
            (Cell::Object(_), _) => false,
        }
    }

    fn write(self, out: &mut Vec<u8>) -> Result<(), StoreError> {
        let literal: &[u8] = match self {
            Cell::Null => b"null",
            Cell::Flag(true) => b"true",
            Cell::Flag(false) => b"false",
            Cell::Int(n) => {
                push_int(out, n);
                return Ok(());
            }
            Cell::Text(s) => {
                push_str(out, s);
                return Ok(());
            }
            Cell::Object(map) => return json(out, map),
        };
        out.extend_from_slice(literal);
        Ok(())
    }
}

pub(super) fn json(
    out: &mut Vec<u8>,
    value: &(impl serde::Serialize + ?Sized),
) -> Result<(), StoreError> {
    serde_json::to_writer(out, value).map_err(|e| corrupt("event", e.to_string()))
}

pub(super) fn opt_int(value: Option<i64>) -> Cell<'static> {
    value.map_or(Cell::Null, Cell::Int)
}

pub(super) fn opt_text(value: &Option<String>) -> Cell<'_> {
    value.as_deref().map_or(Cell::Null, Cell::Text)
}

/// What a column of `api_usage` holds when an insert leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Omitted {
    /// NULL (the record's `Option` fields).
    Null,
    /// 0, '' or false.
    Zero,
    /// true (`success`).
    True,
}

/// A column of `api_usage`, which field of a [`StoredEvent`] fills it, and its default.
pub(super) type Column = (&'static str, Field, Omitted);

/// The field of a [`StoredEvent`] a column holds. A `match`, not a table of function pointers:
/// each event reads every column once and writes a dozen or more, and V8 kept the tiny
/// functions such a table calls indirectly at its baseline tier (Liftoff) through most of a
/// run of batches, each call entering through a frame set-up (BENCHMARKS.md, session 49).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    ProjectId,
    Id,
    Provider,
    Model,
    Operation,
    InputTokens,
    OutputTokens,
    TotalTokens,
    CachedInputTokens,
    CacheWriteTokens,
    ReasoningTokens,
    AudioInputTokens,
    AudioOutputTokens,
    Characters,
    AudioSecondsMicros,
    VideoSecondsMicros,
    Images,
    Requests,
    Tracks,
    CreditsMicros,
    Cost,
    CostNanos,
    Currency,
    ComputedCostNanos,
    ComputedCurrency,
    ReportedCostNanos,
    UnpricedReason,
    UnpricedMessage,
    PriceId,
    Cached,
    Success,
    RequestTimestamp,
    SessionId,
    JobId,
    DurationMs,
    Endpoint,
    Metadata,
    Fingerprint,
}

impl Field {
    /// The cell `e` fills this column with.
    pub(super) fn cell(self, e: &StoredEvent) -> Cell<'_> {
        match self {
            Field::ProjectId => Cell::Text(&e.project_id),
            Field::Id => Cell::Text(&e.id),
            Field::Provider => Cell::Text(&e.provider),
            Field::Model => Cell::Text(&e.model),
            Field::Operation => Cell::Text(&e.operation),
            Field::InputTokens => Cell::Int(e.input_tokens),
            Field::OutputTokens => Cell::Int(e.output_tokens),
            Field::TotalTokens => Cell::Int(e.total_tokens),
            Field::CachedInputTokens => Cell::Int(e.cached_input_tokens),
            Field::CacheWriteTokens => Cell::Int(e.cache_write_tokens),
            Field::ReasoningTokens => Cell::Int(e.reasoning_tokens),
            Field::AudioInputTokens => Cell::Int(e.audio_input_tokens),
            Field::AudioOutputTokens => Cell::Int(e.audio_output_tokens),
            Field::Characters => Cell::Int(e.characters),
            Field::AudioSecondsMicros => Cell::Int(e.audio_seconds_micros),
            Field::VideoSecondsMicros => Cell::Int(e.video_seconds_micros),
            Field::Images => Cell::Int(e.images),
            Field::Requests => Cell::Int(e.requests),
            Field::Tracks => Cell::Int(e.tracks),
            Field::CreditsMicros => Cell::Int(e.credits_micros),
            Field::Cost => opt_text(&e.cost),
            Field::CostNanos => opt_int(e.cost_nanos),
            Field::Currency => Cell::Text(&e.currency),
            Field::ComputedCostNanos => opt_int(e.computed_cost_nanos),
            Field::ComputedCurrency => opt_text(&e.computed_currency),
            Field::ReportedCostNanos => opt_int(e.reported_cost_nanos),
            Field::UnpricedReason => opt_text(&e.unpriced_reason),
            Field::UnpricedMessage => opt_text(&e.unpriced_message),
            Field::PriceId => opt_text(&e.price_id),
            Field::Cached => Cell::Flag(e.cached),
            Field::Success => Cell::Flag(e.success),
            Field::RequestTimestamp => Cell::Text(&e.request_timestamp),
            Field::SessionId => opt_text(&e.session_id),
            Field::JobId => opt_text(&e.job_id),
            Field::DurationMs => opt_int(e.duration_ms),
            Field::Endpoint => opt_text(&e.endpoint),
            Field::Metadata => e.metadata.as_ref().map_or(Cell::Null, Cell::Object),
            Field::Fingerprint => opt_text(&e.fingerprint),
        }
    }
}

/// Every column written from a [`StoredEvent`]; a test keeps this list and the record's
/// fields in step.
pub(super) const COLUMNS: &[Column] = &[
    ("project_id", Field::ProjectId, Omitted::Zero),
    ("id", Field::Id, Omitted::Zero),
    ("provider", Field::Provider, Omitted::Zero),
    ("model", Field::Model, Omitted::Zero),
    ("operation", Field::Operation, Omitted::Zero),
    ("input_tokens", Field::InputTokens, Omitted::Zero),
    ("output_tokens", Field::OutputTokens, Omitted::Zero),
    ("total_tokens", Field::TotalTokens, Omitted::Zero),
    (
        "cached_input_tokens",
        Field::CachedInputTokens,
        Omitted::Zero,
    ),
    ("cache_write_tokens", Field::CacheWriteTokens, Omitted::Zero),
    ("reasoning_tokens", Field::ReasoningTokens, Omitted::Zero),
    ("audio_input_tokens", Field::AudioInputTokens, Omitted::Zero),
    (
        "audio_output_tokens",
        Field::AudioOutputTokens,
        Omitted::Zero,
    ),
    ("characters", Field::Characters, Omitted::Zero),
    (
        "audio_seconds_micros",
        Field::AudioSecondsMicros,
        Omitted::Zero,
    ),
    (
        "video_seconds_micros",
        Field::VideoSecondsMicros,
        Omitted::Zero,
    ),
    ("images", Field::Images, Omitted::Zero),
    ("requests", Field::Requests, Omitted::Zero),
    ("tracks", Field::Tracks, Omitted::Zero),
    ("credits_micros", Field::CreditsMicros, Omitted::Zero),
    ("cost", Field::Cost, Omitted::Null),
    ("cost_nanos", Field::CostNanos, Omitted::Null),
    ("currency", Field::Currency, Omitted::Zero),
    (
        "computed_cost_nanos",
        Field::ComputedCostNanos,
        Omitted::Null,
    ),
    ("computed_currency", Field::ComputedCurrency, Omitted::Null),
    (
        "reported_cost_nanos",
        Field::ReportedCostNanos,
        Omitted::Null,
    ),
    ("unpriced_reason", Field::UnpricedReason, Omitted::Null),
    ("unpriced_message", Field::UnpricedMessage, Omitted::Null),
    ("price_id", Field::PriceId, Omitted::Null),
    ("cached", Field::Cached, Omitted::Zero),
    ("success", Field::Success, Omitted::True),
    ("request_timestamp", Field::RequestTimestamp, Omitted::Zero),
    ("session_id", Field::SessionId, Omitted::Null),
    ("job_id", Field::JobId, Omitted::Null),
    ("duration_ms", Field::DurationMs, Omitted::Null),
    ("endpoint", Field::Endpoint, Omitted::Null),
    ("metadata", Field::Metadata, Omitted::Null),
    ("fingerprint", Field::Fingerprint, Omitted::Null),
];

/// Columns whose integers may exceed 2^53 and are read back as text.
pub(super) const EXACT: &[&str] = &["cost_nanos", "computed_cost_nanos", "reported_cost_nanos"];

/// The most JSON per bound value; D1 allows 2 MB, this leaves room.
pub(super) const CHUNK_BYTES: usize = 1_000_000;

/// Columns every row names.
pub(super) const REQUIRED: &[&str] =
    &["project_id", "id", "provider", "model", "request_timestamp"];

/// The columns a batch needs: the required ones and those where some event differs from the
/// column's default. Leaving the rest to their defaults spares SQLite most extractions: a
/// token event fills about 15 of 38.
pub(super) fn used_columns(events: &[StoredEvent]) -> Vec<Column> {
    // Plain loops, one pass over the events: the iterator adapters this was written with
    // (filter, any, copied) took about 3 ms of a 1,000-event request in the size-optimised
    // wasm, where none of them is inlined.
    let mut used = [false; COLUMNS.len()];
    for (flag, (name, _, _)) in used.iter_mut().zip(COLUMNS) {
        *flag = REQUIRED.contains(name);
    }
    for event in events {
        for (flag, (_, field, omitted)) in used.iter_mut().zip(COLUMNS) {
            if !*flag && !field.cell(event).is_default(*omitted) {
                *flag = true;
            }
        }
    }
    let mut columns = Vec::with_capacity(COLUMNS.len());
    for (flag, column) in used.iter().zip(COLUMNS) {
        if *flag {
            columns.push(*column);
        }
    }
    columns
}

pub(super) fn names(columns: &[Column]) -> Vec<&'static str> {
    columns.iter().map(|(name, _, _)| *name).collect()
}

/// The columns of a key in the lookup: the key, then the time the watermark is checked on.
pub(super) fn key_columns() -> Vec<Column> {
    COLUMNS
        .iter()
        .filter(|(name, _, _)| matches!(*name, "project_id" | "id" | "request_timestamp"))
        .copied()
        .collect()
}

/// One event as a JSON array of the values of `columns`.
pub(super) fn write_row(
    out: &mut Vec<u8>,
    event: &StoredEvent,
    columns: &[Column],
) -> Result<(), StoreError> {
    out.push(b'[');
    for (i, (_, field, _)) in columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        field.cell(event).write(out)?;
    }
    out.push(b']');
    Ok(())
}

/// One chunk of a batch: its rows as a JSON array of arrays, and their keys likewise.
pub(super) struct Chunk {
    pub(super) rows: String,
    /// How many rows it holds.
    pub(super) len: usize,
}

pub(super) fn close(mut json: Vec<u8>) -> Result<String, StoreError> {
    json.push(b']');
    String::from_utf8(json).map_err(|e| corrupt("event", e.to_string()))
}

/// Splits the records into chunks of rows of at most [`CHUNK_BYTES`] of JSON each.
pub(super) fn chunks_of(
    events: &[StoredEvent],
    columns: &[Column],
) -> Result<Vec<Chunk>, StoreError> {
    let mut out = Vec::new();
    let mut rows = Vec::with_capacity(events.len().min(1000) * 160);
    let mut len = 0;
    for event in events {
        // Each row written in place; one that takes its chunk past the limit moves to the next.
        let start = rows.len();
        rows.push(if rows.is_empty() { b'[' } else { b',' });
        write_row(&mut rows, event, columns)?;
        if len > 0 && rows.len() + 1 > CHUNK_BYTES {
            let mut next = Vec::with_capacity(rows.capacity());
            next.push(b'[');
            next.extend_from_slice(&rows[start + 1..]);
            rows.truncate(start);
            out.push(Chunk {
                rows: close(std::mem::replace(&mut rows, next))?,
                len: std::mem::take(&mut len),
            });
        }
        len += 1;
    }
    if !rows.is_empty() {
        out.push(Chunk {
            rows: close(rows)?,
            len,
        });
    }
    Ok(out)
}

/// The keys of each chunk's rows (the [`key_columns`] of each, a JSON array per chunk), for
/// the lookup of stored keys: only a batch that looks keys up writes them.
pub(super) fn keys_of(events: &[StoredEvent], chunks: &[Chunk]) -> Result<Vec<String>, StoreError> {
    let key = key_columns();
    let mut rest = events;
    let mut out = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let (these, after) = rest.split_at(chunk.len.min(rest.len()));
        rest = after;
        let mut keys = Vec::with_capacity(these.len() * 48);
        for event in these {
            keys.push(if keys.is_empty() { b'[' } else { b',' });
            write_row(&mut keys, event, &key)?;
        }
        if keys.is_empty() {
            keys.push(b'[');
        }
        out.push(close(keys)?);
    }
    Ok(out)
}
