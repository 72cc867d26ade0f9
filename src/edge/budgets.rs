//! Handlers of the budget, check and alert routes.

use crate::core::json;
use worker::{Env, Response};

use crate::core::access::projects::get_project;
use crate::core::access::projects::project_param;
use crate::core::budgets::alerts::{check_budgets, check_project, Mode};
use crate::core::budgets::delivery::MAX_SENDS_PER_RUN;
use crate::core::budgets::digest::{preview, send_digests, Which};
use crate::core::budgets::settings::{get_budget, patch_budget, BudgetView, ReportSchedule};
use crate::core::budgets::store::BudgetStore;
use crate::core::kernel::clock::{Clock, SystemEntropy};
use crate::core::kernel::error::CoreError;
use crate::core::kernel::input::parse_json;
use crate::core::kernel::query::{only_known, param, QueryPairs};

use super::bindings::alert_config;
use super::d1::D1Store;
use super::notify::EdgeNotifier;
use super::router::ok;

/// The dry run of the budget check for one project (nothing is sent or claimed).
async fn dry_run(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    project: &crate::core::access::projects::ProjectId,
) -> Result<Option<crate::core::budgets::alerts::ProjectCheck>, CoreError> {
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
    Ok(check.projects.into_iter().next())
}

async fn view_with_status(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    settings: &crate::core::budgets::settings::BudgetSettings,
) -> Result<Response, CoreError> {
    let status = dry_run(store, env, clock, &settings.project_id).await?;
    let mut body = json!(BudgetView::new(settings));
    body["status"] = json!(status);
    ok(200, &body)
}

/// A project's budget status for `GET /api/usage/stats`: where this month and today stand
/// against its budget and daily limit (a dry run of the check; nothing is sent). `null` when
/// the project has neither.
pub async fn budget_status(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    project: &crate::core::access::projects::ProjectId,
) -> Result<serde_json::Value, CoreError> {
    let Some(c) = dry_run(store, env, clock, project)
        .await?
        .filter(|c| c.error.is_none())
    else {
        return Ok(serde_json::Value::Null);
    };
    let over = |limit: Option<crate::core::kernel::money::Money>,
                spent: crate::core::kernel::money::Money| {
        limit.map(|l| spent.nanos >= l.nanos)
    };
    Ok(json!({
        "budget": c.budget,
        "spend": c.spend,
        "percent_used": c.percent_used,
        "forecast": c.forecast,
        "over_budget": over(c.budget, c.spend),
        "daily_limit": c.daily_limit,
        "today_spend": c.today_spend,
        "over_daily_limit": over(c.daily_limit, c.today_spend),
        "levels_crossed": c.levels_crossed,
        "period": c.period,
    }))
}

/// `GET /api/admin/projects/{id}/budget`.
pub async fn get(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    id: &str,
) -> Result<Response, CoreError> {
    let settings = get_budget(store, id).await?;
    view_with_status(store, env, clock, &settings).await
}

/// `PATCH /api/admin/projects/{id}/budget`.
pub async fn patch(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    id: &str,
    body: &[u8],
) -> Result<Response, CoreError> {
    let settings = patch_budget(store, &SystemEntropy, id, parse_json(body)?).await?;
    // This isolate's ingest answers follow the new settings at once; others within a minute.
    super::watch::forget(&settings.project_id);
    view_with_status(store, env, clock, &settings).await
}

/// `GET` (dry run) and `POST` (check and send) `/api/admin/usage/check-budgets`.
pub async fn check(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    query: &QueryPairs,
    mode: Mode,
) -> Result<Response, CoreError> {
    only_known(query, &["project_id"])?;
    let only = project_param(query)?;
    if let Some(id) = &only {
        // A mistyped project is a 404, not "nothing to alert".
        get_project(store, id.as_str()).await?;
    }
    // One project's check is the one its own usage runs: its budget, and the plans and
    // profiles that count its usage (its own and the global ones).
    let report = check_project(
        store,
        store,
        store,
        &EdgeNotifier { env },
        clock,
        &SystemEntropy,
        &alert_config(env),
        mode,
        only.as_ref(),
    )
    .await?;
    ok(200, &report)
}

/// `GET /api/admin/projects/{id}/report?schedule=weekly|monthly`: the spend report of the
/// last closed week or month, as the cron would email it (nothing is sent).
pub async fn report_preview(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    id: &str,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    let (settings, schedule) = report_target(store, id, query).await?;
    let body = preview(store, &settings, schedule, &alert_config(env), clock.now()).await?;
    ok(200, &body)
}

async fn report_target(
    store: &D1Store,
    id: &str,
    query: &QueryPairs,
) -> Result<
    (
        crate::core::budgets::settings::BudgetSettings,
        ReportSchedule,
    ),
    CoreError,
> {
    only_known(query, &["schedule"])?;
    let settings = get_budget(store, id).await?;
    let schedule = match param(query, "schedule") {
        None => settings.report_schedule.unwrap_or(ReportSchedule::Weekly),
        Some(text) => ReportSchedule::parse(text).ok_or_else(|| {
            CoreError::invalid("schedule", format!("`{text}` is not weekly or monthly"))
        })?,
    };
    Ok((settings, schedule))
}

/// `POST /api/admin/projects/{id}/report?schedule=weekly|monthly`: emails the report of the
/// last closed period now, unless it was already sent (by the cron or an earlier call).
pub async fn send_report(
    store: &D1Store,
    env: &Env,
    clock: &impl Clock,
    id: &str,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    let (settings, schedule) = report_target(store, id, query).await?;
    let run = send_digests(
        store,
        store,
        &EdgeNotifier { env },
        &SystemEntropy,
        &alert_config(env),
        clock.now(),
        Which::Project(&settings, schedule),
        MAX_SENDS_PER_RUN,
    )
    .await?;
    ok(200, &run)
}

/// `GET /api/admin/alerts`.
pub async fn alerts(store: &D1Store, query: &QueryPairs) -> Result<Response, CoreError> {
    only_known(query, &["project_id", "limit"])?;
    let project = project_param(query)?;
    let limit = match param(query, "limit") {
        None => 100,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(CoreError::invalid(
                    "limit",
                    "must be a whole number from 1 to 1000",
                ))
            }
        },
    };
    let alerts = store.alerts(project.as_ref(), limit).await?;
    ok(200, &json!({ "count": alerts.len(), "alerts": alerts }))
}
