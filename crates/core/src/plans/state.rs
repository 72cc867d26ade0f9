//! A plan's state this period: its use (derived credits included), what is left, the run-out date; the subscriptions report.

use super::*;
use crate::kernel::date_text::month_text;

/// The allotment period containing `now`: from the last reset day to the next (UTC).
pub fn period(reset_day: u32, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = now.date_naive();
    let this_month =
        NaiveDate::from_ymd_opt(today.year(), today.month(), reset_day).unwrap_or(today);
    let start = if today >= this_month {
        this_month
    } else {
        this_month
            .checked_sub_months(Months::new(1))
            .unwrap_or(this_month)
    };
    let end = start.checked_add_months(Months::new(1)).unwrap_or(start);
    (start, end)
}

/// ElevenLabs bills credits per character: 1 on multilingual v2 and v3 (and its other
/// models), 0.5 on flash and turbo. In micro-credits per character.
pub(super) fn elevenlabs_credits_per_character(model: &str) -> i128 {
    let model = model.to_ascii_lowercase();
    if model.contains("flash") || model.contains("turbo") {
        MICRO / 2
    } else {
        MICRO
    }
}

impl Plan {
    /// An ElevenLabs credits plan counting credits: events that carry no credits (the
    /// project's helpers record characters) count their characters at the model's credit rate.
    fn derives_credits(&self) -> bool {
        self.provider == "elevenlabs" && self.unit == Unit::Credits && self.usage == "credits"
    }
}

/// Index of a measure in [`MEASURES`].
pub(super) fn measure_index(name: &str) -> Option<usize> {
    MEASURES.iter().position(|m| *m == name)
}

/// When a plan counts a usage that none of its provider's recorded events this period
/// carries (its `used` stays 0 however much is recorded), what to tell its owner.
pub(super) fn unit_warning(plan: &Plan, rows: &[RollupRow]) -> Option<String> {
    if plan.usage == "events" {
        return None;
    }
    let events: i64 = rows.iter().map(|r| r.measures[0]).sum();
    if plan.usage == "cost" {
        // Spend in other currencies is never converted: a plan whose provider's events all
        // cost another currency counts nothing of them.
        let mut used = rows.iter().filter(|r| r.measures[0] != 0).peekable();
        if used.peek().is_none() || used.any(|r| r.currency == plan.currency) {
            return None;
        }
        return Some(format!(
            "the plan counts spend in {}, but the {events} {} events recorded this period cost other currencies (amounts are never converted)",
            plan.currency, plan.provider
        ));
    }
    if events == 0 || measure_of(plan, rows) != 0 {
        return None;
    }
    let carried: Vec<&str> = MEASURES[..SHOWN_MEASURES]
        .iter()
        .enumerate()
        .skip(5)
        .filter(|(i, _)| rows.iter().any(|r| r.measures[*i] != 0))
        .map(|(_, name)| name.strip_suffix("_micros").unwrap_or(name))
        .collect();
    Some(format!(
        "the plan counts {}, but none of the {events} {} events recorded this period carries it{}; set `counts` to say which usage feeds the plan's {}",
        plan.usage,
        plan.provider,
        if carried.is_empty() {
            String::new()
        } else {
            format!(" (they carry {})", carried.join(", "))
        },
        plan.unit.name()
    ))
}

pub fn measure_of(plan: &Plan, rows: &[RollupRow]) -> i128 {
    let index = measure_index;
    let derive = plan.derives_credits();
    let mut total: i128 = 0;
    for row in rows {
        if derive {
            // The credits events reported, and the characters of those that reported none
            // at the model's rate.
            let measure = |name| index(name).map_or(0, |i| i128::from(row.measures[i]));
            let rate = elevenlabs_credits_per_character(row.model.as_deref().unwrap_or(""));
            total += measure("credits_micros") + measure("uncredited_characters") * rate;
            continue;
        }
        total += match plan.usage.as_str() {
            "cost" => {
                if row.currency == plan.currency {
                    row.cost_nanos
                } else {
                    0
                }
            }
            "events" => i128::from(row.measures[0] - row.measures[2]) * MICRO,
            "total_tokens" => {
                index("total_tokens").map_or(0, |i| i128::from(row.measures[i]) * MICRO)
            }
            name => match UsageKind::parse(name) {
                Some(kind) if kind.is_integral() => {
                    index(name).map_or(0, |i| i128::from(row.measures[i]) * MICRO)
                }
                Some(kind) => index(&format!("{}_micros", kind.name()))
                    .map_or(0, |i| i128::from(row.measures[i])),
                None => 0,
            },
        };
    }
    if plan.usage == "cost" {
        return total;
    }
    if plan.unit == Unit::Minutes && plan.per == SECONDS_AS_MINUTES {
        return div_round_half_even(total, 60);
    }
    // Micro-units of usage times units per usage (6 decimals) = micro-units of the plan.
    let per = Decimal::parse(&plan.per)
        .ok()
        .and_then(|d| d.scaled_exact(6))
        .unwrap_or(MICRO);
    div_round_half_even(total.saturating_mul(per), MICRO)
}

