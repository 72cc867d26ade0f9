//! Scheduled spend reports: each closed week (Monday to Monday) or calendar month of a
//! project's budget time zone, emailed to its alert addresses. The cron sends a period's
//! report once, in its first run after the period closes ([`SEND_WITHIN_HOURS`]); a project
//! with no usage in the period gets none.

use litemap::LiteMap;

use crate::kernel::tz::Tz;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use serde::Serialize;

use crate::budgets::alerts::{
    dashboard_link, escape_html, AlertConfig, Mode, Notifier, RenderedAlert,
};
use crate::budgets::delivery::{deliver, Channel, Fate, LogFacts, Outgoing};
use crate::budgets::settings::{AlertKey, BudgetSettings, ReportSchedule};
use crate::budgets::store::BudgetStore;
use crate::kernel::clock::{format_timestamp, Entropy};
use crate::kernel::date_text::month_name_text;
use crate::kernel::error::CoreError;
use crate::kernel::money::{div_round_half_even, format_scaled, Currency, Money, Totals};
use crate::reports::report::{local_midnight, Dim, Range, RollupRow};
use crate::reports::store::ReportStore;

/// A closed period's report goes out in the first cron run within this many hours of its end
/// (the cron runs every six hours); later runs leave it alone.
pub const SEND_WITHIN_HOURS: i64 = 48;
/// Lines shown per breakdown (providers, models, operations).
const TOP: usize = 10;

/// The period a report covers and the one before it, for the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPeriod {
    pub schedule: ReportSchedule,
    pub first_day: NaiveDate,
    /// The day after the last one.
    pub end_day: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub previous_from: DateTime<Utc>,
    pub tz: Tz,
}

impl ReportPeriod {
    /// The last week or month of `tz` that had closed by `now`.
    pub fn last_closed(schedule: ReportSchedule, tz: Tz, now: DateTime<Utc>) -> ReportPeriod {
        let today = now.with_timezone(&tz).date_naive();
        let (first_day, end_day, previous_day) = match schedule {
            ReportSchedule::Weekly => {
                let monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                let first = monday - Duration::days(7);
                (first, monday, first - Duration::days(7))
            }
            ReportSchedule::Monthly => {
                let first_of_month = today.with_day(1).unwrap_or(today);
                let first = first_of_month
                    .checked_sub_months(Months::new(1))
                    .unwrap_or(first_of_month);
                let previous = first.checked_sub_months(Months::new(1)).unwrap_or(first);
                (first, first_of_month, previous)
            }
        };
        ReportPeriod {
            schedule,
            first_day,
            end_day,
            from: local_midnight(first_day, tz),
            to: local_midnight(end_day, tz),
            previous_from: local_midnight(previous_day, tz),
            tz,
        }
    }

    /// "the week of 2026-11-16 to 2026-11-22" or "November 2026".
    pub fn label(&self) -> String {
        match self.schedule {
            ReportSchedule::Weekly => format!(
                "the week of {} to {}",
                self.first_day,
                self.end_day - Duration::days(1)
            ),
            ReportSchedule::Monthly => month_name_text(self.first_day),
        }
    }

    /// The alert level a sent report is claimed and logged under.
    pub fn level(&self) -> String {
        format!("report-{}-{}", self.schedule.name(), self.first_day)
    }

    /// Whether the cron should send it now: closed, and closed recently.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        now >= self.to && now - self.to < Duration::hours(SEND_WITHIN_HOURS)
    }

    fn range(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Range {
        Range {
            from: Some(from),
            to: Some(to),
            tz: self.tz,
        }
    }
}

/// One line of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub name: String,
    pub cost: Totals,
    pub events: i64,
}

/// A project's report for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub project_id: String,
    pub project_name: String,
    pub schedule: ReportSchedule,
    pub label: String,
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub cost: Totals,
    pub events: i64,
    pub unpriced_events: i64,
    pub previous_cost: Totals,
    pub previous_events: i64,
    /// The change in the main currency (the budget's), as a percent with one decimal; `None`
    /// when the period before had no spend in it.
    pub change_percent: Option<String>,
    pub currency: Currency,
    pub budget: Option<Money>,
    pub providers: Vec<Line>,
    pub models: Vec<Line>,
    pub operations: Vec<Line>,
}

