//! Budgets: per-project settings, the check that compares spend with them, and the alerts it
//! sends (email, a signed webhook, Slack and Discord), rate-limited per project and level.
//!
//! The check is one function of (stores, clock, notifier). It runs from the Cron Trigger, from
//! `POST /api/admin/usage/check-budgets`, and as a dry run from the `GET` of that route.

use crate::kernel::tz::Tz;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::access::projects::{
    apply_project_patch, create_project, insert_new_project, new_project, NewProjectRequest,
    Project, ProjectId, ProjectPatchRequest, DEFAULT_ALERT_PERCENT,
};
use crate::access::store::ProjectStore;
use crate::budgets::store::BudgetStore;
use crate::kernel::clock::Clock;
use crate::kernel::error::{CoreError, FieldError, Problems, StoreError};
use crate::kernel::input::{nullable, parse_json, DecimalText};
use crate::kernel::input::{valid_email, MAX_EMAILS};
use crate::kernel::limits::LimitMode;
use crate::kernel::money::{Currency, Money};

mod new_project;
mod view;

pub use new_project::*;
pub use view::*;

/// The alert window: at most one alert per project and level within it (the seed rule).
pub const ALERT_WINDOW_HOURS: i64 = 24;
/// The most alert levels one project may have.
pub const MAX_LEVELS: usize = 10;
/// Levels used when a team asks for several without naming them.
pub const DEFAULT_LEVELS: [u16; 3] = [50, 80, 100];

/// A project's budget settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSettings {
    pub project_id: ProjectId,
    pub project_name: String,
    /// The project's client (shown with it in reports).
    pub project_client: Option<String>,
    /// The monthly budget with its currency; `None`: no budget.
    pub amount: Option<Money>,
    pub currency: Currency,
    /// The main alert level (default 80).
    pub alert_threshold_percent: u16,
    /// Further levels; empty means only the main one. 100 (over budget) always applies.
    pub levels: Vec<u16>,
    pub daily_limit: Option<Money>,
    /// The zone of the calendar month; `None` is UTC.
    pub timezone: Option<String>,
    pub emails: Vec<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// Slack and Discord incoming webhooks.
    pub chat: ChatUrls,
    pub last_alert_sent: Option<DateTime<Utc>>,
    /// Email the spend of each closed week or month to `emails`; `None` sends no report.
    pub report_schedule: Option<ReportSchedule>,
    /// Alert when today's spend runs far above the recent daily average.
    pub spike: Option<SpikeRule>,
    /// What reaching the monthly budget does: alert, or also make the guard deny.
    pub budget_mode: LimitMode,
    /// What reaching the daily limit does.
    pub daily_limit_mode: LimitMode,
}

/// A project's chat channels: Slack and Discord incoming-webhook URLs (secrets in effect:
/// whoever has one can post to the channel).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatUrls {
    pub slack: Option<String>,
    pub discord: Option<String>,
}

impl ChatUrls {
    pub fn is_empty(&self) -> bool {
        self.slack.is_none() && self.discord.is_none()
    }
}

/// An unusual day: today's spend (in the budget's time zone) at least `percent` of the
/// average day of the 7 before it, and at least `min_spend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpikeRule {
    pub percent: u16,
    pub min_spend: Money,
}

/// The lowest spike percent accepted: a day at 1.5 times the average.
pub const MIN_SPIKE_PERCENT: i64 = 150;
/// The highest: a day at 100 times the average (and within `u16`).
pub const MAX_SPIKE_PERCENT: i64 = 10_000;

/// How often a project's spend report is emailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportSchedule {
    /// Each Monday-to-Monday week of the budget's time zone.
    Weekly,
    /// Each calendar month of the budget's time zone.
    Monthly,
}

impl ReportSchedule {
    pub fn parse(text: &str) -> Option<ReportSchedule> {
        match text {
            "weekly" => Some(ReportSchedule::Weekly),
            "monthly" => Some(ReportSchedule::Monthly),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ReportSchedule::Weekly => "weekly",
            ReportSchedule::Monthly => "monthly",
        }
    }
}

impl BudgetSettings {
    /// Every level that applies, ascending, 100 included.
    pub fn effective_levels(&self) -> Vec<u16> {
        let mut levels = if self.levels.is_empty() {
            vec![self.alert_threshold_percent]
        } else {
            self.levels.clone()
        };
        levels.push(100);
        crate::kernel::sort::sort(&mut levels);
        levels.dedup();
        levels
    }

    pub fn tz(&self) -> Tz {
        self.timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(Tz::UTC)
    }
}

