//! Subscriptions (flat monthly plans with allotments), their use this period, and capacity:
//! how many more units of work (one clip, one episode) fit in what is left of every plan, and
//! which provider runs out first.

mod capacity;
mod input;
pub mod memory;
mod profiles;
mod state;
pub mod store;

pub use capacity::*;
pub use input::*;
pub use profiles::*;
pub use state::*;

use crate::json;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::projects::ProjectId;
use crate::kernel::error::{CoreError, FieldError, Problems};
use crate::kernel::input::{hidden_character, visible_text, DecimalText};
use crate::kernel::limits::LimitMode;
use crate::kernel::money::{div_round_half_even, format_scaled, Currency, Decimal, Money, Totals};
use crate::plans::store::PlanStore;
use crate::pricing::catalog::{builtin, canonical_provider};
use crate::pricing::{UsageKind, MICRO};
use crate::reports::report::{Dim, Range, RollupQuery, RollupRow, MEASURES, SHOWN_MEASURES};
use crate::reports::store::ReportStore;

/// The unit an allotment is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Credits,
    Characters,
    Points,
    Tracks,
    Tokens,
    Requests,
    Seconds,
    Minutes,
    Images,
    /// A money budget in the plan's currency.
    Money,
}

/// Every unit by its name, as written (`rename_all = "snake_case"`) and read.
const UNITS: &[(&str, Unit)] = &[
    ("credits", Unit::Credits),
    ("characters", Unit::Characters),
    ("points", Unit::Points),
    ("tracks", Unit::Tracks),
    ("tokens", Unit::Tokens),
    ("requests", Unit::Requests),
    ("seconds", Unit::Seconds),
    ("minutes", Unit::Minutes),
    ("images", Unit::Images),
    ("money", Unit::Money),
];

impl<'de> Deserialize<'de> for Unit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::DeserializeSeed;
        crate::kernel::object::Variant {
            variants: UNITS,
            expecting: "enum Unit",
        }
        .deserialize(deserializer)
    }
}

impl Unit {
    /// The decimal places an amount of the unit is counted to: money to the nano, the rest to
    /// the millionth.
    pub fn scale(self) -> u32 {
        if self == Unit::Money {
            9
        } else {
            6
        }
    }

    pub fn parse(text: &str) -> Option<Unit> {
        UNITS
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, unit)| *unit)
    }

    pub fn name(self) -> String {
        UNITS
            .iter()
            .find(|(_, unit)| *unit == self)
            .map(|(name, _)| name.to_string())
            .unwrap_or_default()
    }

    /// What usage feeds the unit when the plan does not say.
    fn default_usage(self) -> &'static str {
        match self {
            Unit::Credits => "credits",
            Unit::Characters | Unit::Points => "characters",
            Unit::Tracks => "tracks",
            Unit::Tokens => "total_tokens",
            Unit::Requests => "events",
            Unit::Seconds | Unit::Minutes => "audio_seconds",
            Unit::Images => "images",
            Unit::Money => "cost",
        }
    }
}

/// Usage names a plan may count: every usage kind, `total_tokens`, `events` (calls that were
/// not cache hits) and `cost`.
fn usage_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = UsageKind::ALL.iter().map(|k| k.name()).collect();
    names.extend(["total_tokens", "events", "cost"]);
    names
}

/// The default `per` of a minutes allotment fed by seconds: shown as 1/60 to six places, and
/// applied exactly (seconds / 60), so 600 seconds are 10 minutes, not 10.0002.
const SECONDS_AS_MINUTES: &str = "0.016667";

