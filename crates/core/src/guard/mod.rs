//! The spend guard: before an app spends, it asks whether it may (`POST /api/usage/guard`),
//! and may hold what it is about to spend against every limit at once (a reservation), so
//! that concurrent apps can never together pass a limit that blocks.
//!
//! The limits of a project are its monthly budget and its daily limit (money, in the
//! budget's currency), each plan of its own or global whose provider the estimate touches
//! (units of the plan, with its reserve counted as used), and, for a workload profile, the
//! capacity: how many more units of work fit. Each limit has a mode: `alert` (a crossing is
//! a `warn`) or `block` (a crossing is a `deny`). A deny is an answer, never an error, and
//! never reserves.
//!
//! A reservation is granted in one atomic step of the store ([`store::ReservationStore::grant`]):
//! the open holds of each blocking limit plus the new one must stay within the room that
//! limit had when its spend was read, and no settlement may have happened since (the
//! settlement version). It ends when the usage it covers is recorded (the event names it,
//! and the same transaction as the usage ends it), when it is released, or at its expiry.

pub mod memory;
pub mod plan_watch;
pub mod store;
pub mod watch;

#[cfg(test)]
mod tests;

use crate::json;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::access::auth::Principal;
use crate::access::projects::ProjectId;
use crate::budgets::alerts::{check_budgets, AlertConfig, Mode, Notifier};
use crate::budgets::store::BudgetStore;
use crate::kernel::clock::{format_timestamp, random_token, Clock, Entropy};
use crate::kernel::error::{CoreError, FieldError, Problems, Refusal};
use crate::kernel::input::{parse_json, visible_text, DecimalText};
use crate::kernel::limits::LimitMode;
use crate::kernel::money::{div_round_half_even, format_scaled, Currency, Money};
use crate::plans::store::PlanStore;
use crate::plans::Plan;
use crate::plans::{learned_items, measure_of, plan_states, Profile};
use crate::pricing::store::PriceStore;
use crate::reports::report::RollupRow;
use crate::reports::store::ReportStore;
use crate::usage::event::EventRules;
use crate::usage::ingest::{parse_batch, prepare, DEFAULT_MAX_EVENT_AGE_DAYS};
use crate::usage::record::StoredEvent;
use crate::usage::store::UsageStore;

use store::{Granted, Hold, NewReservation, ReservationStore};

mod limits;
mod status;

pub use limits::*;
pub use status::*;

/// How long a reservation holds when the request does not say.
pub const DEFAULT_TTL_SECONDS: i64 = 300;
/// The longest a reservation may hold.
pub const MAX_TTL_SECONDS: i64 = 86_400;
/// The most units of work one request may ask about.
pub const MAX_UNITS: i64 = 1_000_000;
/// Grants tried before answering that the guard is busy (each retry follows a settlement).
const GRANT_ATTEMPTS: usize = 5;

/// Body of `POST /api/usage/guard`.
#[derive(Debug, Default)]
pub struct GuardRequest {
    /// The project, for the admin key; a project key's own project otherwise.
    pub project_id: Option<String>,
    /// An event as `POST /api/usage` takes it: what the app is about to record.
    pub estimate: Option<Value>,
    /// A workload profile (of the project, else global) and how many units of it.
    pub profile: Option<String>,
    pub units: Option<i64>,
    /// An amount of money.
    pub amount: Option<AmountInput>,
    pub reserve: bool,
    pub ttl_seconds: Option<i64>,
    /// The reservation's id: the same id again answers the same reservation.
    pub id: Option<String>,
}

crate::object_reader!(
    GuardRequest,
    deny {
        project_id: default,
        estimate: default,
        profile: default,
        units: default,
        amount: default,
        reserve: default,
        ttl_seconds: default,
        id: default,
    }
);

#[derive(Debug)]
pub struct AmountInput {
    pub amount: DecimalText,
    pub currency: String,
}

crate::object_reader!(
    AmountInput,
    deny {
        amount: required,
        currency: required,
    }
);