/// One plan's state this period.
#[derive(Debug, Clone)]
pub struct PlanState {
    pub plan: Plan,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub days_left: i64,
    pub used: i128,
    pub allotment: Option<i128>,
    pub reserve: i128,
    /// A one-time credit past its expiry date: nothing of it is left to use.
    pub expired: bool,
    /// A one-time credit whose term starts later: nothing of it can be used yet.
    pub not_started: bool,
    /// Whether `used` starts from the plan's reading (one taken in this period).
    pub reading_applied: bool,
    /// Set when the plan counts a usage none of its provider's recorded events carries.
    pub warning: Option<String>,
}

impl PlanState {
    /// Whether the plan limits usage now: not a one-time credit expired or not started yet
    /// (the provider is then paid as used).
    pub fn in_force(&self) -> bool {
        !self.expired && !self.not_started
    }

    pub fn remaining(&self) -> Option<i128> {
        self.allotment.map(|a| {
            if self.expired {
                0
            } else {
                (a - self.used).max(0)
            }
        })
    }

    pub fn available(&self) -> Option<i128> {
        self.allotment.map(|a| {
            if self.expired {
                0
            } else {
                (a - self.used - self.reserve).max(0)
            }
        })
    }

    /// Usage past the allotment this period and what it costs at the plan's overage price.
    pub fn overage(&self) -> Option<(i128, Money)> {
        let rate = self.plan.overage.as_ref()?;
        let allotment = self.allotment?;
        let units = (self.used - allotment).max(0);
        let price = Decimal::parse(&rate.price).ok()?.scaled_exact(9)?;
        let per = Decimal::parse(&rate.per).ok()?.scaled_exact(6)?;
        if per <= 0 {
            return None;
        }
        // Micro-units past the allotment / micro-units per price = how many prices.
        // At most a trillion of the currency, like every plan amount, so sums stay exact.
        let nanos = div_round_half_even(units.saturating_mul(price), per)
            .min(MAX_PLAN_AMOUNT * crate::kernel::money::NANOS_PER_UNIT);
        Some((units, Money::new(nanos, self.plan.currency())))
    }

