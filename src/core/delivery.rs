//! Delivering a run's alerts and reports in a bounded number of store calls, whatever the
//! number of projects: every due alert is claimed in one call, sent, and then logged (with
//! the claims of alerts that all failed given back, and alerted projects stamped) in one more.
//! A run sends at most [`MAX_SENDS_PER_RUN`] messages; the alerts past that are left unclaimed
//! for the next run (`deferred`), so one run stays within the Workers free plan's subrequests.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::alerts::{send_email, AlertConfig, AlertOutcome, Mode, Notifier, RenderedAlert};
use super::budgets::{AlertKey, AlertRecord, BudgetStore, Settlement};
use super::clock::{format_timestamp, random_token, Entropy};
use super::error::CoreError;
use super::projects::ProjectId;

/// The most emails and webhook posts one run sends (each is a subrequest).
pub const MAX_SENDS_PER_RUN: usize = 25;

/// Where one alert goes.
#[derive(Debug, Clone)]
pub enum Channel {
    Email(String),
    /// A URL, the JSON body and its headers (signed when the alert was prepared).
    Webhook {
        url: String,
        body: String,
        headers: Vec<(String, String)>,
    },
}

impl Channel {
    fn kind(&self) -> &'static str {
        match self {
            Channel::Email(_) => "email",
            Channel::Webhook { .. } => "webhook",
        }
    }

    fn recipient(&self) -> &str {
        match self {
            Channel::Email(to) => to,
            Channel::Webhook { url, .. } => url,
        }
    }
}

/// The figures the alert log keeps beside each message.
#[derive(Debug, Clone, Default)]
pub struct LogFacts {
    pub spend: String,
    pub budget: String,
    pub currency: String,
    pub percent_used: String,
}

/// One alert or report ready to go.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub key: AlertKey,
    /// The scope the log files it under (a plan alert is claimed under `plans` but logged
    /// under the project it names, if any).
    pub log_scope: String,
    pub alert: RenderedAlert,
    pub channels: Vec<Channel>,
    pub facts: LogFacts,
    /// The project whose `last_budget_alert_sent` is stamped when any channel succeeds.
    pub stamps: Option<ProjectId>,
}

/// What became of one [`Outgoing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// A dry run: it would be sent.
    WouldSend,
    /// Claimed within its window already (by an earlier run, or an overlapping one).
    Claimed,
    /// Past this run's send limit: left unclaimed for the next run.
    Deferred,
    /// Sent (`sent` of its channels succeeded; 0 means every one failed).
    Attempted { sent: usize, failed: usize },
}

#[derive(Debug, Clone)]
pub struct Delivered {
    pub fate: Fate,
    pub outcomes: Vec<AlertOutcome>,
}

/// The run's deliveries, in the order given, and the error of writing the log if that failed
/// after the sends (the claims stay held, so nothing is sent twice).
#[derive(Debug, Clone)]
pub struct Deliveries {
    pub items: Vec<Delivered>,
    pub log_error: Option<String>,
}

fn outcomes(item: &Outgoing, status: &str) -> Vec<AlertOutcome> {
    item.channels
        .iter()
        .map(|c| AlertOutcome {
            level: item.key.level.clone(),
            channel: c.kind().into(),
            recipient: c.recipient().into(),
            status: status.into(),
            error: None,
        })
        .collect()
}

