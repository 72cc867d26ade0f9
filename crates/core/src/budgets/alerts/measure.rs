//! Measuring a project's spend for the check: this month, today, the baseline of the week before, the forecast.

use super::*;
use crate::kernel::date_text::date_text;

pub(super) fn percent_text(part: i128, whole: i128) -> Option<String> {
    (whole > 0).then(|| format_scaled(div_round_half_even(part * 10_000, whole), 2, 2))
}

pub(super) fn basis_points(part: i128, whole: i128) -> i128 {
    if whole > 0 {
        div_round_half_even(part * 10_000, whole)
    } else {
        0
    }
}

/// This calendar month in `tz`, as a range.
pub(crate) fn month_range(tz: crate::kernel::tz::Tz, now: DateTime<Utc>) -> Range {
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
pub(super) fn week_before_range(tz: crate::kernel::tz::Tz, now: DateTime<Utc>) -> Range {
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
pub(super) fn baseline_query(
    tz: crate::kernel::tz::Tz,
    now: DateTime<Utc>,
    only: Option<&ProjectId>,
) -> crate::reports::report::RollupQuery {
    let mut query = week_before_range(tz, now).rollup_query(None);
    query.project_id = only.cloned();
    query.dims = vec![Dim::Project];
    query
}

/// The average day of the baseline rows of one project, in one currency.
pub(super) fn baseline_daily(
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
pub(super) fn month_query(
    tz: crate::kernel::tz::Tz,
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
pub(super) fn measure(
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
    let today_label = date_text(today);
    let mut spend = 0i128;
    let mut today_spend = 0i128;
    let mut others = Totals::new();
    let mut unpriced = 0;
    let mut by_provider: LiteMap<String, i128> = LiteMap::new();
    let mut by_model: LiteMap<(String, String), i128> = LiteMap::new();
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
        // As the reports group models: a dated alias or snapshot under its catalog model.
        let model = crate::pricing::catalog::catalog_model(
            &provider,
            row.model.as_deref().unwrap_or_default(),
        );
        *by_model.entry((provider, model)).or_default() += row.cost_nanos;
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
        crate::kernel::sort::sort_by(&mut list, |a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
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