    /// What the end of the period is called in messages: a reset, or a credit's expiry.
    pub fn end_word(&self) -> &'static str {
        if self.plan.term.is_some() {
            "expires"
        } else {
            "resets"
        }
    }

    pub fn percent_used(&self) -> Option<String> {
        self.allotment.filter(|a| *a > 0).map(|a| {
            format_scaled(
                div_round_half_even(self.used.saturating_mul(10_000), a),
                2,
                2,
            )
        })
    }

    fn view(&self, now: DateTime<Utc>) -> Value {
        let plan = &self.plan;
        let elapsed = ((now
            - self
                .start
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc())
        .num_seconds()
        .max(3600)) as i128;
        let per_day = div_round_half_even(self.used.saturating_mul(86_400), elapsed);
        let run_out = self
            .remaining()
            .filter(|_| per_day > 0)
            .and_then(|left| run_out_date(now, left, per_day));
        let fee = Money::new(plan.scaled_fee(), plan.currency());
        json!({
            "provider": plan.provider,
            "project_id": plan.project_id,
            "name": plan.name,
            "monthly_fee": fee,
            "unit": plan.unit.name(),
            "allotment": self.allotment.map(|a| json!({ "amount": plan.show(a), "unit": plan.unit.name() })),
            "counts": if plan.derives_credits() {
                json!({ "usage": plan.usage, "per": plan.per,
                    "from_characters": "events without credits count their characters: 1 credit each, 0.5 on flash and turbo models" })
            } else {
                json!({ "usage": plan.usage, "per": plan.per })
            },
            "warning": self.warning,
            "reserve": plan.show(self.reserve),
            "reset_day": plan.term.is_none().then_some(plan.reset_day),
            "term": plan.term,
            "since": plan.since,
            "expired": self.expired,
            "not_started": self.not_started,
            "overage": self.overage().map(|(units, cost)| json!({
                "units": plan.show(units),
                "cost": cost,
                "price": plan.overage.as_ref().map(|o| &o.price),
                "per": plan.overage.as_ref().map(|o| &o.per),
            })),
            "reading": plan.reading.as_ref().map(|r| json!({
                "used": r.used,
                "at": crate::kernel::clock::format_timestamp(r.at),
                "applied": self.reading_applied,
            })),
            "period": {
                "from": format!("{}T00:00:00.000Z", self.start),
                "to": format!("{}T00:00:00.000Z", self.end),
                "days_left": self.days_left,
            },
            "used": plan.show(self.used),
            "remaining": self.remaining().map(|v| plan.show(v)),
            "available": self.available().map(|v| plan.show(v)),
            "percent_used": self.percent_used(),
            "run_rate_per_day": plan.show(per_day),
            "run_out": run_out.map(|d| d.to_string()),
            "runs_out_before_reset": run_out.is_some_and(|d| d < self.end),
            "alert_percent": plan.alert_percent,
            "alert_emails": plan.alert_emails,
            "mode": plan.mode.as_str(),
        })
    }
}

/// The day `left` runs out at `per_day`, when that is within ten years of `now`: a later date
/// says nothing a plan could use (and a huge allotment would overflow the date).
pub(super) fn run_out_date(now: DateTime<Utc>, left: i128, per_day: i128) -> Option<NaiveDate> {
    // Thousandths of a day, so a run-out later today is not rounded to tomorrow.
    let millidays = div_round_half_even(left.checked_mul(1_000)?, per_day);
    if millidays > i128::from(MAX_TERM_DAYS) * 1_000 {
        return None;
    }
    let at = now
        .checked_add_signed(Duration::milliseconds(
            i64::try_from(millidays).ok()? * 86_400,
        ))?
        .date_naive();
    // Ten calendar years, leap days included.
    (at <= now.date_naive().checked_add_months(Months::new(120))?).then_some(at)
}

impl Plan {
    fn scaled_fee(&self) -> i128 {
        Decimal::parse(&self.monthly_fee)
            .ok()
            .and_then(|d| d.scaled_exact(9))
            .unwrap_or(0)
    }
}

/// The read of a plan's usage over UTC days `from..to`, cut at `until` when it comes first
/// (a view as of a past instant, [`counted_until`]).
pub(super) fn usage_query(
    provider: &str,
    project: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    until: Option<DateTime<Utc>>,
) -> RollupQuery {
    scoped(days_query(from, to, until), provider, project)
}

/// The read of usage over UTC days `from..to`, cut at `until` when it comes first: whole days
/// from the daily rollups, the quarter hours of a day cut short from the quarter-hour ones.
fn days_query(from: NaiveDate, to: NaiveDate, until: Option<DateTime<Utc>>) -> RollupQuery {
    let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let (from, to) = (midnight(from), midnight(to));
    let to = until.map_or(to, |u| u.min(to)).max(from);
    utc_query(from, to)
}

/// What a view as of the past instant `at` counts usage until: the end of the last UTC
/// quarter hour that is over by then (the instant itself counted, so `23:59:59.999` takes in
/// the whole day). The rollups are kept by quarter hour, and one that ends after `at` is left
/// out rather than counting usage from after the instant.
pub fn counted_until(at: DateTime<Utc>) -> DateTime<Utc> {
    crate::reports::report::floor_quarter(at + Duration::milliseconds(1))
}

/// The read of usage from `from` until `to` (UTC).
fn utc_query(from: DateTime<Utc>, to: DateTime<Utc>) -> RollupQuery {
    let range = Range {
        from: Some(from),
        to: Some(to),
        tz: crate::kernel::tz::Tz::UTC,
    };
    range.rollup_query(None)
}

