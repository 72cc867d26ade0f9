//! Delivering a run's alerts and reports in a bounded number of store calls, whatever the
//! number of projects: every due alert is claimed in one call, the log of the alerts won is
//! read for the channels they reached in their window in one more, the rest sent, and then
//! logged (with the claims of alerts that a channel failed for given back, and alerted
//! projects stamped) in one more. An alert given back after some of its channels went out is
//! sent by a later run to the others alone, under the same alert id.
//! A run sends at most [`MAX_SENDS_PER_RUN`] messages; the alerts past that are left unclaimed
//! for the next run (`deferred`), so one run stays within the Workers free plan's subrequests.

use chrono::{DateTime, Utc};

use crate::access::projects::ProjectId;
use crate::budgets::alerts::{
    send_email, AlertConfig, AlertOutcome, ChatService, Mode, Notifier, RenderedAlert,
    WebhookSigner,
};
use crate::budgets::settings::{AlertKey, AlertRecord, Settlement};
use crate::budgets::store::BudgetStore;
use crate::kernel::clock::{format_timestamp, random_token, Entropy};
use crate::kernel::error::CoreError;

/// The most emails, webhook and chat posts one run sends (each is a subrequest): the cron's budget
/// check and scheduled reports share it.
pub const MAX_SENDS_PER_RUN: usize = 25;
/// The most channels one alert has: 20 addresses, a webhook, Slack and Discord.
pub const MAX_CHANNELS: usize = 23;
const _: () = assert!(MAX_CHANNELS <= MAX_SENDS_PER_RUN);

/// Where one alert goes.
#[derive(Debug, Clone)]
pub enum Channel {
    Email(String),
    /// A URL, the JSON body (without the alert's id, which the delivery adds) and what signs
    /// it as sent.
    Webhook {
        url: String,
        body: String,
        signer: WebhookSigner,
    },
    /// A Slack or Discord incoming webhook and the message in that service's format.
    Chat {
        service: ChatService,
        url: String,
        body: String,
    },
}

impl Channel {
    fn kind(&self) -> &'static str {
        match self {
            Channel::Email(_) => "email",
            Channel::Webhook { .. } => "webhook",
            Channel::Chat { service, .. } => service.name(),
        }
    }

    fn recipient(&self) -> &str {
        match self {
            Channel::Email(to) => to,
            Channel::Webhook { url, .. } | Channel::Chat { url, .. } => url,
        }
    }

    /// Whether the log has this channel of `item` as sent (`reached`, read for the window).
    fn reached(&self, item: &Outgoing, reached: &[AlertRecord]) -> bool {
        reached.iter().any(|r| {
            r.status == "sent"
                && r.project_id == item.log_scope
                && r.level == item.key.level
                && r.channel == self.kind()
                && match self {
                    // One address however it is capitalised, as the settings dedupe them.
                    Channel::Email(to) => r.recipient.eq_ignore_ascii_case(to),
                    _ => r.recipient == self.recipient(),
                }
        })
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
        .map(|c| outcome(item, c, status, None))
        .collect()
}

fn outcome(
    item: &Outgoing,
    channel: &Channel,
    status: &str,
    error: Option<String>,
) -> AlertOutcome {
    AlertOutcome {
        level: item.key.level.clone(),
        channel: channel.kind().into(),
        recipient: channel.recipient().into(),
        status: status.into(),
        error,
    }
}