/// What the app is about to spend.
#[derive(Debug, Clone, Default)]
struct Estimate {
    /// Money, when known (an amount, or the estimate event's price).
    money: Option<Money>,
    /// The estimate event, priced and scoped, when one was given.
    event: Option<StoredEvent>,
    /// A profile (its items read from past jobs when it learns them, with the plans), and how
    /// many units of it.
    profile: Option<(Profile, i64)>,
}

/// A validated guard request.
struct Ask {
    project: ProjectId,
    estimate: Estimate,
    reserve: Option<(String, i64)>,
}

fn prefixed(error: CoreError, prefix: &str) -> CoreError {
    let rename = |details: Vec<FieldError>| {
        details
            .into_iter()
            .map(|mut d| {
                d.field = if d.field.is_empty() {
                    prefix.to_string()
                } else {
                    format!("{prefix}.{}", d.field)
                };
                d
            })
            .collect()
    };
    match error {
        CoreError::Validation(details) => CoreError::Validation(rename(details)),
        CoreError::MalformedBody { message, details } => CoreError::MalformedBody {
            message,
            details: rename(details),
        },
        other => other,
    }
}

/// Validates the request: exactly one of `estimate`, `profile` with `units`, or `amount`;
/// the estimate event as ingestion validates and prices it.
async fn ask(
    usage: &impl UsageStore,
    prices: &impl PriceStore,
    plans: &impl PlanStore,
    entropy: &impl Entropy,
    principal: &Principal,
    now: DateTime<Utc>,
    request: GuardRequest,
) -> Result<Ask, CoreError> {
    let mut p = Problems::new();
    let requested = match request.project_id.as_deref() {
        Some(id) => match ProjectId::parse(id) {
            Ok(id) => Some(id),
            Err(m) => return Err(CoreError::invalid("project_id", m)),
        },
        None => None,
    };
    let project = match principal.scope_to(requested.as_ref())? {
        Some(project) => project,
        None => {
            return Err(CoreError::invalid(
                "project_id",
                "is required with the admin key",
            ))
        }
    };
    let known = usage
        .existing_projects(std::slice::from_ref(&project))
        .await?;
    if *principal == Principal::Admin && known.is_empty() {
        return Err(CoreError::NotFound(format!("project `{project}`")));
    }
    let given = [
        request.estimate.is_some(),
        request.profile.is_some() || request.units.is_some(),
        request.amount.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        p.push(
            "estimate",
            "give exactly one of `estimate` (an event), `profile` with `units`, or `amount`",
        );
    }
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        p.push(
            "ttl_seconds",
            format!("must be from 1 to {MAX_TTL_SECONDS} seconds"),
        );
    }
    if let Some(id) = &request.id {
        if id.is_empty() || id.len() > 128 {
            p.push("id", "must be 1 to 128 characters");
        } else {
            p.take(visible_text("id", id));
        }
        if !request.reserve {
            p.push(
                "id",
                "names a reservation: send it with `\"reserve\": true`",
            );
        }
    }
    if request.ttl_seconds.is_some() && !request.reserve {
        p.push(
            "ttl_seconds",
            "applies to a reservation: send it with `\"reserve\": true`",
        );
    }
    let mut estimate = Estimate::default();
    if let Some(amount) = &request.amount {
        match Currency::parse(&amount.currency) {
            Ok(currency) => match Money::parse(&amount.amount.0, currency) {
                Ok(money) if money.nanos >= 0 => estimate.money = Some(money),
                Ok(_) => p.push("amount.amount", "must not be negative"),
                Err(m) => p.push("amount.amount", m),
            },
            Err(m) => p.push("amount.currency", m),
        }
    }
    if request.profile.is_some() || request.units.is_some() {
        let units = request.units.unwrap_or(1);
        if !(1..=MAX_UNITS).contains(&units) {
            p.push(
                "units",
                format!("must be a whole number from 1 to {MAX_UNITS}"),
            );
        }
        match &request.profile {
            None => p.push("profile", "names the workload profile `units` are of"),
            Some(name) => {
                let profiles = plans.profiles().await?;
                let own = profiles
                    .iter()
                    .find(|x| x.name == *name && x.project_id.as_deref() == Some(project.as_str()));
                let global = profiles
                    .iter()
                    .find(|x| x.name == *name && x.project_id.is_none());
                match own.or(global) {
                    Some(profile) => estimate.profile = Some((profile.clone(), units)),
                    None => p.push(
                        "profile",
                        format!(
                            "`{name}` is not a workload profile of this project or a global one"
                        ),
                    ),
                }
            }
        }
    }
    if let Some(event) = &request.estimate {
        if !event.is_object() {
            p.push(
                "estimate",
                "must be an event object, as `POST /api/usage` takes it",
            );
        }
    }
    p.finish()?;
    if let Some(event) = request.estimate {
        let bytes = serde_json::to_vec(&event)
            .map_err(|e| CoreError::invalid("estimate", e.to_string()))?;
        let batch = parse_batch(&bytes).map_err(|e| prefixed(e, "estimate"))?;
        let rules = EventRules {
            now,
            max_age_days: DEFAULT_MAX_EVENT_AGE_DAYS,
            pruned_before: None,
        };
        // Validated and priced exactly as recording it would, within the guard's project.
        let scoped = Principal::Project {
            project_id: project.clone(),
            key_id: "guard".into(),
        };
        let mut records = prepare(usage, prices, entropy, &scoped, &batch, &rules)
            .await
            .map_err(|e| prefixed(e, "estimate"))?
            .records;
        let record = records.pop();
        estimate.money = record.as_ref().and_then(StoredEvent::cost_money);
        estimate.event = record;
    }
    let reserve = match request.reserve {
        true => {
            let id = match request.id {
                Some(id) => id,
                None => random_token(entropy, "res_", 16)?,
            };
            Some((id, ttl))
        }
        false => None,
    };
    Ok(Ask {
        project,
        estimate,
        reserve,
    })
}