/// Body of `PATCH /api/admin/projects/{id}/budget`. Absent fields are left as they are;
/// `null` clears.
#[derive(Debug, Default)]
pub struct BudgetPatch {
    pub budget_threshold_usd: Option<Option<DecimalText>>,
    pub budget: Option<Option<BudgetAmount>>,
    /// `null` is the default percent (and, without `alert_levels`, no levels of its own).
    pub budget_alert_threshold_percent: Option<Option<i64>>,
    pub alert_levels: Option<Option<LevelsInput>>,
    /// An amount in the budget's currency, or `{"amount", "currency"}` (a project without a
    /// monthly budget takes that currency).
    pub daily_limit: Option<Option<LimitInput>>,
    pub timezone: Option<Option<String>>,
    pub alert_emails: Option<Option<Vec<String>>>,
    pub webhook_url: Option<Option<String>>,
    pub slack_webhook_url: Option<Option<String>>,
    pub discord_webhook_url: Option<Option<String>>,
    pub report_schedule: Option<Option<String>>,
    pub spike_alert: Option<Option<SpikeInput>>,
    /// `"alert"` (default) or `"block"`; `null` is `"alert"`.
    pub budget_mode: Option<Option<String>>,
    pub daily_limit_mode: Option<Option<String>>,
}

crate::object_reader!(BudgetPatch, deny {
    budget_threshold_usd: default with nullable => Option<Option<DecimalText>>,
    budget: default with nullable => Option<Option<BudgetAmount>>,
    budget_alert_threshold_percent: default with nullable => Option<Option<i64>>,
    alert_levels: default with nullable => Option<Option<LevelsInput>>,
    daily_limit: default with nullable => Option<Option<LimitInput>>,
    timezone: default with nullable => Option<Option<String>>,
    alert_emails: default with nullable => Option<Option<Vec<String>>>,
    webhook_url: default with nullable => Option<Option<String>>,
    slack_webhook_url: default with nullable => Option<Option<String>>,
    discord_webhook_url: default with nullable => Option<Option<String>>,
    report_schedule: default with nullable => Option<Option<String>>,
    spike_alert: default with nullable => Option<Option<SpikeInput>>,
    budget_mode: default with nullable => Option<Option<String>>,
    daily_limit_mode: default with nullable => Option<Option<String>>,
});

#[derive(Debug)]
pub struct SpikeInput {
    pub percent: i64,
    /// In the budget's currency; default 1.
    pub min_spend: Option<DecimalText>,
}

crate::object_reader!(
    SpikeInput,
    deny {
        percent: required,
        min_spend: default,
    }
);

#[derive(Debug)]
pub struct BudgetAmount {
    pub amount: DecimalText,
    pub currency: Option<String>,
}

crate::object_reader!(
    BudgetAmount,
    deny {
        amount: required,
        currency: default,
    }
);

/// A daily limit: an amount, or an amount with its currency. Read as any JSON value, so that
/// each problem is named by its field.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct LimitInput(serde_json::Value);

/// A list of percents, or `"default"` for 50/80/100. Read as any JSON value, so that a wrong
/// item is named by its index like every other field's problem.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct LevelsInput(serde_json::Value);

fn positive_money(field: &str, text: &str, currency: Currency) -> Result<Money, FieldError> {
    let money = Money::parse(text, currency).map_err(|m| FieldError::new(field, m))?;
    if money.nanos <= 0 {
        return Err(FieldError::new(field, "must be greater than zero"));
    }
    if money.nanos > 1_000_000_000_000 * 1_000_000_000 {
        return Err(FieldError::new(field, "is too large"));
    }
    Ok(money)
}

/// An `{"amount", "currency"}` field (`budget`, `daily_limit`): a positive amount in its
/// currency, or in `default` without one; each problem is recorded under `<field>.amount` or
/// `<field>.currency`.
fn amount_of(
    field: &str,
    input: &BudgetAmount,
    default: Currency,
    p: &mut Problems,
) -> Option<Money> {
    let currency = match &input.currency {
        Some(c) => {
            p.take(Currency::parse(c).map_err(|m| FieldError::new(format!("{field}.currency"), m)))?
        }
        None => default,
    };
    p.take(positive_money(
        &format!("{field}.amount"),
        &input.amount.0,
        currency,
    ))
}

fn percent(field: &str, value: i64) -> Result<u16, FieldError> {
    if (1..=1000).contains(&value) {
        Ok(value as u16)
    } else {
        Err(FieldError::new(
            field,
            "must be a whole percent from 1 to 1000",
        ))
    }
}

