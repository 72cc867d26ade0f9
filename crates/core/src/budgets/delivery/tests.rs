//! Tests of [`super::deliver`]: claims, sends, the log and retries, over a fake store.

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
    async fn budgets(&self) -> Result<Vec<Result<BudgetSettings, UnreadableBudget>>, StoreError> {
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
    async fn logged_after(
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
            .filter(|r| r.created_at > since)
            .filter(|r| logged.contains(&AlertKey::new(r.project_id.as_str(), r.level.as_str())))
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

/// Records what was sent; an address or URL containing "bounce" or "down" fails, and one
/// containing "flaky" fails as many times as the second field says. The third field keeps the
/// `x-ast-alert-id` of every webhook post tried.
#[derive(Default)]
struct Outbox(
    RefCell<Vec<String>>,
    std::cell::Cell<u32>,
    RefCell<Vec<String>>,
);

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
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string())
        };
        self.2.borrow_mut().extend(header("x-ast-alert-id"));
        if url.contains("down") {
            return Err("webhook answered HTTP 500".into());
        }
        if url.contains("flaky") && self.1.get() > 0 {
            self.1.set(self.1.get() - 1);
            return Err("webhook unreachable: connection reset".into());
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

mod retries;
