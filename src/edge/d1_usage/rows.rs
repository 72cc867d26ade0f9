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

/// A column of `api_usage`, how a [`StoredEvent`] fills it, and its default.
pub(super) type Column = (&'static str, fn(&StoredEvent) -> Cell<'_>, Omitted);

/// Every column written from a [`StoredEvent`]; a test keeps this list and the record's
/// fields in step.
pub(super) const COLUMNS: &[Column] = &[
    ("project_id", |e| Cell::Text(&e.project_id), Omitted::Zero),
    ("id", |e| Cell::Text(&e.id), Omitted::Zero),
    ("provider", |e| Cell::Text(&e.provider), Omitted::Zero),
    ("model", |e| Cell::Text(&e.model), Omitted::Zero),
    ("operation", |e| Cell::Text(&e.operation), Omitted::Zero),
    ("input_tokens", |e| Cell::Int(e.input_tokens), Omitted::Zero),
    (
        "output_tokens",
        |e| Cell::Int(e.output_tokens),
        Omitted::Zero,
    ),
    ("total_tokens", |e| Cell::Int(e.total_tokens), Omitted::Zero),
    (
        "cached_input_tokens",
        |e| Cell::Int(e.cached_input_tokens),
        Omitted::Zero,
    ),
    (
        "cache_write_tokens",
        |e| Cell::Int(e.cache_write_tokens),
        Omitted::Zero,
    ),
    (
        "reasoning_tokens",
        |e| Cell::Int(e.reasoning_tokens),
        Omitted::Zero,
    ),
    (
        "audio_input_tokens",
        |e| Cell::Int(e.audio_input_tokens),
        Omitted::Zero,
    ),
    (
        "audio_output_tokens",
        |e| Cell::Int(e.audio_output_tokens),
        Omitted::Zero,
    ),
    ("characters", |e| Cell::Int(e.characters), Omitted::Zero),
    (
        "audio_seconds_micros",
        |e| Cell::Int(e.audio_seconds_micros),
        Omitted::Zero,
    ),
    (
        "video_seconds_micros",
        |e| Cell::Int(e.video_seconds_micros),
        Omitted::Zero,
    ),
    ("images", |e| Cell::Int(e.images), Omitted::Zero),
    ("requests", |e| Cell::Int(e.requests), Omitted::Zero),
    ("tracks", |e| Cell::Int(e.tracks), Omitted::Zero),
    (
        "credits_micros",
        |e| Cell::Int(e.credits_micros),
        Omitted::Zero,
    ),
    ("cost", |e| opt_text(&e.cost), Omitted::Null),
    ("cost_nanos", |e| opt_int(e.cost_nanos), Omitted::Null),
    ("currency", |e| Cell::Text(&e.currency), Omitted::Zero),
    (
        "computed_cost_nanos",
        |e| opt_int(e.computed_cost_nanos),
        Omitted::Null,
    ),
    (
        "computed_currency",
        |e| opt_text(&e.computed_currency),
        Omitted::Null,
    ),
    (
        "reported_cost_nanos",
        |e| opt_int(e.reported_cost_nanos),
        Omitted::Null,
    ),
    (
        "unpriced_reason",
        |e| opt_text(&e.unpriced_reason),
        Omitted::Null,
    ),
    (
        "unpriced_message",
        |e| opt_text(&e.unpriced_message),
        Omitted::Null,
    ),
    ("price_id", |e| opt_text(&e.price_id), Omitted::Null),
    ("cached", |e| Cell::Flag(e.cached), Omitted::Zero),
    ("success", |e| Cell::Flag(e.success), Omitted::True),
    (
        "request_timestamp",
        |e| Cell::Text(&e.request_timestamp),
        Omitted::Zero,
    ),
    ("session_id", |e| opt_text(&e.session_id), Omitted::Null),
    ("job_id", |e| opt_text(&e.job_id), Omitted::Null),
    ("duration_ms", |e| opt_int(e.duration_ms), Omitted::Null),
    ("endpoint", |e| opt_text(&e.endpoint), Omitted::Null),
    (
        "metadata",
        |e| e.metadata.as_ref().map_or(Cell::Null, Cell::Object),
        Omitted::Null,
    ),
    ("fingerprint", |e| opt_text(&e.fingerprint), Omitted::Null),
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
/// token event fills about 15 of 37.
pub(super) fn used_columns(events: &[StoredEvent]) -> Vec<Column> {
    // Plain loops, one pass over the events: the iterator adapters this was written with
    // (filter, any, copied) took about 3 ms of a 1,000-event request in the size-optimised
    // wasm, where none of them is inlined.
    let mut used = [false; COLUMNS.len()];
    for (flag, (name, _, _)) in used.iter_mut().zip(COLUMNS) {
        *flag = REQUIRED.contains(name);
    }
    for event in events {
        for (flag, (_, cell, omitted)) in used.iter_mut().zip(COLUMNS) {
            if !*flag && !cell(event).is_default(*omitted) {
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
    for (i, (_, cell, _)) in columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        cell(event).write(out)?;
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
