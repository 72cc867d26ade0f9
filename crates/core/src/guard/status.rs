//! `GET /api/usage/guard`: modes, reservations in flight, denials.

use super::*;

/// An amount held against a limit, as text in that limit's scale.
pub(super) fn held_text(limit: &str, amount: i128) -> String {
    let money =
        limit.starts_with("budget@") || limit.starts_with("daily@") || limit.contains(":money@");
    if money {
        format_scaled(amount, 9, 2)
    } else {
        format_scaled(amount, 6, 0)
    }
}

/// `GET /api/usage/guard`: the project's modes, its reservations in flight and its denials
/// today and this month (UTC).
pub async fn status(
    stores: &(impl BudgetStore + PlanStore + ReservationStore),
    clock: &impl Clock,
    principal: &Principal,
    project: Option<&ProjectId>,
) -> Result<Value, CoreError> {
    let project = principal
        .scope_to(project)?
        .ok_or_else(|| CoreError::invalid("project_id", "is required with the admin key"))?;
    let settings = stores
        .budget(&project)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("project `{project}`")))?;
    let plans: Vec<Value> = stores
        .plans()
        .await?
        .into_iter()
        .filter(|p| {
            p.project_id
                .as_deref()
                .is_none_or(|id| id == project.as_str())
        })
        .map(|p| {
            json!({"provider": p.provider, "unit": p.unit.name(), "project_id": p.project_id,
                   "mode": p.mode.as_str()})
        })
        .collect();
    let activity = stores.activity(&project, clock.now()).await?;
    Ok(json!({
        "project_id": project.as_str(),
        "modes": {
            "budget_mode": settings.budget_mode.as_str(),
            "daily_limit_mode": settings.daily_limit_mode.as_str(),
            "plans": plans,
        },
        "reservations": activity.reservations.iter().map(|r| json!({
            "id": r.id,
            "created_at": format_timestamp(r.created_at),
            "expires_at": format_timestamp(r.expires_at),
            "holds": r.holds.iter().map(|h| json!({"limit": h.limit, "amount": held_text(&h.limit, h.amount)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "denials": {
            "today": activity.denials_today,
            "month": activity.denials_month,
            "last_reason": activity.last_reason,
            "last_at": activity.last_at.map(format_timestamp),
        },
    }))
}

/// `GET /api/admin/capacity[?project_id=]`: the capacity report as the guard counts it, with
/// what open reservations hold against each plan already used (expired ones count for
/// nothing), so that the report never promises work the guard would deny.
pub async fn capacity_now(
    stores: &(impl PlanStore + ReportStore + ReservationStore),
    now: DateTime<Utc>,
    project: Option<&str>,
) -> Result<Vec<crate::plans::ProfileCapacity>, CoreError> {
    let mut states = plan_states(stores, stores, now).await?;
    let keys: Vec<String> = states.iter().map(|s| plan_key(&s.plan)).collect();
    let (_, held) = stores.holds(&keys, now).await?;
    for (state, key) in states.iter_mut().zip(&keys) {
        state.used += held_against(&held, key);
    }
    crate::plans::capacity_in(&states, stores, stores, now, project).await
}
