//! The Cron Trigger (`0 */6 * * *`): writes the R2 summaries, checks every budget and sends
//! the alerts due, emails the scheduled spend reports of periods that just closed, then
//! prunes raw usage rows past their retention.
//! Each step runs on its own: a failing step is logged and never stops the others.

use crate::core::json;
use serde_json::Value;
use worker::Env;

use crate::core::budgets::alerts::{check_budgets, Mode};
use crate::core::budgets::delivery::MAX_SENDS_PER_RUN;
use crate::core::budgets::digest::{send_digests, Which};
use crate::core::kernel::clock::{format_timestamp, Clock, FixedClock, SystemEntropy};
use crate::core::reports::summaries::write_summaries;
use crate::core::usage::retention::prune;

use super::bindings::{alert_config, ingest_config, raw_log, retention_config, AppState};
use super::notify::EdgeNotifier;

/// Runs every scheduled step as of `clock`'s time and reports what each did. Every caller
/// passes one fixed instant (a slot's time, or the moment of `POST /api/admin/cron/run`), so
/// the run is compiled once.
pub async fn run(env: &Env, clock: &FixedClock) -> Value {
    let state = match AppState::load(env) {
        Ok(state) => state,
        Err(e) => {
            worker::console_error!("cron: not run: {e}");
            let error = json!({ "error": e.to_string() });
            return json!({ "summaries": error, "budgets": error, "reports": error, "retention": error });
        }
    };
    let summaries = match raw_log(env) {
        Ok(log) => match write_summaries(&state.store, &log, clock.now()).await {
            Ok(report) => json!(report),
            Err(e) => {
                worker::console_error!("cron: summaries failed: {e}");
                json!({ "error": e.to_string() })
            }
        },
        Err(e) => {
            worker::console_error!("cron: summaries not run: {e}");
            json!({ "error": e.to_string() })
        }
    };
    let mut sends_left = MAX_SENDS_PER_RUN;
    let budgets = match check_budgets(
        &state.store,
        &state.store,
        &state.store,
        &EdgeNotifier { env },
        clock,
        &SystemEntropy,
        &alert_config(env),
        Mode::Send,
        None,
    )
    .await
    {
        Ok(report) => {
            sends_left = sends_left.saturating_sub(report.alerts_sent + report.alerts_failed);
            json!({
                "projects": report.projects.len(),
                "alerts_sent": report.alerts_sent,
                "alerts_failed": report.alerts_failed,
                "errors": report.projects.iter().filter(|p| p.error.is_some()).count(),
            })
        }
        Err(e) => {
            worker::console_error!("cron: budget check failed: {e}");
            json!({ "error": e.to_string() })
        }
    };
    let reports = match send_digests(
        &state.store,
        &state.store,
        &EdgeNotifier { env },
        &SystemEntropy,
        &alert_config(env),
        clock.now(),
        Which::Due,
        sends_left,
    )
    .await
    {
        Ok(run) => json!(run),
        Err(e) => {
            worker::console_error!("cron: scheduled reports failed: {e}");
            json!({ "error": e.to_string() })
        }
    };
    // Pruning last: it only saves space, and the steps above never need the pruned rows.
    let retention = match prune(
        &super::cache::Cached(&state.store),
        retention_config(env),
        ingest_config(env),
        clock.now(),
    )
    .await
    {
        Ok(report) => json!(report),
        Err(e) => {
            worker::console_error!("cron: pruning failed: {e}");
            json!({ "error": e.to_string() })
        }
    };
    json!({
        "at": format_timestamp(clock.now()),
        "summaries": summaries,
        "budgets": budgets,
        "reports": reports,
        "retention": retention,
    })
}
