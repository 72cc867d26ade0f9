//! `POST /api/admin/projects` with budget settings: the body split into the project and its settings.

use super::*;

/// The fields of `POST /api/admin/projects` that belong to the project itself; any other
/// field is a budget setting, taken as `PATCH .../budget` takes it.
pub(super) const PROJECT_FIELDS: [&str; 4] = ["id", "name", "description", "client"];
/// Budget fields the project's own body has always accepted.
pub(super) const PROJECT_BUDGET_FIELDS: [&str; 2] =
    ["budget_threshold_usd", "budget_alert_threshold_percent"];

/// `POST /api/admin/projects`: the project, and the budget settings given with it.
#[derive(Debug)]
pub struct NewProjectWithBudget {
    pub project: NewProjectRequest,
    /// `None` when the body sets only what a project alone holds.
    pub budget: Option<BudgetPatch>,
}

/// Parses the body of `POST /api/admin/projects`: the project's own fields, and every budget
/// setting (alert emails, levels, daily limit, time zone, webhook, Slack and Discord, report
/// schedule, spike rule) in one call. Every problem of either part is named.
pub fn parse_new_project(body: &[u8]) -> Result<NewProjectWithBudget, CoreError> {
    let fields: Map<String, Value> = parse_json(body)?;
    let settings_given = fields.keys().any(|k| {
        !PROJECT_FIELDS.contains(&k.as_str()) && !PROJECT_BUDGET_FIELDS.contains(&k.as_str())
    });
    if !settings_given {
        return Ok(NewProjectWithBudget {
            project: parse_json(body)?,
            budget: None,
        });
    }
    let (project, budget) = split_body(fields, &PROJECT_FIELDS)?;
    Ok(NewProjectWithBudget { project, budget })
}

