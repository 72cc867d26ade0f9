//! Alerts at ingest time, and the guard state of the ingest answer.
//!
//! Each isolate keeps, per project, a [`Watch`] taken from a dry run of the budget check at
//! most a minute ago, and adds each recorded cost to it: the common case (nothing near a
//! level) reads nothing from D1. When a request brings the project to a budget level, the
//! budget, its daily limit or its spike rule's threshold, the project's check runs in Send mode after the answer
//! (`wait_until`). Its claims are atomic, so however many requests cross together, and
//! whatever the cron or a manual check does at the same moment, each alert goes out once.
//! Plan levels and capacity floors are left to the cron and the manual check.
//! `INGEST_ALERTS = "off"` turns the ingest-time check off.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::{json, Value};
use worker::{Context, Env};

use crate::core::access::projects::ProjectId;
use crate::core::budgets::alerts::{check_budgets, Mode};
use crate::core::budgets::store::BudgetStore;
use crate::core::guard::watch::{State, Watch};
use crate::core::kernel::cache::TtlCache;
use crate::core::kernel::clock::{Clock, SystemEntropy};
use crate::core::kernel::error::CoreError;
use crate::core::kernel::money::Money;
use crate::core::usage::ingest::{IngestReport, Outcome};

use super::bindings::{alert_config, AppState};
use super::d1::D1Store;
use super::notify::EdgeNotifier;

/// How long a watch is trusted before it is taken again (and the check runs).
const WATCH_MS: i64 = 60_000;

/// A watch and when it was taken; `None`: the project has neither budget nor daily limit.
#[derive(Clone)]
struct Taken {
    watch: Option<Watch>,
    at_ms: i64,
}

thread_local! {
    static WATCHES: RefCell<TtlCache<Taken>> = RefCell::new(TtlCache::new(WATCH_MS, 1000));
}

fn now_ms() -> i64 {
    super::d1::now().timestamp_millis()
}

/// Whether alerts go out at ingest time: on unless the var `INGEST_ALERTS` is `off` (the cron
/// and the manual check still send them).
fn ingest_alerts(env: &Env) -> bool {
    env.var("INGEST_ALERTS")
        .map(|v| v.to_string().trim() != "off")
        .unwrap_or(true)
}

/// A project's watch, from a dry run of its check (which sees the usage just stored).
async fn take(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    project: &ProjectId,
) -> Result<Option<(Watch, Vec<i128>)>, CoreError> {
    let Some(settings) = store.budget(project).await? else {
        return Ok(None);
    };
    let check = check_budgets(
        store,
        store,
        store,
        &EdgeNotifier { env },
        clock,
        &SystemEntropy,
        &alert_config(env),
        Mode::DryRun,
        Some(project),
    )
    .await?;
    Ok(check
        .projects
        .first()
        .filter(|c| c.error.is_none())
        .map(|c| (Watch::of(c, &settings), Watch::levels_of(c))))
}

/// Runs the project's budget check in Send mode after the answer.
fn check_later(env: &Env, ctx: &Context, project: ProjectId) {
    let env = env.clone();
    ctx.wait_until(async move {
        let state = match AppState::load(&env) {
            Ok(state) => state,
            Err(e) => {
                worker::console_error!("ingest-time check not run: {e}");
                return;
            }
        };
        let result = check_budgets(
            &state.store,
            &state.store,
            &state.store,
            &EdgeNotifier { env: &env },
            &super::router::WorkerClock,
            &SystemEntropy,
            &alert_config(&env),
            Mode::Send,
            Some(&project),
        )
        .await;
        match result {
            Ok(report) if report.alerts_sent + report.alerts_failed > 0 => worker::console_log!(
                "ingest-time check: {} sent, {} failed",
                report.alerts_sent,
                report.alerts_failed
            ),
            Ok(_) => {}
            Err(e) => worker::console_error!("ingest-time check failed: {e}"),
        }
    });
}

/// After a request was stored: each of its projects' watch moves by what it stored, the
/// check runs after the answer where a level was reached, and the answer's `guard` is the
/// worst state of its projects. Never fails the request: a watch that cannot be read leaves
/// the state `ok` and the cron's check as the net.
pub async fn after_ingest(
    store: &D1Store,
    env: &Env,
    ctx: &Context,
    clock: &impl Clock,
    report: &IngestReport,
) -> Value {
    let mut costs: BTreeMap<&str, Vec<Money>> = BTreeMap::new();
    for event in &report.events {
        let entry = costs.entry(event.project_id.as_str()).or_default();
        if event.status == Outcome::Stored {
            entry.extend(event.cost);
        }
    }
    let mut worst: (State, Option<&'static str>) = (State::Ok, None);
    for (project, stored) in costs {
        let Ok(project) = ProjectId::parse(project) else {
            continue;
        };
        let now = now_ms();
        let cached = WATCHES
            .with(|w| w.borrow_mut().get(project.as_str(), now))
            .filter(|t| now - t.at_ms < WATCH_MS);
        let (taken, reached) = match cached {
            Some(mut taken) => {
                let mut reached = false;
                if let Some(watch) = taken.watch.as_mut() {
                    for cost in stored {
                        reached |= watch.add(cost);
                    }
                }
                (taken, reached)
            }
            None => match take(store, env, clock, &project).await {
                Ok(taken) => {
                    // Taken after this request was stored: it reached a level when one lies
                    // between the spend before it and the spend now.
                    let reached = taken.as_ref().is_some_and(|(watch, levels)| {
                        let cost: i128 = stored
                            .iter()
                            .filter(|c| c.currency == watch.currency)
                            .map(|c| c.nanos)
                            .sum();
                        watch.reached_by(cost, levels)
                    });
                    let watch = taken.map(|(watch, _)| watch);
                    (Taken { watch, at_ms: now }, reached)
                }
                Err(e) => {
                    worker::console_error!("guard state of {project} not read: {e}");
                    continue;
                }
            },
        };
        if let Some(watch) = &taken.watch {
            let state = watch.state();
            if state.0 as u8 > worst.0 as u8 {
                worst = state;
            }
        }
        WATCHES.with(|w| w.borrow_mut().put(project.as_str(), taken, now));
        if reached && ingest_alerts(env) {
            check_later(env, ctx, project);
        }
    }
    json!({"state": worst.0.as_str(), "limiting": worst.1})
}

/// Forgets a project's watch (its budget settings changed): the next request takes it again.
pub fn forget(project: &ProjectId) {
    WATCHES.with(|w| w.borrow_mut().remove(project.as_str()));
}
