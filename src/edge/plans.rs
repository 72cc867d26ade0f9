//! Handlers of the subscription and capacity routes.

use crate::core::json;
use worker::Response;

use crate::core::access::projects::project_param;
use crate::core::access::projects::ProjectId;
use crate::core::guard::capacity_now;
use crate::core::kernel::clock::Clock;
use crate::core::kernel::error::CoreError;
use crate::core::kernel::input::parse_json;
use crate::core::kernel::query::{only_known, param, QueryPairs};
use crate::core::plans::store::PlanStore;
use crate::core::plans::{
    known_providers, remove_profile, subscriptions_report, subscriptions_report_at, PlanInput,
    ProfileInput, Unit,
};
use crate::core::pricing::catalog::canonical_provider;

use super::d1::D1Store;
use super::http::empty_response;
use super::router::{internal, ok};

/// `GET /api/admin/subscriptions[?at=<timestamp>]`: the plans as of now, or as of a past
/// instant (the period that held it, and that month's cost: the seed teams' month picker).
pub async fn list(
    store: &D1Store,
    clock: &impl Clock,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    only_known(query, &["at"])?;
    let now = clock.now();
    let report = match param(query, "at") {
        Some(text) => {
            let at = crate::core::kernel::clock::parse_timestamp(text)
                .map_err(|m| CoreError::invalid("at", m))?;
            if at > now {
                return Err(CoreError::invalid("at", "must not be in the future"));
            }
            subscriptions_report_at(store, store, at).await?
        }
        None => subscriptions_report(store, store, now).await?,
    };
    ok(200, &report)
}

/// `PUT /api/admin/subscriptions`: creates or replaces the plan of a provider (and project).
pub async fn put(store: &D1Store, clock: &impl Clock, body: &[u8]) -> Result<Response, CoreError> {
    let plan = parse_json::<PlanInput>(body)?.validate()?;
    let now = clock.now();
    if plan.since.is_some_and(|since| since > now.date_naive()) {
        return Err(CoreError::invalid("since", "must not be after today (UTC)"));
    }
    store.save_plan(&plan, now).await?;
    super::watch::forget_all();
    let report = subscriptions_report(store, store, now).await?;
    let saved = report["subscriptions"]
        .as_array()
        .and_then(|list| {
            list.iter().find(|s| {
                s["provider"] == plan.provider.as_str()
                    && s["project_id"].as_str() == plan.project_id.as_deref()
                    && s["unit"].as_str() == Some(plan.unit.name().as_str())
            })
        })
        .cloned()
        .unwrap_or_default();
    ok(200, &saved)
}

/// `DELETE /api/admin/subscriptions?provider=&project_id=&unit=`: the plan in `unit`, or
/// every plan of the provider in that scope.
pub async fn delete(
    store: &D1Store,
    clock: &impl Clock,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    only_known(query, &["provider", "project_id", "unit"])?;
    let unit = match param(query, "unit") {
        Some(text) => Some(
            Unit::parse(text.trim())
                .ok_or_else(|| CoreError::invalid("unit", format!("`{text}` is not a plan unit")))?
                .name(),
        ),
        None => None,
    };
    let provider = param(query, "provider")
        .map(|p| canonical_provider(&p.trim().to_ascii_lowercase()))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| CoreError::invalid("provider", "is required"))?;
    let project = project_param(query)?;
    let project = project.as_ref().map(ProjectId::as_str).unwrap_or("");
    if store
        .delete_plan(&provider, project, unit.as_deref(), clock.now())
        .await?
    {
        super::watch::forget_all();
        empty_response(204).map_err(internal)
    } else {
        Err(CoreError::NotFound(format!("plan of `{provider}`")))
    }
}

/// `GET /api/admin/capacity[?project_id=]`: every profile's capacity as of now, or those
/// that concern one project (its own and the global ones; 404 for an unknown project). Capacity looks ahead from now, so
/// it has no `at` (an unknown parameter is refused rather than ignored).
pub async fn get_capacity(
    store: &D1Store,
    clock: &impl Clock,
    query: &QueryPairs,
) -> Result<Response, CoreError> {
    only_known(query, &["project_id"])?;
    let project = project_param(query)?;
    // A project that does not exist is a 404, as its budget check is, rather than the global
    // profiles counted as its work.
    if let Some(p) = &project {
        crate::core::access::projects::get_project(store, p.as_str()).await?;
    }
    let profiles =
        capacity_now(store, clock.now(), project.as_ref().map(ProjectId::as_str)).await?;
    ok(200, &json!({ "profiles": profiles }))
}

/// `PUT /api/admin/capacity/profiles`.
pub async fn put_profile(
    store: &D1Store,
    clock: &impl Clock,
    body: &[u8],
) -> Result<Response, CoreError> {
    let input: ProfileInput = parse_json(body)?;
    let known = known_providers(&store.plans().await?);
    let profile = input.validate(&known)?;
    store.save_profile(&profile).await?;
    super::watch::forget_all();
    let all = capacity_now(store, clock.now(), None).await?;
    let saved = all
        .into_iter()
        .find(|p| p.name == profile.name && p.project_id == profile.project_id);
    ok(200, &saved)
}

/// `DELETE /api/admin/capacity/profiles?name=[&project_id=]`.
pub async fn delete_profile(store: &D1Store, query: &QueryPairs) -> Result<Response, CoreError> {
    only_known(query, &["name", "project_id"])?;
    let name = param(query, "name").ok_or_else(|| CoreError::invalid("name", "is required"))?;
    let project = project_param(query)?;
    remove_profile(store, name, project.as_ref().map(ProjectId::as_str)).await?;
    super::watch::forget_all();
    empty_response(204).map_err(internal)
}
