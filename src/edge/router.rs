//! Request dispatch: match the route table, authenticate as the route demands, call the core,
//! and turn the result or error into a response.

use crate::core::json;
use chrono::{DateTime, Utc};
use worker::{Context, Env, Request, Response};

use crate::core::access::auth::{authenticate, Principal};
use crate::core::access::keys::{create_key, list_keys, revoke_key, NewKeyRequest};
use crate::core::access::projects::{delete_project, get_project, Project};
use crate::core::access::store::ProjectStore;
use crate::core::budgets::alerts::Mode;
use crate::core::budgets::settings::{
    create_project_with_budget, parse_new_project, parse_project_patch, patch_project,
    BudgetSettings, BudgetView,
};
use crate::core::budgets::usage_report::admin_usage;
use crate::core::kernel::clock::{Clock, SystemEntropy};
use crate::core::kernel::error::CoreError;
use crate::core::kernel::input::parse_json;
use crate::core::pricing::prices::{add_custom_prices, PriceView};
use crate::core::pricing::store::PriceStore;
use crate::core::reports::jobs::{job_cost_summary, list_jobs, month_stats};
use crate::core::reports::report::{realtime_usage, usage_stats, usage_summary, ReportOutput};

use super::bindings::{AppState, ASSETS};
use super::http::{
    csv_response, empty_response, error_response, json_response, query_pairs, read_json_body,
    read_json_body_up_to, MAX_IMPORT_BYTES,
};
use super::routes::{match_route, Access, RouteMiss, RouteName, ROUTES};

/// The platform clock: `Date.now()` of the Workers runtime.
pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> DateTime<Utc> {
        let millis = worker::Date::now().as_millis() as i64;
        DateTime::from_timestamp_millis(millis).unwrap_or_default()
    }
}

/// The answer of `POST /api/admin/projects` and `PATCH /api/admin/projects/{id}` when budget
/// settings came with the project's fields.
#[derive(serde::Serialize)]
struct ProjectWithSettings<'a> {
    #[serde(flatten)]
    project: &'a Project,
    budget_settings: BudgetView,
}

/// A project, with the budget settings given with it as `GET .../budget` shows them.
fn project_answer(
    status: u16,
    project: &Project,
    settings: Option<BudgetSettings>,
) -> Result<Response, CoreError> {
    match settings {
        Some(settings) => ok(
            status,
            &ProjectWithSettings {
                project,
                budget_settings: BudgetView::new(&settings),
            },
        ),
        None => ok(status, project),
    }
}

/// Dashboard paths the seed teams used; all serve the dashboard's page.
const DASHBOARD_PATHS: &[&str] = &["/api-usage", "/admin/usage"];

pub async fn handle(mut request: Request, env: Env, ctx: &Context) -> worker::Result<Response> {
    let origin = request.headers().get("origin").ok().flatten();
    let cors = AppState::cors(&env);
    if request.method() == worker::Method::Options {
        return cors.preflight(origin.as_deref());
    }
    let path = super::http::request_path(&request);
    let mut response = if DASHBOARD_PATHS.contains(&path.trim_end_matches('/')) {
        serve_dashboard(&env).await
    } else {
        match route(&mut request, &env, &path, ctx).await {
            Ok(response) => Ok(response),
            // As the route table, with or without a trailing slash.
            Err(error) if path.trim_end_matches('/') == super::otlp::TRACES_PATH => {
                super::otlp::error_response(&error, &request)
            }
            Err(error) => error_response(&error),
        }
    }?;
    cors.apply(origin.as_deref(), &mut response)?;
    if request.inner().method() == "HEAD" {
        // A HEAD answer is the GET's status and headers without its body.
        let headers = response.headers().clone();
        let status = response.status_code();
        return Ok(Response::empty()?.with_status(status).with_headers(headers));
    }
    Ok(response)
}

/// The `/*` rule of `public/_headers`: the headers static assets are served with (the page's
/// CSP with `frame-ancestors 'none'`, `X-Frame-Options`, ...). The dashboard paths the worker
/// serves itself send the same, read from the same file so the two cannot drift apart.
const ASSET_HEADERS_FILE: &str = include_str!("../../public/_headers");

/// The `(name, value)` pairs under the `/*` rule of a `_headers` file: indented `Name: value`
/// lines after a line `/*`, up to the next unindented line; comments and blanks skipped.
fn headers_for_every_path(file: &str) -> Vec<(&str, &str)> {
    let mut in_rule = false;
    let mut out = Vec::new();
    for line in file.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            in_rule = trimmed == "/*";
        } else if in_rule {
            if let Some((name, value)) = trimmed.split_once(':') {
                out.push((name.trim(), value.trim()));
            }
        }
    }
    out
}

