//! The budget check and its alerts: spend against budget per project, the forecast, the level
//! crossed, and what was sent. Rendering (email HTML and text, MIME, webhook JSON and its
//! HMAC-SHA256 signature) is pure and lives here too.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;

use crate::access::projects::ProjectId;
use crate::budgets::delivery::{
    deliver, Channel, Delivered, Fate, LogFacts, Outgoing, MAX_SENDS_PER_RUN,
};
use crate::budgets::settings::{window_start, AlertKey, BudgetSettings, BudgetStore};
use crate::kernel::clock::{format_timestamp, random_token, Clock, Entropy};
use crate::kernel::error::CoreError;
use crate::kernel::money::{div_round_half_even, format_scaled, Currency, Money, Totals};
use crate::plans::{capacity_of, plan_states, PlanState, PlanStore, ProfileCapacity};
use crate::reports::report::{local_midnight, period_of, Dim, Period, Range, ReportStore};

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
    /// `capacity-<profile>`.
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

fn percent_text(part: i128, whole: i128) -> Option<String> {
    (whole > 0).then(|| format_scaled(div_round_half_even(part * 10_000, whole), 2, 2))
}

fn basis_points(part: i128, whole: i128) -> i128 {
    if whole > 0 {
        div_round_half_even(part * 10_000, whole)
    } else {
        0
    }
}

/// This calendar month in `tz`, as a range.
fn month_range(tz: chrono_tz::Tz, now: DateTime<Utc>) -> Range {
    let today = now.with_timezone(&tz).date_naive();
    let first = today - Duration::days(i64::from(chrono::Datelike::day(&today)) - 1);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first + Duration::days(31));
    Range {
        from: Some(local_midnight(first, tz)),
        to: Some(local_midnight(next, tz)),
        tz,
    }
}

/// The 7 days before today in `tz`, as a range.
fn week_before_range(tz: chrono_tz::Tz, now: DateTime<Utc>) -> Range {
    let today = now.with_timezone(&tz).date_naive();
    Range {
        from: Some(local_midnight(today - Duration::days(BASELINE_DAYS), tz)),
        to: Some(local_midnight(today, tz)),
        tz,
    }
}

/// Days averaged for the spike rule's baseline.
pub const BASELINE_DAYS: i64 = 7;

/// The spend of every project over the 7 days before today in one zone (read only for zones
/// where a project has a spike rule).
fn baseline_query(
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    only: Option<&ProjectId>,
) -> crate::reports::report::RollupQuery {
    let mut query = week_before_range(tz, now).rollup_query(None);
    query.project_id = only.cloned();
    query.dims = vec![Dim::Project];
    query
}

/// The average day of the baseline rows of one project, in one currency.
fn baseline_daily(
    rows: &[crate::reports::report::RollupRow],
    project: &str,
    currency: Currency,
) -> Money {
    let total: i128 = rows
        .iter()
        .filter(|r| r.project_id.as_deref() == Some(project) && r.currency == currency.as_str())
        .map(|r| r.cost_nanos)
        .sum();
    Money::new(
        div_round_half_even(total, i128::from(BASELINE_DAYS)),
        currency,
    )
}

/// This month's rollups of every project for one time zone: one query serves every project
/// whose budget period uses that zone, so a check costs a query per zone, not per project
/// (D1 allows 50 queries per invocation on the free plan).
fn month_query(
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    only: Option<&ProjectId>,
) -> crate::reports::report::RollupQuery {
    // By local day (for today's spend): in another zone, whole UTC days come from the daily
    // rollups and only the quarter hours that belong to another local day from the
    // quarter-hour ones.
    let mut query = month_range(tz, now).rollup_query(Some(Period::Day));
    query.project_id = only.cloned();
    query.dims = vec![Dim::Project, Dim::Provider, Dim::Model];
    query
}

/// The month's spend extrapolated linearly to the month's end: `spend` after `elapsed_secs` of a
/// `total_secs` period (the first day counts as a whole day, so a morning's spend is not
/// multiplied by hundreds). An estimate, so it is rounded half to even to the cent rather than
/// shown to the nano-unit, and never below what was already spent.
pub fn forecast_nanos(spend: i128, elapsed_secs: i64, total_secs: i64) -> i128 {
    const CENT: i128 = crate::kernel::money::NANOS_PER_UNIT / 100;
    let elapsed = i128::from(elapsed_secs.max(86_400));
    let total = i128::from(total_secs.max(1));
    let cents = div_round_half_even(spend.saturating_mul(total), elapsed.saturating_mul(CENT));
    cents.saturating_mul(CENT).max(spend)
}