fn https_url(field: &str, url: &str) -> Result<String, FieldError> {
    let trimmed = url.trim();
    let rest = trimmed
        .strip_prefix("https://")
        .ok_or_else(|| FieldError::new(field, "must be an https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) || trimmed.len() > 2048 {
        return Err(FieldError::new(
            field,
            "must be an https:// URL with a host",
        ));
    }
    Ok(trimmed.to_string())
}

impl BudgetPatch {
    /// Applies the patch; every invalid field is reported, and nothing changes unless all are
    /// valid. `new_secret` makes a signing secret when a webhook is first set.
    pub fn apply(
        self,
        settings: &mut BudgetSettings,
        new_secret: impl FnOnce() -> Result<String, CoreError>,
    ) -> Result<(), CoreError> {
        let mut p = Problems::new();
        let mut next = settings.clone();
        let (limit_given, spike_given) = (self.daily_limit.is_some(), self.spike_alert.is_some());
        if let (Some(Some(_)), Some(Some(_))) = (&self.budget_threshold_usd, &self.budget) {
            p.push(
                "budget",
                "give either budget_threshold_usd or budget, not both",
            );
        }
        match self.budget_threshold_usd {
            Some(Some(text)) => {
                if let Some(m) = p.take(positive_money(
                    "budget_threshold_usd",
                    &text.0,
                    Currency::USD,
                )) {
                    next.amount = Some(m);
                    next.currency = Currency::USD;
                }
            }
            Some(None) => next.amount = None,
            None => {}
        }
        match self.budget {
            Some(Some(budget)) => {
                if let Some(m) = amount_of("budget", &budget, Currency::USD, &mut p) {
                    next.amount = Some(m);
                    next.currency = m.currency;
                }
            }
            Some(None) => next.amount = None,
            None => {}
        }
        if let Some(v) = self.budget_alert_threshold_percent {
            let pc = match v {
                Some(v) => p.take(percent("budget_alert_threshold_percent", v)),
                None => Some(DEFAULT_ALERT_PERCENT),
            };
            if let Some(pc) = pc {
                next.alert_threshold_percent = pc;
                // The alert percent or several levels, whichever was set last: a percent sent
                // without `alert_levels` replaces levels set before, which would otherwise
                // keep deciding the alerts while the answer showed the new percent.
                if self.alert_levels.is_none() {
                    next.levels.clear();
                }
            }
        }
        match self.alert_levels {
            Some(Some(LevelsInput(Value::String(name)))) if name == "default" => {
                next.levels = DEFAULT_LEVELS.to_vec();
            }
            Some(Some(LevelsInput(Value::Array(list)))) => {
                if list.is_empty() || list.len() > MAX_LEVELS {
                    p.push(
                        "alert_levels",
                        format!("must hold 1 to {MAX_LEVELS} percents"),
                    );
                } else {
                    let mut levels = Vec::new();
                    for (i, v) in list.into_iter().enumerate() {
                        let field = format!("alert_levels[{i}]");
                        let Some(v) = v.as_i64() else {
                            p.push(field, "must be a whole percent from 1 to 1000");
                            continue;
                        };
                        if let Some(pc) = p.take(percent(&field, v)) {
                            levels.push(pc);
                        }
                    }
                    crate::kernel::sort::sort(&mut levels);
                    levels.dedup();
                    next.levels = levels;
                }
            }
            Some(Some(LevelsInput(other))) => p.push(
                "alert_levels",
                format!(
                    "`{}` is not a list of percents or \"default\"",
                    crate::kernel::json_value::text(&other)
                ),
            ),
            Some(None) => next.levels = Vec::new(),
            None => {}
        }
        match self.daily_limit {
            Some(Some(LimitInput(Value::Object(fields)))) => {
                // Read from the object's text: the wasm holds a reader of these from text only.
                match serde_json::from_str::<BudgetAmount>(&crate::kernel::json_value::text(
                    &Value::Object(fields),
                ))
                .map_err(|e| crate::kernel::input::strip_position(&e.to_string()))
                {
                    Ok(limit) => match amount_of("daily_limit", &limit, next.currency, &mut p) {
                        Some(m) if next.amount.is_some() && m.currency != next.currency => p.push(
                            "daily_limit.currency",
                            format!("must be the monthly budget's currency ({})", next.currency),
                        ),
                        Some(m) => {
                            next.currency = m.currency;
                            next.daily_limit = Some(m);
                        }
                        None => {}
                    },
                    Err(e) => p.push(
                        "daily_limit",
                        format!("must be an amount or {{\"amount\", \"currency\"}}: {e}"),
                    ),
                }
            }
            Some(Some(LimitInput(value))) => {
                match serde_json::from_str::<DecimalText>(&crate::kernel::json_value::text(&value))
                    .map_err(|e| crate::kernel::input::strip_position(&e.to_string()))
                {
                    Ok(text) => {
                        next.daily_limit =
                            p.take(positive_money("daily_limit", &text.0, next.currency));
                    }
                    Err(e) => p.push("daily_limit", e),
                }
            }
            Some(None) => next.daily_limit = None,
            None => {}
        }
        match self.timezone {
            Some(Some(tz)) => match tz.parse::<Tz>() {
                Ok(zone) => next.timezone = Some(zone.name().to_string()),
                Err(_) => p.push(
                    "timezone",
                    format!("`{tz}` is not an IANA time zone such as Europe/Paris"),
                ),
            },
            Some(None) => next.timezone = None,
            None => {}
        }
        match self.alert_emails {
            Some(Some(list)) => {
                if list.len() > MAX_EMAILS {
                    p.push("alert_emails", format!("at most {MAX_EMAILS} addresses"));
                }
                let mut emails: Vec<String> = Vec::new();
                for (i, e) in list.iter().enumerate() {
                    let e = e.trim();
                    if valid_email(e) {
                        // Each address once, however it is capitalised.
                        if !emails.iter().any(|x| x.eq_ignore_ascii_case(e)) {
                            emails.push(e.to_string());
                        }
                    } else {
                        p.push(
                            format!("alert_emails[{i}]"),
                            format!("`{e}` is not an email address"),
                        );
                    }
                }
                next.emails = emails;
            }
            Some(None) => next.emails = Vec::new(),
            None => {}
        }
        match self.webhook_url {
            Some(Some(url)) => {
                if let Some(url) = p.take(https_url("webhook_url", &url)) {
                    next.webhook_url = Some(url);
                }
            }
            Some(None) => {
                next.webhook_url = None;
                next.webhook_secret = None;
            }
            None => {}
        }
        for (field, given, slot) in [
            (
                "slack_webhook_url",
                self.slack_webhook_url,
                &mut next.chat.slack,
            ),
            (
                "discord_webhook_url",
                self.discord_webhook_url,
                &mut next.chat.discord,
            ),
        ] {
            match given {
                Some(Some(url)) => {
                    if let Some(url) = p.take(https_url(field, &url)) {
                        *slot = Some(url);
                    }
                }
                Some(None) => *slot = None,
                None => {}
            }
        }
        match self.spike_alert {
            Some(Some(spike)) => {
                let percent = if (MIN_SPIKE_PERCENT..=MAX_SPIKE_PERCENT).contains(&spike.percent) {
                    Some(spike.percent as u16)
                } else {
                    p.push(
                        "spike_alert.percent",
                        format!("must be a whole percent from {MIN_SPIKE_PERCENT} to {MAX_SPIKE_PERCENT} (300: a day at three times the average)"),
                    );
                    None
                };
                let min = spike
                    .min_spend
                    .as_ref()
                    .map_or("1", |d| d.0.as_str())
                    .to_string();
                let min_spend =
                    p.take(positive_money("spike_alert.min_spend", &min, next.currency));
                if let (Some(percent), Some(min_spend)) = (percent, min_spend) {
                    next.spike = Some(SpikeRule { percent, min_spend });
                }
            }
            Some(None) => next.spike = None,
            None => {}
        }
        // Amounts kept from before are in the old currency: a change of currency must give
        // them again (or clear them), never relabel them.
        if next.currency != settings.currency {
            let moved = format!(
                "is in {}; give it again in {} (or null) when the currency changes",
                settings.currency, next.currency
            );
            if !limit_given && next.daily_limit.is_some() {
                p.push("daily_limit", moved.clone());
            }
            match next.spike {
                // The default minimum, one unit, is one unit of the new currency.
                Some(rule)
                    if !spike_given
                        && rule.min_spend.nanos == crate::kernel::money::NANOS_PER_UNIT =>
                {
                    next.spike = Some(SpikeRule {
                        min_spend: Money::new(rule.min_spend.nanos, next.currency),
                        ..rule
                    });
                }
                Some(_) if !spike_given => p.push("spike_alert.min_spend", moved),
                _ => {}
            }
        }
        for (field, given, mode) in [
            ("budget_mode", &self.budget_mode, &mut next.budget_mode),
            (
                "daily_limit_mode",
                &self.daily_limit_mode,
                &mut next.daily_limit_mode,
            ),
        ] {
            match given {
                Some(Some(text)) => match LimitMode::parse(text) {
                    Ok(parsed) => *mode = parsed,
                    Err(message) => p.push(field, message),
                },
                Some(None) => *mode = LimitMode::Alert,
                None => {}
            }
        }
        match self.report_schedule {
            Some(Some(text)) => match ReportSchedule::parse(text.trim()) {
                Some(schedule) => next.report_schedule = Some(schedule),
                None => p.push(
                    "report_schedule",
                    format!("`{text}` is not weekly, monthly or null"),
                ),
            },
            Some(None) => next.report_schedule = None,
            None => {}
        }
        p.finish()?;
        if next.webhook_url.is_some() && next.webhook_secret.is_none() {
            next.webhook_secret = Some(new_secret()?);
        }
        *settings = next;
        Ok(())
    }
}

/// The window start: a claim older than this may be taken again.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::hours(ALERT_WINDOW_HOURS)
}

