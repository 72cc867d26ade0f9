//! Subscriptions (flat monthly plans with allotments), their use this period, and capacity:
//! how many more units of work (one clip, one episode) fit in what is left of every plan, and
//! which provider runs out first.

pub mod memory;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::access::projects::ProjectId;
use crate::kernel::error::{CoreError, FieldError, Problems, StoreError};
use crate::kernel::input::{hidden_character, visible_text, DecimalText};
use crate::kernel::money::{div_round_half_even, format_scaled, Currency, Decimal, Money, Totals};
use crate::pricing::catalog::{builtin, canonical_provider};
use crate::pricing::{UsageKind, MICRO};
use crate::reports::report::{Dim, Range, ReportStore, RollupQuery, RollupRow, MEASURES};

/// The unit an allotment is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

impl Unit {
    pub fn parse(text: &str) -> Option<Unit> {
        serde_json::from_value(Value::from(text)).ok()
    }

    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<Term>,
    /// What the provider's own dashboard showed as used (the count this tracker cannot see:
    /// calls from apps that do not report, or a provider's own rounding). Within the period it
    /// was read in, `used` is this reading plus the usage recorded since its hour began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
    /// Usage-based billing past the allotment: `price` (in the plan's currency) per `per`
    /// units of the plan's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage: Option<Overage>,
    /// The first day (UTC) the plan was in force, when given: views of earlier instants leave
    /// it out. Without it, a plan's first version counts as in force since always (a
    /// subscription older than its entry here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

/// The price of usage past an allotment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overage {
    pub price: String,
    pub per: String,
}

/// A reading of a plan's use from the provider's dashboard, in the plan's unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    pub used: String,
    pub at: DateTime<Utc>,
}