/// Measures the project's period: spend, forecast, today, top providers and models.
fn measure(
    all_rows: &[crate::reports::report::RollupRow],
    settings: &BudgetSettings,
    now: DateTime<Utc>,
) -> ProjectCheck {
    let tz = settings.tz();
    let today = now.with_timezone(&tz).date_naive();
    let range = month_range(tz, now);
    let rows: Vec<&crate::reports::report::RollupRow> = all_rows
        .iter()
        .filter(|r| r.project_id.as_deref() == Some(settings.project_id.as_str()))
        .collect();
    let currency = settings.amount.map_or(settings.currency, |m| m.currency);
    let today_label = today.format("%Y-%m-%d").to_string();
    let mut spend = 0i128;
    let mut today_spend = 0i128;
    let mut others = Totals::new();
    let mut unpriced = 0;
    let mut by_provider: BTreeMap<String, i128> = BTreeMap::new();
    let mut by_model: BTreeMap<(String, String), i128> = BTreeMap::new();
    for row in rows {
        unpriced += row.measures[1];
        let Ok(c) = Currency::parse(&row.currency) else {
            continue;
        };
        if c != currency {
            others.add(Money::new(row.cost_nanos, c));
            continue;
        }
        spend += row.cost_nanos;
        let provider = row.provider.clone().unwrap_or_default();
        *by_provider.entry(provider.clone()).or_default() += row.cost_nanos;
        *by_model
            .entry((provider, row.model.clone().unwrap_or_default()))
            .or_default() += row.cost_nanos;
        let day = row.period.clone().or_else(|| {
            row.bucket
                .as_deref()
                .and_then(|b| period_of(b, Period::Day, tz))
        });
        if day.is_some_and(|d| d == today_label) {
            today_spend += row.cost_nanos;
        }
    }
    let (start, end) = (range.from.unwrap_or(now), range.to.unwrap_or(now));
    let forecast = forecast_nanos(
        spend,
        (now - start).num_seconds(),
        (end - start).num_seconds(),
    );
    let budget = settings.amount.map(|m| m.nanos).unwrap_or(0);
    let top = |list: Vec<(String, Option<String>, i128)>| {
        let mut list = list;
        list.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        list.into_iter()
            .filter(|(_, _, c)| *c > 0)
            .take(5)
            .map(|(provider, model, c)| Breakdown {
                provider,
                model,
                cost: Money::new(c, currency),
                share: percent_text(c, spend).unwrap_or_else(|| "0.00".into()),
            })
            .collect::<Vec<_>>()
    };
    ProjectCheck {
        project_id: settings.project_id.as_str().to_string(),
        project_name: settings.project_name.clone(),
        budget: settings.amount,
        period: json!({
            "kind": "calendar_month",
            "timezone": tz.name(),
            "from": range.from.map(format_timestamp),
            "to": range.to.map(format_timestamp),
        }),
        spend: Money::new(spend, currency),
        spend_other_currencies: others,
        unpriced_events: unpriced,
        percent_used: percent_text(spend, budget),
        forecast: Money::new(forecast, currency),
        forecast_percent: percent_text(forecast, budget),
        today_spend: Money::new(today_spend, currency),
        daily_limit: settings.daily_limit,
        baseline_daily: None,
        levels: settings.effective_levels(),
        levels_crossed: Vec::new(),
        action: "none".into(),
        alerts: Vec::new(),
        top_providers: top(by_provider.into_iter().map(|(p, c)| (p, None, c)).collect()),
        top_models: top(by_model
            .into_iter()
            .map(|((p, m), c)| (p, Some(m), c))
            .collect()),
        recommendations: Vec::new(),
        subject: None,
        error: None,
    }
}

