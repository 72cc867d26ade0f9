//! Delivering a run's alerts and reports in a bounded number of store calls, whatever the
//! number of projects: the channels already reached in the window are read in one call, every
//! due alert is claimed in one more, sent, and then logged (with the claims of alerts that a
//! channel failed for given back, and alerted projects stamped) in one more. An alert given
//! back after some of its channels went out is sent by a later run to the others alone.
//! A run sends at most [`MAX_SENDS_PER_RUN`] messages; the alerts past that are left unclaimed
//! for the next run (`deferred`), so one run stays within the Workers free plan's subrequests.

use chrono::{DateTime, Utc};

use crate::access::projects::ProjectId;
use crate::budgets::alerts::{
    send_email, AlertConfig, AlertOutcome, ChatService, Mode, Notifier, RenderedAlert,
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
    /// A URL, the JSON body and its headers (signed when the alert was prepared).
    Webhook {
        url: String,
        body: String,
        headers: Vec<(String, String)>,
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
            r.project_id == item.log_scope
                && r.level == item.key.level
                && r.channel == self.kind()
                && r.recipient == self.recipient()
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
/// claims held; when sending, one read of the channels reached since `not_after` (when an
/// alert is unclaimed), one claim and one settlement more.
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
        for item in outgoing {
            let (fate, status) = if claimed.contains_key(&item.key) {
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

    // The channels of unclaimed alerts that went out in this window: an alert is given back
    // when a channel fails, and the run that takes it again sends to the others alone.
    let unclaimed: Vec<AlertKey> = outgoing
        .iter()
        .filter(|o| !claimed.contains_key(&o.key))
        .map(|o| AlertKey::new(o.log_scope.as_str(), o.key.level.as_str()))
        .collect();
    let reached = if unclaimed.is_empty() {
        Vec::new()
    } else {
        budgets.sent_after(&unclaimed, not_after).await?
    };
    // How many channels of each alert are still to reach.
    let unsent: Vec<usize> = outgoing
        .iter()
        .map(|o| {
            o.channels
                .iter()
                .filter(|c| !c.reached(o, &reached))
                .count()
        })
        .collect();

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
        if unsent[i] <= budget {
            budget -= unsent[i];
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

    let mut settlement = Settlement {
        claim_id: claim,
        at: now,
        ..Settlement::default()
    };
    // Given back for a failed channel while another went out: held after all if the log,
    // which says what went out, cannot be written.
    let mut partly_sent: Vec<AlertKey> = Vec::new();
    for (((item, chosen), repeated), unsent) in
        outgoing.iter().zip(chosen).zip(repeated).zip(unsent)
    {
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
        if !won.contains_key(&item.key) || unsent == 0 {
            // Taken by another run, or every channel reached in this window already (the
            // claim now holds it).
            deliveries.items.push(Delivered {
                fate: Fate::Claimed,
                outcomes: outcomes(item, "rate_limited"),
            });
            continue;
        }
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
                Channel::Webhook { url, body, headers } => (
                    notifier.post_webhook(url, body, headers).await,
                    Some(body.clone()),
                ),
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
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use pollster::block_on;

    use super::*;
    use crate::budgets::settings::{BudgetSettings, UnreadableBudget};
    use crate::kernel::clock::SystemEntropy;
    use crate::kernel::error::StoreError;

    /// Claims and settlements kept in memory, as the D1 adapter keeps them.
    #[derive(Default)]
    struct Claims {
        held: RefCell<BTreeMap<AlertKey, (String, DateTime<Utc>)>>,
        settled: RefCell<Vec<Settlement>>,
        /// How many settlements fail (as a whole, as a D1 batch does) before they work again.
        failing_settlements: std::cell::Cell<u32>,
    }

    impl BudgetStore for Claims {
        async fn budget(&self, _: &ProjectId) -> Result<Option<BudgetSettings>, StoreError> {
            Ok(None)
        }
        async fn budgets(
            &self,
        ) -> Result<Vec<Result<BudgetSettings, UnreadableBudget>>, StoreError> {
            Ok(Vec::new())
        }
        async fn save_budget(&self, _: &BudgetSettings) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn claim_alerts(
            &self,
            keys: &[AlertKey],
            claim_id: &str,
            now: DateTime<Utc>,
            not_after: DateTime<Utc>,
        ) -> Result<Vec<AlertKey>, StoreError> {
            let mut held = self.held.borrow_mut();
            let mut won = Vec::new();
            for key in keys {
                if held.get(key).is_none_or(|(_, at)| *at <= not_after) {
                    held.insert(key.clone(), (claim_id.to_string(), now));
                    won.push(key.clone());
                }
            }
            Ok(won)
        }
        async fn claimed_after(
            &self,
            keys: &[AlertKey],
            since: DateTime<Utc>,
        ) -> Result<Vec<AlertKey>, StoreError> {
            let held = self.held.borrow();
            Ok(keys
                .iter()
                .filter(|k| held.get(*k).is_some_and(|(_, at)| *at > since))
                .cloned()
                .collect())
        }
        async fn sent_after(
            &self,
            logged: &[AlertKey],
            since: DateTime<Utc>,
        ) -> Result<Vec<AlertRecord>, StoreError> {
            let since = format_timestamp(since);
            Ok(self
                .settled
                .borrow()
                .iter()
                .flat_map(|s| &s.records)
                .filter(|r| r.status == "sent" && r.created_at > since)
                .filter(|r| {
                    logged.contains(&AlertKey::new(r.project_id.as_str(), r.level.as_str()))
                })
                .cloned()
                .collect())
        }
        async fn settle_alerts(&self, settlement: &Settlement) -> Result<(), StoreError> {
            if self.failing_settlements.get() > 0 {
                self.failing_settlements
                    .set(self.failing_settlements.get() - 1);
                return Err(StoreError::Unavailable("the settlement failed".into()));
            }
            let mut held = self.held.borrow_mut();
            for key in &settlement.released {
                if held
                    .get(key)
                    .is_some_and(|(claim, _)| *claim == settlement.claim_id)
                {
                    held.remove(key);
                }
            }
            self.settled.borrow_mut().push(settlement.clone());
            Ok(())
        }
        async fn alerts(
            &self,
            _: Option<&ProjectId>,
            _: u32,
        ) -> Result<Vec<crate::budgets::settings::AlertRecord>, StoreError> {
            Ok(Vec::new())
        }
    }

    /// Records what was sent; an address containing "bounce" fails, and one containing
    /// "flaky" fails as many times as the second field says.
    #[derive(Default)]
    struct Outbox(RefCell<Vec<String>>, std::cell::Cell<u32>);

    impl Notifier for Outbox {
        async fn send_email(&self, _: &str, to: &str, _: &str) -> Result<(), String> {
            if to.contains("bounce") {
                return Err("mailbox unavailable".into());
            }
            if to.contains("flaky") && self.1.get() > 0 {
                self.1.set(self.1.get() - 1);
                return Err("mailbox busy, try again later".into());
            }
            self.0.borrow_mut().push(to.to_string());
            Ok(())
        }
        async fn post_webhook(
            &self,
            url: &str,
            _: &str,
            headers: &[(String, String)],
        ) -> Result<(), String> {
            if url.contains("down") {
                return Err("webhook answered HTTP 500".into());
            }
            let kind = headers
                .iter()
                .find(|(k, _)| k == "content-type")
                .map_or("", |(_, v)| v.as_str());
            self.0.borrow_mut().push(format!("{url} {kind}"));
            Ok(())
        }
    }

    fn item(project: &str, level: &str, emails: &[&str]) -> Outgoing {
        Outgoing {
            key: AlertKey::new(project, level),
            log_scope: project.to_string(),
            alert: RenderedAlert {
                subject: format!("{project} {level}"),
                text: "text".into(),
                html: "<p>html</p>".into(),
            },
            channels: emails
                .iter()
                .map(|e| Channel::Email(e.to_string()))
                .collect(),
            facts: LogFacts::default(),
            stamps: ProjectId::parse(project).ok(),
        }
    }

    fn config() -> AlertConfig {
        AlertConfig {
            from_address: Some("alerts@example.com".into()),
            ..AlertConfig::default()
        }
    }

    /// One run that sends, at `now`, holding claims made after `not_after`.
    fn send_run(
        budgets: &impl BudgetStore,
        outbox: &Outbox,
        now: DateTime<Utc>,
        not_after: DateTime<Utc>,
        outgoing: &[Outgoing],
    ) -> Result<Deliveries, CoreError> {
        block_on(deliver(
            budgets,
            outbox,
            &SystemEntropy,
            &config(),
            now,
            not_after,
            Mode::Send,
            MAX_SENDS_PER_RUN,
            outgoing,
        ))
    }

    #[test]
    fn a_run_sends_up_to_its_limit_defers_the_rest_unclaimed_and_the_next_run_sends_them() {
        let (claims, outbox) = (Claims::default(), Outbox::default());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let window = now - chrono::Duration::hours(24);
        // 30 alerts of one address each: 25 fit in a run.
        let outgoing: Vec<Outgoing> = (0..30)
            .map(|i| item(&format!("p{i:02}"), "budget-80", &["ops@example.com"]))
            .collect();
        let run = |at| send_run(&claims, &outbox, at, window, &outgoing).unwrap();
        let first = run(now);
        let fates: Vec<Fate> = first.items.iter().map(|d| d.fate).collect();
        assert_eq!(fates[..25], [Fate::Attempted { sent: 1, failed: 0 }; 25]);
        assert_eq!(fates[25..], [Fate::Deferred; 5]);
        assert_eq!(first.items[29].outcomes[0].status, "deferred");
        assert_eq!(
            claims.held.borrow().len(),
            25,
            "deferred alerts are not claimed"
        );
        let settled = claims.settled.borrow()[0].clone();
        assert_eq!(
            (
                settled.records.len(),
                settled.alerted.len(),
                settled.released.len()
            ),
            (25, 25, 0)
        );

        let second = run(now + chrono::Duration::minutes(5));
        let sent: Vec<usize> = second
            .items
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d.fate, Fate::Attempted { .. }))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(sent, vec![25, 26, 27, 28, 29]);
        assert!(second.items[..25].iter().all(|d| d.fate == Fate::Claimed));
        assert_eq!(outbox.0.borrow().len(), 30, "each alert went out once");
    }

    #[test]
    fn an_alert_a_send_of_which_failed_is_released_and_one_repeated_in_a_run_is_sent_once() {
        let (claims, outbox) = (Claims::default(), Outbox::default());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let outgoing = vec![
            item("ads", "budget-100", &["bounce@example.com"]),
            item("ads", "daily", &["bounce@example.com", "lead@example.com"]),
            item("video", "credit-expiry", &["ops@example.com"]),
            item("video", "credit-expiry", &["ops@example.com"]),
        ];
        let report = send_run(
            &claims,
            &outbox,
            now,
            now - chrono::Duration::hours(24),
            &outgoing,
        )
        .unwrap();
        let fates: Vec<Fate> = report.items.iter().map(|d| d.fate).collect();
        assert_eq!(
            fates,
            vec![
                Fate::Attempted { sent: 0, failed: 1 },
                Fate::Attempted { sent: 1, failed: 1 },
                Fate::Attempted { sent: 1, failed: 0 },
                Fate::Claimed,
            ]
        );
        let settled = claims.settled.borrow()[0].clone();
        assert_eq!(
            settled.released,
            vec![
                AlertKey::new("ads", "budget-100"),
                AlertKey::new("ads", "daily")
            ]
        );
        assert_eq!(
            settled
                .alerted
                .iter()
                .map(ProjectId::as_str)
                .collect::<Vec<_>>(),
            vec!["ads", "video"]
        );
        let statuses: Vec<(String, String)> = settled
            .records
            .iter()
            .map(|r| (r.recipient.clone(), r.status.clone()))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("bounce@example.com".into(), "failed".into()),
                ("bounce@example.com".into(), "failed".into()),
                ("lead@example.com".into(), "sent".into()),
                ("ops@example.com".into(), "sent".into()),
            ]
        );
        // The released claims are open again; the other holds.
        let held: Vec<AlertKey> = claims.held.borrow().keys().cloned().collect();
        assert_eq!(held, vec![AlertKey::new("video", "credit-expiry")]);
    }

    #[test]
    fn a_failed_chat_post_stops_no_other_channel_and_each_is_logged_with_its_body() {
        let (claims, outbox) = (Claims::default(), Outbox::default());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let mut alert = item("ads", "budget-80", &["ops@example.com"]);
        alert.channels.insert(
            0,
            Channel::Chat {
                service: ChatService::Slack,
                url: "https://hooks.slack.example/down".into(),
                body: r#"{"text":"s"}"#.into(),
            },
        );
        alert.channels.push(Channel::Chat {
            service: ChatService::Discord,
            url: "https://discord.example/api/webhooks/1/x".into(),
            body: r#"{"content":"d"}"#.into(),
        });
        let report = send_run(
            &claims,
            &outbox,
            now,
            now - chrono::Duration::hours(24),
            &[alert],
        )
        .unwrap();
        assert_eq!(report.items[0].fate, Fate::Attempted { sent: 2, failed: 1 });
        assert_eq!(
            *outbox.0.borrow(),
            vec![
                "ops@example.com".to_string(),
                "https://discord.example/api/webhooks/1/x application/json".to_string(),
            ]
        );
        let settled = claims.settled.borrow()[0].clone();
        type Logged<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
        let logged: Vec<Logged> = settled
            .records
            .iter()
            .map(|r| {
                (
                    r.channel.as_str(),
                    r.recipient.as_str(),
                    r.status.as_str(),
                    r.error.as_deref(),
                    r.payload.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            logged,
            vec![
                (
                    "slack",
                    "https://hooks.slack.example/down",
                    "failed",
                    Some("webhook answered HTTP 500"),
                    Some(r#"{"text":"s"}"#)
                ),
                ("email", "ops@example.com", "sent", None, None),
                (
                    "discord",
                    "https://discord.example/api/webhooks/1/x",
                    "sent",
                    None,
                    Some(r#"{"content":"d"}"#)
                ),
            ]
        );
        assert_eq!(
            settled.released,
            vec![AlertKey::new("ads", "budget-80")],
            "a channel failed: given back, for the next run to send to it alone"
        );
    }

    /// Three runs six hours apart and one a day after the second, of a plan alert (claimed
    /// under `plans`, logged under its project) to two addresses, one of which fails once.
    fn a_failed_channel_is_retried_alone(store: &impl BudgetStore) {
        let outbox = Outbox::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let mut alert = item(
            "ads",
            "plan-gpu-80",
            &["ops@example.com", "flaky@example.com"],
        );
        alert.key = AlertKey::new("plans", "plan-gpu-80");
        let run = |hours: i64| {
            let now = start + chrono::Duration::hours(hours);
            let run = send_run(
                store,
                &outbox,
                now,
                now - chrono::Duration::hours(24),
                &[alert.clone()],
            );
            let item = run.unwrap().items.remove(0);
            let statuses: Vec<(String, String)> = item
                .outcomes
                .into_iter()
                .map(|o| (o.recipient, o.status))
                .collect();
            (item.fate, statuses, outbox.0.borrow().clone())
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        outbox.1.set(1);
        let (fate, statuses, sent) = run(0);
        assert_eq!(fate, Fate::Attempted { sent: 1, failed: 1 });
        assert_eq!(
            statuses,
            vec![
                pair("ops@example.com", "sent"),
                pair("flaky@example.com", "failed")
            ]
        );
        assert_eq!(sent, vec!["ops@example.com".to_string()]);

        let (fate, statuses, sent) = run(6);
        assert_eq!(
            fate,
            Fate::Attempted { sent: 1, failed: 0 },
            "the failed channel alone"
        );
        assert_eq!(
            statuses,
            vec![
                pair("ops@example.com", "rate_limited"),
                pair("flaky@example.com", "sent")
            ]
        );
        assert_eq!(
            sent,
            vec![
                "ops@example.com".to_string(),
                "flaky@example.com".to_string()
            ]
        );

        let (fate, _, sent) = run(12);
        assert_eq!(
            fate,
            Fate::Claimed,
            "every channel reached: the claim holds"
        );
        assert_eq!(sent.len(), 2);

        // A day after the retry, a new window: the alert goes to both again.
        let (fate, _, sent) = run(30);
        assert_eq!(fate, Fate::Attempted { sent: 2, failed: 0 });
        assert_eq!(sent.len(), 4);
    }

    #[test]
    fn a_channel_that_failed_while_another_went_out_is_sent_alone_by_the_next_run() {
        a_failed_channel_is_retried_alone(&Claims::default());
        a_failed_channel_is_retried_alone(&crate::kernel::testing::MemoryStore::new());
    }

    #[test]
    fn an_alert_that_went_out_to_a_channel_stays_claimed_when_the_runs_log_write_fails() {
        let (claims, outbox) = (Claims::default(), Outbox::default());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let window = now - chrono::Duration::hours(24);
        let alert = vec![item(
            "ads",
            "daily",
            &["ops@example.com", "bounce@example.com"],
        )];
        claims.failing_settlements.set(1);
        let run = send_run(&claims, &outbox, now, window, &alert).unwrap();
        assert!(run.log_error.is_some());
        assert!(
            claims
                .held
                .borrow()
                .contains_key(&AlertKey::new("ads", "daily")),
            "unlogged, a retry would send to every channel again: held"
        );
        let later = send_run(
            &claims,
            &outbox,
            now + chrono::Duration::hours(6),
            window,
            &alert,
        );
        assert_eq!(later.unwrap().items[0].fate, Fate::Claimed);
        assert_eq!(*outbox.0.borrow(), vec!["ops@example.com".to_string()]);
    }

    #[test]
    fn an_alert_nothing_went_out_for_is_given_back_even_when_the_runs_log_write_fails() {
        let (claims, outbox) = (Claims::default(), Outbox::default());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let outgoing = vec![
            item("ads", "daily", &["bounce@example.com"]),
            item("web", "daily", &["ops@example.com"]),
        ];
        claims.failing_settlements.set(1);
        let run = send_run(
            &claims,
            &outbox,
            now,
            now - chrono::Duration::hours(24),
            &outgoing,
        )
        .unwrap();
        assert!(run.log_error.is_some());
        let held: Vec<String> = claims
            .held
            .borrow()
            .keys()
            .map(|k| k.scope.clone())
            .collect();
        assert_eq!(
            held,
            vec!["web".to_string()],
            "the bounced alert is free for the next run; the sent one stays claimed"
        );
        let settled = claims.settled.borrow();
        assert_eq!(settled.len(), 1, "the release alone, once");
        assert!(settled[0].records.is_empty() && settled[0].alerted.is_empty());
    }

    #[test]
    fn an_alert_or_report_whose_claim_answer_was_lost_is_sent_by_a_later_run() {
        use crate::kernel::testing::MemoryStore;
        let (store, outbox) = (MemoryStore::new(), Outbox::default());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let six_hours = chrono::Duration::hours(6);
        // A period's report (claimed for good: not_after is the epoch), and today's
        // daily-limit alert (a 24-hour window).
        let report = vec![item(
            "ads",
            "report-weekly-2026-11-16",
            &["ops@example.com"],
        )];
        let daily = vec![item("ads", "daily", &["ops@example.com"])];
        let run = |at, not_after, outgoing: &Vec<Outgoing>| {
            send_run(&store, &outbox, at, not_after, outgoing)
        };
        store.lose_claim_answers(true);
        assert!(run(now, DateTime::<Utc>::UNIX_EPOCH, &report).is_err());
        assert!(run(now, now - chrono::Duration::hours(24), &daily).is_err());
        store.lose_claim_answers(false);
        assert!(outbox.0.borrow().is_empty(), "nothing went out");

        // The next cron run, six hours later.
        let later = now + six_hours;
        let report_run = run(later, DateTime::<Utc>::UNIX_EPOCH, &report).unwrap();
        let daily_run = run(later, later - chrono::Duration::hours(24), &daily).unwrap();
        assert_eq!(
            (report_run.items[0].fate, daily_run.items[0].fate),
            (
                Fate::Attempted { sent: 1, failed: 0 },
                Fate::Attempted { sent: 1, failed: 0 }
            ),
            "held by a claim whose run sent nothing; sent: {:?}, log: {}",
            outbox.0.borrow(),
            store.alert_log().len()
        );
    }
}