fn lines(
    rows: &[&RollupRow],
    name: impl Fn(&RollupRow) -> String,
    currency: Currency,
) -> Vec<Line> {
    let mut map: LiteMap<String, Line> = LiteMap::new();
    for row in rows {
        let key = name(row);
        let line = map.entry(key.clone()).or_insert_with(|| Line {
            name: key,
            cost: Totals::new(),
            events: 0,
        });
        line.events += row.measures[0];
        if let Ok(c) = Currency::parse(&row.currency) {
            line.cost.add(Money::new(row.cost_nanos, c));
        }
    }
    let mut list: Vec<Line> = map.into_iter().map(|(_, v)| v).collect();
    crate::kernel::sort::sort_by(&mut list, |a, b| {
        b.cost
            .get(currency)
            .nanos
            .cmp(&a.cost.get(currency).nanos)
            .then(b.events.cmp(&a.events))
            .then_with(|| a.name.cmp(&b.name))
    });
    list.truncate(TOP);
    list
}

/// The report of one project from the period's rows (dims project, provider, model,
/// operation) and the previous period's (dim project), both of any number of projects.
pub fn digest(
    settings: &BudgetSettings,
    period: &ReportPeriod,
    rows: &[RollupRow],
    previous: &[RollupRow],
) -> Digest {
    let id = settings.project_id.as_str();
    let mine: Vec<&RollupRow> = rows
        .iter()
        .filter(|r| r.project_id.as_deref() == Some(id))
        .collect();
    let currency = settings.amount.map_or(settings.currency, |m| m.currency);
    let mut cost = Totals::new();
    let (mut events, mut unpriced) = (0, 0);
    for row in &mine {
        events += row.measures[0];
        unpriced += row.measures[1];
        if let Ok(c) = Currency::parse(&row.currency) {
            cost.add(Money::new(row.cost_nanos, c));
        }
    }
    let mut previous_cost = Totals::new();
    let mut previous_events = 0;
    for row in previous
        .iter()
        .filter(|r| r.project_id.as_deref() == Some(id))
    {
        previous_events += row.measures[0];
        if let Ok(c) = Currency::parse(&row.currency) {
            previous_cost.add(Money::new(row.cost_nanos, c));
        }
    }
    let (now_nanos, before_nanos) = (cost.get(currency).nanos, previous_cost.get(currency).nanos);
    let change_percent = (before_nanos > 0).then(|| {
        format_scaled(
            div_round_half_even((now_nanos - before_nanos) * 1_000, before_nanos),
            1,
            1,
        )
    });
    // An operation the events did not name is stored empty: shown as `(none)`, as reports do.
    let text = |v: &Option<String>, none: &str| {
        v.as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(none)
            .to_string()
    };
    Digest {
        project_id: id.to_string(),
        project_name: settings.project_name.clone(),
        schedule: period.schedule,
        label: period.label(),
        from: format_timestamp(period.from),
        to: format_timestamp(period.to),
        timezone: period.tz.name().to_string(),
        cost,
        events,
        unpriced_events: unpriced,
        previous_cost,
        previous_events,
        change_percent,
        currency,
        budget: settings.amount,
        providers: lines(&mine, |r| text(&r.provider, "(none)"), currency),
        models: lines(
            &mine,
            |r| {
                // As the reports group models: a dated alias or snapshot under its catalog
                // model, `default` under the entry that answers to it.
                let model = match &r.model {
                    Some(m) => crate::pricing::catalog::catalog_model(
                        r.provider.as_deref().unwrap_or_default(),
                        m,
                    ),
                    None => "(none)".to_string(),
                };
                format!("{} / {model}", text(&r.provider, "(none)"))
            },
            currency,
        ),
        operations: lines(&mine, |r| text(&r.operation, "(none)"), currency),
    }
}