/// The dates of a one-time credit: from `starts` (inclusive) to `expires` (exclusive), UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub starts: NaiveDate,
    pub expires: NaiveDate,
}

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
        if self.unit == Unit::Money {
            9
        } else {
            6
        }
    }

    fn scaled(&self, text: &str) -> i128 {
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

/// Body of `PUT /api/admin/subscriptions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub provider: String,
    pub project_id: Option<String>,
    pub name: Option<String>,
    /// Required for a monthly plan; a one-time credit (`term`) has none.
    pub monthly_fee: Option<DecimalText>,
    pub currency: Option<String>,
    pub allotment: Option<AllotmentInput>,
    pub reset_day: Option<i64>,
    pub term: Option<TermInput>,
    pub reading: Option<ReadingInput>,
    pub overage: Option<OverageInput>,
    /// The first day the plan was in force (YYYY-MM-DD), for the month picker.
    pub since: Option<String>,
    pub reserve: Option<DecimalText>,
    pub counts: Option<CountsInput>,
    pub alert_percent: Option<i64>,
    pub alert_emails: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllotmentInput {
    pub amount: DecimalText,
    pub unit: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverageInput {
    pub price: DecimalText,
    /// Units of the plan's unit the price is for; default 1.
    pub per: Option<DecimalText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingInput {
    pub used: DecimalText,
    pub at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermInput {
    pub starts: String,
    pub expires: String,
}

fn plan_date(field: &str, text: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "must be a date, YYYY-MM-DD"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountsInput {
    pub usage: Option<String>,
    pub per: Option<DecimalText>,
}

/// The largest amount a plan may state (a fee, allotment, reserve, reading, price or rate):
/// a trillion, far past any real plan, so every sum and product of them stays exact.
const MAX_PLAN_AMOUNT: i128 = 1_000_000_000_000;

fn non_negative(field: &str, text: &str, scale: u32) -> Result<i128, FieldError> {
    let d = Decimal::parse(text).map_err(|m| FieldError::new(field, m))?;
    if d.is_negative() {
        return Err(FieldError::new(field, "must not be negative"));
    }
    if d.scale > scale {
        return Err(FieldError::new(
            field,
            format!("has more than {scale} decimal places"),
        ));
    }
    d.scaled_exact(scale)
        .filter(|v| *v <= MAX_PLAN_AMOUNT * 10_i128.pow(scale))
        .ok_or_else(|| FieldError::new(field, format!("must be at most {MAX_PLAN_AMOUNT}")))
}

impl PlanInput {
    pub fn validate(self) -> Result<Plan, CoreError> {
        let mut p = Problems::new();
        let provider = canonical_provider(&self.provider.trim().to_ascii_lowercase());
        if provider.is_empty() || provider.len() > 64 {
            p.push("provider", "must be a provider name such as heygen");
        }
        let project_id = match &self.project_id {
            Some(id) => p
                .take(ProjectId::parse(id).map_err(|m| FieldError::new("project_id", m)))
                .map(|id| id.as_str().to_string()),
            None => None,
        };
        let currency = match &self.currency {
            Some(c) => p
                .take(Currency::parse(c).map_err(|m| FieldError::new("currency", m)))
                .unwrap_or(Currency::USD),
            None => Currency::USD,
        };
        let term = match &self.term {
            Some(t) => {
                let starts = p.take(plan_date("term.starts", &t.starts));
                let expires = p.take(plan_date("term.expires", &t.expires));
                match (starts, expires) {
                    (Some(starts), Some(expires)) if expires <= starts => {
                        p.push("term.expires", "must be after term.starts");
                        None
                    }
                    (Some(starts), Some(expires))
                        if (expires - starts).num_days() > MAX_TERM_DAYS =>
                    {
                        p.push(
                            "term.expires",
                            "must be at most ten years after term.starts",
                        );
                        None
                    }
                    (Some(starts), Some(expires)) => Some(Term { starts, expires }),
                    _ => None,
                }
            }
            None => None,
        };
        let since = match &self.since {
            Some(_) if self.term.is_some() => {
                p.push(
                    "since",
                    "is not for a one-time credit: its term.starts is its start",
                );
                None
            }
            Some(text) => p.take(plan_date("since", text)),
            None => None,
        };
        let monthly_fee = match (&self.monthly_fee, &self.term) {
            (Some(fee), _) => fee.0.trim().to_string(),
            (None, Some(_)) => "0".to_string(),
            (None, None) => {
                p.push("monthly_fee", "is required (0 for a free plan)");
                "0".to_string()
            }
        };
        if let Some(fee) = p.take(non_negative("monthly_fee", &monthly_fee, 9)) {
            if self.term.is_some() && fee != 0 {
                p.push(
                    "monthly_fee",
                    "a one-time credit (term) has no monthly fee; leave it out",
                );
            }
        }
        if self.term.is_some() && self.reset_day.is_some() {
            p.push(
                "reset_day",
                "a one-time credit (term) does not reset; leave it out",
            );
        }
        if self.term.is_some() && self.allotment.is_none() {
            p.push(
                "allotment",
                "a one-time credit (term) needs the amount it grants",
            );
        }
        let (unit, allotment) = match &self.allotment {
            Some(a) => {
                let unit = Unit::parse(a.unit.trim());
                if unit.is_none() {
                    p.push(
                        "allotment.unit",
                        format!("`{}` is not one of credits, characters, points, tracks, tokens, requests, seconds, minutes, images, money", a.unit),
                    );
                }
                let scale = if unit == Some(Unit::Money) { 9 } else { 6 };
                let amount = p.take(non_negative("allotment.amount", &a.amount.0, scale));
                (
                    unit.unwrap_or(Unit::Credits),
                    amount.map(|_| a.amount.0.trim().to_string()),
                )
            }
            None => (Unit::Money, None),
        };
        let reset_day = self.reset_day.unwrap_or(1);
        if !(1..=28).contains(&reset_day) {
            p.push("reset_day", "must be a day of the month from 1 to 28");
        }
        let scale = if unit == Unit::Money { 9 } else { 6 };
        let reserve = self
            .reserve
            .as_ref()
            .map(|r| r.0.trim().to_string())
            .unwrap_or_else(|| "0".into());
        if let Some(r) = p.take(non_negative("reserve", &reserve, scale)) {
            let total = allotment
                .as_deref()
                .and_then(|a| Decimal::parse(a).ok())
                .and_then(|d| d.scaled_exact(scale));
            if total.is_some_and(|t| r > t) {
                p.push("reserve", "must not exceed the allotment");
            }
        }
        let reading = match &self.reading {
            Some(r) => {
                let used = p.take(non_negative("reading.used", &r.used.0, scale));
                let at = p.take(
                    crate::kernel::clock::parse_timestamp(&r.at)
                        .map_err(|m| FieldError::new("reading.at", m)),
                );
                if self.allotment.is_none() {
                    p.push("reading", "a reading needs a plan with an allotment");
                }
                match (used, at) {
                    (Some(_), Some(at)) => Some(Reading {
                        used: r.used.0.trim().to_string(),
                        at,
                    }),
                    _ => None,
                }
            }
            None => None,
        };
        let overage = match &self.overage {
            Some(o) => {
                if unit == Unit::Money || self.allotment.is_none() {
                    p.push(
                        "overage",
                        "needs an allotment in a unit other than money (usage past a money allotment is already its spend)",
                    );
                }
                let price = p.take(non_negative("overage.price", &o.price.0, 9));
                let per_text = o
                    .per
                    .as_ref()
                    .map_or("1", |d| d.0.as_str())
                    .trim()
                    .to_string();
                match p.take(non_negative("overage.per", &per_text, 6)) {
                    Some(0) => p.push("overage.per", "must be greater than zero"),
                    Some(_) => {}
                    None => {}
                }
                price.map(|_| Overage {
                    price: o.price.0.trim().to_string(),
                    per: per_text,
                })
            }
            None => None,
        };
        let usage = self
            .counts
            .as_ref()
            .and_then(|c| c.usage.clone())
            .unwrap_or_else(|| unit.default_usage().to_string());
        if !usage_names().contains(&usage.as_str()) {
            p.push(
                "counts.usage",
                format!("`{usage}` is not a usage kind, total_tokens, events or cost"),
            );
        }
        if (unit == Unit::Money) != (usage == "cost") {
            p.push(
                "counts.usage",
                "a money allotment counts `cost`, and only a money allotment does",
            );
        }
        let per = self
            .counts
            .as_ref()
            .and_then(|c| c.per.as_ref())
            .map(|d| d.0.trim().to_string())
            .unwrap_or_else(|| {
                if unit == Unit::Minutes {
                    SECONDS_AS_MINUTES.into()
                } else {
                    "1".into()
                }
            });
        if let Some(v) = p.take(non_negative("counts.per", &per, 6)) {
            if v == 0 {
                p.push("counts.per", "must be greater than zero");
            }
        }
        let alert_percent = match self.alert_percent {
            Some(v) if (1..=1000).contains(&v) => Some(v as u16),
            Some(_) => {
                p.push("alert_percent", "must be a whole percent from 1 to 1000");
                None
            }
            None => None,
        };
        let mut emails: Vec<String> = Vec::new();
        let listed = self.alert_emails.unwrap_or_default();
        if listed.len() > crate::kernel::input::MAX_EMAILS {
            p.push(
                "alert_emails",
                format!("at most {} addresses", crate::kernel::input::MAX_EMAILS),
            );
        }
        for (i, e) in listed.iter().enumerate() {
            if crate::kernel::input::valid_email(e.trim()) {
                if !emails.iter().any(|x| x.eq_ignore_ascii_case(e.trim())) {
                    emails.push(e.trim().to_string());
                }
            } else {
                p.push(
                    format!("alert_emails[{i}]"),
                    format!("`{e}` is not an email address"),
                );
            }
        }
        if let Some(name) = &self.name {
            p.take(visible_text("name", name.trim()));
        }
        p.finish()?;
        Ok(Plan {
            provider,
            project_id,
            name: self
                .name
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            monthly_fee,
            currency: currency.to_string(),
            allotment,
            unit,
            usage,
            per,
            reset_day: reset_day as u32,
            reserve,
            alert_percent,
            alert_emails: emails,
            term,
            reading,
            overage,
            since,
        })
    }
}

/// A workload profile: what one unit of work consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub project_id: Option<String>,
    /// Admin-defined items; empty when learned.
    pub items: Vec<ProfileItem>,
    /// Learn from past jobs with these operations (all when empty) over `learn_days`.
    pub learn: Option<LearnSpec>,
    /// Alert when fewer than this many units of work fit.
    pub alert_below: Option<u32>,
}

impl Profile {
    /// The profile's key: its name and project (`""` for a global profile). Two projects may
    /// each have a profile of the same name; saving one never replaces the other.
    pub fn key(&self) -> (String, String) {
        (
            self.name.clone(),
            self.project_id.clone().unwrap_or_default(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileItem {
    pub provider: String,
    pub amount: String,
    pub unit: Unit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnSpec {
    pub operations: Vec<String>,
    pub days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub name: String,
    pub project_id: Option<String>,
    pub items: Option<Vec<ProfileItemInput>>,
    pub learn: Option<LearnInput>,
    pub alert_below: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileItemInput {
    pub provider: String,
    pub amount: DecimalText,
    pub unit: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnInput {
    pub operations: Option<Vec<String>>,
    pub days: Option<i64>,
}

impl ProfileInput {
    /// Checks the profile; `known` are the providers it may name (those with a plan or a price).
    pub fn validate(self, known: &[String]) -> Result<Profile, CoreError> {
        let mut p = Problems::new();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.len() > 64 || name.chars().any(hidden_character) {
            p.push("name", "must be 1 to 64 printable characters");
        }
        let project_id = match &self.project_id {
            Some(id) => p
                .take(ProjectId::parse(id).map_err(|m| FieldError::new("project_id", m)))
                .map(|id| id.as_str().to_string()),
            None => None,
        };
        let mut items = Vec::new();
        for (i, item) in self.items.unwrap_or_default().into_iter().enumerate() {
            let provider = canonical_provider(&item.provider.trim().to_ascii_lowercase());
            if !known.contains(&provider) {
                p.push(
                    format!("items[{i}].provider"),
                    format!(
                        "`{}` is not a provider with a plan or a price",
                        item.provider
                    ),
                );
            }
            let unit = Unit::parse(item.unit.trim());
            if unit.is_none() {
                p.push(
                    format!("items[{i}].unit"),
                    format!("`{}` is not a unit", item.unit),
                );
            }
            match non_negative(&format!("items[{i}].amount"), &item.amount.0, 9) {
                Ok(0) => p.push(format!("items[{i}].amount"), "must be greater than zero"),
                Ok(_) => {}
                Err(e) => p.take::<()>(Err(e)).unwrap_or_default(),
            }
            if let Some(unit) = unit {
                items.push(ProfileItem {
                    provider,
                    amount: item.amount.0.trim().to_string(),
                    unit,
                });
            }
        }
        let learn = self.learn.map(|l| {
            let days = l.days.unwrap_or(30);
            if !(1..=365).contains(&days) {
                p.push("learn.days", "must be from 1 to 365");
            }
            LearnSpec {
                operations: l.operations.unwrap_or_default(),
                days: days.clamp(1, 365) as u32,
            }
        });
        if items.is_empty() == learn.is_none() {
            p.push("items", "give either items or learn");
        }
        let alert_below = match self.alert_below {
            Some(v) if (1..=1_000_000).contains(&v) => Some(v as u32),
            Some(_) => {
                p.push("alert_below", "must be a whole number from 1 to 1000000");
                None
            }
            None => None,
        };
        p.finish()?;
        Ok(Profile {
            name,
            project_id,
            items,
            learn,
            alert_below,
        })
    }
}

#[allow(async_fn_in_trait)]
pub trait PlanStore {
    /// The plans in force now.
    async fn plans(&self) -> Result<Vec<Plan>, StoreError>;
    /// The plans as they were at `at`: each plan's newest version in force at or before it,
    /// unless that version was a delete.
    async fn plans_at(&self, at: DateTime<Utc>) -> Result<Vec<Plan>, StoreError>;
    /// Saves `plan` as its scope's and unit's plan from `at` on. The first version of a
    /// plan (its scope and unit never saved before) counts as in force since always: the
    /// subscription is usually older than its entry here ([`Plan::since`] says otherwise).
    async fn save_plan(&self, plan: &Plan, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Deletes the provider's plans of one scope from `at` on: the one in `unit`, or all of
    /// them.
    async fn delete_plan(
        &self,
        provider: &str,
        project: &str,
        unit: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn profiles(&self) -> Result<Vec<Profile>, StoreError>;
    async fn save_profile(&self, profile: &Profile) -> Result<(), StoreError>;
    /// Deletes the profile `name` of `project` (`None`: the global one).
    async fn delete_profile(&self, name: &str, project: Option<&str>) -> Result<bool, StoreError>;
    /// Distinct jobs since `since` with a call of one of `operations` (any when empty).
    async fn jobs_with_operations(
        &self,
        operations: &[String],
        since: &str,
        project: Option<&str>,
    ) -> Result<i64, StoreError>;
}

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
fn elevenlabs_credits_per_character(model: &str) -> i128 {
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
fn measure_index(name: &str) -> Option<usize> {
    MEASURES.iter().position(|m| *m == name)
}

/// When a plan counts a usage that none of its provider's recorded events this period
/// carries (its `used` stays 0 however much is recorded), what to tell its owner.
fn unit_warning(plan: &Plan, rows: &[RollupRow]) -> Option<String> {
    if plan.usage == "cost" || plan.usage == "events" {
        return None;
    }
    let events: i64 = rows.iter().map(|r| r.measures[0]).sum();
    if events == 0 || measure_of(plan, rows) != 0 {
        return None;
    }
    let carried: Vec<&str> = MEASURES
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

fn measure_of(plan: &Plan, rows: &[RollupRow]) -> i128 {
    let index = measure_index;
    let derive = plan.derives_credits();
    let mut total: i128 = 0;
    for row in rows {
        if derive {
            let credits = index("credits_micros").map_or(0, |i| i128::from(row.measures[i]));
            total += if credits != 0 {
                credits
            } else {
                let characters = index("characters").map_or(0, |i| i128::from(row.measures[i]));
                characters * elevenlabs_credits_per_character(row.model.as_deref().unwrap_or(""))
            };
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
    /// Whether `used` starts from the plan's reading (one taken in this period).
    pub reading_applied: bool,
    /// Set when the plan counts a usage none of its provider's recorded events carries.
    pub warning: Option<String>,
}

impl PlanState {
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
        })
    }
}

/// The day `left` runs out at `per_day`, when that is within ten years of `now`: a later date
/// says nothing a plan could use (and a huge allotment would overflow the date).
fn run_out_date(now: DateTime<Utc>, left: i128, per_day: i128) -> Option<NaiveDate> {
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

/// The read of a plan's usage over whole UTC days.
fn usage_query(
    provider: &str,
    project: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> RollupQuery {
    RollupQuery {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        provider: Some(provider.to_string()),
        project_id: project.and_then(|p| ProjectId::parse(p).ok()),
        dims: vec![Dim::Provider],
        ..RollupQuery::default()
    }
}

/// The read of a plan's usage from the start of the UTC hour of `from` (the hour a reading
/// was taken in: its usage is counted on top of the reading, erring towards less left) until
/// `to`.
fn usage_since_query(
    provider: &str,
    project: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> RollupQuery {
    let range = Range {
        from: Some(crate::reports::report::floor_hour(from)),
        to: Some(to),
        tz: chrono_tz::Tz::UTC,
    };
    let mut query = range.rollup_query(None);
    query.provider = Some(provider.to_string());
    query.project_id = project.and_then(|p| ProjectId::parse(p).ok());
    query.dims = vec![Dim::Provider];
    query
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
async fn states_of(
    plans: Vec<Plan>,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
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
            Some(r) => usage_since_query(&plan.provider, plan.project_id.as_deref(), r.at, end_at),
            None => usage_query(&plan.provider, plan.project_id.as_deref(), start, end),
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
        out.push(PlanState {
            expired,
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
    report_of(plans.plans().await?, reports, now).await
}

/// The subscriptions report as of a past instant (the month picker): the plans as they were
/// then (a plan added later is left out, an old fee is the old one), over the period that
/// held `at`.
pub async fn subscriptions_report_at(
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    at: DateTime<Utc>,
) -> Result<Value, CoreError> {
    report_of(plans.plans_at(at).await?, reports, at).await
}

async fn report_of(
    mut plans: Vec<Plan>,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Value, CoreError> {
    plans.retain(|p| p.since.is_none_or(|since| since <= now.date_naive()));
    let states = states_of(plans, reports, now).await?;
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
    let rows = reports
        .rollups(&RollupQuery {
            from: Some(month.to_string()),
            to: Some(
                month
                    .checked_add_months(Months::new(1))
                    .unwrap_or(month)
                    .to_string(),
            ),
            dims: vec![Dim::Provider, Dim::Project],
            ..RollupQuery::default()
        })
        .await?;
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
        let month_end = month.checked_add_months(Months::new(1)).unwrap_or(month);
        let (from, to) = (term.starts.max(month), term.expires.min(month_end));
        if from >= to {
            continue;
        }
        let query = usage_query(&s.plan.provider, s.plan.project_id.as_deref(), from, to);
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
        "month": month.format("%Y-%m").to_string(),
        "subscriptions": states.iter().map(|s| s.view(now)).collect::<Vec<_>>(),
        "fees": fees,
        "usage_spend": usage,
        "credits_applied": credits,
        "overage": overage,
        "monthly_cost": total,
        "note": "monthly_cost = plan fees + this month's usage-priced spend of providers not covered by a flat allotment plan (a money allotment caps priced usage, so its spend counts) + usage past allotments billed at their overage price this period - the part paid from one-time credits, per currency.",
    }))
}

/// One provider's share of a profile's capacity.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderCapacity {
    pub provider: String,
    pub per_unit: String,
    pub unit: String,
    pub available: Option<String>,
    pub units_left: Option<i64>,
    pub days_left: Option<i64>,
    pub daily_rate: Option<String>,
    pub note: Option<String>,
}

/// The capacity left for one profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileCapacity {
    pub name: String,
    pub project_id: Option<String>,
    pub learned: bool,
    pub items: Vec<ProfileItem>,
    pub units_left: Option<i64>,
    pub bottleneck: Option<String>,
    pub recommended_daily: Option<String>,
    pub alert_below: Option<u32>,
    pub per_provider: Vec<ProviderCapacity>,
    pub note: Option<String>,
}

/// Learns a profile's items: per provider with a plan, its use (in the plan's unit) by calls
/// of the profile's operations over the window, divided by the jobs with those operations.
async fn learned_items(
    profile: &Profile,
    spec: &LearnSpec,
    states: &[PlanState],
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<(Vec<ProfileItem>, i64), CoreError> {
    let from = now - Duration::days(i64::from(spec.days));
    let since = crate::kernel::clock::format_timestamp(from);
    let jobs = plans
        .jobs_with_operations(&spec.operations, &since, profile.project_id.as_deref())
        .await?;
    if jobs == 0 {
        return Ok((Vec::new(), 0));
    }
    // One read of the window's usage by provider and operation, shared by every plan.
    let mut window = reports
        .rollups(&RollupQuery {
            from: Some(from.date_naive().to_string()),
            to: Some((now.date_naive() + Duration::days(1)).to_string()),
            project_id: profile
                .project_id
                .as_deref()
                .and_then(|p| ProjectId::parse(p).ok()),
            dims: vec![Dim::Provider, Dim::Operation],
            ..RollupQuery::default()
        })
        .await?;
    if !spec.operations.is_empty() {
        window.retain(|r| {
            r.operation
                .as_deref()
                .is_some_and(|o| spec.operations.iter().any(|x| x == o))
        });
    }
    let mut items = Vec::new();
    for state in states {
        let plan = &state.plan;
        let rows: Vec<RollupRow> = window
            .iter()
            .filter(|r| r.provider.as_deref() == Some(plan.provider.as_str()))
            .cloned()
            .collect();
        let used = measure_of(plan, &rows);
        if used > 0 {
            items.push(ProfileItem {
                provider: plan.provider.clone(),
                amount: plan.show(div_round_half_even(used, i128::from(jobs))),
                unit: plan.unit,
            });
        }
    }
    Ok((items, jobs))
}

/// `GET /api/admin/capacity`: per profile, how many more units of work fit in what is left of
/// every plan, the bottleneck, and the daily rate that lasts until each reset.
pub async fn capacity(
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Vec<ProfileCapacity>, CoreError> {
    let states = plan_states(plans, reports, now).await?;
    capacity_of(&states, plans, reports, now).await
}

/// [`capacity`] from plan states already read.
pub async fn capacity_of(
    states: &[PlanState],
    plans: &impl PlanStore,
    reports: &impl ReportStore,
    now: DateTime<Utc>,
) -> Result<Vec<ProfileCapacity>, CoreError> {
    let mut out = Vec::new();
    for profile in plans.profiles().await? {
        let (items, learned_from) = match &profile.learn {
            Some(spec) => {
                let (items, jobs) =
                    learned_items(&profile, spec, states, plans, reports, now).await?;
                (items, Some(jobs))
            }
            None => (profile.items.clone(), None),
        };
        let mut per_provider = Vec::new();
        for item in &items {
            // The provider's plan that covers the profile's project, in the item's unit if
            // the provider has plans in several units.
            let covering: Vec<&PlanState> = states
                .iter()
                .filter(|s| s.plan.provider == item.provider)
                .filter(|s| s.plan.project_id.is_none() || s.plan.project_id == profile.project_id)
                .collect();
            let state = covering
                .iter()
                .find(|s| s.plan.unit == item.unit)
                .or_else(|| covering.first())
                .copied();
            let Some(state) = state else {
                per_provider.push(ProviderCapacity {
                    provider: item.provider.clone(),
                    per_unit: item.amount.clone(),
                    unit: item.unit.name(),
                    available: None,
                    units_left: None,
                    days_left: None,
                    daily_rate: None,
                    note: Some("no plan: pay as you go, not a limit".into()),
                });
                continue;
            };
            let plan = &state.plan;
            if plan.unit != item.unit {
                per_provider.push(ProviderCapacity {
                    provider: item.provider.clone(),
                    per_unit: item.amount.clone(),
                    unit: item.unit.name(),
                    available: state.available().map(|a| plan.show(a)),
                    units_left: None,
                    days_left: Some(state.days_left),
                    daily_rate: None,
                    note: Some(format!(
                        "the plan counts {}, the profile {}",
                        plan.unit.name(),
                        item.unit.name()
                    )),
                });
                continue;
            }
            let per_unit = plan.scaled(&item.amount);
            let available = state.available();
            let units = match (available, per_unit > 0) {
                (Some(a), true) => Some(i64::try_from(a / per_unit).unwrap_or(i64::MAX)),
                _ => None,
            };
            per_provider.push(ProviderCapacity {
                provider: item.provider.clone(),
                per_unit: item.amount.clone(),
                unit: plan.unit.name(),
                available: available.map(|a| plan.show(a)),
                units_left: units,
                days_left: Some(state.days_left),
                daily_rate: units.map(|u| {
                    format_scaled(
                        div_round_half_even(
                            i128::from(u) * 100,
                            i128::from(state.days_left.max(1)),
                        ),
                        2,
                        2,
                    )
                }),
                note: state
                    .allotment
                    .is_none()
                    .then(|| "the plan has no allotment".into()),
            });
        }
        let limiting = per_provider
            .iter()
            .filter(|p| p.units_left.is_some())
            .min_by_key(|p| p.units_left);
        let recommended = per_provider
            .iter()
            .filter_map(|p| {
                p.daily_rate
                    .as_ref()
                    .and_then(|r| Decimal::parse(r).ok()?.scaled_exact(2))
            })
            .min();
        out.push(ProfileCapacity {
            name: profile.name.clone(),
            project_id: profile.project_id.clone(),
            learned: profile.learn.is_some(),
            units_left: limiting.and_then(|p| p.units_left),
            bottleneck: limiting.map(|p| p.provider.clone()),
            recommended_daily: recommended.map(|r| format_scaled(r, 2, 2)),
            alert_below: profile.alert_below,
            items,
            per_provider,
            note: learned_from.map(|jobs| format!("learned from {jobs} past jobs")),
        });
    }
    Ok(out)
}

/// `DELETE /api/admin/capacity/profiles`: deletes the profile `name` of `project`, or, with no
/// project, the global one. With no project and no global profile of that name, the one
/// project profile of that name is deleted when there is exactly one; when several projects
/// have one, the request must say which (a name alone never picks another tenant's profile
/// by chance).
pub async fn remove_profile(
    plans: &impl PlanStore,
    name: &str,
    project: Option<&str>,
) -> Result<(), CoreError> {
    if plans.delete_profile(name, project).await? {
        return Ok(());
    }
    if project.is_some() {
        return Err(CoreError::NotFound(format!(
            "profile `{name}` of that project"
        )));
    }
    let named: Vec<Profile> = plans
        .profiles()
        .await?
        .into_iter()
        .filter(|p| p.name == name)
        .collect();
    match named.as_slice() {
        [] => Err(CoreError::NotFound(format!("profile `{name}`"))),
        [only] => {
            if plans
                .delete_profile(name, only.project_id.as_deref())
                .await?
            {
                Ok(())
            } else {
                Err(CoreError::NotFound(format!("profile `{name}`")))
            }
        }
        _ => Err(CoreError::invalid(
            "project_id",
            format!("several projects have a profile named `{name}`: name the project"),
        )),
    }
}

/// Providers a profile may name: those with a plan, a built-in price, or stored usage.
pub fn known_providers(plans: &[Plan]) -> Vec<String> {
    let mut known: Vec<String> = plans.iter().map(|p| p.provider.clone()).collect();
    known.extend(builtin().providers());
    known.sort();
    known.dedup();
    known
}

#[cfg(test)]
mod tests;