/// Cheaper models in the same family, for recommendations.
fn cheaper_alternative(provider: &str, model: &str) -> Option<&'static str> {
    let m = model.to_ascii_lowercase();
    match provider {
        "openai" if m.starts_with("gpt-4o-mini") || m.contains("nano") => None,
        "openai" if m.starts_with("gpt-4o") || m.starts_with("gpt-4-turbo") || m == "gpt-4" => {
            Some("gpt-4o-mini")
        }
        "openai" if m.starts_with("gpt-4.1") && !m.contains("mini") => Some("gpt-4.1-mini"),
        "openai" if m.starts_with("gpt-5") && !m.contains("mini") && !m.contains("nano") => {
            Some("gpt-5-mini")
        }
        "openai" if m.starts_with("o1") || m.starts_with("o3") && !m.contains("mini") => {
            Some("o4-mini")
        }
        "anthropic" if m.contains("opus") => Some("claude-sonnet-4-5"),
        "anthropic" if m.contains("sonnet") => Some("claude-haiku-4-5"),
        "google" if m.contains("pro") => Some("gemini-2.5-flash"),
        _ => None,
    }
}

fn recommendations(
    check: &ProjectCheck,
    settings: &BudgetSettings,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    let c = check.spend.currency;
    if let Some(budget) = settings.amount {
        if check.forecast.nanos > budget.nanos {
            let remaining = (budget.nanos - check.spend.nanos).max(0);
            let days_left = days_left(check, now);
            let per_day = div_round_half_even(remaining, i128::from(days_left.max(1)));
            out.push(format!(
                "At the current rate the month ends near {} ({}% of the budget). To stay within {}, keep spend under {} a day for the {} days left.",
                check.forecast.rounded(),
                check.forecast_percent.clone().unwrap_or_default(),
                budget.rounded(),
                Money::new(per_day, c).rounded(),
                days_left
            ));
        }
    }
    if let Some(top) = check.top_models.first() {
        let share: f64 = top.share.parse().unwrap_or(0.0);
        if share >= 40.0 {
            let model = top.model.clone().unwrap_or_default();
            match cheaper_alternative(&top.provider, &model) {
                Some(alt) => out.push(format!(
                    "{} ({}) is {}% of this month's spend; route simpler calls to {} to cut that part.",
                    model, top.provider, top.share, alt
                )),
                None => out.push(format!(
                    "{} ({}) is {}% of this month's spend; look at its largest operations first.",
                    model, top.provider, top.share
                )),
            }
        }
    }
    if check.unpriced_events > 0 {
        out.push(format!(
            "{} events this month have no price, so real spend is higher than shown; add their prices (GET /api/admin/prices/unpriced lists them).",
            check.unpriced_events
        ));
    }
    if settings.daily_limit.is_none() {
        out.push("Set a daily limit to hear about a runaway job the same day.".into());
    }
    if check
        .percent_used
        .as_deref()
        .and_then(|p| p.parse::<f64>().ok())
        .unwrap_or(0.0)
        >= 100.0
    {
        out.push(
            "The budget is spent: raise it if this spend is expected, or pause the jobs driving it."
                .into(),
        );
    }
    out
}

/// Whole days from `now` to the end of the check's period (at least one).
fn days_left(check: &ProjectCheck, now: DateTime<Utc>) -> i64 {
    check.period["to"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|end| ((end.with_timezone(&Utc) - now).num_hours() + 23) / 24)
        .unwrap_or(1)
        .max(1)
}

/// Sends one rendered alert to one address as a MIME message from `ALERT_FROM`; the inner
/// result is the send's own outcome, logged with the alert.
pub(crate) async fn send_email(
    notifier: &impl Notifier,
    entropy: &impl Entropy,
    config: &AlertConfig,
    to: &str,
    alert: &RenderedAlert,
    now: DateTime<Utc>,
) -> Result<Result<(), String>, CoreError> {
    let Some(from) = &config.from_address else {
        return Ok(Err("no sender address: set the ALERT_FROM var".to_string()));
    };
    let host = from.rsplit('@').next().unwrap_or("localhost");
    let id = format!("<{}@{host}>", random_token(entropy, "", 12)?);
    let boundary = random_token(entropy, "=_ast_", 12)?;
    let raw = mime_message(from, to, alert, &id, now, &boundary);
    Ok(notifier.send_email(from, to, &raw).await)
}

/// HTML text escaping: every user-supplied string goes through this.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The rendered alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedAlert {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn level_words(level: &str) -> String {
    match level.strip_prefix("budget-") {
        Some("100") => "is over its monthly budget".into(),
        Some(p) => format!("passed {p}% of its monthly budget"),
        None if level == "spike" => "is spending far above its usual daily rate today".into(),
        None => "passed its daily limit".into(),
    }
}

pub(crate) fn dashboard_link(config: &AlertConfig, project: &str) -> Option<String> {
    config.dashboard_url.as_ref().map(|base| {
        format!(
            "{}/?project={}",
            base.trim_end_matches('/'),
            project
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        )
    })
}

