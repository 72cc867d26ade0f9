//! The settings as the API shows them, and the alert log's records, claims and settlements.

use super::*;

/// The settings as the API shows them.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetView {
    pub project_id: String,
    pub project_name: String,
    pub budget: Option<Money>,
    /// The budget when it is in US dollars (the seed teams' field).
    pub budget_threshold_usd: Option<String>,
    pub budget_alert_threshold_percent: u16,
    /// Every level the check uses (100 always included).
    pub alert_levels: Vec<u16>,
    pub daily_limit: Option<Money>,
    pub period: serde_json::Value,
    pub alert_emails: Vec<String>,
    pub webhook_url: Option<String>,
    /// Verify the `x-ast-signature` header of webhook calls with this.
    pub webhook_secret: Option<String>,
    /// The Slack incoming webhook alerts also go to.
    pub slack_webhook_url: Option<String>,
    /// The Discord incoming webhook alerts also go to.
    pub discord_webhook_url: Option<String>,
    pub last_budget_alert_sent: Option<DateTime<Utc>>,
    /// `weekly`, `monthly`, or null: the spend report emailed to `alert_emails`.
    pub report_schedule: Option<ReportSchedule>,
    pub spike_alert: Option<SpikeRule>,
    /// `alert` or `block`: whether the guard denies what would cross the budget.
    pub budget_mode: LimitMode,
    pub daily_limit_mode: LimitMode,
}

impl BudgetView {
    pub fn new(s: &BudgetSettings) -> Self {
        BudgetView {
            project_id: s.project_id.as_str().to_string(),
            project_name: s.project_name.clone(),
            budget: s.amount,
            budget_threshold_usd: s
                .amount
                .filter(|m| m.currency == Currency::USD)
                .map(|m| m.amount_string()),
            budget_alert_threshold_percent: s.alert_threshold_percent,
            alert_levels: s.effective_levels(),
            daily_limit: s.daily_limit,
            period: crate::json!({
                "kind": "calendar_month",
                "timezone": s.timezone.clone().unwrap_or_else(|| "UTC".into()),
            }),
            alert_emails: s.emails.clone(),
            webhook_url: s.webhook_url.clone(),
            webhook_secret: s.webhook_secret.clone(),
            slack_webhook_url: s.chat.slack.clone(),
            discord_webhook_url: s.chat.discord.clone(),
            last_budget_alert_sent: s.last_alert_sent,
            report_schedule: s.report_schedule,
            spike_alert: s.spike,
            budget_mode: s.budget_mode,
            daily_limit_mode: s.daily_limit_mode,
        }
    }
}

/// One attempt to alert, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    pub id: String,
    pub project_id: String,
    pub level: String,
    /// `email`, `webhook`, `slack` or `discord`.
    pub channel: String,
    pub recipient: String,
    /// `sent` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub subject: Option<String>,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub payload: Option<String>,
    pub spend: String,
    pub budget: String,
    pub currency: String,
    pub percent_used: String,
    pub created_at: String,
    /// The same on every record of one alert in its window, retries included (`None` on
    /// records written before alert ids existed).
    pub alert_id: Option<String>,
}

/// An alert's place among the claims and in the log: its scope (a project id, or `plans`)
/// and its level. Keys are compared, ordered and hashed by those two alone.
#[derive(Debug, Clone, Serialize)]
pub struct AlertKey {
    pub scope: String,
    pub level: String,
    /// When the period the alert is about began (a budget level's month, the daily limit's or
    /// the spike rule's day, in the budget's time zone), as stored times are written: a claim
    /// or a send of an earlier period does not hold the alert back, though within 24 hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

impl AlertKey {
    pub fn new(scope: impl Into<String>, level: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            level: level.into(),
            since: None,
        }
    }

    /// Whether a claim or a send at `at` (a stored time) holds this alert back: after the
    /// window's start and not before its period began.
    pub fn held_by(&self, at: &str, window_start: &str) -> bool {
        at > window_start && self.since.as_deref().is_none_or(|since| at >= since)
    }

    fn parts(&self) -> (&str, &str) {
        (&self.scope, &self.level)
    }
}

impl PartialEq for AlertKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for AlertKey {}

impl PartialOrd for AlertKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AlertKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl std::hash::Hash for AlertKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

/// What a run of alerts writes when it is done.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    /// The run's claim: only its own claims are given back.
    pub claim_id: String,
    pub at: DateTime<Utc>,
    pub records: Vec<AlertRecord>,
    pub released: Vec<AlertKey>,
    /// Projects whose `last_budget_alert_sent` becomes `at`.
    pub alerted: Vec<ProjectId>,
}

impl Settlement {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.released.is_empty() && self.alerted.is_empty()
    }
}

/// A project whose budget settings could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableBudget {
    pub project_id: String,
    pub project_name: String,
    pub error: String,
}
