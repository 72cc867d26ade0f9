//! Capacity: how many more units of work fit in what is left of every plan, and which provider runs out first.

use super::*;

/// One provider's share of a profile's capacity.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderCapacity {
    pub provider: String,
    pub per_unit: String,
    pub unit: String,
    pub available: Option<String>,
    pub units_left: Option<i64>,
    pub days_left: Option<i64>,
    pub daily_rate: Option<String>,
    pub note: Option<String>,
}

/// The capacity left for one profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileCapacity {
    pub name: String,
    pub project_id: Option<String>,
    pub learned: bool,
    pub items: Vec<ProfileItem>,
    pub units_left: Option<i64>,
    pub bottleneck: Option<String>,
    pub recommended_daily: Option<String>,
    pub alert_below: Option<u32>,
    pub per_provider: Vec<ProviderCapacity>,
    pub note: Option<String>,
}

/// Whether `plan` counts the usage of work done for `project`: a global plan always, a
/// project's plan for that project only (work of no one project, a global profile in the
/// report of every project, is counted against global plans).
fn covers(plan: &Plan, project: Option<&str>) -> bool {
    plan.project_id.is_none() || plan.project_id.as_deref() == project
}

/// Learns a profile's items: per provider and unit of a plan that covers the profile, its
/// use (in the plan's unit, each model at its own rate) by calls of the profile's operations
/// over the window, divided by the jobs with those operations. A provider with plans of the
/// project and global ones in one unit gets one item, measured as the project's plan counts.
pub async fn learned_items(
    profile: &Profile,
    spec: &LearnSpec,
    states: &[PlanState],
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<(Vec<ProfileItem>, i64), CoreError> {
    let from = now - Duration::days(i64::from(spec.days));
    let since = crate::kernel::clock::format_timestamp(from);
    let jobs = plans
        .jobs_with_operations(&spec.operations, &since, profile.project_id.as_deref())
        .await?;
    if jobs == 0 {
        return Ok((Vec::new(), 0));
    }
    // One read of the window's usage by provider and operation, shared by every plan.
    let mut window = reports
        .rollups(&RollupQuery {
            from: Some(from.date_naive().to_string()),
            to: Some((now.date_naive() + Duration::days(1)).to_string()),
            project_id: profile
                .project_id
                .as_deref()
                .and_then(|p| ProjectId::parse(p).ok()),
            // By model too: an ElevenLabs credits plan counts each model's characters at
            // its own rate, as the plan's state does.
            dims: vec![Dim::Provider, Dim::Model, Dim::Operation],
            ..RollupQuery::default()
        })
        .await?;
    if !spec.operations.is_empty() {
        window.retain(|r| {
            r.operation
                .as_deref()
                .is_some_and(|o| spec.operations.iter().any(|x| x == o))
        });
    }
    let mut items: Vec<ProfileItem> = Vec::new();
    // The project's own plans first, so that theirs is the measure of a provider's unit.
    let covering = states
        .iter()
        .filter(|s| s.plan.project_id.is_some() && covers(&s.plan, profile.project_id.as_deref()))
        .chain(states.iter().filter(|s| s.plan.project_id.is_none()));
    for state in covering {
        let plan = &state.plan;
        if items
            .iter()
            .any(|i| i.provider == plan.provider && i.unit == plan.unit)
        {
            continue;
        }
        let rows: Vec<RollupRow> = window
            .iter()
            .filter(|r| r.provider.as_deref() == Some(plan.provider.as_str()))
            .cloned()
            .collect();
        let used = measure_of(plan, &rows);
        if used > 0 {
            items.push(ProfileItem {
                provider: plan.provider.clone(),
                amount: plan.show(div_round_half_even(used, i128::from(jobs))),
                unit: plan.unit,
            });
        }
    }
    Ok((items, jobs))
}

/// `GET /api/admin/capacity`: per profile, how many more units of work fit in what is left of
/// every plan, the bottleneck, and the daily rate that lasts until each reset.
pub async fn capacity(
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Vec<ProfileCapacity>, CoreError> {
    let states = plan_states(plans, reports, now).await?;
    capacity_in(&states, plans, reports, now, None).await
}

/// [`capacity`] from plan states already read.
pub async fn capacity_of(
    states: &[PlanState],
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Vec<ProfileCapacity>, CoreError> {
    capacity_in(states, plans, reports, now, None).await
}

/// [`capacity_of`] for the profiles that concern one project (its own and the global ones),
/// or every profile when `project` is `None`.
pub async fn capacity_in(
    states: &[PlanState],
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
    project: Option<&str>,
) -> Result<Vec<ProfileCapacity>, CoreError> {
    let mut out = Vec::new();
    for (profile, items, learned_from) in profiles_in(states, plans, reports, now, project).await? {
        // A global profile in one project's report counts as that project's work would.
        let scope = profile.project_id.as_deref().or(project);
        out.push(profile_capacity(
            &profile,
            items,
            learned_from,
            states,
            scope,
        ));
    }
    Ok(out)
}

/// The profiles that concern `project` (every one when `None`), each with its items (read
/// from past jobs when it learns them) and how many jobs they were learned from.
pub async fn profiles_in(
    states: &[PlanState],
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
    project: Option<&str>,
) -> Result<Vec<(Profile, Vec<ProfileItem>, Option<i64>)>, CoreError> {
    let mut out = Vec::new();
    for profile in plans.profiles().await? {
        let concerns = match (project, profile.project_id.as_deref()) {
            (Some(wanted), Some(own)) => wanted == own,
            _ => true,
        };
        if !concerns {
            continue;
        }
        let (items, learned_from) = match &profile.learn {
            Some(spec) => {
                let (items, jobs) =
                    learned_items(&profile, spec, states, plans, reports, now).await?;
                (items, Some(jobs))
            }
            None => (profile.items.clone(), None),
        };
        out.push((profile, items, learned_from));
    }
    Ok(out)
}

/// One profile's capacity in what is left of `states`, for work of `scope` (the profile's
/// project, or a project asking about a global profile): per provider, how many more units
/// of work fit, the bottleneck and the pace that lasts until each reset.
pub fn profile_capacity(
    profile: &Profile,
    items: Vec<ProfileItem>,
    learned_from: Option<i64>,
    states: &[PlanState],
    scope: Option<&str>,
) -> ProfileCapacity {
    let mut per_provider = Vec::new();
    for item in &items {
        // The provider's plans that cover the work (the project's and the global ones), as
        // the guard counts them: a one-time credit expired or not started yet is no limit
        // (its provider is paid as used), and of those in the item's unit the one with the fewest units left
        // decides; else any, to say the units differ.
        let mut out_of_force = false;
        let mut covering: Vec<&PlanState> = Vec::new();
        for s in states {
            if s.plan.provider == item.provider && covers(&s.plan, scope) {
                out_of_force |= !s.in_force();
                if s.in_force() {
                    covering.push(s);
                }
            }
        }
        let fit = |s: &PlanState| {
            let per_unit = s.plan.scaled(&item.amount);
            match s.available() {
                Some(a) if per_unit > 0 => a / per_unit,
                _ => i128::MAX,
            }
        };
        let state = covering
            .iter()
            .filter(|s| s.plan.unit == item.unit)
            .min_by_key(|s| fit(s))
            .or_else(|| covering.first())
            .copied();
        let Some(state) = state else {
            per_provider.push(ProviderCapacity {
                provider: item.provider.clone(),
                per_unit: item.amount.clone(),
                unit: item.unit.name(),
                available: None,
                units_left: None,
                days_left: None,
                daily_rate: None,
                note: Some(if out_of_force {
                    "the one-time credit is not in force (expired, or not started): paid as used, not a limit".into()
                } else {
                    "no plan: pay as you go, not a limit".into()
                }),
            });
            continue;
        };
        let plan = &state.plan;
        if plan.unit != item.unit {
            per_provider.push(ProviderCapacity {
                provider: item.provider.clone(),
                per_unit: item.amount.clone(),
                unit: item.unit.name(),
                available: state.available().map(|a| plan.show(a)),
                units_left: None,
                days_left: Some(state.days_left),
                daily_rate: None,
                note: Some(format!(
                    "the plan counts {}, the profile {}",
                    plan.unit.name(),
                    item.unit.name()
                )),
            });
            continue;
        }
        let per_unit = plan.scaled(&item.amount);
        let available = state.available();
        let units = match (available, per_unit > 0) {
            (Some(a), true) => Some(i64::try_from(a / per_unit).unwrap_or(i64::MAX)),
            _ => None,
        };
        per_provider.push(ProviderCapacity {
            provider: item.provider.clone(),
            per_unit: item.amount.clone(),
            unit: plan.unit.name(),
            available: available.map(|a| plan.show(a)),
            units_left: units,
            days_left: Some(state.days_left),
            daily_rate: units.map(|u| {
                format_scaled(
                    div_round_half_even(i128::from(u) * 100, i128::from(state.days_left.max(1))),
                    2,
                    2,
                )
            }),
            note: state
                .allotment
                .is_none()
                .then(|| "the plan has no allotment".into()),
        });
    }
    let limiting = per_provider
        .iter()
        .filter(|p| p.units_left.is_some())
        .min_by_key(|p| p.units_left);
    let recommended = per_provider
        .iter()
        .filter_map(|p| {
            p.daily_rate
                .as_ref()
                .and_then(|r| Decimal::parse(r).ok()?.scaled_exact(2))
        })
        .min();
    ProfileCapacity {
        name: profile.name.clone(),
        project_id: profile.project_id.clone(),
        learned: profile.learn.is_some(),
        units_left: limiting.and_then(|p| p.units_left),
        bottleneck: limiting.map(|p| p.provider.clone()),
        recommended_daily: recommended.map(|r| format_scaled(r, 2, 2)),
        alert_below: profile.alert_below,
        items,
        per_provider,
        note: learned_from.map(|jobs| format!("learned from {jobs} past jobs")),
    }
}

/// `DELETE /api/admin/capacity/profiles`: deletes the profile `name` of `project`, or, with no
/// project, the global one. With no project and no global profile of that name, the one
/// project profile of that name is deleted when there is exactly one; when several projects
/// have one, the request must say which (a name alone never picks another tenant's profile
/// by chance).
pub async fn remove_profile(
    plans: &impl PlanStore,
    name: &str,
    project: Option<&str>,
) -> Result<(), CoreError> {
    if plans.delete_profile(name, project).await? {
        return Ok(());
    }
    if project.is_some() {
        return Err(CoreError::NotFound(format!(
            "profile `{name}` of that project"
        )));
    }
    let named: Vec<Profile> = plans
        .profiles()
        .await?
        .into_iter()
        .filter(|p| p.name == name)
        .collect();
    match named.as_slice() {
        [] => Err(CoreError::NotFound(format!("profile `{name}`"))),
        [only] => {
            if plans
                .delete_profile(name, only.project_id.as_deref())
                .await?
            {
                Ok(())
            } else {
                Err(CoreError::NotFound(format!("profile `{name}`")))
            }
        }
        _ => Err(CoreError::invalid(
            "project_id",
            format!("several projects have a profile named `{name}`: name the project"),
        )),
    }
}
