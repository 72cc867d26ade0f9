//! The budget check and its alerts: spend against budget per project, the forecast, the level
//! crossed, and what was sent. Rendering (email HTML and text, MIME, webhook JSON and its
//! HMAC-SHA256 signature) is pure and lives here too.

use litemap::LiteMap;

use crate::json;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::access::projects::ProjectId;
use crate::budgets::delivery::{
    deliver, Channel, Delivered, Fate, LogFacts, Outgoing, MAX_SENDS_PER_RUN,
};
use crate::budgets::settings::{window_start, AlertKey, BudgetSettings, ChatUrls};
use crate::budgets::store::BudgetStore;
use crate::kernel::clock::{format_timestamp, random_token, Clock, Entropy};
use crate::kernel::error::CoreError;
use crate::kernel::money::{div_round_half_even, format_scaled, Currency, Money, Totals};
use crate::plans::store::PlanStore;
use crate::plans::{capacity_in, plan_states, PlanState, ProfileCapacity};
use crate::reports::report::{local_midnight, period_of, Dim, Period, Range};
use crate::reports::store::ReportStore;

mod chat;
mod email;
mod measure;
mod plan_checks;
mod recommend;
mod webhook;

pub use chat::*;
pub use email::*;
pub use measure::*;
pub use plan_checks::*;
use recommend::*;
pub use webhook::*;

/// How alerts leave the worker. The edge implements it with the `send_email` binding and
/// `fetch`; tests with a recorder.
#[allow(async_fn_in_trait)]
pub trait Notifier {
    async fn send_email(&self, from: &str, to: &str, raw_mime: &str) -> Result<(), String>;
    async fn post_webhook(
        &self,
        url: &str,
        body: &str,
        headers: &[(String, String)],
    ) -> Result<(), String>;
}

/// Settings of alerting that come from vars.
#[derive(Debug, Clone, Default)]
pub struct AlertConfig {
    /// The sender address (`ALERT_FROM`); without it no email is sent (logged as failed).
    pub from_address: Option<String>,
    /// The dashboard's URL (`DASHBOARD_URL`), linked from every alert.
    pub dashboard_url: Option<String>,
    /// Where alerts and reports go when a project or plan names no address (`ALERT_TO`).
    pub default_emails: Vec<String>,
}

impl AlertConfig {
    /// The addresses an alert or report goes to: the project's or plan's own, or else the
    /// default recipients.
    pub fn recipients<'a>(&'a self, own: &'a [String]) -> &'a [String] {
        if own.is_empty() {
            &self.default_emails
        } else {
            own
        }
    }

    /// Parses `ALERT_TO`: addresses separated by commas, semicolons or any white space.
    /// Returns the valid addresses (each once, however capitalised; at most
    /// [`crate::kernel::input::MAX_EMAILS`]) and the entries left out (malformed, or past that), so
    /// a typo in one is reported without losing the others.
    pub fn parse_recipients(text: &str) -> (Vec<String>, Vec<String>) {
        let (mut valid, mut left_out): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for address in text
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|a| !a.is_empty())
        {
            if !crate::kernel::input::valid_email(address)
                || valid.len() >= crate::kernel::input::MAX_EMAILS
            {
                left_out.push(address.to_string());
            } else if !valid.iter().any(|a| a.eq_ignore_ascii_case(address)) {
                valid.push(address.to_string());
            }
        }
        (valid, left_out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Report what would be sent; send nothing, change nothing.
    DryRun,
    Send,
}

/// One channel of one alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertOutcome {
    pub level: String,
    pub channel: String,
    pub recipient: String,
    /// `would_send`, `sent`, `failed`, `rate_limited` or `deferred` (past the run's send
    /// limit: the next run sends it).
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub provider: String,
    pub model: Option<String>,
    pub cost: Money,
    /// Share of the period's spend, percent with two decimals.
    pub share: String,
}

