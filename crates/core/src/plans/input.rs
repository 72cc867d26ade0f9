//! A plan as sent (`PUT /api/admin/subscriptions`), validated into a `Plan`.

use super::*;
use crate::kernel::date_text::parse_date;

/// Body of `PUT /api/admin/subscriptions`.
#[derive(Debug)]
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
    /// `"alert"` (default) or `"block"`: whether the guard denies what would use the
    /// allotment past its reserve.
    pub mode: Option<String>,
}

crate::object_reader!(
    PlanInput,
    deny {
        provider: required,
        project_id: default,
        name: default,
        monthly_fee: default,
        currency: default,
        allotment: default,
        reset_day: default,
        term: default,
        reading: default,
        overage: default,
        since: default,
        reserve: default,
        counts: default,
        alert_percent: default,
        alert_emails: default,
        mode: default,
    }
);

#[derive(Debug)]
pub struct AllotmentInput {
    pub amount: DecimalText,
    pub unit: String,
}

crate::object_reader!(
    AllotmentInput,
    deny {
        amount: required,
        unit: required,
    }
);

#[derive(Debug)]
pub struct OverageInput {
    pub price: DecimalText,
    /// Units of the plan's unit the price is for; default 1.
    pub per: Option<DecimalText>,
}

crate::object_reader!(
    OverageInput,
    deny {
        price: required,
        per: default,
    }
);

#[derive(Debug)]
pub struct ReadingInput {
    pub used: DecimalText,
    pub at: String,
}

crate::object_reader!(
    ReadingInput,
    deny {
        used: required,
        at: required,
    }
);

#[derive(Debug)]
pub struct TermInput {
    pub starts: String,
    pub expires: String,
}

crate::object_reader!(
    TermInput,
    deny {
        starts: required,
        expires: required,
    }
);

pub(super) fn plan_date(field: &str, text: &str) -> Result<NaiveDate, FieldError> {
    parse_date(text.trim()).ok_or_else(|| FieldError::new(field, "must be a date, YYYY-MM-DD"))
}

#[derive(Debug)]
pub struct CountsInput {
    pub usage: Option<String>,
    pub per: Option<DecimalText>,
}

crate::object_reader!(
    CountsInput,
    deny {
        usage: default,
        per: default,
    }
);

/// The largest amount a plan may state (a fee, allotment, reserve, reading, price or rate):
/// a trillion, far past any real plan, so every sum and product of them stays exact.
pub(super) const MAX_PLAN_AMOUNT: i128 = 1_000_000_000_000;

pub(super) fn non_negative(field: &str, text: &str, scale: u32) -> Result<i128, FieldError> {
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
        let mode = match self.mode.as_deref().map(LimitMode::parse) {
            Some(Ok(mode)) => mode,
            Some(Err(message)) => {
                p.push("mode", message);
                LimitMode::Alert
            }
            None => LimitMode::Alert,
        };
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
            mode,
        })
    }
}
