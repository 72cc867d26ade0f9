//! Watching a project's spend between checks, so that recording usage can tell when a
//! request crosses a level (and the check must run now, after the answer) without reading
//! the database, and can answer the project's guard state.
//!
//! A [`Watch`] is taken from a dry run of the budget check; each recorded cost is added to
//! it. When the spend reaches a level not crossed before (a budget level, the budget itself,
//! the daily limit), [`Watch::add`] says so: the edge then runs the check for the project,
//! whose atomic claims send each alert once however many requests and runs cross together.

use crate::budgets::alerts::ProjectCheck;
use crate::budgets::settings::BudgetSettings;
use chrono::{DateTime, Utc};

use crate::budgets::alerts::month_range;
use crate::kernel::clock::format_timestamp;
use crate::kernel::limits::LimitMode;
use crate::kernel::money::{div_round_half_even, Currency, Money};
use crate::reports::report::local_midnight;

/// What recording usage knows of a project's limits between checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub currency: Currency,
    /// The monthly budget in nano-units, and its mode.
    pub budget: Option<(i128, LimitMode)>,
    pub daily: Option<(i128, LimitMode)>,
    pub spend: i128,
    pub today: i128,
    /// The amounts of the month's spend at which budget levels not yet crossed are crossed
    /// (today's thresholds, the daily limit and the spike, are `daily` and `spike_at`).
    pub next_levels: Vec<i128>,
    /// Some level was crossed already (this month or today).
    pub crossed: bool,
    /// Today's spend at which the spike rule fires (its percent of the baseline day, and at
    /// least its minimum), when the project has one and a baseline.
    pub spike_at: Option<i128>,
    /// When the budget's month and today (in the budget's time zone) began, as stored event
    /// times are written: an event of an earlier month or day (an import of history) adds to
    /// neither.
    pub month_from: String,
    pub today_from: String,
}

/// A project's guard state, as the ingest answer carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ok,
    Warn,
    Blocked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Warn => "warn",
            State::Blocked => "blocked",
        }
    }
}

impl Watch {
    /// The watch of a project from its check (a dry run) and its settings.
    pub fn of(check: &ProjectCheck, settings: &BudgetSettings, now: DateTime<Utc>) -> Watch {
        let tz = settings.tz();
        let month_from = month_range(tz, now).from.unwrap_or(now);
        let today_from = local_midnight(now.with_timezone(&tz).date_naive(), tz);
        let currency = check.budget.map_or(settings.currency, |b| b.currency);
        let budget = check.budget.map(|b| (b.nanos, settings.budget_mode));
        let daily = check
            .daily_limit
            .filter(|d| d.currency == currency)
            .map(|d| (d.nanos, settings.daily_limit_mode));
        let spend = check.spend.nanos;
        let today = check.today_spend.nanos;
        let next_levels: Vec<i128> = match budget {
            Some((amount, _)) => check
                .levels
                .iter()
                .map(|p| div_round_half_even(amount * i128::from(*p), 100))
                .chain([amount])
                .filter(|at| *at > spend)
                .collect(),
            None => Vec::new(),
        };
        let spike_at = match (settings.spike, check.baseline_daily) {
            (Some(rule), Some(baseline)) if baseline.nanos > 0 && baseline.currency == currency => {
                let by_percent = (i128::from(rule.percent) * baseline.nanos + 99) / 100;
                Some(by_percent.max(rule.min_spend.nanos))
            }
            _ => None,
        };
        Watch {
            currency,
            budget,
            daily,
            spend,
            today,
            next_levels,
            crossed: !check.levels_crossed.is_empty(),
            spike_at,
            month_from: format_timestamp(month_from),
            today_from: format_timestamp(today_from),
        }
    }

