//! Projects: the unit that owns usage, keys and a budget.

use crate::kernel::query::{param, QueryPairs};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::access::store::ProjectStore;
use crate::kernel::clock::{random_token, Clock, Entropy};
use crate::kernel::error::{CoreError, FieldError, Problems, Refusal, StoreError};
use crate::kernel::input::{nullable, visible_text, DecimalText};
use crate::kernel::money::{Currency, Money};

/// A project id: 1-64 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProjectId(String);

impl ProjectId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && text
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid {
            Ok(Self(text.to_string()))
        } else {
            Err(format!(
                "`{text}` is not a project id (1-64 of a-z, 0-9, '-', '_', starting with a letter or digit)"
            ))
        }
    }

    pub fn generate(entropy: &impl Entropy) -> Result<Self, CoreError> {
        random_token(entropy, "prj_", 8).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The default alert level, as the seed teams had it.
pub const DEFAULT_ALERT_PERCENT: u16 = 80;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    /// The client the project is for (an agency's customer), if any.
    pub client: Option<String>,
    /// Monthly budget in US dollars, exact; `None` means no budget.
    #[serde(serialize_with = "serialize_budget")]
    pub budget_threshold_usd: Option<Money>,
    pub budget_alert_threshold_percent: u16,
    pub last_budget_alert_sent: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn serialize_budget<S: serde::Serializer>(
    budget: &Option<Money>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match budget {
        Some(money) => serializer.serialize_str(&money.amount_string()),
        None => serializer.serialize_none(),
    }
}

/// Body of `POST /api/admin/projects`.
#[derive(Debug)]
pub struct NewProjectRequest {
    pub id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub client: Option<String>,
    pub budget_threshold_usd: Option<DecimalText>,
    pub budget_alert_threshold_percent: Option<i64>,
}

crate::object_reader!(
    NewProjectRequest,
    deny {
        id: default,
        name: required,
        description: default,
        client: default,
        budget_threshold_usd: default,
        budget_alert_threshold_percent: default,
    }
);

/// The project's own fields of `PATCH /api/admin/projects/{id}`; `null` clears an optional
/// value. The body's other fields are budget settings
/// (`budgets::settings::parse_project_patch`).
#[derive(Debug, Default)]
pub struct ProjectPatchRequest {
    /// `Some(None)`: the body sent `"name": null`, which is refused (a project keeps a name).
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub client: Option<Option<String>>,
}

crate::object_reader!(ProjectPatchRequest, deny {
    name: default with nullable => Option<Option<String>>,
    description: default with nullable => Option<Option<String>>,
    client: default with nullable => Option<Option<String>>,
});

fn parse_name(name: &str) -> Result<String, FieldError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        Err(FieldError::new("name", "must not be empty"))
    } else if trimmed.chars().count() > MAX_NAME_CHARS {
        Err(FieldError::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ))
    } else {
        visible_text("name", trimmed)?;
        Ok(trimmed.to_string())
    }
}

fn parse_description(text: &str) -> Result<String, FieldError> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        Err(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ))
    } else {
        Ok(text.to_string())
    }
}

/// A client name: 1 to 100 printable characters.
fn parse_client(text: &str) -> Result<String, FieldError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        Err(FieldError::new(
            "client",
            "must be 1 to 100 printable characters",
        ))
    } else {
        visible_text("client", trimmed)?;
        Ok(trimmed.to_string())
    }
}

/// A budget must be a positive amount of US dollars with at most nine decimal places.
pub fn parse_budget(field: &str, text: &DecimalText) -> Result<Money, FieldError> {
    let money = Money::parse(&text.0, Currency::USD).map_err(|m| FieldError::new(field, m))?;
    if money.nanos <= 0 {
        return Err(FieldError::new(field, "must be greater than zero"));
    }
    if money.nanos > 1_000_000_000_000 * crate::kernel::money::NANOS_PER_UNIT {
        return Err(FieldError::new(field, "must be at most 1000000000000"));
    }
    Ok(money)
}

/// Alert levels are percents of the budget from 1 to 1000.
pub fn parse_percent(field: &str, value: i64) -> Result<u16, FieldError> {
    if (1..=1000).contains(&value) {
        Ok(value as u16)
    } else {
        Err(FieldError::new(field, "must be an integer from 1 to 1000"))
    }
}