/// A body's fields split into those `own` names, read as `T`, and the budget settings (`None`
/// when there are none); every problem of either part is named.
fn split_body<T: serde::de::DeserializeOwned>(
    fields: Map<String, Value>,
    own: &[&str],
) -> Result<(T, Option<BudgetPatch>), CoreError> {
    let (mine, budget): (Map<String, Value>, Map<String, Value>) = fields
        .into_iter()
        .partition(|(k, _)| own.contains(&k.as_str()));
    let given = !budget.is_empty();
    let encode = |m: Map<String, Value>| serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
    match (
        parse_json::<T>(&encode(mine)),
        parse_json::<BudgetPatch>(&encode(budget)).map_err(|e| naming_own_fields(e, own)),
    ) {
        (Ok(project), Ok(budget)) => Ok((project, given.then_some(budget))),
        (Err(a), Err(b)) => Err(merge_problems(a, b)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// The budget part's error with an unknown field's message listing the project's own fields
/// too: the body is one object, so its top-level fields are both parts' (the budget reader
/// alone would offer only its own). An unknown field inside a setting (`budget.amout`) keeps
/// its message: that object's fields are the setting's alone.
fn naming_own_fields(error: CoreError, own: &[&str]) -> CoreError {
    let CoreError::MalformedBody { message, details } = error else {
        return error;
    };
    let top_level = |field: &str| !field.contains(['.', '[']);
    if !details.iter().all(|d| top_level(&d.field)) {
        return CoreError::MalformedBody { message, details };
    }
    let names: Vec<&str> = own
        .iter()
        .copied()
        .chain(
            BudgetPatch::SPELLINGS
                .iter()
                .flat_map(|(_, s)| s.iter().copied()),
        )
        .collect();
    // serde's message, after the path it is told at: "unknown field `key`, expected ...".
    let retold = |text: String| -> String {
        const UNKNOWN: &str = "unknown field `";
        let Some(at) = text.find(UNKNOWN) else {
            return text;
        };
        match text[at + UNKNOWN.len()..].split_once("`, ") {
            Some((key, _)) => format!(
                "{}{}",
                &text[..at],
                crate::kernel::object::unknown_field_message(key, &names)
            ),
            None => text,
        }
    };
    CoreError::MalformedBody {
        message: retold(message),
        details: details
            .into_iter()
            .map(|mut d| {
                d.message = retold(std::mem::take(&mut d.message));
                d
            })
            .collect(),
    }
}

/// One error naming the fields of both.
pub(super) fn merge_problems(a: CoreError, b: CoreError) -> CoreError {
    let details = |e: CoreError| match e {
        CoreError::Validation(d) | CoreError::MalformedBody { details: d, .. } => Ok(d),
        other => Err(other),
    };
    match (details(a), details(b)) {
        (Ok(mut a), Ok(b)) => {
            a.extend(b);
            CoreError::Validation(a)
        }
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// The settings of a project that has just been created: its budget, the default level, and
/// nothing else.
pub(crate) fn fresh_settings(project: &Project) -> BudgetSettings {
    BudgetSettings {
        project_id: project.id.clone(),
        project_name: project.name.clone(),
        project_client: project.client.clone(),
        amount: project.budget_threshold_usd,
        currency: Currency::USD,
        alert_threshold_percent: project.budget_alert_threshold_percent,
        levels: Vec::new(),
        daily_limit: None,
        timezone: None,
        emails: Vec::new(),
        webhook_url: None,
        webhook_secret: None,
        chat: ChatUrls::default(),
        last_alert_sent: None,
        report_schedule: None,
        spike: None,
        budget_mode: LimitMode::Alert,
        daily_limit_mode: LimitMode::Alert,
    }
}

/// The project's own fields of a `PATCH /api/admin/projects/{id}` body.
const PATCH_FIELDS: [&str; 3] = ["name", "description", "client"];

/// `PATCH /api/admin/projects/{id}`: the project's own fields, and the budget settings given
/// with them.
#[derive(Debug, Default)]
pub struct ProjectPatchWithBudget {
    pub project: ProjectPatchRequest,
    /// `None` when the body sets only the project's own fields.
    pub budget: Option<BudgetPatch>,
}

/// Parses the body of `PATCH /api/admin/projects/{id}`: the project's own fields, and any
/// budget setting as `PATCH .../budget` takes it (the body of `POST /api/admin/projects`
/// takes the same). Every problem of either part is named.
pub fn parse_project_patch(body: &[u8]) -> Result<ProjectPatchWithBudget, CoreError> {
    let (project, budget) = split_body(parse_json(body)?, &PATCH_FIELDS)?;
    Ok(ProjectPatchWithBudget { project, budget })
}

/// `PATCH /api/admin/projects/{id}`: the project's own fields, and the budget settings given
/// with them, applied as `PATCH .../budget` applies them (a percent replaces the levels, a
/// budget in another currency is kept unless the body sets one). Everything is checked before
/// anything is written; the project's row never writes the budget itself. The settings are
/// answered when the body gave some.
pub async fn patch_project(
    store: &(impl ProjectStore + BudgetStore),
    clock: &impl Clock,
    entropy: &impl crate::kernel::clock::Entropy,
    id: &str,
    patch: ProjectPatchWithBudget,
) -> Result<(Project, Option<BudgetSettings>), CoreError> {
    let ProjectPatchWithBudget {
        project: patch,
        budget,
    } = patch;
    let mut project = crate::access::projects::get_project(store, id).await?;
    let own = apply_project_patch(&mut project, &patch, clock.now());
    let mut settings = get_budget(store, id).await?;
    let given = budget.is_some();
    let settings_checked = match budget {
        Some(budget) => budget.apply(&mut settings, || {
            crate::kernel::clock::random_token(entropy, "whsec_", 24)
        }),
        None => Ok(()),
    };
    match (own, settings_checked) {
        (Ok(()), Ok(())) => {}
        (Err(a), Err(b)) => return Err(merge_problems(a, b)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    }
    // The settings name the project as its row will.
    settings.project_name = project.name.clone();
    settings.project_client = project.client.clone();
    let not_found = || CoreError::NotFound(format!("project `{id}`"));
    if given && !store.save_budget(&settings).await? {
        return Err(not_found());
    }
    if !store.update_project(&project).await? {
        return Err(not_found());
    }
    // The answer shows the budget as the project's row holds it: in dollars, or none.
    project.budget_threshold_usd = settings.amount.filter(|m| m.currency == Currency::USD);
    project.budget_alert_threshold_percent = settings.alert_threshold_percent;
    Ok((project, given.then_some(settings)))
}
