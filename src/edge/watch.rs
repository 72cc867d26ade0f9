//! Alerts at ingest time, and the guard state of the ingest answer.
//!
//! Each isolate keeps, per project, a [`Watch`] taken from a dry run of the budget check at
//! most a minute ago, and a [`PlanWatch`] of the plans and profiles that count the project's
//! usage, and adds each request's stored usage to them: the common case (nothing near a
//! level) reads nothing from D1. When a request brings the project to a budget level, the
//! budget, its daily limit, its spike rule's threshold, a plan's alert level or a profile's
//! capacity floor, the project's check (budget, and its own and the global plans and
//! profiles) runs in Send mode after the answer (`wait_until`). Its claims are atomic, so
//! however many requests cross together, and whatever the cron or a manual check does at the
//! same moment, each alert goes out once. `INGEST_ALERTS = "off"` turns the ingest-time check
//! off.

use std::cell::RefCell;

use litemap::LiteMap;

use crate::core::json;
use serde_json::Value;
use worker::{Context, Env};

use crate::core::access::projects::ProjectId;
use crate::core::budgets::alerts::{check_budgets, check_project, Mode};
use crate::core::budgets::store::BudgetStore;
use crate::core::guard::plan_watch::PlanWatch;
use crate::core::guard::watch::{State, Watch};
use crate::core::kernel::cache::TtlCache;
use crate::core::kernel::clock::{Clock, SystemEntropy};
use crate::core::kernel::error::CoreError;
use crate::core::kernel::money::Money;
use crate::core::plans::store::PlanStore;
use crate::core::plans::{profiles_in, states_of};
use crate::core::usage::ingest::{IngestReport, Outcome};

use super::bindings::{alert_config, AppState};
use super::d1::D1Store;
use super::notify::EdgeNotifier;

/// How long a watch is trusted before it is taken again (and the check runs).
const WATCH_MS: i64 = 60_000;
/// How long a watch is kept: past [`WATCH_MS`] it is only the older watch the new one is
/// compared with (what others' usage of a global plan moved in between).
const KEEP_MS: i64 = 600_000;

/// The watches of a project and when they were taken; `None`: nothing to watch (no budget
/// nor daily limit; no plan or profile with an alert level or a block mode).
#[derive(Clone)]
struct Taken {
    watch: Option<Watch>,
    plans: Option<PlanWatch>,
    at_ms: i64,
}

thread_local! {
    static WATCHES: RefCell<TtlCache<Taken>> = RefCell::new(TtlCache::new(KEEP_MS, 1000));
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
        .map(|c| (Watch::of(c, &settings, clock.now()), Watch::levels_of(c))))
}

/// The watch of the plans and profiles that count a project's usage (its own and the global
/// ones), read now (after the request's usage was stored).
async fn take_plans(
    store: &D1Store,
    clock: &impl Clock,
    project: &ProjectId,
) -> Result<Option<PlanWatch>, CoreError> {
    let now = clock.now();
    let plans: Vec<_> = store
        .plans()
        .await?
        .into_iter()
        .filter(|p| {
            p.project_id
                .as_deref()
                .is_none_or(|o| o == project.as_str())
        })
        .collect();
    if plans.is_empty() {
        // No plan, no capacity: the profiles need not be read.
        return Ok(None);
    }
    let states = states_of(plans, store, now).await?;
    let profiles = profiles_in(&states, store, store, now, Some(project.as_str())).await?;
    Ok(PlanWatch::of(project.as_str(), states, profiles))
}

/// Runs the project's check (budget, plans, profiles) in Send mode after the answer.
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
        let result = check_project(
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
    // Each project of the request with the costs of its stored events. A request holds at most
    // 1,000 events, nearly always of one project or a few: a lookup in a sorted vector each.
    let mut costs: LiteMap<&str, Vec<(Money, &str)>> = LiteMap::new();
    for event in &report.events {
        let entry = costs.entry(event.project_id.as_str()).or_default();
        if event.status == Outcome::Stored {
            entry.extend(event.cost.map(|c| (c, event.timestamp.as_str())));
        }
    }
    let stored_events = &report.stored_events;
    let mut worst: (State, Option<&'static str>) = (State::Ok, None);
    for (project, stored) in costs {
        let Ok(project) = ProjectId::parse(project) else {
            continue;
        };
        let now = now_ms();
        let kept = WATCHES.with(|w| w.borrow_mut().get(project.as_str(), now));
        let (taken, reached) = match kept {
            Some(mut taken) if now - taken.at_ms < WATCH_MS => {
                let mut reached = false;
                if let Some(watch) = taken.watch.as_mut() {
                    for (cost, at) in stored {
                        reached |= watch.add(cost, at);
                    }
                }
                if let Some(plans) = taken.plans.as_mut() {
                    reached |= plans.add(stored_events);
                }
                (taken, reached)
            }
            older => {
                let budget = take(store, env, clock, &project).await;
                let plans = take_plans(store, clock, &project).await;
                let (budget, plans) = match (budget, plans) {
                    (Ok(budget), Ok(plans)) => (budget, plans),
                    (Err(e), _) | (_, Err(e)) => {
                        worker::console_error!("guard state of {project} not read: {e}");
                        continue;
                    }
                };
                // Taken after this request was stored: it reached a level when one lies
                // between the spend before it and the spend now (or, for plans, when an
                // alert is due that was not before it, or not in the older watch).
                let by_budget = budget.as_ref().is_some_and(|(watch, levels)| {
                    let mut counted = (0, 0);
                    for (cost, at) in &stored {
                        let (month, today) = watch.counted(*cost, at);
                        counted = (counted.0 + month, counted.1 + today);
                    }
                    watch.reached_by(counted, levels)
                });
                let older_plans = older.as_ref().and_then(|o| o.plans.as_ref());
                let by_plans = plans
                    .as_ref()
                    .is_some_and(|p| p.reached_by(stored_events, older_plans));
                let watch = budget.map(|(watch, _)| watch);
                (
                    Taken {
                        watch,
                        plans,
                        at_ms: now,
                    },
                    by_budget || by_plans,
                )
            }
        };
        let states = [
            taken.watch.as_ref().map(Watch::state),
            taken.plans.as_ref().map(PlanWatch::state),
        ];
        for state in states.into_iter().flatten() {
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

/// Forgets every project's watch (a plan or a profile changed, which may be global).
pub fn forget_all() {
    WATCHES.with(|w| w.borrow_mut().clear());
}
