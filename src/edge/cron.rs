//! The Cron Trigger (`0 */6 * * *`): writes the R2 summaries (and, with budgets, checks them).
//! Each step runs on its own: a failing step is logged and never stops the others.

use serde_json::{json, Value};
use worker::Env;

use crate::core::clock::Clock;
use crate::core::summaries::write_summaries;

use super::bindings::{raw_log, AppState};
use super::router::WorkerClock;

/// Runs every scheduled step and reports what each did.
pub async fn run(env: &Env) -> Value {
    let clock = WorkerClock;
    let summaries = match (AppState::load(env), raw_log(env)) {
        (Ok(state), Ok(log)) => match write_summaries(&state.store, &log, clock.now()).await {
            Ok(report) => json!(report),
            Err(e) => {
                worker::console_error!("cron: summaries failed: {e}");
                json!({ "error": e.to_string() })
            }
        },
        (Err(e), _) | (_, Err(e)) => {
            worker::console_error!("cron: summaries not run: {e}");
            json!({ "error": e.to_string() })
        }
    };
    json!({ "summaries": summaries })
}