fn money_list(totals: &Totals) -> String {
    let list: Vec<String> = totals
        .iter()
        .filter(|m| m.nanos != 0)
        .map(|m| m.rounded())
        .collect();
    if list.is_empty() {
        "0.00".to_string()
    } else {
        list.join(", ")
    }
}

fn signed(change: &str) -> String {
    if change.starts_with('-') {
        format!("{change}%")
    } else {
        format!("+{change}%")
    }
}

/// The email (subject, plain text and HTML) of a report. Every name from the API is escaped
/// in the HTML.
pub fn render_digest(d: &Digest, config: &AlertConfig) -> RenderedAlert {
    let change = d
        .change_percent
        .as_deref()
        .map(|c| format!(" ({} on {})", signed(c), before_word(d.schedule)))
        .unwrap_or_default();
    let subject = format!(
        "[AI spend] {}: {} in {}{change}",
        d.project_name,
        money_list(&d.cost),
        d.label
    );
    let link = dashboard_link(config, &d.project_id);
    let mut text = format!(
        "Spend report for {} ({}), {} ({}).\n\nTotal: {}\n{}: {}\nEvents: {} ({} unpriced)\n",
        d.project_name,
        d.project_id,
        d.label,
        d.timezone,
        money_list(&d.cost),
        capitalized(before_word(d.schedule)),
        money_list(&d.previous_cost),
        d.events,
        d.unpriced_events,
    );
    if let Some(budget) = d.budget {
        text.push_str(&format!("Monthly budget: {}\n", budget.rounded()));
    }
    let sections = [
        ("By provider", &d.providers),
        ("By model", &d.models),
        ("By operation", &d.operations),
    ];
    for (title, list) in sections {
        if list.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{title}:\n"));
        for line in list.iter() {
            text.push_str(&format!(
                "  {}: {} ({} events)\n",
                line.name,
                money_list(&line.cost),
                line.events
            ));
        }
    }
    if let Some(l) = &link {
        text.push_str(&format!("\nDashboard: {l}\n"));
    }
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" /><title>Spend report</title></head>\
         <body style=\"font-family:Arial,Helvetica,sans-serif;color:#1e293b\">\
         <h1 style=\"font-size:20px\">Spend report: {}</h1>\
         <p>{} ({})</p>\
         <p style=\"font-size:18px\"><strong>{}</strong>{}</p>\
         <p>{}: {}<br />Events: {} ({} unpriced){}</p>",
        escape_html(&d.project_name),
        escape_html(&d.label),
        escape_html(&d.timezone),
        escape_html(&money_list(&d.cost)),
        escape_html(&change),
        capitalized(before_word(d.schedule)),
        escape_html(&money_list(&d.previous_cost)),
        d.events,
        d.unpriced_events,
        d.budget
            .map(|b| format!("<br />Monthly budget: {}", escape_html(&b.rounded())))
            .unwrap_or_default(),
    );
    for (title, list) in sections {
        if list.is_empty() {
            continue;
        }
        html.push_str(&format!(
            "<h2 style=\"font-size:16px\">{title}</h2><table style=\"border-collapse:collapse\">\
             <tr><th style=\"text-align:left;padding:2px 12px 2px 0\">Name</th>\
             <th style=\"text-align:right;padding:2px 12px\">Cost</th>\
             <th style=\"text-align:right;padding:2px 0\">Events</th></tr>"
        ));
        for line in list.iter() {
            html.push_str(&format!(
                "<tr><td style=\"padding:2px 12px 2px 0\">{}</td><td style=\"text-align:right;padding:2px 12px\">{}</td><td style=\"text-align:right\">{}</td></tr>",
                escape_html(&line.name),
                escape_html(&money_list(&line.cost)),
                line.events
            ));
        }
        html.push_str("</table>");
    }
    if let Some(l) = &link {
        html.push_str(&format!(
            "<p><a href=\"{}\">Open the dashboard</a></p>",
            escape_html(l)
        ));
    }
    html.push_str("</body></html>\n");
    RenderedAlert {
        subject,
        text,
        html,
    }
}

