//! Retries of an alert after a channel failed: the next run sends to the channels not reached
//! yet, overlapping runs, dry runs, and the alert id every attempt of one alert carries.

use std::cell::RefCell;

use chrono::TimeZone;
use pollster::block_on;

use super::*;

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

/// A store that lets another run go through whole just before this run's claim: two runs
/// that overlap (the cron and a manual check, or two ingest requests crossing one level).
struct Overlapping<'a> {
    inner: &'a Claims,
    before_claim: RefCell<Option<Box<dyn FnOnce() + 'a>>>,
}

impl BudgetStore for Overlapping<'_> {
    async fn budget(&self, p: &ProjectId) -> Result<Option<BudgetSettings>, StoreError> {
        self.inner.budget(p).await
    }
    async fn budgets(&self) -> Result<Vec<Result<BudgetSettings, UnreadableBudget>>, StoreError> {
        self.inner.budgets().await
    }
    async fn save_budget(&self, s: &BudgetSettings) -> Result<bool, StoreError> {
        self.inner.save_budget(s).await
    }
    async fn claim_alerts(
        &self,
        keys: &[AlertKey],
        claim_id: &str,
        now: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError> {
        let other = self.before_claim.borrow_mut().take();
        if let Some(other) = other {
            other();
        }
        self.inner
            .claim_alerts(keys, claim_id, now, not_after)
            .await
    }
    async fn claimed_after(
        &self,
        keys: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertKey>, StoreError> {
        self.inner.claimed_after(keys, since).await
    }
    async fn logged_after(
        &self,
        logged: &[AlertKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.inner.logged_after(logged, since).await
    }
    async fn settle_alerts(&self, settlement: &Settlement) -> Result<(), StoreError> {
        self.inner.settle_alerts(settlement).await
    }
    async fn alerts(
        &self,
        p: Option<&ProjectId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.inner.alerts(p, limit).await
    }
}

/// An email beside a webhook that is down.
fn email_and_down_webhook(address: &str) -> Vec<Outgoing> {
    let mut alert = item("ads", "budget-80", &[address]);
    alert.channels.push(Channel::Webhook {
        url: "https://hooks.example.com/down".into(),
        body: "{}".into(),
        signer: WebhookSigner {
            secret: "whsec_test".into(),
            timestamp: "1700000000".into(),
        },
    });
    vec![alert]
}

#[test]
fn a_run_overlapping_one_that_gives_back_a_partly_sent_alert_does_not_send_it_again() {
    let (claims, outbox) = (Claims::default(), Outbox::default());
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let window = now - chrono::Duration::hours(24);
    let alert = email_and_down_webhook("ops@example.com");
    // This run reads the claims and the log, finds neither; then, before its claim, the
    // other run claims, emails, fails the webhook and gives the claim back with its log.
    let this = Overlapping {
        inner: &claims,
        before_claim: RefCell::new(Some(Box::new(|| {
            let other = send_run(&claims, &outbox, now, window, &alert).unwrap();
            assert_eq!(other.items[0].fate, Fate::Attempted { sent: 1, failed: 1 });
        }))),
    };
    let run = send_run(
        &this,
        &outbox,
        now + chrono::Duration::seconds(1),
        window,
        &alert,
    )
    .unwrap();
    assert_eq!(
        *outbox.0.borrow(),
        vec!["ops@example.com".to_string()],
        "the email went out once (this run: {:?})",
        run.items[0].outcomes
    );
}

#[test]
fn a_dry_run_after_a_partly_sent_alert_says_what_a_run_would_send() {
    let (claims, outbox) = (Claims::default(), Outbox::default());
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let alert = email_and_down_webhook("ops@example.com");
    send_run(
        &claims,
        &outbox,
        now,
        now - chrono::Duration::hours(24),
        &alert,
    )
    .unwrap();
    let later = now + chrono::Duration::hours(6);
    let dry = block_on(deliver(
        &claims,
        &outbox,
        &SystemEntropy,
        &config(),
        later,
        later - chrono::Duration::hours(24),
        Mode::DryRun,
        MAX_SENDS_PER_RUN,
        &alert,
    ))
    .unwrap();
    let statuses: Vec<(String, String)> = dry.items[0]
        .outcomes
        .iter()
        .map(|o| (o.channel.clone(), o.status.clone()))
        .collect();
    let real = send_run(
        &claims,
        &outbox,
        later,
        later - chrono::Duration::hours(24),
        &alert,
    )
    .unwrap();
    let real: Vec<(String, String)> = real.items[0]
        .outcomes
        .iter()
        .map(|o| {
            let status = if o.status == "rate_limited" {
                "rate_limited"
            } else {
                "would_send"
            };
            (o.channel.clone(), status.to_string())
        })
        .collect();
    assert_eq!(
        statuses, real,
        "the dry run against the run that follows it"
    );
}

#[test]
fn an_address_reached_in_the_window_is_not_sent_again_however_it_is_capitalised() {
    let (claims, outbox) = (Claims::default(), Outbox::default());
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let window = |at: DateTime<Utc>| at - chrono::Duration::hours(24);
    send_run(
        &claims,
        &outbox,
        now,
        window(now),
        &email_and_down_webhook("Ops@Example.com"),
    )
    .unwrap();
    // The address recapitalised in the settings (one address, "however it is capitalised").
    let later = now + chrono::Duration::hours(6);
    send_run(
        &claims,
        &outbox,
        later,
        window(later),
        &email_and_down_webhook("ops@example.com"),
    )
    .unwrap();
    assert_eq!(outbox.0.borrow().len(), 1, "sent: {:?}", outbox.0.borrow());
}

#[test]
fn a_webhook_retried_by_a_later_run_carries_the_id_of_the_first_attempt_and_a_new_window_a_new_one()
{
    let (claims, outbox) = (Claims::default(), Outbox::default());
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
    let mut alert = item("ads", "budget-80", &["ops@example.com"]);
    alert.channels.push(Channel::Webhook {
        url: "https://hooks.example.com/flaky".into(),
        body: "{}".into(),
        signer: WebhookSigner {
            secret: "whsec_test".into(),
            timestamp: "1700000000".into(),
        },
    });
    let run = |hours: i64| {
        let now = start + chrono::Duration::hours(hours);
        let run = send_run(
            &claims,
            &outbox,
            now,
            now - chrono::Duration::hours(24),
            &[alert.clone()],
        );
        run.unwrap().items[0].fate
    };
    outbox.1.set(1);
    assert_eq!(run(0), Fate::Attempted { sent: 1, failed: 1 });
    assert_eq!(
        run(6),
        Fate::Attempted { sent: 1, failed: 0 },
        "the webhook alone"
    );
    assert_eq!(
        run(30),
        Fate::Attempted { sent: 2, failed: 0 },
        "a new window"
    );
    let ids = outbox.2.borrow().clone();
    assert_eq!(ids.len(), 3, "three posts: {ids:?}");
    assert!(ids[0].starts_with("alt_"), "{ids:?}");
    assert_eq!(ids[0], ids[1], "the retry is the same alert");
    assert_ne!(ids[1], ids[2], "the next window's alert is another");
    let logged: Vec<Option<String>> = claims
        .settled
        .borrow()
        .iter()
        .flat_map(|s| &s.records)
        .map(|r| r.alert_id.clone())
        .collect();
    let first = Some(ids[0].clone());
    let next = Some(ids[2].clone());
    assert_eq!(
        logged,
        vec![first.clone(), first.clone(), first, next.clone(), next],
        "every record of an alert carries its id"
    );
}