    /// What of a stored cost at `at` counts this month and today: `(month, today)`.
    pub fn counted(&self, cost: Money, at: &str) -> (i128, i128) {
        if cost.currency != self.currency || cost.nanos <= 0 || at < self.month_from.as_str() {
            return (0, 0);
        }
        let today = if at >= self.today_from.as_str() {
            cost.nanos
        } else {
            0
        };
        (cost.nanos, today)
    }

    /// Whether the last costs recorded, already counted in this watch (taken after they were
    /// stored), are what brought the spend to a level: `(month, today)`, their part this
    /// month and today ([`Watch::counted`]). A level between the month's spend before them
    /// and now, or the daily limit between today's before and now.
    pub fn reached_by(&self, (month, today_cost): (i128, i128), levels: &[i128]) -> bool {
        let before = self.spend - month;
        let by_budget = month > 0 && levels.iter().any(|at| before < *at && *at <= self.spend);
        let today = |at: i128| today_cost > 0 && self.today - today_cost < at && at <= self.today;
        let by_daily = self.daily.is_some_and(|(limit, _)| today(limit));
        let by_spike = self.spike_at.is_some_and(today);
        by_budget || by_daily || by_spike
    }

    /// The amounts of every budget level of `check` (the budget itself included), crossed or not.
    pub fn levels_of(check: &ProjectCheck) -> Vec<i128> {
        match check.budget {
            Some(budget) => check
                .levels
                .iter()
                .map(|p| div_round_half_even(budget.nanos * i128::from(*p), 100))
                .chain([budget.nanos])
                .collect(),
            None => Vec::new(),
        }
    }

    /// Adds a cost recorded at `at`; `true` when it reaches a level not reached before, so
    /// that the check must run now. Costs in other currencies, and of an earlier month, count
    /// for nothing here; of an earlier day, for the month only.
    pub fn add(&mut self, cost: Money, at: &str) -> bool {
        let counted = self.counted(cost, at);
        if counted.0 == 0 {
            return false;
        }
        self.spend += counted.0;
        self.today += counted.1;
        // Crossed by this cost, as a watch taken afresh would tell; then no longer ahead.
        let reached = self.reached_by(counted, &self.next_levels);
        let spend = self.spend;
        self.next_levels.retain(|at| *at > spend);
        self.crossed |= reached;
        reached
    }