fn before_word(schedule: ReportSchedule) -> &'static str {
    match schedule {
        ReportSchedule::Weekly => "the week before",
        ReportSchedule::Monthly => "the month before",
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Reads the rows a set of projects' reports need: the period by project, provider, model and
/// operation, and the period before by project. Two queries serve every project of one zone
/// and schedule.
async fn period_rows(
    reports: &impl ReportStore,
    period: &ReportPeriod,
    only: Option<&crate::access::projects::ProjectId>,
) -> Result<(Vec<RollupRow>, Vec<RollupRow>), CoreError> {
    let mut read = reports.rollups_many(&period_queries(period, only)).await?;
    let previous = read.pop().unwrap_or_default();
    let rows = read.pop().unwrap_or_default();
    Ok((rows, previous))
}

/// The two reads of [`period_rows`].
fn period_queries(
    period: &ReportPeriod,
    only: Option<&crate::access::projects::ProjectId>,
) -> [crate::reports::report::RollupQuery; 2] {
    let mut query = period.range(period.from, period.to).rollup_query(None);
    query.project_id = only.cloned();
    query.dims = vec![Dim::Project, Dim::Provider, Dim::Model, Dim::Operation];
    let mut before = period
        .range(period.previous_from, period.from)
        .rollup_query(None);
    before.project_id = only.cloned();
    before.dims = vec![Dim::Project];
    [query, before]
}

/// `GET /api/admin/projects/{id}/report`: the report of the last closed period, as it would
/// be sent (nothing is sent or claimed).
pub async fn preview(
    reports: &impl ReportStore,
    settings: &BudgetSettings,
    schedule: ReportSchedule,
    config: &AlertConfig,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, CoreError> {
    let period = ReportPeriod::last_closed(schedule, settings.tz(), now);
    let (rows, previous) = period_rows(reports, &period, Some(&settings.project_id)).await?;
    let d = digest(settings, &period, &rows, &previous);
    let email = render_digest(&d, config);
    Ok(crate::json!({
        "report": d,
        "level": period.level(),
        "recipients": config.recipients(&settings.emails),
        "scheduled": settings.report_schedule.map(|s| s.name()),
        "sent_by_cron": settings.report_schedule == Some(schedule) && !config.recipients(&settings.emails).is_empty() && d.events > 0,
        "email": { "subject": email.subject, "text": email.text, "html": email.html },
    }))
}

/// What one project's scheduled report did in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestOutcome {
    pub project_id: String,
    pub level: String,
    /// `sent`, `failed`, `already_sent`, `deferred` (past the run's send limit: the next run
    /// sends it), `no_usage`, or `no_recipients`.
    pub action: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DigestRun {
    pub sent: usize,
    pub failed: usize,
    pub reports: Vec<DigestOutcome>,
    /// Set when the reports went out but their log could not be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_error: Option<String>,
}

/// Which reports to send.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// The cron: every scheduled report whose period just closed.
    Due,
    /// `POST /api/admin/projects/{id}/report`: this project's report of the last closed
    /// period of this kind now, whatever its schedule (still once per period).
    Project(&'a BudgetSettings, ReportSchedule),
}

/// Sends the reports `which` names, each period's once: a sent report is claimed for good
/// under its level, so neither a later run nor a manual send repeats it. At most `max_sends`
/// messages go out (the cron passes what its budget check left of the run's share).
#[allow(clippy::too_many_arguments)]
pub async fn send_digests(
    budgets: &impl BudgetStore,
    reports: &impl ReportStore,
    notifier: &impl Notifier,
    entropy: &impl Entropy,
    config: &AlertConfig,
    now: DateTime<Utc>,
    which: Which<'_>,
    max_sends: usize,
) -> Result<DigestRun, CoreError> {
    let mut run = DigestRun::default();
    // The reports of this run: each project's, with its period and figures.
    let mut reports_due: Vec<(BudgetSettings, ReportPeriod, Digest)> = Vec::new();
    if let Which::Project(settings, schedule) = which {
        let period = ReportPeriod::last_closed(schedule, settings.tz(), now);
        let (rows, previous) = period_rows(reports, &period, Some(&settings.project_id)).await?;
        let d = digest(settings, &period, &rows, &previous);
        reports_due.push((settings.clone(), period, d));
    } else {
        // Projects whose last closed period is due, grouped by zone and schedule: each
        // group's rows are read once.
        let mut groups: LiteMap<(String, &'static str), (ReportPeriod, Vec<BudgetSettings>)> =
            LiteMap::new();
        for settings in budgets.budgets().await?.into_iter().flatten() {
            let Some(schedule) = settings.report_schedule else {
                continue;
            };
            if config.recipients(&settings.emails).is_empty() {
                continue;
            }
            let period = ReportPeriod::last_closed(schedule, settings.tz(), now);
            if !period.due(now) {
                continue;
            }
            groups
                .entry((period.tz.name().to_string(), schedule.name()))
                .or_insert_with(|| (period, Vec::new()))
                .1
                .push(settings);
        }
        // Every group's two reads in one call.
        let queries: Vec<crate::reports::report::RollupQuery> = groups
            .values()
            .flat_map(|(period, _)| period_queries(period, None))
            .collect();
        let mut read = reports.rollups_many(&queries).await?.into_iter();
        for (period, projects) in groups.into_iter().map(|(_, v)| v) {
            let rows = read.next().unwrap_or_default();
            let previous = read.next().unwrap_or_default();
            for settings in projects {
                let d = digest(&settings, &period, &rows, &previous);
                reports_due.push((settings, period.clone(), d));
            }
        }
    }
    let mut outgoing = Vec::new();
    let mut slots = Vec::new();
    for (settings, period, d) in &reports_due {
        let mut outcome = DigestOutcome {
            project_id: settings.project_id.as_str().to_string(),
            level: period.level(),
            action: "no_usage".into(),
        };
        let recipients = config.recipients(&settings.emails);
        if d.events > 0 && recipients.is_empty() {
            outcome.action = "no_recipients".into();
        }
        if d.events > 0 && !recipients.is_empty() {
            slots.push(Some(outgoing.len()));
            outgoing.push(Outgoing {
                key: AlertKey::new(settings.project_id.as_str(), period.level()),
                log_scope: settings.project_id.as_str().to_string(),
                alert: render_digest(d, config),
                channels: recipients.iter().cloned().map(Channel::Email).collect(),
                facts: LogFacts {
                    spend: d.cost.get(d.currency).amount_string(),
                    budget: d.budget.map(|b| b.amount_string()).unwrap_or_default(),
                    currency: d.currency.to_string(),
                    percent_used: String::new(),
                },
                stamps: None,
            });
        } else {
            slots.push(None);
        }
        run.reports.push(outcome);
    }
    // Claimed once for good (`not_after` is the epoch): a period's report goes once.
    let deliveries = deliver(
        budgets,
        notifier,
        entropy,
        config,
        now,
        DateTime::<Utc>::UNIX_EPOCH,
        Mode::Send,
        max_sends,
        &outgoing,
    )
    .await?;
    for (outcome, slot) in run.reports.iter_mut().zip(slots) {
        let Some(delivered) = slot.and_then(|i| deliveries.items.get(i)) else {
            continue;
        };
        outcome.action = match delivered.fate {
            Fate::Attempted { sent, failed } => {
                run.sent += sent;
                run.failed += failed;
                if sent > 0 { "sent" } else { "failed" }.into()
            }
            Fate::Claimed => "already_sent".into(),
            Fate::Deferred => "deferred".into(),
            Fate::WouldSend => "would_send".into(),
        };
    }
    run.log_error = deliveries.log_error;
    Ok(run)
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