/// A stored plan. Quantities are micro-units of the plan's unit (for money, nano-units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub provider: String,
    pub project_id: Option<String>,
    pub name: Option<String>,
    pub monthly_fee: String,
    pub currency: String,
    pub allotment: Option<String>,
    pub unit: Unit,
    /// The usage that feeds the unit (see [`usage_names`]).
    pub usage: String,
    /// Units of the plan consumed by one unit of that usage.
    pub per: String,
    pub reset_day: u32,
    pub reserve: String,
    pub alert_percent: Option<u16>,
    pub alert_emails: Vec<String>,
    /// A one-time credit (a cloud provider's trial credit, a prepaid pack): its allotment is
    /// drawn from `starts` until it `expires`, and never resets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<Term>,
    /// What the provider's own dashboard showed as used (the count this tracker cannot see:
    /// calls from apps that do not report, or a provider's own rounding). Within the period it
    /// was read in, `used` is this reading plus the usage recorded since its hour began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
    /// Usage-based billing past the allotment: `price` (in the plan's currency) per `per`
    /// units of the plan's unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overage: Option<Overage>,
    /// The first day (UTC) the plan was in force, when given: views of earlier instants leave
    /// it out. Without it, a plan's first version counts as in force since always (a
    /// subscription older than its entry here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
    /// What using the allotment past its reserve does: alert, or also make the guard deny.
    pub mode: LimitMode,
}

crate::object_reader!(Plan, skip {
    provider: required,
    project_id: default,
    name: default,
    monthly_fee: required,
    currency: required,
    allotment: default,
    unit: required,
    usage: required,
    per: required,
    reset_day: required,
    reserve: required,
    alert_percent: default,
    alert_emails: required,
    term: default,
    reading: default,
    overage: default,
    since: default with crate::kernel::date_text::deserialize_option_date => Option<NaiveDate>,
    mode: default,
});

/// The price of usage past an allotment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overage {
    pub price: String,
    pub per: String,
}

crate::object_reader!(
    Overage,
    skip {
        price: required,
        per: required,
    }
);

/// A reading of a plan's use from the provider's dashboard, in the plan's unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    pub used: String,
    pub at: DateTime<Utc>,
}

crate::object_reader!(Reading, skip {
    used: required,
    at: required with crate::kernel::date_text::deserialize_instant => DateTime<Utc>,
});

/// The dates of a one-time credit: from `starts` (inclusive) to `expires` (exclusive), UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Term {
    pub starts: NaiveDate,
    pub expires: NaiveDate,
}

crate::object_reader!(Term, skip {
    starts: required with crate::kernel::date_text::deserialize_date => NaiveDate,
    expires: required with crate::kernel::date_text::deserialize_date => NaiveDate,
});

/// The longest term accepted: ten years.
const MAX_TERM_DAYS: i64 = 3660;

impl Plan {
    /// The period the allotment is drawn over at `now`: the term of a one-time credit, or the
    /// month from the last reset day.
    pub fn period(&self, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
        match self.term {
            Some(t) => (t.starts, t.expires),
            None => period(self.reset_day, now),
        }
    }

    /// A plan is one per provider, scope (a project, or '' for all) and unit: Lahajati's
    /// points and its voice minutes are two plans.
    pub fn key(&self) -> (String, String, String) {
        (
            self.provider.clone(),
            self.project_id.clone().unwrap_or_default(),
            self.unit.name(),
        )
    }

    fn currency(&self) -> Currency {
        Currency::parse(&self.currency).unwrap_or(Currency::USD)
    }

    /// Amounts of the unit kept with 6 decimals (money with 9).
    fn scale(&self) -> u32 {
        self.unit.scale()
    }

    /// An amount of the plan's unit, as text, in its scaled integer form.
    pub fn scaled(&self, text: &str) -> i128 {
        Decimal::parse(text)
            .ok()
            .and_then(|d| d.scaled_exact(self.scale()))
            .unwrap_or(0)
    }

    /// An amount of the plan's unit as text (money to the cent or more, others as needed).
    pub fn show(&self, value: i128) -> String {
        format_scaled(
            value,
            self.scale(),
            if self.unit == Unit::Money { 2 } else { 0 },
        )
    }
}

/// Providers a profile may name: those with a plan, a built-in price, or stored usage.
pub fn known_providers(plans: &[Plan]) -> Vec<String> {
    let mut known: Vec<String> = plans.iter().map(|p| p.provider.clone()).collect();
    known.extend(builtin().providers());
    crate::kernel::sort::sort(&mut known);
    known.dedup();
    known
}

#[cfg(test)]
mod tests;