/// Claims, sends and logs `outgoing`. A claim older than `not_after` may be taken again (the
/// epoch: never, as for a report, which goes once per period). Store calls: one read of the
/// claims held; when sending, one claim and one settlement more.
#[allow(clippy::too_many_arguments)]
pub async fn deliver(
    budgets: &impl BudgetStore,
    notifier: &impl Notifier,
    entropy: &impl Entropy,
    config: &AlertConfig,
    now: DateTime<Utc>,
    not_after: DateTime<Utc>,
    mode: Mode,
    outgoing: &[Outgoing],
) -> Result<Deliveries, CoreError> {
    let mut deliveries = Deliveries {
        items: Vec::with_capacity(outgoing.len()),
        log_error: None,
    };
    if outgoing.is_empty() {
        return Ok(deliveries);
    }
    // The claims already held: in a dry run, what would be rate-limited; when sending, the
    // alerts that need no share of this run's sends.
    let keys: Vec<AlertKey> = outgoing.iter().map(|o| o.key.clone()).collect();
    let claimed: BTreeSet<AlertKey> = budgets
        .claimed_after(&keys, not_after)
        .await?
        .into_iter()
        .collect();
    if mode == Mode::DryRun {
        for item in outgoing {
            let (fate, status) = if claimed.contains(&item.key) {
                (Fate::Claimed, "rate_limited")
            } else {
                (Fate::WouldSend, "would_send")
            };
            deliveries.items.push(Delivered {
                fate,
                outcomes: outcomes(item, status),
            });
        }
        return Ok(deliveries);
    }

    // The unclaimed alerts that fit in this run's sends; the first always does.
    let mut budget = MAX_SENDS_PER_RUN;
    let mut first = true;
    let mut chosen = vec![false; outgoing.len()];
    for (i, item) in outgoing.iter().enumerate() {
        if claimed.contains(&item.key) {
            continue;
        }
        if item.channels.len() <= budget || first {
            budget = budget.saturating_sub(item.channels.len());
            chosen[i] = true;
        }
        first = false;
    }
    let keys: Vec<AlertKey> = outgoing
        .iter()
        .zip(&chosen)
        .filter(|(_, c)| **c)
        .map(|(o, _)| o.key.clone())
        .collect();
    let claim = random_token(entropy, "clm_", 12)?;
    let won: BTreeSet<AlertKey> = budgets
        .claim_alerts(&keys, &claim, now, not_after)
        .await?
        .into_iter()
        .collect();

    let mut settlement = Settlement {
        claim_id: claim,
        at: now,
        ..Settlement::default()
    };
    for (item, chosen) in outgoing.iter().zip(chosen) {
        if claimed.contains(&item.key) {
            deliveries.items.push(Delivered {
                fate: Fate::Claimed,
                outcomes: outcomes(item, "rate_limited"),
            });
            continue;
        }
        if !chosen {
            deliveries.items.push(Delivered {
                fate: Fate::Deferred,
                outcomes: outcomes(item, "deferred"),
            });
            continue;
        }
        if !won.contains(&item.key) {
            deliveries.items.push(Delivered {
                fate: Fate::Claimed,
                outcomes: outcomes(item, "rate_limited"),
            });
            continue;
        }
        let (mut sent, mut failed) = (0, 0);
        let mut item_outcomes = Vec::with_capacity(item.channels.len());
        for channel in &item.channels {
            let (result, payload) = match channel {
                Channel::Email(to) => (
                    send_email(notifier, entropy, config, to, &item.alert, now).await?,
                    None,
                ),
                Channel::Webhook { url, body, headers } => (
                    notifier.post_webhook(url, body, headers).await,
                    Some(body.clone()),
                ),
            };
            if result.is_ok() {
                sent += 1;
            } else {
                failed += 1;
            }
            let email = matches!(channel, Channel::Email(_));
            let record = AlertRecord {
                id: random_token(entropy, "alr_", 12)?,
                project_id: item.log_scope.clone(),
                level: item.key.level.clone(),
                channel: channel.kind().into(),
                recipient: channel.recipient().into(),
                status: if result.is_ok() { "sent" } else { "failed" }.into(),
                error: result.as_ref().err().cloned(),
                subject: Some(item.alert.subject.clone()),
                text_body: email.then(|| item.alert.text.clone()),
                html_body: email.then(|| item.alert.html.clone()),
                payload,
                spend: item.facts.spend.clone(),
                budget: item.facts.budget.clone(),
                currency: item.facts.currency.clone(),
                percent_used: item.facts.percent_used.clone(),
                created_at: format_timestamp(now),
            };
            item_outcomes.push(AlertOutcome {
                level: record.level.clone(),
                channel: record.channel.clone(),
                recipient: record.recipient.clone(),
                status: record.status.clone(),
                error: record.error.clone(),
            });
            settlement.records.push(record);
        }
        if sent == 0 {
            // Nothing went out: give the window back so the next run retries.
            settlement.released.push(item.key.clone());
        } else if let Some(project) = &item.stamps {
            if !settlement.alerted.contains(project) {
                settlement.alerted.push(project.clone());
            }
        }
        deliveries.items.push(Delivered {
            fate: Fate::Attempted { sent, failed },
            outcomes: item_outcomes,
        });
    }
    if !settlement.is_empty() {
        if let Err(e) = budgets.settle_alerts(&settlement).await {
            deliveries.log_error =
                Some(format!("sent, but the alert log could not be written: {e}"));
        }
    }
    Ok(deliveries)
}
