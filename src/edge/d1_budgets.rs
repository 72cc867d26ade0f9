//! D1 adapter of [`BudgetStore`]: budget settings on `projects`, atomic alert claims in
//! `alert_claims`, and the `alert_log`.

use chrono::{DateTime, Utc};
use wasm_bindgen::JsValue;

use crate::core::access::projects::ProjectId;
use crate::core::budgets::settings::{
    AlertKey, AlertRecord, BudgetSettings, ChatUrls, ReportSchedule, Settlement, SpikeRule,
    UnreadableBudget,
};
use crate::core::budgets::store::BudgetStore;
use crate::core::kernel::clock::{format_timestamp, parse_timestamp};
use crate::core::kernel::error::StoreError;
use crate::core::kernel::limits::LimitMode;
use crate::core::kernel::money::{Currency, Money};

use super::d1::{corrupt, json_chunks, query_js, query_rows, store_error, text, D1Store};
use super::d1_row::JsRow;

fn opt(value: Option<&str>) -> JsValue {
    value.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

crate::d1_row! {
struct BudgetRow {
    id: String,
    name: String,
    client: Option<String>,
    budget_threshold_usd: Option<String>,
    budget_currency: String,
    budget_alert_threshold_percent: f64,
    alert_levels: Option<String>,
    daily_limit: Option<String>,
    budget_timezone: Option<String>,
    alert_emails: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    slack_webhook_url: Option<String>,
    discord_webhook_url: Option<String>,
    last_budget_alert_sent: Option<String>,
    report_schedule: Option<String>,
    spike_alert: Option<String>,
    budget_mode: Option<String>,
    daily_limit_mode: Option<String>,
}
}

/// `spike_alert` as stored: the minimum as a decimal in the budget's currency.
#[derive(serde::Serialize)]
struct StoredSpike {
    percent: u16,
    min_spend: String,
}

spend_core::object_reader!(
    StoredSpike,
    skip {
        percent: required,
        min_spend: required,
    }
);

impl BudgetRow {
    fn into_settings(self) -> Result<BudgetSettings, StoreError> {
        let currency =
            Currency::parse(&self.budget_currency).map_err(|e| corrupt("budget currency", e))?;
        let money = |v: Option<String>| {
            v.map(|t| Money::parse(&t, currency).map_err(|e| corrupt("budget", e)))
                .transpose()
        };
        let mode = |field: &str, v: Option<String>| {
            v.map_or(Ok(LimitMode::Alert), |t| {
                LimitMode::parse(&t).map_err(|e| corrupt(field, e))
            })
        };
        Ok(BudgetSettings {
            budget_mode: mode("budget mode", self.budget_mode)?,
            daily_limit_mode: mode("daily limit mode", self.daily_limit_mode)?,
            project_id: ProjectId::parse(&self.id).map_err(|e| corrupt("project id", e))?,
            project_name: self.name,
            project_client: self.client,
            amount: money(self.budget_threshold_usd)?,
            currency,
            alert_threshold_percent: self.budget_alert_threshold_percent as u16,
            levels: self
                .alert_levels
                .map(|t| {
                    serde_json::from_str(&t).map_err(|e| corrupt("alert levels", e.to_string()))
                })
                .transpose()?
                .unwrap_or_default(),
            daily_limit: money(self.daily_limit)?,
            timezone: self.budget_timezone,
            emails: self
                .alert_emails
                .map(|t| {
                    serde_json::from_str(&t).map_err(|e| corrupt("alert emails", e.to_string()))
                })
                .transpose()?
                .unwrap_or_default(),
            webhook_url: self.webhook_url,
            webhook_secret: self.webhook_secret,
            chat: ChatUrls {
                slack: self.slack_webhook_url,
                discord: self.discord_webhook_url,
            },
            last_alert_sent: self
                .last_budget_alert_sent
                .as_deref()
                .map(|t| parse_timestamp(t).map_err(|e| corrupt("timestamp", e)))
                .transpose()?,
            spike: self
                .spike_alert
                .as_deref()
                .map(|t| {
                    let stored: StoredSpike = serde_json::from_str(t)
                        .map_err(|e| corrupt("spike alert", e.to_string()))?;
                    Ok::<_, StoreError>(SpikeRule {
                        percent: stored.percent,
                        min_spend: Money::parse(&stored.min_spend, currency)
                            .map_err(|e| corrupt("spike alert", e))?,
                    })
                })
                .transpose()?,
            report_schedule: self
                .report_schedule
                .as_deref()
                .map(|t| {
                    ReportSchedule::parse(t)
                        .ok_or_else(|| corrupt("report schedule", t.to_string()))
                })
                .transpose()?,
        })
    }
}

const BUDGET_COLUMNS: &str = "id, name, client, budget_threshold_usd, budget_currency, \
    budget_alert_threshold_percent, alert_levels, daily_limit, budget_timezone, alert_emails, \
    webhook_url, webhook_secret, last_budget_alert_sent, report_schedule, spike_alert, \
    budget_mode, daily_limit_mode, slack_webhook_url, discord_webhook_url";

const ALERT_COLUMNS: &str = "id, project_id, level, channel, recipient, status, error, subject, \
    text_body, html_body, payload, spend, budget, currency, percent_used, created_at, alert_id";

crate::d1_row! {
/// A claim's key as D1 returns it.
struct KeyRow {
    project_id: String,
    level: String,
    claim_id: Option<String>,
}
}

fn keys_json(keys: &[AlertKey]) -> Result<String, StoreError> {
    serde_json::to_string(keys).map_err(|e| corrupt("alert keys", e.to_string()))
}

fn record_of(row: JsRow) -> AlertRecord {
    let s = |k: &str| row.get(k).text();
    AlertRecord {
        id: s("id").unwrap_or_default(),
        project_id: s("project_id").unwrap_or_default(),
        level: s("level").unwrap_or_default(),
        channel: s("channel").unwrap_or_default(),
        recipient: s("recipient").unwrap_or_default(),
        status: s("status").unwrap_or_default(),
        error: s("error"),
        subject: s("subject"),
        text_body: s("text_body"),
        html_body: s("html_body"),
        payload: s("payload"),
        spend: s("spend").unwrap_or_default(),
        budget: s("budget").unwrap_or_default(),
        currency: s("currency").unwrap_or_default(),
        percent_used: s("percent_used").unwrap_or_default(),
        created_at: s("created_at").unwrap_or_default(),
        alert_id: s("alert_id"),
    }
}

impl BudgetStore for D1Store {
    async fn budget(&self, project: &ProjectId) -> Result<Option<BudgetSettings>, StoreError> {
        let rows: Vec<BudgetRow> = query_rows(
            self.db(),
            &format!("SELECT {BUDGET_COLUMNS} FROM projects WHERE id = ?1"),
            &[text(project.as_str())],
        )
        .await?;
        rows.into_iter()
            .next()
            .map(BudgetRow::into_settings)
            .transpose()
    }

    async fn budgets(&self) -> Result<Vec<Result<BudgetSettings, UnreadableBudget>>, StoreError> {
        let rows: Vec<BudgetRow> = query_rows(
            self.db(),
            &format!("SELECT {BUDGET_COLUMNS} FROM projects ORDER BY created_at, id"),
            &[],
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (id, name) = (row.id.clone(), row.name.clone());
                row.into_settings().map_err(|e| UnreadableBudget {
                    project_id: id,
                    project_name: name,
                    error: e.to_string(),
                })
            })
            .collect())
    }

    async fn save_budget(&self, s: &BudgetSettings) -> Result<bool, StoreError> {
        let json = |v: String| JsValue::from_str(&v);
        let levels =
            (!s.levels.is_empty()).then(|| serde_json::to_string(&s.levels).unwrap_or_default());
        let emails =
            (!s.emails.is_empty()).then(|| serde_json::to_string(&s.emails).unwrap_or_default());
        let spike = s.spike.map(|r| {
            serde_json::to_string(&StoredSpike {
                percent: r.percent,
                min_spend: r.min_spend.amount_string(),
            })
            .unwrap_or_default()
        });
        let rows = query_js(
            self.db(),
            "UPDATE projects SET budget_threshold_usd = ?2, budget_currency = ?3, \
             budget_alert_threshold_percent = ?4, alert_levels = ?5, daily_limit = ?6, \
             budget_timezone = ?7, alert_emails = ?8, webhook_url = ?9, webhook_secret = ?10, \
             updated_at = ?11, report_schedule = ?12, spike_alert = ?13, budget_mode = ?14, \
             daily_limit_mode = ?15, slack_webhook_url = ?16, discord_webhook_url = ?17 \
             WHERE id = ?1 RETURNING id",
            &[
                text(s.project_id.as_str()),
                opt(s.amount.map(|m| m.amount_string()).as_deref()),
                json(s.currency.to_string()),
                JsValue::from(s.alert_threshold_percent),
                opt(levels.as_deref()),
                opt(s.daily_limit.map(|m| m.amount_string()).as_deref()),
                opt(s.timezone.as_deref()),
                opt(emails.as_deref()),
                opt(s.webhook_url.as_deref()),
                opt(s.webhook_secret.as_deref()),
                json(format_timestamp(super::d1::now())),
                opt(s.report_schedule.map(|r| r.name())),
                opt(spike.as_deref()),
                text(s.budget_mode.as_str()),
                text(s.daily_limit_mode.as_str()),
                opt(s.chat.slack.as_deref()),
                opt(s.chat.discord.as_deref()),
            ],
        )
        .await?;
        Ok(!rows.is_empty())
    }

    async fn claim_alerts(
        &self,
        keys: &[AlertKey],
        claim_id: &str,
        now: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for every key: insert the claim, or take over one older than the
        // window. Of two overlapping runs, the second finds the first's fresh claims and gets
        // none of those rows back.
        let rows: Vec<KeyRow> = query_rows(
            self.db(),
            "INSERT INTO alert_claims (project_id, level, claim_id, claimed_at) \
             SELECT DISTINCT json_extract(value, '$.scope'), json_extract(value, '$.level'), ?1, ?2 \
             FROM json_each(?3) WHERE true \
             ON CONFLICT (project_id, level) DO UPDATE SET claim_id = excluded.claim_id, \
             claimed_at = excluded.claimed_at WHERE alert_claims.claimed_at <= ?4 \
             OR alert_claims.claimed_at < coalesce((SELECT json_extract(k.value, '$.since') \
             FROM json_each(?3) k WHERE json_extract(k.value, '$.scope') = alert_claims.project_id \
             AND json_extract(k.value, '$.level') = alert_claims.level), '') \
             RETURNING project_id, level, claim_id",
            &[
                text(claim_id),
                text(&format_timestamp(now)),
                text(&keys_json(keys)?),
                text(&format_timestamp(not_after)),
            ],
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.claim_id.as_deref() == Some(claim_id))
            .map(|r| AlertKey::new(r.project_id, r.level))
            .collect())
    }

    async fn claimed_after(
        &self,
        keys: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<KeyRow> = query_rows(
            self.db(),
            // A claim of the key's period (`since`, when it has one) within the window.
            "SELECT DISTINCT c.project_id, c.level, c.claim_id FROM alert_claims c \
             JOIN json_each(?2) k ON c.project_id = json_extract(k.value, '$.scope') \
             AND c.level = json_extract(k.value, '$.level') WHERE c.claimed_at > ?1 \
             AND c.claimed_at >= coalesce(json_extract(k.value, '$.since'), '')",
            &[text(&format_timestamp(since)), text(&keys_json(keys)?)],
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AlertKey::new(r.project_id, r.level))
            .collect())
    }

    async fn logged_after(
        &self,
        logged: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        if logged.is_empty() {
            return Ok(Vec::new());
        }
        // `alert_log_by_project` (project_id, created_at) finds each key's recent rows.
        let rows = query_js(
            self.db(),
            "SELECT DISTINCT l.project_id, l.level, l.channel, l.recipient, l.status, l.alert_id \
             FROM alert_log l JOIN json_each(?2) k ON l.project_id = json_extract(k.value, '$.scope') \
             AND l.level = json_extract(k.value, '$.level') WHERE l.created_at > ?1 \
             AND l.created_at >= coalesce(json_extract(k.value, '$.since'), '')",
            &[text(&format_timestamp(since)), text(&keys_json(logged)?)],
        )
        .await?;
        Ok(rows.into_iter().map(record_of).collect())
    }

    async fn settle_alerts(&self, settlement: &Settlement) -> Result<(), StoreError> {
        let db = self.db();
        let mut statements = Vec::new();
        let columns: Vec<&str> = ALERT_COLUMNS.split(',').map(str::trim).collect();
        let extracts = columns
            .iter()
            .map(|c| format!("json_extract(value, '$.{c}')"))
            .collect::<Vec<_>>()
            .join(", ");
        // The bodies are kept with each record: bound in chunks under D1's 2 MB per value.
        for json in json_chunks(&settlement.records, 1_000_000)? {
            statements.push(
                db.prepare(format!(
                    "INSERT INTO alert_log ({ALERT_COLUMNS}) SELECT {extracts} FROM json_each(?1)"
                ))
                .bind(&[text(&json)])
                .map_err(store_error)?,
            );
        }
        if !settlement.released.is_empty() {
            statements.push(
                db.prepare(
                    "DELETE FROM alert_claims WHERE claim_id = ?1 AND (project_id, level) IN \
                     (SELECT json_extract(value, '$.scope'), json_extract(value, '$.level') FROM json_each(?2))",
                )
                .bind(&[
                    text(&settlement.claim_id),
                    text(&keys_json(&settlement.released)?),
                ])
                .map_err(store_error)?,
            );
        }
        if !settlement.alerted.is_empty() {
            let ids: Vec<&str> = settlement.alerted.iter().map(ProjectId::as_str).collect();
            let ids =
                serde_json::to_string(&ids).map_err(|e| corrupt("project ids", e.to_string()))?;
            statements.push(
                db.prepare(
                    "UPDATE projects SET last_budget_alert_sent = ?1 \
                     WHERE id IN (SELECT value FROM json_each(?2))",
                )
                .bind(&[text(&format_timestamp(settlement.at)), text(&ids)])
                .map_err(store_error)?,
            );
        }
        if statements.is_empty() {
            return Ok(());
        }
        db.batch(statements).await.map_err(store_error)?;
        Ok(())
    }

    async fn alerts(
        &self,
        project: Option<&ProjectId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = match project {
            Some(p) => {
                query_js(
                    self.db(),
                    &format!(
                        "SELECT {ALERT_COLUMNS} FROM alert_log WHERE project_id = ?1 \
                         ORDER BY created_at DESC, id LIMIT {limit}"
                    ),
                    &[text(p.as_str())],
                )
                .await?
            }
            None => {
                query_js(
                    self.db(),
                    &format!(
                        "SELECT {ALERT_COLUMNS} FROM alert_log ORDER BY created_at DESC, id LIMIT {limit}"
                    ),
                    &[],
                )
                .await?
            }
        };
        Ok(rows.into_iter().map(record_of).collect())
    }
}