/// The email and webhook text of one alert.
pub fn render_alert(check: &ProjectCheck, level: &str, config: &AlertConfig) -> RenderedAlert {
    let name = &check.project_name;
    let percent = check.percent_used.clone().unwrap_or_else(|| "0.00".into());
    let budget = check
        .budget
        .map(|b| b.rounded())
        .unwrap_or_else(|| "no budget".into());
    let subject = if level == "spike" {
        format!(
            "[AI spend] {name}: {} today, {}x its average day of {}",
            check.today_spend.rounded(),
            spike_ratio(check),
            check
                .baseline_daily
                .map(|m| m.rounded())
                .unwrap_or_default()
        )
    } else if level == "daily" {
        format!(
            "[AI spend] {name}: {} today, over the daily limit of {}",
            check.today_spend.rounded(),
            check.daily_limit.map(|m| m.rounded()).unwrap_or_default()
        )
    } else {
        format!(
            "[AI spend] {name} at {percent}% of budget: {} of {budget}",
            check.spend.rounded()
        )
    };
    let link = dashboard_link(config, &check.project_id);
    let mut text = format!(
        "Project {name} ({}) {}.\n\nSpent this month: {} of {budget} ({percent}%).\nForecast for the month: {} ({}% of the budget).\nSpent today: {}{}.\n",
        check.project_id,
        level_words(level),
        check.spend.rounded(),
        check.forecast.rounded(),
        check.forecast_percent.clone().unwrap_or_else(|| "-".into()),
        check.today_spend.rounded(),
        check
            .daily_limit
            .map(|l| format!(" (daily limit {})", l.rounded()))
            .unwrap_or_default(),
    );
    if let Some(b) = check.baseline_daily {
        text.push_str(&format!(
            "Average day of the {BASELINE_DAYS} before today: {} (today is {}x that).\n",
            b.rounded(),
            spike_ratio(check)
        ));
    }
    if !check.top_providers.is_empty() {
        text.push_str("\nTop providers:\n");
        for b in &check.top_providers {
            text.push_str(&format!(
                "  - {}: {} ({}%)\n",
                b.provider,
                b.cost.rounded(),
                b.share
            ));
        }
    }
    if !check.top_models.is_empty() {
        text.push_str("\nTop models:\n");
        for b in &check.top_models {
            text.push_str(&format!(
                "  - {} / {}: {} ({}%)\n",
                b.provider,
                b.model.clone().unwrap_or_default(),
                b.cost.rounded(),
                b.share
            ));
        }
    }
    if !check.recommendations.is_empty() {
        text.push_str("\nRecommendations:\n");
        for r in &check.recommendations {
            text.push_str(&format!("  - {r}\n"));
        }
    }
    if let Some(link) = &link {
        text.push_str(&format!("\nDashboard: {link}\n"));
    }
    text.push_str(
        "\nFigures come from the usage your apps reported to the tracker; no provider was called.\n",
    );

    let bar_width = percent
        .parse::<f64>()
        .map(|p| p.clamp(0.0, 100.0))
        .unwrap_or(0.0);
    let bar_colour = if bar_width >= 100.0 {
        "#c62828"
    } else if bar_width >= 80.0 {
        "#ef6c00"
    } else {
        "#2e7d32"
    };
    let e = escape_html;
    let rows = |list: &[Breakdown], with_model: bool| {
        list.iter()
            .map(|b| {
                let label = if with_model {
                    format!("{} / {}", e(&b.provider), e(b.model.as_deref().unwrap_or_default()))
                } else {
                    e(&b.provider)
                };
                format!(
                    "<tr><td style=\"padding:4px 8px\">{label}</td><td style=\"padding:4px 8px;text-align:right\">{}</td><td style=\"padding:4px 8px;text-align:right\">{}%</td></tr>",
                    e(&b.cost.rounded()),
                    e(&b.share)
                )
            })
            .collect::<String>()
    };
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" /><title>");
    html.push_str(&e(&subject));
    html.push_str("</title></head><body style=\"font-family:Arial,Helvetica,sans-serif;color:#222;max-width:640px;margin:0 auto;padding:16px\">");
    html.push_str(&format!(
        "<h1 style=\"font-size:20px\">{} {}</h1>",
        e(name),
        e(&level_words(level))
    ));
    html.push_str(&format!(
        "<p>Spent this month: <strong>{}</strong> of {} (<strong>{}%</strong>).</p>",
        e(&check.spend.rounded()),
        e(&budget),
        e(&percent)
    ));
    html.push_str(&format!(
        "<div style=\"background:#eee;border-radius:4px;height:16px;width:100%\"><div style=\"background:{bar_colour};border-radius:4px;height:16px;width:{bar_width:.2}%\"></div></div>"
    ));
    html.push_str(&format!(
        "<p>Forecast for the month: <strong>{}</strong> ({}% of the budget). Spent today: {}{}.</p>",
        e(&check.forecast.rounded()),
        e(&check.forecast_percent.clone().unwrap_or_else(|| "-".into())),
        e(&check.today_spend.rounded()),
        e(&check
            .daily_limit
            .map(|l| format!(" (daily limit {})", l.rounded()))
            .unwrap_or_default())
    ));
    if let Some(b) = check.baseline_daily {
        html.push_str(&format!(
            "<p>Average day of the {BASELINE_DAYS} before today: {} (today is {}x that).</p>",
            e(&b.rounded()),
            e(&spike_ratio(check))
        ));
    }
    if !check.top_providers.is_empty() {
        html.push_str("<h2 style=\"font-size:16px\">Top providers</h2><table style=\"border-collapse:collapse\"><tbody>");
        html.push_str(&rows(&check.top_providers, false));
        html.push_str("</tbody></table>");
    }
    if !check.top_models.is_empty() {
        html.push_str("<h2 style=\"font-size:16px\">Top models</h2><table style=\"border-collapse:collapse\"><tbody>");
        html.push_str(&rows(&check.top_models, true));
        html.push_str("</tbody></table>");
    }
    if !check.recommendations.is_empty() {
        html.push_str("<h2 style=\"font-size:16px\">Recommendations</h2><ul>");
        for r in &check.recommendations {
            html.push_str(&format!("<li>{}</li>", e(r)));
        }
        html.push_str("</ul>");
    }
    if let Some(link) = &link {
        html.push_str(&format!(
            "<p><a href=\"{}\">Open the dashboard</a></p>",
            e(link)
        ));
    }
    html.push_str("<p style=\"color:#666;font-size:12px\">Figures come from the usage your apps reported to the tracker; no provider was called.</p></body></html>\n");
    RenderedAlert {
        subject,
        text,
        html,
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn wrapped_base64(text: &str) -> String {
    base64(text.as_bytes())
        .as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A header value: plain when printable ASCII, else RFC 2047 encoded words.
fn header_text(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() {
        clean
    } else {
        format!("=?UTF-8?B?{}?=", base64(clean.as_bytes()))
    }
}

/// A multipart/alternative message (plain text, then HTML), both parts UTF-8 in base64.
pub fn mime_message(
    from: &str,
    to: &str,
    alert: &RenderedAlert,
    message_id: &str,
    date: DateTime<Utc>,
    boundary: &str,
) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
        header_text(&alert.subject),
        date.format("%a, %d %b %Y %H:%M:%S +0000"),
        wrapped_base64(&alert.text),
        wrapped_base64(&alert.html),
    )
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`, sent as `x-ast-signature: sha256=<hex>`.
pub fn sign_webhook(secret: &str, timestamp: &str, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The webhook body: the message as Slack's `text` and Discord's `content` (each ignores the
/// other's field), plus the figures.
pub fn webhook_body(
    check: &ProjectCheck,
    level: &str,
    alert: &RenderedAlert,
    config: &AlertConfig,
) -> String {
    let text = format!(
        "{}\n{}",
        alert.subject,
        check.recommendations.first().cloned().unwrap_or_default()
    )
    .trim()
    .to_string();
    json!({
        "content": text,
        "text": text,
        "project_id": check.project_id,
        "project_name": check.project_name,
        "level": level,
        "spend": check.spend,
        "budget": check.budget,
        "percent_used": check.percent_used,
        "forecast": check.forecast,
        "today_spend": check.today_spend,
        "daily_limit": check.daily_limit,
        "period": check.period,
        "top_providers": check.top_providers,
        "top_models": check.top_models,
        "recommendations": check.recommendations,
        "dashboard_url": dashboard_link(config, &check.project_id),
    })
    .to_string()
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
    check.levels_crossed = levels.clone();
    if levels.is_empty() {
        return Vec::new();
    }
    let emails = config.recipients(&settings.emails);
    if emails.is_empty() && settings.webhook_url.is_none() {
        check.action = "no_recipients".into();
        return Vec::new();
    }
    let mut out = Vec::with_capacity(levels.len());
    for level in levels {
        let alert = render_alert(check, &level, config);
        check.subject.get_or_insert_with(|| alert.subject.clone());
        let mut channels: Vec<Channel> = emails.iter().cloned().map(Channel::Email).collect();
        if let Some(url) = &settings.webhook_url {
            let body = webhook_body(check, &level, &alert, config);
            let timestamp = now.timestamp().to_string();
            let signature = sign_webhook(
                settings.webhook_secret.as_deref().unwrap_or_default(),
                &timestamp,
                &body,
            );
            channels.push(Channel::Webhook {
                url: url.clone(),
                body,
                headers: vec![
                    ("content-type".to_string(), "application/json".to_string()),
                    ("x-ast-timestamp".to_string(), timestamp),
                    ("x-ast-signature".to_string(), format!("sha256={signature}")),
                ],
            });
        }
        out.push(Outgoing {
            key: AlertKey::new(settings.project_id.as_str(), level),
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

/// Checks every project's budget (or one project's) and, in `Send` mode, alerts. A project
/// that fails is reported with its error and never stops the others.
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
    let now = clock.now();
    let mut report = CheckReport {
        mode,
        checked_at: format_timestamp(now),
        projects: Vec::new(),
        plans: Vec::new(),
        alerts_sent: 0,
        alerts_failed: 0,
    };
    let all = budgets.budgets().await?;
    // The month of every zone with a budget, and the week before today of every zone with a
    // spike rule: all read in one call.
    let mut zones: BTreeMap<String, (chrono_tz::Tz, bool)> = BTreeMap::new();
    for settings in all.iter().flatten() {
        if only.is_some_and(|p| *p != settings.project_id) || !has_rules(settings) {
            continue;
        }
        let tz = settings.tz();
        let entry = zones.entry(tz.name().to_string()).or_insert((tz, false));
        entry.1 |= settings.spike.is_some();
    }
    let mut queries = Vec::new();
    let mut slots: BTreeMap<String, (usize, Option<usize>)> = BTreeMap::new();
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
    if only.is_none() {
        match plan_checks(reports, plans, config, now).await {
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
    let mut by_project: BTreeMap<usize, Vec<&Delivered>> = BTreeMap::new();
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

/// The scope under which plan alerts are claimed and logged.
pub const PLANS_SCOPE: &str = "plans";
/// A one-time credit with some of it unused is announced this many days before it expires.
pub const CREDIT_EXPIRY_NOTICE_DAYS: i64 = 7;

/// Allotment alerts (a plan past its alert percent) and capacity alerts (a profile with fewer
/// units of work left than its alert level), sent to the plan's addresses.
async fn plan_checks(
    reports: &impl ReportStore,
    plans: &impl PlanStore,
    config: &AlertConfig,
    now: DateTime<Utc>,
) -> Result<Vec<(PlanCheck, Option<Outgoing>)>, CoreError> {
    let states = plan_states(plans, reports, now).await?;
    // Money as the dashboard rounds it; other units exactly.
    let show = |state: &crate::plans::PlanState, value: i128| {
        if state.plan.unit == crate::plans::Unit::Money {
            crate::kernel::money::rounded_amount(value)
        } else {
            state.plan.show(value)
        }
    };
    let mut due: Vec<DueAlert> = Vec::new();
    for state in states.iter().filter(|s| !s.expired) {
        let plan = &state.plan;
        let (Some(limit), Some(percent)) = (plan.alert_percent, state.percent_used()) else {
            continue;
        };
        let value: f64 = percent.parse().unwrap_or(0.0);
        if value >= f64::from(limit) {
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
                    plan.provider,
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
        .filter(|s| !s.expired && s.plan.term.is_some())
    {
        let plan = &state.plan;
        let unused = state.remaining().unwrap_or(0);
        if state.days_left > CREDIT_EXPIRY_NOTICE_DAYS
            || unused <= 0
            || config.recipients(&plan.alert_emails).is_empty()
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
                plan.provider,
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
    for profile in capacity_of(&states, plans, reports, now).await? {
        let (Some(below), Some(left)) = (profile.alert_below, profile.units_left) else {
            continue;
        };
        if left < i64::from(below) {
            let bottleneck = profile.bottleneck.clone().unwrap_or_default();
            let emails = capacity_recipients(&states, &profile, &bottleneck);
            let emails = config.recipients(emails).to_vec();
            due.push((
                bottleneck.clone(),
                profile.project_id.clone(),
                format!(
                    "capacity-{}{}",
                    profile.name,
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
        if emails.is_empty() {
            check.action = "no_recipients".into();
            out.push((check, None));
            continue;
        }
        let alert = RenderedAlert {
            subject: format!("[AI spend] {}", message.split(';').next().unwrap_or(&message)),
            text: format!("{message}\n{}\n", dashboard_link(config, "").map(|l| format!("\nDashboard: {l}")).unwrap_or_default()),
            html: format!(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" /><title>Plan alert</title></head><body style=\"font-family:Arial,Helvetica,sans-serif\"><p>{}</p>{}</body></html>\n",
                escape_html(&message),
                dashboard_link(config, "").map(|l| format!("<p><a href=\"{}\">Open the dashboard</a></p>", escape_html(&l))).unwrap_or_default()
            ),
        };
        let scope = check
            .project_id
            .clone()
            .unwrap_or_else(|| PLANS_SCOPE.into());
        let item = Outgoing {
            // Plan alerts are claimed under one scope, whatever project they name.
            key: AlertKey::new(PLANS_SCOPE, level),
            log_scope: scope,
            alert,
            channels: emails.into_iter().map(Channel::Email).collect(),
            facts: LogFacts::default(),
            stamps: None,
        };
        out.push((check, Some(item)));
    }
    Ok(out)
}

/// The addresses a capacity alert goes to: those of the bottleneck provider's plan of the
/// profile's own project, else of that provider's global plan; never another project's plan.
/// Among several plans of one scope (one per unit), the one in the bottleneck's unit wins.
fn capacity_recipients<'a>(
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
mod tests {
    use chrono::TimeZone;
    use pollster::block_on;
    use serde_json::json;

    use super::*;
    use crate::access::projects::create_project;
    use crate::kernel::clock::{FixedClock, SystemEntropy};
    use crate::kernel::testing::{MemoryLog, MemoryStore};
    use crate::usage::ingest::{ingest, IngestConfig};

    #[test]
    fn a_budget_in_another_zone_counts_this_local_month_and_today_exactly() {
        // 20 November 2026, 03:00 UTC: still the 19th in New York.
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap();
        let store = MemoryStore::new();
        let request = serde_json::from_value(json!({"id": "ads", "name": "Ads"})).unwrap();
        let project = block_on(create_project(
            &store,
            &FixedClock(now),
            &SystemEntropy,
            request,
        ))
        .unwrap();
        // One dollar at each instant; the New York month began at 04:00 UTC on 1 November.
        let at = [
            "2026-11-01T03:30:00Z", // 31 October in New York: not this month
            "2026-11-01T04:30:00Z", // 1 November
            "2026-11-10T12:00:00Z",
            "2026-11-19T05:30:00Z", // the 19th: today
            "2026-11-20T01:00:00Z", // still the 19th in New York
            "2026-11-20T02:59:00Z", // and again
        ];
        let events: Vec<_> = at
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"id": format!("e{i}"), "provider": "openai", "model": "m", "cost": "1", "timestamp": t}))
            .collect();
        block_on(ingest(
            &store,
            &store,
            &MemoryLog::default(),
            &FixedClock(now),
            &SystemEntropy,
            &crate::access::auth::Principal::Admin,
            json!({"project_id": project.id.as_str(), "events": events})
                .to_string()
                .as_bytes(),
            IngestConfig::default(),
        ))
        .unwrap();
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let settings = BudgetSettings {
            project_id: project.id.clone(),
            project_name: "Ads".into(),
            project_client: None,
            amount: Some(Money::new(100 * NANOS, Currency::USD)),
            currency: Currency::USD,
            alert_threshold_percent: 80,
            levels: Vec::new(),
            daily_limit: None,
            timezone: Some("America/New_York".into()),
            emails: Vec::new(),
            webhook_url: None,
            webhook_secret: None,
            last_alert_sent: None,
            report_schedule: None,
            spike: None,
        };

        let rows = block_on(store.rollups(&month_query(ny, now, None))).unwrap();
        let check = measure(&rows, &settings, now);

        assert!(
            rows.iter().all(|r| r.period.is_some()),
            "read through a plan"
        );
        assert_eq!(check.spend, Money::new(5 * NANOS, Currency::USD));
        assert_eq!(check.today_spend, Money::new(3 * NANOS, Currency::USD));
    }

    /// A rollup row of project `ads`, openai / gpt-4o, on a local day.
    fn day_row(day: &str, cost: &str) -> crate::reports::report::RollupRow {
        let mut measures = [0i64; crate::reports::report::MEASURES.len()];
        measures[0] = 1;
        crate::reports::report::RollupRow {
            bucket: None,
            period: Some(day.into()),
            project_id: Some("ads".into()),
            provider: Some("openai".into()),
            model: Some("gpt-4o".into()),
            operation: Some("chat".into()),
            currency: "USD".into(),
            cost_nanos: Money::parse(cost, Currency::USD).unwrap().nanos,
            measures,
        }
    }

    #[test]
    fn alert_email_rounds_money_as_the_dashboard_does_and_the_check_keeps_the_exact_figures() {
        // 11 November 2026: 10 days of the month gone, 20 left; 30 USD budget.
        let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
        let usd = |text: &str| Money::parse(text, Currency::USD).unwrap();
        let settings = BudgetSettings {
            project_id: ProjectId::parse("ads").unwrap(),
            project_name: "Ads".into(),
            project_client: None,
            amount: Some(usd("30")),
            currency: Currency::USD,
            alert_threshold_percent: 80,
            levels: Vec::new(),
            daily_limit: Some(usd("1234.565")),
            timezone: None,
            emails: vec!["ops@example.com".into()],
            webhook_url: None,
            webhook_secret: None,
            last_alert_sent: None,
            report_schedule: None,
            spike: None,
        };
        // 16.32692592 USD spent: 13.67307408 USD left for 20 days, 0.683653704 USD a day.
        let rows = [
            day_row("2026-11-10", "16.32647"),
            day_row("2026-11-11", "0.00045592"),
        ];
        let mut check = measure(&rows, &settings, now);
        check.recommendations = recommendations(&check, &settings, now);
        check.baseline_daily = Some(usd("0.0123456"));

        let alert = render_alert(&check, "budget-50", &AlertConfig::default());

        assert_eq!(
            check.spend,
            usd("16.32692592"),
            "the check keeps the exact spend"
        );
        assert_eq!(
            alert.subject,
            "[AI spend] Ads at 54.42% of budget: 16.33 USD of 30.00 USD"
        );
        assert!(
            alert.text.contains(
                "Spent this month: 16.33 USD of 30.00 USD (54.42%).\n\
                 Forecast for the month: 48.98 USD (163.27% of the budget).\n\
                 Spent today: 0.000456 USD (daily limit 1,234.57 USD).\n\
                 Average day of the 7 before today: 0.0123 USD"
            ),
            "{}",
            alert.text
        );
        assert!(
            alert.text.contains(
                "To stay within 30.00 USD, keep spend under 0.684 USD a day for the 20 days left."
            ),
            "{}",
            alert.text
        );
        assert!(alert.text.contains("  - openai: 16.33 USD (100.00%)\n"));
        assert!(alert
            .text
            .contains("  - openai / gpt-4o: 16.33 USD (100.00%)\n"));
        for html in [
            "<strong>16.33 USD</strong> of 30.00 USD",
            "<strong>48.98 USD</strong>",
            "Spent today: 0.000456 USD (daily limit 1,234.57 USD).",
            "keep spend under 0.684 USD a day",
            ">16.33 USD</td>",
        ] {
            assert!(alert.html.contains(html), "{html} in {}", alert.html);
        }
        for exact in ["0.683653704", "16.32692592", "0.00045592", "1234.565"] {
            assert!(!alert.text.contains(exact), "{exact} in {}", alert.text);
            assert!(!alert.html.contains(exact), "{exact} in the HTML");
        }

        let spike = render_alert(&check, "spike", &AlertConfig::default());
        assert!(
            spike
                .subject
                .starts_with("[AI spend] Ads: 0.000456 USD today, "),
            "{}",
            spike.subject
        );
        assert!(spike.subject.ends_with("its average day of 0.0123 USD"));
        let daily = render_alert(&check, "daily", &AlertConfig::default());
        assert_eq!(
            daily.subject,
            "[AI spend] Ads: 0.000456 USD today, over the daily limit of 1,234.57 USD"
        );
    }

    const NANOS: i128 = crate::kernel::money::NANOS_PER_UNIT;
}