pub async fn create_project(
    store: &impl ProjectStore,
    clock: &impl Clock,
    entropy: &impl Entropy,
    request: NewProjectRequest,
) -> Result<Project, CoreError> {
    let project = new_project(clock, entropy, request)?;
    insert_new_project(store, project).await
}

/// Stores a project validated by [`new_project`]; 409 when its id is taken.
pub async fn insert_new_project(
    store: &impl ProjectStore,
    project: Project,
) -> Result<Project, CoreError> {
    store.insert_project(&project).await.map_err(|e| match e {
        StoreError::Conflict(_) => CoreError::Conflict(Refusal::of(
            "id",
            format!("a project with id `{}` exists already", project.id),
        )),
        other => CoreError::Storage(other),
    })?;
    Ok(project)
}

/// Validates a new project's fields (every problem named) without storing anything.
pub fn new_project(
    clock: &impl Clock,
    entropy: &impl Entropy,
    request: NewProjectRequest,
) -> Result<Project, CoreError> {
    let mut problems = Problems::new();
    let id = match &request.id {
        Some(id) => problems.take(ProjectId::parse(id).map_err(|m| FieldError::new("id", m))),
        None => Some(ProjectId::generate(entropy)?),
    };
    let name = problems.take(parse_name(&request.name));
    let description = match &request.description {
        Some(d) => problems.take(parse_description(d)).map(Some),
        None => Some(None),
    };
    let budget = match &request.budget_threshold_usd {
        Some(b) => problems
            .take(parse_budget("budget_threshold_usd", b))
            .map(Some),
        None => Some(None),
    };
    let client = match &request.client {
        Some(c) => problems.take(parse_client(c)),
        None => None,
    };
    let percent = problems.take(parse_percent(
        "budget_alert_threshold_percent",
        request
            .budget_alert_threshold_percent
            .unwrap_or(i64::from(DEFAULT_ALERT_PERCENT)),
    ));
    problems.finish()?;
    let (Some(id), Some(name), Some(description), Some(budget), Some(percent)) =
        (id, name, description, budget, percent)
    else {
        return Err(CoreError::invalid("body", "invalid project"));
    };
    let now = clock.now();
    let project = Project {
        id,
        name,
        description,
        client,
        budget_threshold_usd: budget,
        budget_alert_threshold_percent: percent,
        last_budget_alert_sent: None,
        created_at: now,
        updated_at: now,
    };
    Ok(project)
}

pub async fn get_project(store: &impl ProjectStore, id: &str) -> Result<Project, CoreError> {
    let not_found = || CoreError::NotFound(format!("project `{id}`"));
    let id = ProjectId::parse(id).map_err(|_| not_found())?;
    store.get_project(&id).await?.ok_or_else(not_found)
}

/// Applies `patch` (name, description, client) to `project`, every problem named and nothing
/// written. The body's budget fields are the budget settings' to apply:
/// `PATCH /api/admin/projects/{id}` is `budgets::settings::patch_project`.
pub fn apply_project_patch(
    project: &mut Project,
    patch: &ProjectPatchRequest,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let mut problems = Problems::new();
    match &patch.name {
        Some(Some(name)) => {
            if let Some(name) = problems.take(parse_name(name)) {
                project.name = name;
            }
        }
        Some(None) => problems.push(
            "name",
            "must not be null: a project keeps a name (leave the field out to keep it)",
        ),
        None => {}
    }
    if let Some(description) = &patch.description {
        match description {
            Some(d) => {
                if let Some(d) = problems.take(parse_description(d)) {
                    project.description = Some(d);
                }
            }
            None => project.description = None,
        }
    }
    if let Some(client) = &patch.client {
        match client {
            Some(c) => {
                if let Some(c) = problems.take(parse_client(c)) {
                    project.client = Some(c);
                }
            }
            None => project.client = None,
        }
    }
    problems.finish()?;
    project.updated_at = now;
    Ok(())
}

pub async fn delete_project(store: &impl ProjectStore, id: &str) -> Result<(), CoreError> {
    let project = get_project(store, id).await?;
    if store.delete_project(&project.id).await? {
        Ok(())
    } else {
        Err(CoreError::NotFound(format!("project `{id}`")))
    }
}

/// The `project_id` parameter, when given.
pub fn project_param(query: &QueryPairs) -> Result<Option<ProjectId>, CoreError> {
    param(query, "project_id")
        .map(|p| ProjectId::parse(p).map_err(|m| CoreError::invalid("project_id", m)))
        .transpose()
}
