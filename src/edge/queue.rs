//! The queue path of `POST /api/usage` (`INGEST_MODE = "queue"`): the request is validated and
//! priced, its records go to the `USAGE_QUEUE` queue as one message, and the answer is 202;
//! the consumer ([`consume`]) stores each batch of messages with one raw object and one insert
//! (see `core::usage::ingest::queued` for what holds and why). A request too large for one
//! message, or a deployment without the queue binding, is stored at once as in `sync` mode.

use worker::{Context, Env, MessageBatch};

use crate::core::kernel::clock::SystemEntropy;
use crate::core::kernel::error::CoreError;
use crate::core::usage::ingest::IngestReport;
use crate::core::usage::ingest::{queue_message, queued_report, store_delivered, Prepared};

use super::bindings::{raw_log, AppState};
use super::router::WorkerClock;

/// The queue binding of the usage path.
pub const USAGE_QUEUE: &str = "USAGE_QUEUE";
/// The var that turns the queue path on: `INGEST_MODE = "queue"` (default `sync`).
pub const INGEST_MODE: &str = "INGEST_MODE";

/// Whether requests go through the queue.
pub fn queue_mode(env: &Env) -> bool {
    env.var(INGEST_MODE)
        .map(|v| v.to_string().trim().eq_ignore_ascii_case("queue"))
        .unwrap_or(false)
}

/// Sends a prepared request to the queue; answers what it says (`queued`), or gives the
/// request back when it does not fit in one message or there is no queue to send it to.
pub async fn enqueue(
    env: &Env,
    request: Prepared,
) -> Result<Result<IngestReport, Prepared>, CoreError> {
    let Ok(queue) = env.queue(USAGE_QUEUE) else {
        worker::console_warn!(
            "INGEST_MODE is queue but there is no {USAGE_QUEUE} binding: storing at once"
        );
        return Ok(Err(request));
    };
    let Some(message) = queue_message(&request)? else {
        return Ok(Err(request));
    };
    queue.send(message).await.map_err(|e| {
        CoreError::Storage(crate::core::kernel::error::StoreError::Unavailable(
            format!(
            "the usage queue did not take the request ({e}); nothing was recorded: send it again"
        ),
        ))
    })?;
    Ok(Ok(queued_report(request)))
}

/// The consumer: stores the batch's messages, then acknowledges them all; on any failure
/// every message is retried (the writes are idempotent, so a retry stores nothing twice).
pub async fn consume(batch: MessageBatch<String>, env: &Env, ctx: &Context) {
    let messages: Vec<String> = match batch.messages() {
        Ok(messages) => messages.into_iter().map(|m| m.body().clone()).collect(),
        Err(e) => {
            worker::console_error!("usage queue: messages unreadable ({e}); retrying the batch");
            batch.retry_all();
            return;
        }
    };
    let stored = async {
        let state = AppState::load(env)?;
        let log = raw_log(env)?;
        let started = worker::Date::now().as_millis();
        let delivered =
            store_delivered(&state.store, &log, &WorkerClock, &SystemEntropy, &messages).await?;
        let took = worker::Date::now().as_millis().saturating_sub(started);
        let d1 = state.store.write_ms();
        Ok::<_, CoreError>((state, delivered, took, d1))
    };
    match stored.await {
        Ok((state, delivered, took, d1)) => {
            batch.ack_all();
            let events: usize = delivered.reports.iter().map(|r| r.accepted).sum();
            // The time of the batch's writes (R2 and D1), and the wall time of its D1
            // transactions alone: the database runs one at a time while consumers run side by
            // side (their R2 puts and CPU too), so the second bounds what one database takes.
            // It holds the round trip and any wait behind another consumer's transaction too,
            // so a capacity read from it is on the low side. `bench/queue.mjs` reads this line.
            worker::console_log!(
                "usage queue: stored {events} events of {} messages in {took} ms (D1 {d1} ms)",
                messages.len()
            );
            if delivered.not_stored > 0 {
                worker::console_log!(
                    "usage queue: {} records already stored (a retry or an id taken by another event first)",
                    delivered.not_stored
                );
            }
            // Alerts at ingest time, as for a synchronous request.
            for report in &delivered.reports {
                super::watch::after_ingest(&state.store, env, ctx, &WorkerClock, report).await;
            }
        }
        Err(e) => {
            worker::console_error!(
                "usage queue: batch of {} not stored ({e}); retrying",
                messages.len()
            );
            batch.retry_all();
        }
    }
}