    /// The project's state, and the kind of limit that decides it: `blocked` when a limit in
    /// block mode is reached, `warn` when some level is crossed, else `ok`.
    pub fn state(&self) -> (State, Option<&'static str>) {
        let reached = |limit: Option<(i128, LimitMode)>, spent: i128, mode: LimitMode| {
            limit.is_some_and(|(amount, m)| m == mode && spent >= amount)
        };
        if reached(self.budget, self.spend, LimitMode::Block) {
            return (State::Blocked, Some("budget"));
        }
        if reached(self.daily, self.today, LimitMode::Block) {
            return (State::Blocked, Some("daily_limit"));
        }
        if reached(self.budget, self.spend, LimitMode::Alert) {
            return (State::Warn, Some("budget"));
        }
        if reached(self.daily, self.today, LimitMode::Alert) {
            return (State::Warn, Some("daily_limit"));
        }
        if self.crossed {
            return (State::Warn, None);
        }
        (State::Ok, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(n: i128) -> Money {
        Money::new(n * 1_000_000_000, Currency::USD)
    }

    fn watch(budget_mode: LimitMode) -> Watch {
        Watch {
            currency: Currency::USD,
            budget: Some((100_000_000_000, budget_mode)),
            daily: Some((30_000_000_000, LimitMode::Alert)),
            spend: 0,
            today: 0,
            next_levels: vec![30_000_000_000, 80_000_000_000, 100_000_000_000],
            crossed: false,
            spike_at: None,
            month_from: "2026-11-01T00:00:00.000Z".into(),
            today_from: "2026-11-20T00:00:00.000Z".into(),
        }
    }

    const NOW: &str = "2026-11-20T12:00:00.000Z";

    #[test]
    fn adding_spend_says_when_a_level_is_reached_once_and_only_then() {
        let mut w = watch(LimitMode::Alert);
        assert!(!w.add(usd(29), NOW));
        assert_eq!(w.state(), (State::Ok, None));
        assert!(w.add(usd(1), NOW), "30 reaches the daily limit");
        assert_eq!(w.state(), (State::Warn, Some("daily_limit")));
        assert!(!w.add(usd(49), NOW));
        assert!(w.add(usd(1), NOW), "80 reaches the 80% level");
        assert!(
            !w.add(
                Money::new(50_000_000_000, Currency::parse("EUR").unwrap()),
                NOW
            ),
            "another currency"
        );
        assert!(w.add(usd(20), NOW));
        assert_eq!(w.state(), (State::Warn, Some("budget")));
        assert!(!w.add(usd(5), NOW), "nothing left to reach");
    }

    #[test]
    fn a_watch_taken_after_a_request_tells_whether_that_request_reached_a_level() {
        let mut w = watch(LimitMode::Alert);
        w.spend = 81_000_000_000;
        w.today = 10_000_000_000;
        let levels = [80_000_000_000, 100_000_000_000];
        assert!(
            w.reached_by((2_000_000_000, 2_000_000_000), &levels),
            "79 -> 81 crosses 80"
        );
        assert!(
            !w.reached_by((500_000_000, 500_000_000), &levels),
            "80.5 -> 81 crosses nothing"
        );
        w.today = 31_000_000_000;
        assert!(
            w.reached_by((2_000_000_000, 2_000_000_000), &[]),
            "today 29 -> 31 reaches the daily 30"
        );
        w.daily = None;
        w.spike_at = Some(30_500_000_000);
        assert!(
            w.reached_by((1_000_000_000, 1_000_000_000), &[]),
            "today 30 -> 31 reaches the spike at 30.5"
        );
        assert!(
            !w.reached_by((400_000_000, 400_000_000), &[]),
            "today 30.6 -> 31 was past it already"
        );
    }

    #[test]
    fn a_budget_in_block_mode_reached_makes_the_project_blocked() {
        let mut w = watch(LimitMode::Block);
        w.add(usd(99), NOW);
        assert_eq!(w.state().0, State::Warn);
        w.add(usd(1), NOW);
        assert_eq!(w.state(), (State::Blocked, Some("budget")));
    }

    #[test]
    fn a_cost_of_an_earlier_month_or_day_moves_neither_the_month_nor_today() {
        let mut w = watch(LimitMode::Block);
        w.daily = Some((30_000_000_000, LimitMode::Block));
        // An import of last month's history: nothing this month, nothing today.
        assert!(!w.add(usd(120), "2026-10-31T23:59:59.999Z"));
        assert_eq!((w.spend, w.today, w.state().0), (0, 0, State::Ok));
        // Earlier this month: the month only.
        assert!(
            w.add(usd(31), "2026-11-19T23:00:00.000Z"),
            "31 reaches the 30% level"
        );
        assert_eq!((w.spend, w.today), (31_000_000_000, 0));
        assert_eq!(w.state().0, State::Warn, "the daily limit is not reached");
        w.add(usd(30), NOW);
        assert_eq!(w.today, 30_000_000_000, "today's cost counts today");
        assert_eq!(w.state(), (State::Blocked, Some("daily_limit")));
        // A daily limit alone: an earlier day's cost does not reach it.
        let mut daily_only = watch(LimitMode::Alert);
        daily_only.next_levels.clear();
        assert!(!daily_only.add(usd(31), "2026-11-19T23:00:00.000Z"));
        assert!(daily_only.add(usd(30), NOW), "today's 30 does");
        // Taken afresh after such an import, the watch sees no crossing by it.
        let mut fresh = watch(LimitMode::Alert);
        fresh.spend = 1_000_000_000;
        assert!(!fresh.reached_by(fresh.counted(usd(120), "2026-10-20T10:00:00.000Z"), &[1]));
    }
}