/// The check of one project.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectCheck {
    pub project_id: String,
    pub project_name: String,
    pub budget: Option<Money>,
    pub period: serde_json::Value,
    pub spend: Money,
    /// Spend in other currencies than the budget's (never converted).
    pub spend_other_currencies: Totals,
    pub unpriced_events: i64,
    pub percent_used: Option<String>,
    /// Period-end spend at the run rate so far.
    pub forecast: Money,
    pub forecast_percent: Option<String>,
    pub today_spend: Money,
    pub daily_limit: Option<Money>,
    /// With a spike rule: the average day of the 7 before today, in the budget's currency.
    pub baseline_daily: Option<Money>,
    pub levels: Vec<u16>,
    /// `budget-80`, `budget-100`, `daily`, `spike`, ...: the levels crossed now.
    pub levels_crossed: Vec<String>,
    /// `none`, `no_budget`, `would_send`, `sent`, `partly_sent`, `failed`, `rate_limited`,
    /// `deferred`, `no_recipients` or `error`.
    pub action: String,
    pub alerts: Vec<AlertOutcome>,
    pub top_providers: Vec<Breakdown>,
    pub top_models: Vec<Breakdown>,
    pub recommendations: Vec<String>,
    pub subject: Option<String>,
    pub error: Option<String>,
}

/// An allotment or capacity alert of a plan (not of a project budget).
#[derive(Debug, Clone, Serialize)]
pub struct PlanCheck {
    pub provider: String,
    pub project_id: Option<String>,
    /// `plan-<provider>[@project]-<unit>-<percent>`, `credit-expiry-<provider>[@project]-<unit>` or
    /// `capacity-<profile>[@project]`, an `@` in the provider or profile written `%40`
    /// ([`level_part`]).
    pub level: String,
    pub message: String,
    /// `would_send`, `sent`, `partly_sent`, `failed`, `rate_limited`, `deferred` or
    /// `no_recipients`.
    pub action: String,
    pub alerts: Vec<AlertOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub mode: Mode,
    pub checked_at: String,
    pub projects: Vec<ProjectCheck>,
    /// Plans past their alert percent and profiles with fewer units of work left than their
    /// alert level.
    pub plans: Vec<PlanCheck>,
    pub alerts_sent: usize,
    pub alerts_failed: usize,
}

/// The levels crossed now: the highest budget level reached, and `daily` when today's spend
/// reached the daily limit, and `spike` when today ran far above its recent average.
fn crossed(check: &ProjectCheck, settings: &BudgetSettings) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(budget) = settings.amount {
        let bp = basis_points(check.spend.nanos, budget.nanos);
        if let Some(level) = settings
            .effective_levels()
            .into_iter()
            .filter(|l| bp >= i128::from(*l) * 100)
            .max()
        {
            out.push(format!("budget-{level}"));
        }
    }
    if let Some(limit) = settings.daily_limit {
        if check.today_spend.nanos >= limit.nanos {
            out.push("daily".into());
        }
    }
    if let (Some(rule), Some(baseline)) = (settings.spike, check.baseline_daily) {
        let today = check.today_spend.nanos;
        if baseline.nanos > 0
            && today >= rule.min_spend.nanos
            && today * 100 >= i128::from(rule.percent) * baseline.nanos
        {
            out.push("spike".into());
        }
    }
    out
}

/// Today's spend as a multiple of the baseline day, with one decimal ("4.2").
fn spike_ratio(check: &ProjectCheck) -> String {
    match check.baseline_daily {
        Some(b) if b.nanos > 0 => format_scaled(
            div_round_half_even(check.today_spend.nanos * 10, b.nanos),
            1,
            1,
        ),
        _ => "-".into(),
    }
}