/// A check that sends nothing: the guard reads the budget check's figures in a dry run.
struct Silent;

impl Notifier for Silent {
    async fn send_email(&self, _: &str, _: &str, _: &str) -> Result<(), String> {
        Err("the guard sends nothing".into())
    }

    async fn post_webhook(&self, _: &str, _: &str, _: &[(String, String)]) -> Result<(), String> {
        Err("the guard sends nothing".into())
    }
}

/// The key a budget of `project` is held by.
pub fn budget_key(project: &ProjectId) -> String {
    format!("budget@{project}")
}

/// The key a daily limit of `project` is held by.
pub fn daily_key(project: &ProjectId) -> String {
    format!("daily@{project}")
}

/// The key a plan is held by: global plans are one limit for every project.
pub fn plan_key(plan: &Plan) -> String {
    format!(
        "plan:{}:{}@{}",
        plan.provider,
        plan.unit.name(),
        plan.project_id.as_deref().unwrap_or("*")
    )
}

/// Every limit of the project that the estimate touches, with spend read now and nothing
/// reserved yet.
async fn read_limits(
    stores: &(impl BudgetStore + ReportStore + PlanStore),
    clock: &impl Clock,
    entropy: &impl Entropy,
    project: &ProjectId,
    estimate: &Estimate,
) -> Result<Vec<Limit>, CoreError> {
    let now = clock.now();
    let mut limits = Vec::new();
    let settings = stores.budget(project).await?;
    let check = check_budgets(
        stores,
        stores,
        stores,
        &Silent,
        clock,
        entropy,
        &AlertConfig::default(),
        Mode::DryRun,
        Some(project),
    )
    .await?;
    let money_in = |currency: Currency| {
        estimate
            .money
            .filter(|m| m.currency == currency)
            .map_or(0, |m| m.nanos)
    };
    if let (Some(settings), Some(check)) = (&settings, check.projects.first()) {
        if let Some(budget) = check.budget {
            let percent = i128::from(settings.alert_threshold_percent);
            limits.push(Limit {
                kind: LimitKind::Budget,
                key: budget_key(project),
                mode: settings.budget_mode,
                currency: Some(budget.currency),
                plan: None,
                limit: budget.nanos,
                spent: check.spend.nanos,
                reserved: 0,
                estimate: money_in(budget.currency),
                reserve: 0,
                alert_at: (percent < 100).then(|| div_round_half_even(budget.nanos * percent, 100)),
            });
        }
        if let Some(daily) = check.daily_limit {
            limits.push(Limit {
                kind: LimitKind::DailyLimit,
                key: daily_key(project),
                mode: settings.daily_limit_mode,
                currency: Some(daily.currency),
                plan: None,
                limit: daily.nanos,
                spent: check.today_spend.nanos,
                reserved: 0,
                estimate: money_in(daily.currency),
                reserve: 0,
                alert_at: None,
            });
        }
    }
    let touches_plans = estimate.event.is_some() || estimate.profile.is_some();
    if !touches_plans {
        return Ok(limits);
    }
    let states = plan_states(stores, stores, now).await?;
    // A learned profile's items are read as the capacity report reads them.
    let items = match &estimate.profile {
        Some((profile, _)) => match &profile.learn {
            Some(spec) => {
                learned_items(profile, spec, &states, stores, stores, now)
                    .await?
                    .0
            }
            None => profile.items.clone(),
        },
        None => Vec::new(),
    };
    let mut plan_limits: Vec<Limit> = Vec::new();
    for state in states {
        let plan = &state.plan;
        let in_scope = plan
            .project_id
            .as_deref()
            .is_none_or(|p| p == project.as_str());
        let Some(allotment) = state.allotment.filter(|_| in_scope && state.in_force()) else {
            continue;
        };
        let amount = match (&estimate.event, &estimate.profile) {
            (Some(event), _) if event.provider == plan.provider => {
                Some(measure_of(plan, &[RollupRow::of_event(event)]))
            }
            (_, Some((_, units))) => items
                .iter()
                .filter(|i| i.provider == plan.provider && i.unit == plan.unit)
                .map(|i| plan.scaled(&i.amount) * i128::from(*units))
                .reduce(|a, b| a + b),
            _ => None,
        };
        let Some(amount) = amount else {
            continue;
        };
        plan_limits.push(Limit {
            kind: LimitKind::Plan,
            key: plan_key(plan),
            mode: plan.mode,
            currency: None,
            plan: Some(plan.clone()),
            limit: allotment,
            spent: state.used,
            reserved: 0,
            estimate: amount,
            reserve: state.reserve,
            alert_at: None,
        });
    }
    limits.extend(plan_limits);
    Ok(limits)
}

