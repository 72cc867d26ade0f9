//! The queue path of ingestion (`INGEST_MODE = "queue"`): a request is validated and priced
//! as in the synchronous path, and its records go to a queue as one message (raw-log lines);
//! the answer (202) says each event's price and `queued`. The queue's consumer stores a batch
//! of messages at a time: one raw object, then one insert, for all of them.
//!
//! What holds, and why:
//! - Nothing is lost: the queue keeps a message until the consumer acknowledges it, which it
//!   does only after the raw object and the rows are written; a failure retries the whole
//!   consumer batch.
//! - Nothing is counted twice: every record has its id before it is queued (one the client
//!   sent, or one drawn now), so a redelivered message, or a client's retry of a request with
//!   ids, meets the stored rows and is a duplicate (first stored wins).
//! - The raw log says what was stored: the consumer's object is rewritten to hold only the
//!   records stored now (withdrawn when there are none), so a rebuild restores each event once,
//!   from the object that stored it. A write whose answer was lost after it committed keeps
//!   its object and counts as stored (`settle_failed_write`).
//! - What the answer can no longer say: whether an event is a duplicate, and a 409 for an id
//!   reused for a different event (the consumer keeps the first and drops the other; it logs
//!   how many it dropped).

use super::*;

/// The most bytes of records one queue message carries (the platform's limit for a message
/// is 128 KB); a request whose records take more is stored at once, synchronously.
pub const MAX_QUEUED_BYTES: usize = 120 * 1024;

/// The most records one raw object and one insert of the consumer hold.
pub const MAX_RECORDS_PER_WRITE: usize = MAX_EVENTS_PER_REQUEST;

/// The most messages one consumer invocation is given (the platform's largest
/// `max_batch_size`; `queue.toml` asks for it).
pub const MAX_MESSAGES_PER_DELIVERY: usize = 100;

/// The most events a queued request may hold; a larger one is stored at once, synchronously
/// (it is already one raw object and one insert, which is what the queue would make of it).
/// With it, a consumer invocation holds at most one write's records (100 messages of 10),
/// the work of the largest synchronous request, and no more: within a plan's CPU time per
/// invocation whenever the largest request is.
pub const MAX_QUEUED_EVENTS: usize = MAX_RECORDS_PER_WRITE / MAX_MESSAGES_PER_DELIVERY;

/// A prepared request as one queue message (its records as raw-log lines), or `None` when it
/// is too large for one ([`MAX_QUEUED_EVENTS`], [`MAX_QUEUED_BYTES`]).
pub fn queue_message(request: &Prepared) -> Result<Option<String>, CoreError> {
    if request.records.len() > MAX_QUEUED_EVENTS {
        return Ok(None);
    }
    let bytes = to_ndjson(&request.records)
        .map_err(|e| CoreError::Misconfigured(format!("encoding a queue message failed: {e}")))?;
    if bytes.len() > MAX_QUEUED_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| CoreError::Misconfigured(format!("encoding a queue message failed: {e}")))
}

/// The answer to a request accepted for the queue: each event priced, status `queued`.
pub fn queued_report(request: Prepared) -> IngestReport {
    report_of(request.records, None, String::new(), request.warnings)
}

/// What the consumer did with one batch of messages.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Per write (at most [`MAX_RECORDS_PER_WRITE`] records), what was stored.
    pub reports: Vec<IngestReport>,
    /// Records already stored (a redelivery or a retry), or whose id was taken by another
    /// event first: not stored now.
    pub not_stored: usize,
}

/// Stores the records of a consumer batch's messages: per at most
/// [`MAX_RECORDS_PER_WRITE`] records, one raw object and one insert (first stored wins).
/// A message that cannot be read fails the whole batch (the queue retries it, then moves it
/// to the dead-letter queue) rather than dropping it.
pub async fn store_delivered(
    usage: &impl UsageStore,
    log: &impl RawLog,
    clock: &impl Clock,
    entropy: &impl Entropy,
    messages: &[String],
) -> Result<Delivered, CoreError> {
    let mut records = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let (lines, bad) = from_ndjson(message.as_bytes());
        if let Some(bad) = bad.first() {
            return Err(CoreError::Storage(StoreError::Corrupt(format!(
                "queue message {i}, line {}: {}",
                bad.line, bad.message
            ))));
        }
        records.extend(lines);
    }
    let mut delivered = Delivered::default();
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(MAX_RECORDS_PER_WRITE));
        let report = store_once(usage, log, clock, entropy, records).await?;
        delivered.not_stored += report.duplicates;
        delivered.reports.push(report);
        records = rest;
    }
    Ok(delivered)
}

/// One raw object and one insert for `records`; the object then holds exactly what was
/// stored now.
async fn store_once(
    usage: &impl UsageStore,
    log: &impl RawLog,
    clock: &impl Clock,
    entropy: &impl Entropy,
    records: Vec<StoredEvent>,
) -> Result<IngestReport, CoreError> {
    let now = clock.now();
    let key = raw_key(now, entropy)?;
    let bytes = to_ndjson(&records)
        .map_err(|e| CoreError::Misconfigured(format!("encoding the raw log failed: {e}")))?;
    log.put(&key, bytes).await?;
    let inserted = match usage
        .insert_events(&records, InsertMode::KeepFirst, Some(&key))
        .await
    {
        Ok(inserted) => inserted,
        Err(e) => {
            match settle_failed_write(usage, log, &key, &records, InsertMode::KeepFirst).await {
                // Committed, its answer lost: the messages are acknowledged as stored.
                Some(inserted) => inserted,
                None => return Err(CoreError::Storage(e)),
            }
        }
    };
    let stored: Vec<StoredEvent> = records
        .iter()
        .zip(&inserted)
        .filter(|(_, outcome)| outcome.is_stored())
        .map(|(record, _)| record.clone())
        .collect();
    let raw_object = if stored.len() == records.len() {
        key
    } else if stored.is_empty() {
        withdraw(log, &key).await;
        String::new()
    } else {
        replace_object(log, &key, &stored).await
    };
    // The consumer's report goes to no client: it has no warnings.
    Ok(report_of(records, Some(&inserted), raw_object, Vec::new()))
}