/// The alerts a project is due now: one per level crossed, to each of its channels. Sets
/// `levels_crossed`, and `action` when there is nowhere to send them.
fn prepare_project(
    config: &AlertConfig,
    settings: &BudgetSettings,
    check: &mut ProjectCheck,
    now: DateTime<Utc>,
) -> Vec<Outgoing> {
    let levels = crossed(check, settings);
    let tz = settings.tz();
    check.levels_crossed = levels.clone();
    if levels.is_empty() {
        return Vec::new();
    }
    let emails = config.recipients(&settings.emails);
    if emails.is_empty() && settings.webhook_url.is_none() && settings.chat.is_empty() {
        check.action = "no_recipients".into();
        return Vec::new();
    }
    let mut out = Vec::with_capacity(levels.len());
    for level in levels {
        let alert = render_alert(check, &level, config);
        check.subject.get_or_insert_with(|| alert.subject.clone());
        let mut channels: Vec<Channel> = emails.iter().cloned().map(Channel::Email).collect();
        if let Some(url) = &settings.webhook_url {
            channels.push(Channel::Webhook {
                url: url.clone(),
                body: webhook_body(check, &level, &alert, config),
                signer: WebhookSigner {
                    secret: settings.webhook_secret.clone().unwrap_or_default(),
                    timestamp: now.timestamp().to_string(),
                },
            });
        }
        if !settings.chat.is_empty() {
            let message = budget_chat_message(check, &level, &alert, config);
            channels.extend(chat_channels(&settings.chat, &message));
        }
        // A budget level is about the month, the daily limit and the spike rule about the
        // day: one sent in the period before does not hold this one back.
        let since = if level.starts_with("budget") {
            month_range(tz, now).from
        } else {
            Some(local_midnight(now.with_timezone(&tz).date_naive(), tz))
        };
        out.push(Outgoing {
            key: AlertKey {
                since: since.map(format_timestamp),
                ..AlertKey::new(settings.project_id.as_str(), level)
            },
            log_scope: settings.project_id.as_str().to_string(),
            alert,
            channels,
            facts: LogFacts {
                spend: check.spend.amount_string(),
                budget: check.budget.map(|b| b.amount_string()).unwrap_or_default(),
                currency: check.spend.currency.to_string(),
                percent_used: check.percent_used.clone().unwrap_or_default(),
            },
            stamps: Some(settings.project_id.clone()),
        });
    }
    out
}

/// A check's action from what became of its alerts.
fn action_of(mode: Mode, delivered: &[&Delivered]) -> String {
    let (mut sent, mut failed, mut claimed, mut deferred) = (0, 0, 0, 0);
    for d in delivered {
        match d.fate {
            Fate::WouldSend => {}
            Fate::Claimed => claimed += 1,
            Fate::Deferred => deferred += 1,
            Fate::Attempted { sent: s, failed: f } => {
                sent += s;
                failed += f;
            }
        }
    }
    match (mode, sent, failed, claimed, deferred) {
        (Mode::DryRun, ..) if claimed > 0 && claimed == delivered.len() => "rate_limited".into(),
        (Mode::DryRun, ..) => "would_send".into(),
        (_, 0, 0, _, d) if d > 0 => "deferred".into(),
        (_, 0, 0, c, _) if c > 0 => "rate_limited".into(),
        (_, s, 0, _, 0) if s > 0 => "sent".into(),
        (_, 0, f, _, _) if f > 0 => "failed".into(),
        _ => "partly_sent".into(),
    }
}

/// Checks every project's budget and every plan and profile, or one project's budget alone,
/// and, in `Send` mode, alerts. A project that fails is reported with its error and never
/// stops the others.
#[allow(clippy::too_many_arguments)]
pub async fn check_budgets(
    budgets: &impl BudgetStore,
    reports: &impl ReportStore,
    plans: &impl PlanStore,
    notifier: &impl Notifier,
    clock: &impl Clock,
    entropy: &impl Entropy,
    config: &AlertConfig,
    mode: Mode,
    only: Option<&ProjectId>,
) -> Result<CheckReport, CoreError> {
    let stores = (budgets, reports, plans);
    let with_plans = only.is_none();
    run_check(
        stores, notifier, clock, entropy, config, mode, only, with_plans,
    )
    .await
}

