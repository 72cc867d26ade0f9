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
use crate::kernel::limits::LimitMode;
use crate::kernel::money::{div_round_half_even, Currency, Money};

/// What recording usage knows of a project's limits between checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub currency: Currency,
    /// The monthly budget in nano-units, and its mode.
    pub budget: Option<(i128, LimitMode)>,
    pub daily: Option<(i128, LimitMode)>,
    pub spend: i128,
    pub today: i128,
    /// The amounts at which levels not yet crossed are crossed, lowest first.
    pub next_levels: Vec<i128>,
    /// Some level was crossed already (this month or today).
    pub crossed: bool,
    /// Today's spend at which the spike rule fires (its percent of the baseline day, and at
    /// least its minimum), when the project has one and a baseline.
    pub spike_at: Option<i128>,
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
    pub fn of(check: &ProjectCheck, settings: &BudgetSettings) -> Watch {
        let currency = check.budget.map_or(settings.currency, |b| b.currency);
        let budget = check.budget.map(|b| (b.nanos, settings.budget_mode));
        let daily = check
            .daily_limit
            .filter(|d| d.currency == currency)
            .map(|d| (d.nanos, settings.daily_limit_mode));
        let spend = check.spend.nanos;
        let today = check.today_spend.nanos;
        let mut next_levels: Vec<i128> = match budget {
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
        // Today's thresholds count today's spend: kept as the distance from today.
        for at in daily.map(|(limit, _)| limit).into_iter().chain(spike_at) {
            if at > today {
                next_levels.push(spend + (at - today));
            }
        }
        crate::kernel::sort::sort(&mut next_levels);
        next_levels.dedup();
        Watch {
            currency,
            budget,
            daily,
            spend,
            today,
            next_levels,
            crossed: !check.levels_crossed.is_empty(),
            spike_at,
        }
    }

    /// Whether the last `cost` recorded, already counted in this watch (taken after it was
    /// stored), is what brought the spend to a level: a level between the spend before it and
    /// the spend now, or the daily limit between today's before and now.
    pub fn reached_by(&self, cost: i128, levels: &[i128]) -> bool {
        if cost <= 0 {
            return false;
        }
        let before = self.spend - cost;
        let by_budget = levels.iter().any(|at| before < *at && *at <= self.spend);
        let today = |at: i128| self.today - cost < at && at <= self.today;
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

    /// Adds a recorded cost; `true` when it reaches a level not reached before, so that the
    /// check must run now. Costs in other currencies count for nothing here.
    pub fn add(&mut self, cost: Money) -> bool {
        if cost.currency != self.currency || cost.nanos <= 0 {
            return false;
        }
        self.spend += cost.nanos;
        self.today += cost.nanos;
        let before = self.next_levels.len();
        let spend = self.spend;
        self.next_levels.retain(|at| *at > spend);
        let reached = self.next_levels.len() < before;
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
        }
    }

    #[test]
    fn adding_spend_says_when_a_level_is_reached_once_and_only_then() {
        let mut w = watch(LimitMode::Alert);
        assert!(!w.add(usd(29)));
        assert_eq!(w.state(), (State::Ok, None));
        assert!(w.add(usd(1)), "30 reaches the daily limit");
        assert_eq!(w.state(), (State::Warn, Some("daily_limit")));
        assert!(!w.add(usd(49)));
        assert!(w.add(usd(1)), "80 reaches the 80% level");
        assert!(
            !w.add(Money::new(50_000_000_000, Currency::parse("EUR").unwrap())),
            "another currency"
        );
        assert!(w.add(usd(20)));
        assert_eq!(w.state(), (State::Warn, Some("budget")));
        assert!(!w.add(usd(5)), "nothing left to reach");
    }

    #[test]
    fn a_watch_taken_after_a_request_tells_whether_that_request_reached_a_level() {
        let mut w = watch(LimitMode::Alert);
        w.spend = 81_000_000_000;
        w.today = 10_000_000_000;
        let levels = [80_000_000_000, 100_000_000_000];
        assert!(w.reached_by(2_000_000_000, &levels), "79 -> 81 crosses 80");
        assert!(
            !w.reached_by(500_000_000, &levels),
            "80.5 -> 81 crosses nothing"
        );
        w.today = 31_000_000_000;
        assert!(
            w.reached_by(2_000_000_000, &[]),
            "today 29 -> 31 reaches the daily 30"
        );
        w.daily = None;
        w.spike_at = Some(30_500_000_000);
        assert!(
            w.reached_by(1_000_000_000, &[]),
            "today 30 -> 31 reaches the spike at 30.5"
        );
        assert!(
            !w.reached_by(400_000_000, &[]),
            "today 30.6 -> 31 was past it already"
        );
    }

    #[test]
    fn a_budget_in_block_mode_reached_makes_the_project_blocked() {
        let mut w = watch(LimitMode::Block);
        w.add(usd(99));
        assert_eq!(w.state().0, State::Warn);
        w.add(usd(1));
        assert_eq!(w.state(), (State::Blocked, Some("budget")));
    }
}