fn parse_project(id: &str) -> Result<ProjectId, CoreError> {
    ProjectId::parse(id).map_err(|_| CoreError::NotFound(format!("project `{id}`")))
}

/// A project's budget settings; 404 when the project does not exist.
pub async fn get_budget(store: &impl BudgetStore, id: &str) -> Result<BudgetSettings, CoreError> {
    let project = parse_project(id)?;
    store
        .budget(&project)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("project `{id}`")))
}

/// Creates a project with its budget settings in one call: every field of both is checked
/// before anything is written; should saving the settings fail after the project was stored,
/// the project is removed again, so a retry starts from nothing.
pub async fn create_project_with_budget(
    store: &(impl ProjectStore + BudgetStore),
    clock: &impl Clock,
    entropy: &impl crate::kernel::clock::Entropy,
    request: NewProjectWithBudget,
) -> Result<(Project, Option<BudgetSettings>), CoreError> {
    let Some(patch) = request.budget else {
        let project = create_project(store, clock, entropy, request.project).await?;
        return Ok((project, None));
    };
    let project = new_project(clock, entropy, request.project);
    // The settings are checked against the new project's, or, when the project's own fields
    // are invalid too, against a stand-in's, so that every problem of both is named at once.
    let base = match &project {
        Ok(project) => project.clone(),
        Err(_) => Project {
            id: ProjectId::parse("new-project").map_err(|m| CoreError::invalid("id", m))?,
            name: String::new(),
            description: None,
            client: None,
            budget_threshold_usd: None,
            budget_alert_threshold_percent: DEFAULT_ALERT_PERCENT,
            last_budget_alert_sent: None,
            created_at: clock.now(),
            updated_at: clock.now(),
        },
    };
    let mut settings = fresh_settings(&base);
    let applied = patch.apply(&mut settings, || {
        crate::kernel::clock::random_token(entropy, "whsec_", 24)
    });
    let project = match (project, applied) {
        (Ok(project), Ok(())) => project,
        (Err(a), Err(b)) => return Err(merge_problems(a, b)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let project = insert_new_project(store, project).await?;
    match store.save_budget(&settings).await {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            let _ = store.delete_project(&project.id).await;
            return Err(CoreError::Storage(StoreError::Unavailable(
                "saving the new project's budget settings failed; nothing was kept".into(),
            )));
        }
    }
    let stored = store.get_project(&project.id).await?.unwrap_or(project);
    Ok((stored, Some(settings)))
}

/// Applies a budget patch and stores it; nothing changes when a field is invalid.
pub async fn patch_budget(
    store: &impl BudgetStore,
    entropy: &impl crate::kernel::clock::Entropy,
    id: &str,
    patch: BudgetPatch,
) -> Result<BudgetSettings, CoreError> {
    let mut settings = get_budget(store, id).await?;
    patch.apply(&mut settings, || {
        crate::kernel::clock::random_token(entropy, "whsec_", 24)
    })?;
    if !store.save_budget(&settings).await? {
        return Err(CoreError::NotFound(format!("project `{id}`")));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests;

/// The usage tests' [`World`](crate::usage::fixtures::World) with a budget: here, not in the
/// fixture, since `usage` does not import `budgets`.
#[cfg(test)]
impl crate::usage::fixtures::World {
    /// Applies a budget patch (as `PATCH .../budget` takes it) to the world's project.
    pub(crate) fn set_budget(&self, patch: Value) {
        let patch: BudgetPatch = serde_json::from_value(patch).unwrap();
        pollster::block_on(patch_budget(
            &self.store,
            &crate::kernel::clock::SystemEntropy,
            self.project.as_str(),
            patch,
        ))
        .unwrap();
    }
}