async fn serve_dashboard(env: &Env) -> worker::Result<Response> {
    let Ok(assets) = env.assets(ASSETS) else {
        return error_response(&CoreError::NotFound("dashboard".into()));
    };
    // The assets response has immutable headers; copy it so CORS headers can be added.
    let mut page = assets.fetch("https://assets.local/", None).await?;
    let body = page.bytes().await?;
    let headers = worker::Headers::new();
    for (name, value) in headers_for_every_path(ASSET_HEADERS_FILE) {
        headers.set(name, value)?;
    }
    headers.set("content-type", "text/html; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_bytes(body)?
        .with_status(page.status_code())
        .with_headers(headers))
}

async fn route(
    request: &mut Request,
    env: &Env,
    path: &str,
    ctx: &Context,
) -> Result<Response, CoreError> {
    // The method as sent: `worker::Method` reads every method it has no name for (QUERY,
    // PURGE) as GET, which would serve them as reads instead of a 405.
    let method = request.inner().method();
    let matched = match_route(&method, path).map_err(|miss| match miss {
        RouteMiss::NotFound => CoreError::NotFound(format!("route `{path}`")),
        RouteMiss::MethodNotAllowed(allowed) => CoreError::MethodNotAllowed {
            method: method.clone(),
            path: path.to_string(),
            allowed: allowed.into_iter().map(String::from).collect(),
        },
    })?;
    let def = ROUTES[matched.def_index];
    match def.name {
        RouteName::Healthz => {
            return ok(
                200,
                &json!({ "status": "ok", "service": "ai-spend-tracker" }),
            )
        }
        RouteName::OpenApi => return super::openapi::serve(env).await,
        _ => {}
    }
    let state = AppState::load(env)?;
    let header = request.headers().get("authorization").ok().flatten();
    let principal = match def.access {
        Access::Public => None,
        Access::Admin | Access::AnyKey => Some(
            authenticate(
                header.as_deref(),
                state.admin_key.as_deref(),
                &super::cache::Cached(&state.store),
            )
            .await?,
        ),
    };
    if def.access == Access::Admin {
        principal
            .as_ref()
            .map(Principal::require_admin)
            .transpose()?;
    }
    let params = &matched.params;
    let param = |i: usize| params.get(i).map(String::as_str).unwrap_or_default();
    let store = &state.store;
    let clock = WorkerClock;
    // Each route's handler is its own boxed future: its code is a function of its own, so a
    // fresh isolate compiles only the handler its first request runs, not one state machine
    // holding every route (the first request after a start, BENCHMARKS.md).
    let handler: Handler<'_> = match def.name {
        RouteName::Healthz | RouteName::OpenApi => {
            Box::pin(async move { Err(CoreError::NotFound(path.to_string())) })
        }
        RouteName::ListProjects => Box::pin(async move {
            let projects = store.list_projects().await?;
            ok(200, &json!({ "projects": projects }))
        }),
        RouteName::CreateProject => Box::pin(async move {
            let body = read_json_body(request).await?;
            let new = parse_new_project(&body)?;
            let (project, settings) =
                create_project_with_budget(store, &clock, &SystemEntropy, new).await?;
            project_answer(201, &project, settings)
        }),
        RouteName::GetProject => {
            Box::pin(async move { ok(200, &get_project(store, param(0)).await?) })
        }
        RouteName::UpdateProject => Box::pin(async move {
            let body = read_json_body(request).await?;
            let patch = parse_project_patch(&body)?;
            let (project, settings) =
                patch_project(store, &clock, &SystemEntropy, param(0), patch).await?;
            super::watch::forget(&project.id);
            project_answer(200, &project, settings)
        }),
        RouteName::DeleteProject => Box::pin(async move {
            super::cache::forget_keys();
            delete_project(store, param(0)).await?;
            super::cache::forget_keys();
            empty_response(204).map_err(internal)
        }),
        RouteName::ListKeys => Box::pin(async move {
            let keys = list_keys(store, store, param(0)).await?;
            ok(200, &json!({ "keys": keys }))
        }),
        RouteName::CreateKey => Box::pin(async move {
            let body = read_json_body(request).await?;
            let new: NewKeyRequest = if body.is_empty() {
                NewKeyRequest::default()
            } else {
                parse_json(&body)?
            };
            let created = create_key(store, store, &clock, &SystemEntropy, param(0), new).await?;
            ok(201, &created)
        }),
        RouteName::RevokeKey => Box::pin(async move {
            super::cache::forget_keys();
            revoke_key(store, store, &clock, param(0), param(1)).await?;
            super::cache::forget_keys();
            empty_response(204).map_err(internal)
        }),
        RouteName::ListPrices => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            super::prices::list_prices(store, &clock, principal, &query_pairs(request)).await
        }),
        RouteName::QuotePrice => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            let body = read_json_body(request).await?;
            super::prices::quote_price(store, &clock, principal, &body).await
        }),
        RouteName::ListCustomPrices => Box::pin(async move {
            let entries = store.list_custom_prices().await?;
            let views: Vec<PriceView> = entries.iter().map(PriceView::from).collect();
            ok(200, &json!({ "prices": views }))
        }),
        RouteName::AddCustomPrices => Box::pin(async move {
            let body = read_json_body(request).await?;
            super::cache::forget_prices();
            let added = add_custom_prices(store, store, parse_json(&body)?).await?;
            super::cache::forget_prices();
            let views: Vec<PriceView> = added.iter().map(PriceView::from).collect();
            ok(201, &json!({ "prices": views }))
        }),
        RouteName::DeleteCustomPrice => Box::pin(async move {
            let deleted = store.delete_price(param(0)).await?;
            super::cache::forget_prices();
            if deleted {
                empty_response(204).map_err(internal)
            } else {
                Err(CoreError::NotFound(format!("custom price `{}`", param(0))))
            }
        }),
        RouteName::RecordUsage => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            let body = read_json_body(request).await?;
            super::usage::record(store, env, ctx, &clock, principal, &body).await
        }),
        RouteName::OtlpTraces => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            super::otlp::traces(store, env, ctx, &clock, principal, request).await
        }),
        RouteName::Guard => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            let body = read_json_body(request).await?;
            let answer = crate::core::guard::guard(
                store,
                &super::cache::Cached(store),
                &clock,
                &crate::core::kernel::clock::SystemEntropy,
                principal,
                &body,
            )
            .await?;
            ok(200, &answer)
        }),
        RouteName::GuardStatus => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            let query = query_pairs(request);
            crate::core::kernel::query::only_known(&query, &["project_id"])?;
            let project = crate::core::access::projects::project_param(&query)?;
            let answer =
                crate::core::guard::status(store, &clock, principal, project.as_ref()).await?;
            ok(200, &answer)
        }),
        RouteName::ReleaseReservation => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            let query = query_pairs(request);
            crate::core::kernel::query::only_known(&query, &["project_id"])?;
            let project = crate::core::access::projects::project_param(&query)?;
            let answer =
                crate::core::guard::release(store, &clock, principal, project.as_ref(), param(0))
                    .await?;
            ok(200, &answer)
        }),
        RouteName::ListUsage => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            super::usage::list(store, principal, &query_pairs(request)).await
        }),
        RouteName::AdminUsage => Box::pin(async move {
            let query = query_pairs(request);
            match admin_usage(store, clock.now(), &query).await? {
                ReportOutput::Json(value) => ok(200, &value),
                ReportOutput::Csv(text) => csv_response(text, "usage.csv").map_err(internal),
            }
        }),
        RouteName::UsageStats => Box::pin(async move {
            let principal = principal.as_ref().ok_or_else(unauthenticated)?;
            let query = query_pairs(request);
            let project = principal
                .scope_to(crate::core::access::projects::project_param(&query)?.as_ref())?;
            if let Some(id) = project.as_ref().filter(|_| *principal == Principal::Admin) {
                crate::core::access::projects::get_project(store, id.as_str()).await?;
            }
            let mut stats = usage_stats(store, clock.now(), project.as_ref(), &query).await?;
            // Who asked: the dashboard's sign-in tells the admin key from a project key by it,
            // whether or not the question named a project.
            stats["principal"] = json!(match principal {
                Principal::Admin => "admin",
                _ => "project",
            });
            if let Some(project) = &project {
                // So an app can hold back before a limit, with its own key.
                stats["budget"] =
                    super::budgets::budget_status(store, env, &clock, project).await?;
            }
            ok(200, &stats)
        }),
        RouteName::AdminStats => Box::pin(async move {
            let projects = store.list_projects().await?;
            let query = query_pairs(request);
            ok(
                200,
                &month_stats(store, store, &projects, clock.now(), &query).await?,
            )
        }),
        RouteName::UsageSummary => Box::pin(async move {
            ok(
                200,
                &usage_summary(store, clock.now(), &query_pairs(request)).await?,
            )
        }),
        RouteName::RealtimeUsage => Box::pin(async move {
            let query = query_pairs(request);
            crate::core::kernel::query::only_known(&query, &["project_id"])?;
            let project = crate::core::access::projects::project_param(&query)?;
            ok(
                200,
                &realtime_usage(store, clock.now(), project.as_ref()).await?,
            )
        }),
        RouteName::RunScheduled => {
            // One instant for the whole run, as a Cron Trigger's slot is (`edge::scheduled`).
            let at = crate::core::kernel::clock::FixedClock(WorkerClock.now());
            Box::pin(async move { ok(200, &super::cron::run(env, &at).await) })
        }
        RouteName::GetBudget => {
            Box::pin(async move { super::budgets::get(store, env, &clock, param(0)).await })
        }
        RouteName::PatchBudget => Box::pin(async move {
            let body = read_json_body(request).await?;
            super::budgets::patch(store, env, &clock, param(0), &body).await
        }),
        RouteName::ReportPreview => Box::pin(async move {
            let query = query_pairs(request);
            super::budgets::report_preview(store, env, &clock, param(0), &query).await
        }),
        RouteName::SendReport => Box::pin(async move {
            let query = query_pairs(request);
            super::budgets::send_report(store, env, &clock, param(0), &query).await
        }),
        RouteName::CheckBudgetsDryRun => Box::pin(async move {
            let query = query_pairs(request);
            super::budgets::check(store, env, &clock, &query, Mode::DryRun).await
        }),
        RouteName::CheckBudgets => Box::pin(async move {
            let query = query_pairs(request);
            super::budgets::check(store, env, &clock, &query, Mode::Send).await
        }),
        RouteName::ListPlans => Box::pin(async move {
            let query = query_pairs(request);
            super::plans::list(store, &clock, &query).await
        }),
        RouteName::PutPlan => Box::pin(async move {
            let body = read_json_body(request).await?;
            super::plans::put(store, &clock, &body).await
        }),
        RouteName::DeletePlan => {
            Box::pin(
                async move { super::plans::delete(store, &clock, &query_pairs(request)).await },
            )
        }
        RouteName::Capacity => Box::pin(async move {
            super::plans::get_capacity(store, &clock, &query_pairs(request)).await
        }),
        RouteName::PutProfile => Box::pin(async move {
            let body = read_json_body(request).await?;
            super::plans::put_profile(store, &clock, &body).await
        }),
        RouteName::DeleteProfile => {
            Box::pin(
                async move { super::plans::delete_profile(store, &query_pairs(request)).await },
            )
        }
        RouteName::Alerts => {
            Box::pin(async move { super::budgets::alerts(store, &query_pairs(request)).await })
        }
        RouteName::Jobs => Box::pin(async move {
            ok(
                200,
                &list_jobs(store, clock.now(), &query_pairs(request)).await?,
            )
        }),
        RouteName::JobSummary => Box::pin(async move {
            ok(
                200,
                &job_cost_summary(store, clock.now(), &query_pairs(request)).await?,
            )
        }),
        RouteName::UnpricedModels => {
            Box::pin(async move { super::usage::unpriced(store, &query_pairs(request)).await })
        }
        RouteName::Reprice => Box::pin(async move {
            let body = read_json_body(request).await?;
            super::usage::reprice_usage(store, env, &clock, &body).await
        }),
        RouteName::Rebuild => Box::pin(async move {
            let body = read_json_body(request).await?;
            super::usage::rebuild_from_log(store, env, &body).await
        }),
        RouteName::Retention => {
            Box::pin(async move { super::usage::retention(store, env, &clock).await })
        }
        RouteName::Prune => {
            Box::pin(async move { super::usage::prune_now(store, env, &clock).await })
        }
        RouteName::ImportPrices => Box::pin(async move {
            let query = query_pairs(request);
            let body = read_json_body_up_to(request, MAX_IMPORT_BYTES).await?;
            let answer = super::prices::import_prices(store, &clock, &query, &body).await;
            super::cache::forget_prices();
            answer
        }),
    };
    handler.await
}