/// Claims, sends and logs `outgoing`. A claim older than `not_after` may be taken again (the
/// epoch: never, as for a report, which goes once per period). Store calls: one read of the
/// claims held; when sending, one claim, one read of the log since `not_after` of the alerts
/// won and one settlement more (a dry run reads the log of the unclaimed alerts instead).
#[allow(clippy::too_many_arguments)]
pub async fn deliver(
    budgets: &impl BudgetStore,
    notifier: &impl Notifier,
    entropy: &impl Entropy,
    config: &AlertConfig,
    now: DateTime<Utc>,
    not_after: DateTime<Utc>,
    mode: Mode,
    max_sends: usize,
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
    let claimed = crate::kernel::sort::collect_set(budgets.claimed_after(&keys, not_after).await?);
    if mode == Mode::DryRun {
        // What a run would skip: the channels of unclaimed alerts reached in the window.
        let reached = logged_in_window(
            budgets,
            outgoing,
            |o| !claimed.contains_key(&o.key),
            not_after,
        )
        .await?;
        for item in outgoing {
            if claimed.contains_key(&item.key)
                || item.channels.iter().all(|c| c.reached(item, &reached))
            {
                deliveries.items.push(Delivered {
                    fate: Fate::Claimed,
                    outcomes: outcomes(item, "rate_limited"),
                });
                continue;
            }
            let outcomes = item
                .channels
                .iter()
                .map(|c| {
                    let status = if c.reached(item, &reached) {
                        "rate_limited"
                    } else {
                        "would_send"
                    };
                    outcome(item, c, status, None)
                })
                .collect();
            deliveries.items.push(Delivered {
                fate: Fate::WouldSend,
                outcomes,
            });
        }
        return Ok(deliveries);
    }

    // The unclaimed alerts that fit in this run's sends (an alert has at most
    // `MAX_CHANNELS`, so the first always fits in a run's full share).
    let mut budget = max_sends;
    let mut chosen = vec![false; outgoing.len()];
    let mut repeated = vec![false; outgoing.len()];
    let mut seen: crate::kernel::sort::Set<&AlertKey> = Default::default();
    for (i, item) in outgoing.iter().enumerate() {
        if claimed.contains_key(&item.key) {
            continue;
        }
        if seen.insert(&item.key, ()).is_some() {
            // The same key twice in one run: the first one is the alert.
            repeated[i] = true;
            continue;
        }
        if item.channels.len() <= budget {
            budget -= item.channels.len();
            chosen[i] = true;
        }
    }
    let keys: Vec<AlertKey> = outgoing
        .iter()
        .zip(&chosen)
        .filter(|(_, c)| **c)
        .map(|(o, _)| o.key.clone())
        .collect();
    let claim = random_token(entropy, "clm_", 12)?;
    let won = match budgets.claim_alerts(&keys, &claim, now, not_after).await {
        Ok(won) => crate::kernel::sort::collect_set(won),
        Err(e) => {
            // The claim may have committed with its answer lost, and nothing was sent: give
            // back whatever this claim id holds, so that the next run sends them.
            let _ = budgets
                .settle_alerts(&release_only(&claim, now, keys.clone()))
                .await;
            return Err(e.into());
        }
    };
    // The channels of the alerts won that went out in this window, read once the claims are
    // won: an alert is given back (with its log, in one batch) when a channel fails, and the
    // run that takes it again sends to the others alone. Read before the claim, it could miss
    // what an overlapping run sent and logged just before giving the claim back.
    let reached =
        match logged_in_window(budgets, outgoing, |o| won.contains_key(&o.key), not_after).await {
            Ok(reached) => reached,
            Err(e) => {
                // Nothing was sent: give the claims back, as above.
                let _ = budgets
                    .settle_alerts(&release_only(&claim, now, keys.clone()))
                    .await;
                return Err(e.into());
            }
        };

    let mut settlement = Settlement {
        claim_id: claim,
        at: now,
        ..Settlement::default()
    };
    // Given back for a failed channel while another went out: held after all if the log,
    // which says what went out, cannot be written.
    let mut partly_sent: Vec<AlertKey> = Vec::new();
    for ((item, chosen), repeated) in outgoing.iter().zip(chosen).zip(repeated) {
        if claimed.contains_key(&item.key) || repeated {
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
        if !won.contains_key(&item.key) || item.channels.iter().all(|c| c.reached(item, &reached)) {
            // Taken by another run, or every channel reached in this window already (the
            // claim now holds it).
            deliveries.items.push(Delivered {
                fate: Fate::Claimed,
                outcomes: outcomes(item, "rate_limited"),
            });
            continue;
        }
        // The alert's id: that of its earlier records in this window (a retry), else new.
        let alert_id = match reached
            .iter()
            .filter(|r| r.project_id == item.log_scope && r.level == item.key.level)
            .find_map(|r| r.alert_id.clone())
        {
            Some(id) => id,
            None => random_token(entropy, "alt_", 12)?,
        };
        let (mut sent, mut failed) = (0, 0);
        let mut item_outcomes = Vec::with_capacity(item.channels.len());
        for channel in &item.channels {
            if channel.reached(item, &reached) {
                // Reached by an earlier run of this window: not sent again.
                item_outcomes.push(outcome(item, channel, "rate_limited", None));
                continue;
            }
            let (result, payload) = match channel {
                Channel::Email(to) => (
                    send_email(notifier, entropy, config, to, &item.alert, now).await?,
                    None,
                ),
                Channel::Webhook { url, body, signer } => {
                    // The alert's id in the signed body (and as a header), for a receiver to
                    // drop a repeat.
                    let (body, headers) = signer.sign(body, &alert_id);
                    (
                        notifier.post_webhook(url, &body, &headers).await,
                        Some(body),
                    )
                }
                Channel::Chat { url, body, .. } => (
                    notifier
                        .post_webhook(
                            url,
                            body,
                            &[("content-type".into(), "application/json".into())],
                        )
                        .await,
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
                alert_id: Some(alert_id.clone()),
            };
            item_outcomes.push(outcome(item, channel, &record.status, record.error.clone()));
            settlement.records.push(record);
        }
        if failed > 0 {
            // Give the window back so that the next run retries what did not go out (the log
            // keeps what did, which it does not send again).
            settlement.released.push(item.key.clone());
            if sent > 0 {
                partly_sent.push(item.key.clone());
            }
        }
        if sent > 0 {
            if let Some(project) = &item.stamps {
                if !settlement.alerted.contains(project) {
                    settlement.alerted.push(project.clone());
                }
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
            // What nothing went out for is given back once more on its own (a release is a
            // delete of this run's claims, so running it twice does no harm), so that a
            // failed log write does not hold those alerts until their window ends. An alert
            // that went out to some channel stays held: unlogged, it would go to all again.
            let released: Vec<AlertKey> = std::mem::take(&mut settlement.released)
                .into_iter()
                .filter(|k| !partly_sent.contains(k))
                .collect();
            if !released.is_empty() {
                let release = release_only(&settlement.claim_id, settlement.at, released);
                let _ = budgets.settle_alerts(&release).await;
            }
        }
    }
    Ok(deliveries)
}

/// The log's records after `not_after` of the alerts `which` picks (one read; none when it
/// picks none).
async fn logged_in_window(
    budgets: &impl BudgetStore,
    outgoing: &[Outgoing],
    which: impl Fn(&Outgoing) -> bool,
    not_after: DateTime<Utc>,
) -> Result<Vec<AlertRecord>, crate::kernel::error::StoreError> {
    let logged: Vec<AlertKey> = outgoing
        .iter()
        .filter(|o| which(o))
        .map(|o| AlertKey {
            since: o.key.since.clone(),
            ..AlertKey::new(o.log_scope.as_str(), o.key.level.as_str())
        })
        .collect();
    if logged.is_empty() {
        return Ok(Vec::new());
    }
    budgets.logged_after(&logged, not_after).await
}

/// A settlement that only gives back `keys` of claim `claim_id` (a delete of that claim's own
/// rows, so harmless to repeat).
fn release_only(claim_id: &str, at: DateTime<Utc>, keys: Vec<AlertKey>) -> Settlement {
    Settlement {
        claim_id: claim_id.to_string(),
        at,
        released: keys,
        ..Settlement::default()
    }
}

#[cfg(test)]
mod tests;