/// `query` narrowed to a plan's provider and scope, by provider.
fn scoped(mut query: RollupQuery, provider: &str, project: Option<&str>) -> RollupQuery {
    query.provider = Some(provider.to_string());
    query.project_id = project.and_then(|p| ProjectId::parse(p).ok());
    query.dims = vec![Dim::Provider];
    query
}

/// The read of a plan's usage from the start of the UTC hour of `from` (the hour a reading
/// was taken in: its usage is counted on top of the reading, erring towards less left) until
/// `to`.
pub(super) fn usage_since_query(
    provider: &str,
    project: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> RollupQuery {
    let from = crate::reports::report::floor_hour(from);
    scoped(utc_query(from, to), provider, project)
}

/// The state of every plan this period.
pub async fn plan_states(
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Vec<PlanState>, CoreError> {
    states_of(plans.plans().await?, reports, now).await
}

/// The state of each of `plans` in the period that holds `now`.
pub async fn states_of(
    plans: Vec<Plan>,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Vec<PlanState>, CoreError> {
    states_until(plans, reports, now, None).await
}

/// The state of each of `plans` in the period that holds `now`, counting the usage recorded
/// before `until` only when given (a view as of a past instant, [`counted_until`]): now, the
/// whole period counts, events a few minutes ahead of the clock included.
async fn states_until(
    plans: Vec<Plan>,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<PlanState>, CoreError> {
    // Each plan's usage this period, every read in one call. Plans over the same days and
    // scope (most reset on the 1st) share one read by provider.
    let mut queries: Vec<RollupQuery> = Vec::new();
    let mut reads = Vec::with_capacity(plans.len());
    let mut readings = Vec::with_capacity(plans.len());
    for plan in &plans {
        let (start, end) = plan.period(now);
        let end_at = end.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let start_at = start.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        // A reading taken in this period (and not in the future) replaces the usage before it.
        let reading = plan
            .reading
            .as_ref()
            .filter(|r| r.at >= start_at && r.at < end_at && r.at <= now)
            .cloned();
        let mut query = match &reading {
            Some(r) => {
                let to = until.map_or(end_at, |u| u.min(end_at));
                usage_since_query(&plan.provider, plan.project_id.as_deref(), r.at, to)
            }
            None => usage_query(
                &plan.provider,
                plan.project_id.as_deref(),
                start,
                end,
                until,
            ),
        };
        if reading.is_none() {
            query.provider = None;
        }
        if plan.derives_credits() {
            // Each model has its own credit rate.
            query.dims = vec![Dim::Provider, Dim::Model];
        }
        let slot = match queries.iter().position(|q| *q == query) {
            Some(slot) => slot,
            None => {
                queries.push(query);
                queries.len() - 1
            }
        };
        reads.push(slot);
        readings.push(reading);
    }
    let usage = reports.rollups_many(&queries).await?;
    let mut out = Vec::with_capacity(plans.len());
    for ((plan, reading), slot) in plans.into_iter().zip(readings).zip(reads) {
        let (start, end) = plan.period(now);
        let end_at = end.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let rows: Vec<RollupRow> = usage
            .get(slot)
            .map(|rows| {
                rows.iter()
                    .filter(|r| r.provider.as_deref() == Some(plan.provider.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let used = match &reading {
            Some(r) => plan.scaled(&r.used) + measure_of(&plan, &rows),
            None => measure_of(&plan, &rows),
        };
        let warning = unit_warning(&plan, &rows);
        // Days begun before the end count whole: 87 days and 41 minutes left is 88 days.
        let days_left = ((end_at - now).num_seconds() + 86_399).div_euclid(86_400);
        let expired = plan.term.is_some() && now >= end_at;
        let not_started = plan.term.is_some() && now.date_naive() < start;
        out.push(PlanState {
            expired,
            not_started,
            reading_applied: reading.is_some(),
            warning,
            used,
            allotment: plan.allotment.as_deref().map(|a| plan.scaled(a)),
            reserve: plan.scaled(&plan.reserve),
            start,
            end,
            days_left: days_left.max(0),
            plan,
        });
    }
    Ok(out)
}

/// `GET /api/admin/subscriptions`: every plan with its use this period, and the month's total
/// cost: plan fees plus the usage-priced spend of providers without an allotment plan.
pub async fn subscriptions_report(
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Value, CoreError> {
    report_of(plans.plans().await?, reports, now, None).await
}

/// The subscriptions report as of a past instant (the month picker): the plans as they were
/// then (a plan added later is left out, an old fee is the old one), over the period that
/// held `at`, with the usage recorded until then ([`counted_until`]): its used, overage and
/// credits, and that month's cost so far.
pub async fn subscriptions_report_at(
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    at: DateTime<Utc>,
) -> Result<Value, CoreError> {
    report_of(
        plans.plans_at(at).await?,
        reports,
        at,
        Some(counted_until(at)),
    )
    .await
}

pub(super) async fn report_of(
    mut plans: Vec<Plan>,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<Value, CoreError> {
    plans.retain(|p| p.since.is_none_or(|since| since <= now.date_naive()));
    let states = states_until(plans, reports, now, until).await?;
    let mut fees = Totals::new();
    for s in states.iter().filter(|s| s.plan.term.is_none()) {
        fees.add(Money::new(s.plan.scaled_fee(), s.plan.currency()));
    }
    // Providers whose use is paid by a flat fee (an allotment in a non-money unit).
    let flat: Vec<(&str, Option<&str>)> = states
        .iter()
        .filter(|s| s.plan.unit != Unit::Money)
        .map(|s| (s.plan.provider.as_str(), s.plan.project_id.as_deref()))
        .collect();
    let today = now.date_naive();
    let month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let month_end = month.checked_add_months(Months::new(1)).unwrap_or(month);
    let mut spend = days_query(month, month_end, until);
    spend.dims = vec![Dim::Provider, Dim::Project];
    let rows = reports.rollups(&spend).await?;
    let mut usage = Totals::new();
    for row in &rows {
        let provider = row.provider.as_deref().unwrap_or_default();
        let project = row.project_id.as_deref();
        let covered = flat
            .iter()
            .any(|(p, scope)| *p == provider && (scope.is_none() || *scope == project));
        if covered {
            continue;
        }
        if let Ok(c) = Currency::parse(&row.currency) {
            usage.add(Money::new(row.cost_nanos, c));
        }
    }
    // One-time money credits pay for usage until they run out: this month's part of that
    // usage is not spent money. Usage drawn over the term before this month came first.
    let mut credited: Vec<(&PlanState, i128, RollupQuery)> = Vec::new();
    for s in states.iter().filter(|s| s.plan.unit == Unit::Money) {
        let (Some(term), Some(granted)) = (s.plan.term, s.allotment) else {
            continue;
        };
        let (from, to) = (term.starts.max(month), term.expires.min(month_end));
        if from >= to {
            continue;
        }
        let query = usage_query(
            &s.plan.provider,
            s.plan.project_id.as_deref(),
            from,
            to,
            until,
        );
        credited.push((s, granted, query));
    }
    let queries: Vec<RollupQuery> = credited.iter().map(|(_, _, q)| q.clone()).collect();
    let mut credits = Totals::new();
    for ((s, granted, _), rows) in credited.iter().zip(reports.rollups_many(&queries).await?) {
        let this_month = measure_of(&s.plan, &rows);
        let before = s.used - this_month;
        let applied = this_month.min((granted - before).max(0));
        if applied > 0 {
            credits.add(Money::new(applied, s.plan.currency()));
        }
    }
    // Usage past an allotment with usage-based billing, at the plan's overage price.
    let mut overage = Totals::new();
    for s in &states {
        if let Some((units, cost)) = s.overage() {
            if units > 0 {
                overage.add(cost);
            }
        }
    }
    let mut total = fees.clone();
    for m in usage.iter().chain(overage.iter()) {
        total.add(m);
    }
    for m in credits.iter() {
        total.add(Money::new(-m.nanos, m.currency));
    }
    Ok(json!({
        "as_of": crate::kernel::clock::format_timestamp(now),
        "month": month_text(month),
        "subscriptions": states.iter().map(|s| s.view(now)).collect::<Vec<_>>(),
        "fees": fees,
        "usage_spend": usage,
        "credits_applied": credits,
        "overage": overage,
        "monthly_cost": total,
        "note": "monthly_cost = plan fees + this month's usage-priced spend of providers not covered by a flat allotment plan (a money allotment caps priced usage, so its spend counts) + usage past allotments billed at their overage price this period - the part paid from one-time credits, per currency.",
    }))
}