/// A route's handler, boxed (see `route`).
type Handler<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, CoreError>> + 'a>>;

fn unauthenticated() -> CoreError {
    CoreError::Unauthenticated("this route needs a key".into())
}

pub(super) fn ok<T: serde::Serialize>(status: u16, value: &T) -> Result<Response, CoreError> {
    json_response(status, value).map_err(internal)
}

pub(super) fn internal(error: worker::Error) -> CoreError {
    CoreError::Misconfigured(format!("building a response failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_served_dashboard_paths_carry_the_frame_and_csp_headers_of_public_headers() {
        let headers = headers_for_every_path(ASSET_HEADERS_FILE);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        assert_eq!(get("X-Frame-Options"), Some("DENY"));
        assert_eq!(get("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(get("Referrer-Policy"), Some("no-referrer"));
        let csp = get("Content-Security-Policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
    }

    #[test]
    fn only_the_every_path_rule_of_a_headers_file_is_read() {
        let file = "# a comment\n/assets/*\n  Cache-Control: immutable\n/*\n  X-Frame-Options: DENY\n\n  A: b: c\n/other\n  X-Other: 1\n";
        assert_eq!(
            headers_for_every_path(file),
            vec![("X-Frame-Options", "DENY"), ("A", "b: c")]
        );
    }
}