/// The capacity a profile request has left: how many units fit in the room of every plan it
/// uses, given the holds already counted in `limits`. Its mode is that of the plan that runs
/// out first (its bottleneck; a blocking one on a tie): a plan in `alert` mode that has run
/// out makes the capacity warn, as the plan's own limit does, and never denies units that
/// still fit in every blocking plan.
fn capacity(limits: &[Limit], estimate: &Estimate) -> Option<Limit> {
    let (profile, units) = estimate.profile.as_ref()?;
    let (name, units) = (&profile.name, i128::from(*units));
    let fit = |l: &Limit| l.room().max(0) * units / l.estimate;
    let bottleneck = limits
        .iter()
        .filter(|l| l.kind == LimitKind::Plan && l.estimate > 0)
        .min_by_key(|l| (fit(l), l.mode != LimitMode::Block))?;
    Some(Limit {
        kind: LimitKind::Capacity,
        key: format!("capacity:{name}"),
        mode: bottleneck.mode,
        currency: None,
        plan: None,
        limit: fit(bottleneck),
        spent: 0,
        reserved: 0,
        estimate: units,
        reserve: 0,
        alert_at: None,
    })
}

/// The answer of a reservation granted while others were (their holds, `others`, differ
/// from what was read before the grant): its limits with those holds counted, so that its
/// `reserved`, `remaining` and decision (a `warn` once they reach an alert) are those of the
/// moment it was granted. `None` when nothing changed, or when the holds would now make it a
/// `deny` (possible only for a limit it holds nothing against, filled meanwhile: the
/// reservation stands, answered as granted).
fn restate(
    mut limits: Vec<Limit>,
    others: &[Hold],
    estimate: &Estimate,
    reservation: (&str, DateTime<Utc>),
) -> Option<Value> {
    limits.retain(|l| l.kind != LimitKind::Capacity);
    if limits
        .iter()
        .all(|l| l.reserved == held_against(others, &l.key))
    {
        return None;
    }
    for limit in &mut limits {
        limit.reserved = held_against(others, &limit.key);
    }
    limits.extend(capacity(&limits, estimate));
    let (decision, limiting) = decide(&limits);
    (decision != Decision::Deny)
        .then(|| answer(decision, limiting, &limits, estimate, Some(reservation)))
}