/// One project's check as usage moves it (the spend guard's ingest-time check, and
/// `check-budgets?project_id=`): its budget, daily limit and spike rule, and the plans and
/// profiles that count its usage (its own and the global ones), each alert claimed exactly as
/// the cron claims it. With no project, every project's and every plan's, as the cron.
#[allow(clippy::too_many_arguments)]
pub async fn check_project(
    budgets: &impl BudgetStore,
    reports: &impl ReportStore,
    plans: &impl PlanStore,
    notifier: &impl Notifier,
    clock: &impl Clock,
    entropy: &impl Entropy,
    config: &AlertConfig,
    mode: Mode,
    project: Option<&ProjectId>,
) -> Result<CheckReport, CoreError> {
    let stores = (budgets, reports, plans);
    run_check(
        stores, notifier, clock, entropy, config, mode, project, true,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_check(
    (budgets, reports, plans): (&impl BudgetStore, &impl ReportStore, &impl PlanStore),
    notifier: &impl Notifier,
    clock: &impl Clock,
    entropy: &impl Entropy,
    config: &AlertConfig,
    mode: Mode,
    only: Option<&ProjectId>,
    with_plans: bool,
) -> Result<CheckReport, CoreError> {
    let now = clock.now();
    let mut report = CheckReport {
        mode,
        checked_at: format_timestamp(now),
        projects: Vec::new(),
        plans: Vec::new(),
        alerts_sent: 0,
        alerts_failed: 0,
    };
    // One project's check reads its own settings only (every project's when they cannot
    // be read, so that the unreadable ones are reported as such).
    let all = match only {
        Some(project) => match budgets.budget(project).await {
            Ok(settings) => settings.into_iter().map(Ok).collect(),
            Err(_) => budgets.budgets().await?,
        },
        None => budgets.budgets().await?,
    };
    // The month of every zone with a budget, and the week before today of every zone with a
    // spike rule: all read in one call.
    let mut zones: LiteMap<String, (crate::kernel::tz::Tz, bool)> = LiteMap::new();
    for settings in all.iter().flatten() {
        if only.is_some_and(|p| *p != settings.project_id) || !has_rules(settings) {
            continue;
        }
        let tz = settings.tz();
        let entry = zones.entry(tz.name().to_string()).or_insert((tz, false));
        entry.1 |= settings.spike.is_some();
    }
    let mut queries = Vec::new();
    let mut slots: LiteMap<String, (usize, Option<usize>)> = LiteMap::new();
    for (name, (tz, spike)) in &zones {
        let month = queries.len();
        queries.push(month_query(*tz, now, only));
        let baseline = spike.then(|| {
            queries.push(baseline_query(*tz, now, only));
            queries.len() - 1
        });
        slots.insert(name.clone(), (month, baseline));
    }
    let read = reports.rollups_many(&queries).await;
    let rows_at = |slot: usize| -> Result<&[crate::reports::report::RollupRow], String> {
        match &read {
            Ok(all) => all.get(slot).map(Vec::as_slice).ok_or_else(String::new),
            Err(e) => Err(e.to_string()),
        }
    };
    let mut outgoing: Vec<Outgoing> = Vec::new();
    let mut owners: Vec<Owner> = Vec::new();
    // Each project's chat channels, for the alerts of its own plans and profiles.
    let chats: LiteMap<String, ChatUrls> = crate::kernel::sort::collect_map(
        all.iter()
            .flatten()
            .filter(|s| !s.chat.is_empty())
            .map(|s| (s.project_id.as_str().to_string(), s.chat.clone())),
    );
    for settings in all {
        let settings = match settings {
            Ok(settings) => settings,
            Err(unreadable) => {
                if only.is_none_or(|p| p.as_str() == unreadable.project_id) {
                    report.projects.push(unreadable_check(unreadable));
                }
                continue;
            }
        };
        if only.is_some_and(|p| *p != settings.project_id) {
            continue;
        }
        if !has_rules(&settings) {
            continue;
        }
        let Some(&(month, baseline)) = slots.get(settings.tz().name()) else {
            continue;
        };
        let mut check = match rows_at(month) {
            Ok(rows) => measure(rows, &settings, now),
            Err(e) => {
                report.projects.push(failed_check(&settings, e));
                continue;
            }
        };
        if let Some(slot) = baseline.filter(|_| settings.spike.is_some()) {
            match rows_at(slot) {
                Ok(rows) => {
                    check.baseline_daily = Some(baseline_daily(
                        rows,
                        settings.project_id.as_str(),
                        check.spend.currency,
                    ))
                }
                Err(e) => {
                    report.projects.push(failed_check(&settings, e));
                    continue;
                }
            }
        }
        check.recommendations = recommendations(&check, &settings, now);
        for item in prepare_project(config, &settings, &mut check, now) {
            owners.push(Owner::Project(report.projects.len()));
            outgoing.push(item);
        }
        report.projects.push(check);
    }
    if with_plans {
        match plan_checks(reports, plans, config, &chats, now, only).await {
            Ok(checks) => {
                for (check, item) in checks {
                    if let Some(item) = item {
                        owners.push(Owner::Plan(report.plans.len()));
                        outgoing.push(item);
                    }
                    report.plans.push(check);
                }
            }
            Err(e) => report.plans.push(PlanCheck {
                provider: String::new(),
                project_id: None,
                level: "plans".into(),
                message: e.to_string(),
                action: "error".into(),
                alerts: Vec::new(),
            }),
        }
    }
    // Every alert of the run is claimed in one call and logged in one more.
    let deliveries = deliver(
        budgets,
        notifier,
        entropy,
        config,
        now,
        window_start(now),
        mode,
        MAX_SENDS_PER_RUN,
        &outgoing,
    )
    .await?;
    let mut by_project: LiteMap<usize, Vec<&Delivered>> = LiteMap::new();
    for (owner, delivered) in owners.iter().zip(&deliveries.items) {
        if let Fate::Attempted { sent, failed } = delivered.fate {
            report.alerts_sent += sent;
            report.alerts_failed += failed;
        }
        match owner {
            Owner::Project(i) => by_project.entry(*i).or_default().push(delivered),
            Owner::Plan(i) => {
                if let Some(check) = report.plans.get_mut(*i) {
                    check.alerts.extend(delivered.outcomes.iter().cloned());
                    check.action = action_of(mode, &[delivered]);
                    if let Some(e) = &deliveries.log_error {
                        check.message = format!("{} ({e})", check.message);
                    }
                }
            }
        }
    }
    for (i, delivered) in by_project {
        if let Some(check) = report.projects.get_mut(i) {
            for d in &delivered {
                check.alerts.extend(d.outcomes.iter().cloned());
            }
            check.action = action_of(mode, &delivered);
            if let Some(e) = &deliveries.log_error {
                check.error = Some(e.clone());
            }
        }
    }
    Ok(report)
}

/// Whether a project has anything to check: a budget, a daily limit or a spike rule.
fn has_rules(settings: &BudgetSettings) -> bool {
    settings.amount.is_some() || settings.daily_limit.is_some() || settings.spike.is_some()
}

/// Whose alert an outgoing one is: a project check's or a plan check's, by index.
enum Owner {
    Project(usize),
    Plan(usize),
}

/// A plan alert that is due: provider, project, level, message, addresses.
type DueAlert = (String, Option<String>, String, String, Vec<String>);

fn unreadable_check(u: crate::budgets::settings::UnreadableBudget) -> ProjectCheck {
    error_check(
        u.project_id,
        u.project_name,
        None,
        Currency::USD,
        None,
        Vec::new(),
        format!("its budget settings cannot be read: {}", u.error),
    )
}

fn failed_check(settings: &BudgetSettings, error: String) -> ProjectCheck {
    error_check(
        settings.project_id.as_str().to_string(),
        settings.project_name.clone(),
        settings.amount,
        settings.amount.map_or(settings.currency, |m| m.currency),
        settings.daily_limit,
        settings.effective_levels(),
        error,
    )
}

/// The check of a project that could not be measured: no figures, the error.
fn error_check(
    project_id: String,
    project_name: String,
    budget: Option<Money>,
    currency: Currency,
    daily_limit: Option<Money>,
    levels: Vec<u16>,
    error: String,
) -> ProjectCheck {
    ProjectCheck {
        project_id,
        project_name,
        budget,
        period: json!({}),
        spend: Money::zero(currency),
        spend_other_currencies: Totals::new(),
        unpriced_events: 0,
        percent_used: None,
        forecast: Money::zero(currency),
        forecast_percent: None,
        today_spend: Money::zero(currency),
        daily_limit,
        baseline_daily: None,
        levels,
        levels_crossed: Vec::new(),
        action: "error".into(),
        alerts: Vec::new(),
        top_providers: Vec::new(),
        top_models: Vec::new(),
        recommendations: Vec::new(),
        subject: None,
        error: Some(error),
    }
}

#[cfg(test)]
mod tests;
