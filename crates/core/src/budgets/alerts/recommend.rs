//! Recommendations in an alert: cheaper models and how many days the budget lasts.

use super::*;

/// Cheaper models in the same family, for recommendations.
pub(super) fn cheaper_alternative(provider: &str, model: &str) -> Option<&'static str> {
    let m = model.to_ascii_lowercase();
    match provider {
        "openai" if m.starts_with("gpt-4o-mini") || m.contains("nano") => None,
        "openai" if m.starts_with("gpt-4o") || m.starts_with("gpt-4-turbo") || m == "gpt-4" => {
            Some("gpt-4o-mini")
        }
        "openai" if m.starts_with("gpt-4.1") && !m.contains("mini") => Some("gpt-4.1-mini"),
        "openai" if m.starts_with("gpt-5") && !m.contains("mini") && !m.contains("nano") => {
            Some("gpt-5-mini")
        }
        "openai" if m.starts_with("o1") || m.starts_with("o3") && !m.contains("mini") => {
            Some("o4-mini")
        }
        "anthropic" if m.contains("opus") => Some("claude-sonnet-4-5"),
        "anthropic" if m.contains("sonnet") => Some("claude-haiku-4-5"),
        "google" if m.contains("pro") => Some("gemini-2.5-flash"),
        _ => None,
    }
}

pub(super) fn recommendations(
    check: &ProjectCheck,
    settings: &BudgetSettings,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    let c = check.spend.currency;
    if let Some(budget) = settings.amount {
        if check.forecast.nanos > budget.nanos {
            let remaining = (budget.nanos - check.spend.nanos).max(0);
            let days_left = days_left(check, now);
            let per_day = div_round_half_even(remaining, i128::from(days_left.max(1)));
            out.push(format!(
                "At the current rate the month ends near {} ({}% of the budget). To stay within {}, keep spend under {} a day for the {} days left.",
                check.forecast.rounded(),
                check.forecast_percent.clone().unwrap_or_default(),
                budget.rounded(),
                Money::new(per_day, c).rounded(),
                days_left
            ));
        }
    }
    if let Some(top) = check.top_models.first() {
        let share: f64 = top.share.parse().unwrap_or(0.0);
        if share >= 40.0 {
            let model = top.model.clone().unwrap_or_default();
            match cheaper_alternative(&top.provider, &model) {
                Some(alt) => out.push(format!(
                    "{} ({}) is {}% of this month's spend; route simpler calls to {} to cut that part.",
                    model, top.provider, top.share, alt
                )),
                None => out.push(format!(
                    "{} ({}) is {}% of this month's spend; look at its largest operations first.",
                    model, top.provider, top.share
                )),
            }
        }
    }
    if check.unpriced_events > 0 {
        out.push(format!(
            "{} events this month have no price, so real spend is higher than shown; add their prices (GET /api/admin/prices/unpriced lists them).",
            check.unpriced_events
        ));
    }
    if settings.daily_limit.is_none() {
        out.push("Set a daily limit to hear about a runaway job the same day.".into());
    }
    if check
        .percent_used
        .as_deref()
        .and_then(|p| p.parse::<f64>().ok())
        .unwrap_or(0.0)
        >= 100.0
    {
        out.push(
            "The budget is spent: raise it if this spend is expected, or pause the jobs driving it."
                .into(),
        );
    }
    out
}

/// Whole days from `now` to the end of the check's period (at least one).
pub(super) fn days_left(check: &ProjectCheck, now: DateTime<Utc>) -> i64 {
    check.period["to"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|end| ((end.with_timezone(&Utc) - now).num_hours() + 23) / 24)
        .unwrap_or(1)
        .max(1)
}