/// What `holds` hold against the limit `key`.
fn held_against(holds: &[Hold], key: &str) -> i128 {
    holds
        .iter()
        .filter(|h| h.limit == key)
        .map(|h| h.amount)
        .sum()
}

/// The answer of the guard.
fn answer(
    decision: Decision,
    limiting: Option<usize>,
    limits: &[Limit],
    estimate: &Estimate,
    reservation: Option<(&str, DateTime<Utc>)>,
) -> Value {
    json!({
        "decision": decision.as_str(),
        "limiting": limiting.and_then(|i| limits.get(i)).map(Limit::view),
        "limits": limits.iter().map(Limit::view).collect::<Vec<_>>(),
        "estimate": estimate.money.map(|m| json!({"cost": m.amount_string(), "currency": m.currency.as_str()})),
        "reservation": reservation.map(|(id, at)| json!({"id": id, "expires_at": format_timestamp(at)})),
    })
}

/// `POST /api/usage/guard`: the decision for what the app is about to spend, every limit
/// that applies, and (with `reserve`) a reservation held against all of them at once.
#[allow(clippy::too_many_arguments)]
pub async fn guard(
    stores: &(impl UsageStore + BudgetStore + ReportStore + PlanStore + ReservationStore),
    prices: &impl PriceStore,
    clock: &impl Clock,
    entropy: &impl Entropy,
    principal: &Principal,
    body: &[u8],
) -> Result<Value, CoreError> {
    let now = clock.now();
    let request: GuardRequest = parse_json(body)?;
    let ask = ask(stores, prices, stores, entropy, principal, now, request).await?;
    if let Some((id, _)) = &ask.reserve {
        // A retry of a reservation still open gets its answer again; an id whose reservation
        // ended (settled, released or expired) holds nothing, so it cannot be answered as
        // granted: a new reservation needs a new id.
        match stores.reservation(&ask.project, id, now).await? {
            Some(stored) if stored.open => {
                return serde_json::from_str(&stored.answer)
                    .map_err(|e| CoreError::Misconfigured(format!("a stored guard answer: {e}")))
            }
            Some(_) => {
                return Err(CoreError::Conflict(Refusal::of(
                    "id",
                    "names a reservation that has ended (settled, released or expired): ask \
                     with a new id",
                )))
            }
            None => {}
        }
    }
    for _ in 0..GRANT_ATTEMPTS {
        let mut limits = read_limits(stores, clock, entropy, &ask.project, &ask.estimate).await?;
        let keys: Vec<String> = limits.iter().map(|l| l.key.clone()).collect();
        let (version, held) = stores.holds(&keys, now).await?;
        for limit in &mut limits {
            limit.reserved = held_against(&held, &limit.key);
        }
        limits.extend(capacity(&limits, &ask.estimate));
        let (decision, limiting) = decide(&limits);
        if decision == Decision::Deny {
            if let Some(limit) = limiting.and_then(|i| limits.get(i)) {
                // Counted for the dashboard; a count that cannot be written loses no answer.
                let _ = stores.note_denial(&ask.project, &limit.reason(), now).await;
            }
        }
        let Some((id, ttl)) = ask.reserve.as_ref().filter(|_| decision != Decision::Deny) else {
            return Ok(answer(decision, limiting, &limits, &ask.estimate, None));
        };
        let expires_at = now + Duration::seconds(*ttl);
        let reply = answer(
            decision,
            limiting,
            &limits,
            &ask.estimate,
            Some((id, expires_at)),
        );
        let holdable = |l: &&Limit| l.kind != LimitKind::Capacity && l.estimate > 0;
        // A hold is stored as a 64-bit integer of its limit's scale (9.2 billion units of
        // money): an estimate past that is refused rather than held as less than it is.
        if limits
            .iter()
            .filter(holdable)
            .any(|l| l.estimate > i128::from(i64::MAX))
        {
            let field = match (&ask.estimate.event, &ask.estimate.profile) {
                (Some(_), _) => "estimate",
                (_, Some(_)) => "units",
                _ => "amount",
            };
            return Err(CoreError::invalid(
                field,
                "is too large to reserve: a reservation holds at most 9,223,372,036 units of \
                 money (or 9,223,372,036,854 of a plan's unit) against each limit",
            ));
        }
        let reservation = NewReservation {
            project_id: ask.project.clone(),
            id: id.clone(),
            holds: limits
                .iter()
                .filter(holdable)
                .map(|l| Hold {
                    limit: l.key.clone(),
                    amount: l.estimate,
                })
                .collect(),
            ceilings: limits
                .iter()
                .filter(holdable)
                .filter(|l| l.mode == LimitMode::Block)
                .map(|l| Hold {
                    limit: l.key.clone(),
                    amount: l.limit - l.reserve - l.spent,
                })
                .collect(),
            limits: keys,
            answer: crate::kernel::json_value::text(&reply),
            created_at: now,
            expires_at,
            version,
        };
        // A grant whose answer was lost may have committed: its reservation (of this id,
        // made by this request or a retry of it) is read back and answered as granted.
        let granted = match stores.grant(&reservation, now).await {
            Ok(granted) => granted,
            Err(e) => match stores.reservation(&ask.project, id, now).await {
                Ok(Some(stored)) => Granted::Existing(stored.answer),
                _ => return Err(e.into()),
            },
        };
        match granted {
            Granted::Reserved { others } => {
                let Some(restated) = restate(limits, &others, &ask.estimate, (id, expires_at))
                else {
                    return Ok(reply);
                };
                // Should the stored answer stay as it was, a retry of this id is answered it.
                let text = crate::kernel::json_value::text(&restated);
                let _ = stores.restate(&ask.project, id, &text).await;
                return Ok(restated);
            }
            Granted::Existing(stored) => {
                return serde_json::from_str(&stored)
                    .map_err(|e| CoreError::Misconfigured(format!("a stored guard answer: {e}")))
            }
            // Read again: a settlement moved spend, or others reserved the room meanwhile
            // (the next reading counts their holds and may deny).
            Granted::Stale | Granted::NoRoom => continue,
        }
    }
    Err(CoreError::Storage(
        crate::kernel::error::StoreError::Unavailable(
            "the guard is busy with concurrent reservations; ask again".into(),
        ),
    ))
}

/// `DELETE /api/usage/guard/{id}`: ends a reservation; its holds go.
pub async fn release(
    store: &impl ReservationStore,
    clock: &impl Clock,
    principal: &Principal,
    project: Option<&ProjectId>,
    id: &str,
) -> Result<Value, CoreError> {
    let project = principal
        .scope_to(project)?
        .ok_or_else(|| CoreError::invalid("project_id", "is required with the admin key"))?;
    if store.release(&project, id, clock.now()).await? {
        Ok(json!({"id": id, "released": true}))
    } else {
        Err(CoreError::NotFound(format!("reservation `{id}`")))
    }
}
