//! Plan and capacity checks: allotment levels, expiring credits, capacity floors and their recipients.

use super::*;

/// The scope under which plan alerts are claimed and logged.
pub const PLANS_SCOPE: &str = "plans";
/// A one-time credit with some of it unused is announced this many days before it expires.
pub const CREDIT_EXPIRY_NOTICE_DAYS: i64 = 7;

/// A provider or profile name as it stands in an alert's level, before `@<project>`: as it
/// is, unless it holds an `@` (or a `%`), which are written `%40` (and `%25`). A level is the
/// key an alert is claimed and logged under, and plan alerts of every project share one scope
/// ([`PLANS_SCOPE`]): without this a global profile named `clip@ads` and project `ads`'s
/// profile `clip` would both be `capacity-clip@ads`, and the alert of whichever came second
/// would be taken as already sent.
pub fn level_part(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains(['@', '%']) {
        std::borrow::Cow::Owned(name.replace('%', "%25").replace('@', "%40"))
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Allotment alerts (a plan past its alert percent) and capacity alerts (a profile with fewer
/// units of work left than its alert level), sent to the plan's addresses (and, for a plan or
/// profile of a project, to that project's Slack and Discord).
pub(super) async fn plan_checks(
    reports: &impl ReportStore,
    plans: &impl PlanStore,
    config: &AlertConfig,
    chats: &LiteMap<String, ChatUrls>,
    now: DateTime<Utc>,
    scope: Option<&ProjectId>,
) -> Result<Vec<(PlanCheck, Option<Outgoing>)>, CoreError> {
    // A plan or profile of a project alerts that project's chat channels too; a global one
    // has none.
    let no_chat = ChatUrls::default();
    let chat_of = |project: Option<&str>| project.and_then(|p| chats.get(p)).unwrap_or(&no_chat);
    // A project's check looks at the plans and profiles that count its usage: its own and
    // the global ones.
    let scope = scope.map(ProjectId::as_str);
    let mut states = plan_states(plans, reports, now).await?;
    if let Some(project) = scope {
        states.retain(|s| s.plan.project_id.as_deref().is_none_or(|p| p == project));
    }
    // Money as the dashboard rounds it; other units exactly.
    let show = |state: &crate::plans::PlanState, value: i128| {
        if state.plan.unit == crate::plans::Unit::Money {
            crate::kernel::money::rounded_amount(value)
        } else {
            state.plan.show(value)
        }
    };
    let mut due: Vec<DueAlert> = Vec::new();
    for state in states.iter().filter(|s| s.in_force()) {
        let plan = &state.plan;
        let (Some(limit), Some(percent)) = (allotment_level_due(state), state.percent_used())
        else {
            continue;
        };
        {
            let unit = state
                .allotment
                .map(|_| plan.unit.name())
                .unwrap_or_default();
            let message = format!(
                "The {} plan has used {percent}% of its allotment ({} of {} {unit}); {} left before it {} on {}.",
                plan.provider,
                show(state, state.used),
                state.allotment.map(|a| show(state, a)).unwrap_or_default(),
                state.remaining().map(|r| show(state, r)).unwrap_or_default(),
                state.end_word(),
                state.end
            );
            due.push((
                plan.provider.clone(),
                plan.project_id.clone(),
                format!(
                    "plan-{}{}-{}-{limit}",
                    level_part(&plan.provider),
                    plan.project_id
                        .as_deref()
                        .map(|p| format!("@{p}"))
                        .unwrap_or_default(),
                    plan.unit.name()
                ),
                message,
                config.recipients(&plan.alert_emails).to_vec(),
            ));
        }
    }
    // A one-time credit about to expire with some of it unused: use it or lose it.
    for state in states
        .iter()
        .filter(|s| s.in_force() && s.plan.term.is_some())
    {
        let plan = &state.plan;
        let unused = state.remaining().unwrap_or(0);
        if state.days_left > CREDIT_EXPIRY_NOTICE_DAYS
            || unused <= 0
            || (config.recipients(&plan.alert_emails).is_empty()
                && chat_of(plan.project_id.as_deref()).is_empty())
        {
            continue;
        }
        let unit = if plan.unit == crate::plans::Unit::Money {
            plan.currency.clone()
        } else {
            plan.unit.name()
        };
        due.push((
            plan.provider.clone(),
            plan.project_id.clone(),
            format!(
                "credit-expiry-{}{}-{}",
                level_part(&plan.provider),
                plan.project_id.as_deref().map(|p| format!("@{p}")).unwrap_or_default(),
                plan.unit.name()
            ),
            format!(
                "The {} one-time credit expires on {} (in {} days) with {} of {} {unit} unused; usage after that is paid at list price.",
                plan.provider,
                state.end,
                state.days_left,
                show(state, unused),
                state.allotment.map(|a| show(state, a)).unwrap_or_default(),
            ),
            config.recipients(&plan.alert_emails).to_vec(),
        ));
    }
    for profile in capacity_in(&states, plans, reports, now, scope).await? {
        let Some((below, left)) = capacity_floor_due(&profile) else {
            continue;
        };
        {
            let bottleneck = profile.bottleneck.clone().unwrap_or_default();
            let emails = capacity_recipients(&states, &profile, &bottleneck);
            let emails = config.recipients(emails).to_vec();
            due.push((
                bottleneck.clone(),
                profile.project_id.clone(),
                format!(
                    "capacity-{}{}",
                    level_part(&profile.name),
                    profile
                        .project_id
                        .as_deref()
                        .map(|p| format!("@{p}"))
                        .unwrap_or_default()
                ),
                format!(
                    "Only {left} more \"{}\" fit in what is left of the plans (alert below {below}); {bottleneck} runs out first. Recommended pace: {} a day.",
                    profile.name,
                    profile.recommended_daily.clone().unwrap_or_else(|| "0".into())
                ),
                emails,
            ));
        }
    }
    let mut out = Vec::with_capacity(due.len());
    for (provider, project_id, level, message, emails) in due {
        let mut check = PlanCheck {
            provider,
            project_id,
            level: level.clone(),
            message: message.clone(),
            action: "none".into(),
            alerts: Vec::new(),
        };
        let chat = chat_of(check.project_id.as_deref());
        if emails.is_empty() && chat.is_empty() {
            check.action = "no_recipients".into();
            out.push((check, None));
            continue;
        }
        // A project's plan or profile names its project and links to its dashboard; a
        // global one links to the dashboard of every project.
        let project = check.project_id.as_deref();
        let link = dashboard_link(config, project.unwrap_or_default());
        let alert = RenderedAlert {
            subject: format!("[AI spend] {}", message.split(';').next().unwrap_or(&message)),
            text: format!("{}{message}\n{}\n", project.map(|p| format!("Project: {p}\n")).unwrap_or_default(), link.as_ref().map(|l| format!("\nDashboard: {l}")).unwrap_or_default()),
            html: format!(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" /><title>Plan alert</title></head><body style=\"font-family:Arial,Helvetica,sans-serif\">{}<p>{}</p>{}</body></html>\n",
                project.map(|p| format!("<p>Project: {}</p>", escape_html(p))).unwrap_or_default(),
                escape_html(&message),
                link.as_ref().map(|l| format!("<p><a href=\"{}\">Open the dashboard</a></p>", escape_html(l))).unwrap_or_default()
            ),
        };
        let scope = check
            .project_id
            .clone()
            .unwrap_or_else(|| PLANS_SCOPE.into());
        let chat = chat_channels(chat, &plan_chat_message(&alert, &message, link));
        let item = Outgoing {
            // Plan alerts are claimed under one scope, whatever project they name.
            key: AlertKey::new(PLANS_SCOPE, level),
            log_scope: scope,
            alert,
            channels: emails.into_iter().map(Channel::Email).chain(chat).collect(),
            facts: LogFacts::default(),
            stamps: None,
        };
        out.push((check, Some(item)));
    }
    Ok(out)
}

/// The alert percent a plan has reached, when it has one and its use is at or past it.
pub fn allotment_level_due(state: &PlanState) -> Option<u16> {
    let limit = state.plan.alert_percent?;
    let allotment = state.allotment.filter(|a| *a > 0)?;
    // Hundredths of a percent, rounded as `percent_used` shows them.
    let hundredths = div_round_half_even(state.used.saturating_mul(10_000), allotment);
    (hundredths >= i128::from(limit) * 100).then_some(limit)
}

/// A profile's alert level and units left, when fewer units than its level fit.
pub fn capacity_floor_due(profile: &ProfileCapacity) -> Option<(u32, i64)> {
    let (below, left) = (profile.alert_below?, profile.units_left?);
    (left < i64::from(below)).then_some((below, left))
}

/// The addresses a capacity alert goes to: those of the bottleneck provider's plan of the
/// profile's own project, else of that provider's global plan; never another project's plan.
/// Among several plans of one scope (one per unit), the one in the bottleneck's unit wins.
pub(super) fn capacity_recipients<'a>(
    states: &'a [PlanState],
    profile: &ProfileCapacity,
    bottleneck: &str,
) -> &'a [String] {
    let unit = profile
        .per_provider
        .iter()
        .find(|p| p.provider == bottleneck && p.units_left.is_some())
        .map(|p| p.unit.as_str());
    let of_scope = |scope: Option<&str>| -> Option<&'a PlanState> {
        let mut plans = states
            .iter()
            .filter(|s| s.plan.provider == bottleneck && s.plan.project_id.as_deref() == scope);
        let first = plans.clone().next();
        plans
            .find(|s| Some(s.plan.unit.name().as_str()) == unit)
            .or(first)
    };
    profile
        .project_id
        .as_deref()
        .and_then(|p| of_scope(Some(p)))
        .or_else(|| of_scope(None))
        .map(|s| s.plan.alert_emails.as_slice())
        .unwrap_or_default()
}
