//! A limit as the guard sees it, and the decision over the limits.

use super::*;

/// The kind of a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Budget,
    DailyLimit,
    Plan,
    Capacity,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Budget => "budget",
            LimitKind::DailyLimit => "daily_limit",
            LimitKind::Plan => "plan",
            LimitKind::Capacity => "capacity",
        }
    }
}

/// One limit as the guard sees it: integers in the limit's own scale (nano-units of money,
/// micro-units of a plan's unit, whole units of work for capacity).
#[derive(Debug, Clone)]
pub struct Limit {
    pub kind: LimitKind,
    /// The key reservations hold it by.
    pub key: String,
    pub mode: LimitMode,
    pub currency: Option<Currency>,
    pub plan: Option<Plan>,
    pub limit: i128,
    pub spent: i128,
    pub reserved: i128,
    pub estimate: i128,
    /// Kept in reserve (a plan's): counted as used.
    pub reserve: i128,
    /// The budget's main alert level, as an amount: a warn when the estimate reaches it.
    pub alert_at: Option<i128>,
}

impl Limit {
    /// What is left to spend before the limit (its reserve kept).
    pub(super) fn room(&self) -> i128 {
        self.limit - self.reserve - self.spent - self.reserved
    }

    /// What would remain after the estimate (negative: it would cross).
    pub fn remaining(&self) -> i128 {
        self.room() - self.estimate
    }

    /// Whether spending the estimate would cross the limit, or it is used up already.
    pub fn crossed(&self) -> bool {
        self.remaining() < 0 || self.room() <= 0
    }

    fn show(&self, value: i128) -> String {
        match (&self.plan, self.kind) {
            (_, LimitKind::Capacity) => value.to_string(),
            (Some(plan), _) => plan.show(value),
            (None, _) => format_scaled(value, 9, 2),
        }
    }

    /// Why it denies, in words: `budget: 0.60 USD would pass the limit of 10.00 USD (9.50
    /// spent, 0.00 reserved)`.
    pub fn reason(&self) -> String {
        let unit = match (&self.plan, self.currency, self.kind) {
            (_, _, LimitKind::Capacity) => "units of work".to_string(),
            (Some(plan), _, _) => format!("{} {}", plan.provider, plan.unit.name()),
            (None, Some(currency), _) => currency.as_str().to_string(),
            (None, None, _) => String::new(),
        };
        let kept = if self.reserve > 0 {
            format!(", {} kept in reserve", self.show(self.reserve))
        } else {
            String::new()
        };
        format!(
            "{}: {} {unit} would pass the limit of {} {unit} ({} spent, {} reserved{kept})",
            self.kind.as_str(),
            self.show(self.estimate),
            self.show(self.limit),
            self.show(self.spent),
            self.show(self.reserved),
        )
    }

    /// The limit as the answer shows it.
    pub fn view(&self) -> Value {
        let mut view = json!({
            "kind": self.kind.as_str(),
            "mode": self.mode.as_str(),
            "limit": self.show(self.limit),
            "spent": self.show(self.spent),
            "reserved": self.show(self.reserved),
            "estimate": self.show(self.estimate),
            "remaining": self.show(self.remaining()),
        });
        if let Some(currency) = self.currency {
            view["currency"] = json!(currency.as_str());
        }
        if let Some(plan) = &self.plan {
            view["provider"] = json!(plan.provider);
            view["unit"] = json!(plan.unit.name());
            view["plan"] = json!(format!("{}/{}", plan.provider, plan.unit.name()));
            view["project_id"] = json!(plan.project_id);
            view["reserve"] = json!(plan.show(self.reserve));
        }
        view
    }
}

/// The guard's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Warn,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Warn => "warn",
            Decision::Deny => "deny",
        }
    }
}

/// The decision over `limits`, and the index of the limit that decides it: a deny when a
/// blocking limit would be crossed; a warn when an alerting one would be, or the estimate
/// reaches the budget's alert level; else allow.
pub fn decide(limits: &[Limit]) -> (Decision, Option<usize>) {
    if let Some(i) = limits
        .iter()
        .position(|l| l.mode == LimitMode::Block && l.crossed())
    {
        return (Decision::Deny, Some(i));
    }
    if let Some(i) = limits
        .iter()
        .position(|l| l.mode == LimitMode::Alert && l.crossed())
    {
        return (Decision::Warn, Some(i));
    }
    if let Some(i) = limits.iter().position(|l| {
        l.alert_at
            .is_some_and(|at| l.estimate > 0 && l.spent + l.reserved + l.estimate >= at)
    }) {
        return (Decision::Warn, Some(i));
    }
    (Decision::Allow, None)
}
