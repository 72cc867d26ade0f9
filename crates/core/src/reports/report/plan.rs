//! Which days and stretches of quarter hours make up each local period (`PeriodPlan`).

use super::*;

/// The most moves a [`PeriodPlan`] may hold (its JSON stays far under D1's 2 MB per value);
/// a longer range in a zone far from UTC is read by the quarter hour instead.
pub const MAX_PLAN_MOVES: usize = 20_000;

/// Rollup reads summed into local periods by the store. Every whole UTC day of the range is
/// read from the daily rollups into the period holding most of its quarter hours; each
/// stretch of that day that belongs to another period is then taken from the day's period
/// (`-1`) and added to its own (`1`), read from the quarter-hour rollups. The range's partial
/// UTC days at either end are read by the quarter hour. A month by day in New York reads 31
/// daily buckets and one stretch of 4 or 5 hours a day instead of 2,976 quarter hours; by
/// week or month, only the stretches at the period boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeriodPlan {
    /// A UTC day bucket and the period it is summed into.
    pub days: Vec<(String, String)>,
    /// A stretch of quarter-hour buckets (`from` inclusive, `to` exclusive), the period, and
    /// `1` to add it or `-1` to take it away.
    pub moves: Vec<Move>,
}

/// One stretch of a [`PeriodPlan`]: quarter-hour buckets `from..to`, summed into `period`
/// with `sign`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub period: String,
    pub sign: i64,
}

/// Quarter hours of a UTC day.
pub(super) const QUARTERS_A_DAY: i64 = 96;

/// Consecutive quarter hours of one period merged into stretches, each a move adding it to
/// its period.
pub(super) fn stretches(quarters: &[(DateTime<Utc>, String)]) -> Vec<Move> {
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>, &str)> = Vec::new();
    for (start, label) in quarters {
        let end = *start + Duration::minutes(15);
        match out.last_mut() {
            Some((_, to, last)) if *to == *start && *last == label.as_str() => *to = end,
            _ => out.push((*start, end, label)),
        }
    }
    out.into_iter()
        .map(|(from, to, label)| Move {
            from: quarter_bucket(from),
            to: quarter_bucket(to),
            period: label.to_string(),
            sign: 1,
        })
        .collect()
}

impl PeriodPlan {
    /// The plan for `from..to` (quarter hours are whole: `from` rounds down, `to` up) split by
    /// `period` in `tz`, or `None` when it would hold more than [`MAX_PLAN_MOVES`] moves.
    pub fn build(from: DateTime<Utc>, to: DateTime<Utc>, period: Period, tz: Tz) -> Option<Self> {
        let start = floor_quarter(from);
        let end = ceil_quarter(to);
        let mut plan = PeriodPlan::default();
        let mut day = start.date_naive();
        loop {
            let midnight = day.and_time(chrono::NaiveTime::MIN).and_utc();
            if midnight >= end {
                break;
            }
            let quarters: Vec<(DateTime<Utc>, String)> = (0..QUARTERS_A_DAY)
                .map(|q| midnight + Duration::minutes(15 * q))
                .filter(|q| *q >= start && *q < end)
                .map(|q| (q, local_period(q, period, tz)))
                .collect();
            if quarters.len() as i64 == QUARTERS_A_DAY {
                let anchor = most_common(quarters.iter().map(|(_, label)| label.as_str()));
                let elsewhere: Vec<(DateTime<Utc>, String)> = quarters
                    .into_iter()
                    .filter(|(_, label)| *label != anchor)
                    .collect();
                for stretch in stretches(&elsewhere) {
                    plan.moves.push(Move {
                        period: anchor.clone(),
                        sign: -1,
                        ..stretch.clone()
                    });
                    plan.moves.push(stretch);
                }
                plan.days.push((day_bucket(day), anchor));
            } else {
                plan.moves.extend(stretches(&quarters));
            }
            if plan.moves.len() > MAX_PLAN_MOVES {
                return None;
            }
            day = day.succ_opt()?;
        }
        Some(plan)
    }

    /// The moves with each stretch of quarter hours listed once: the distinct stretches
    /// (`from`, `to`) in their first order, and every move as the index of its stretch, its
    /// period and its sign. A stretch taken from one period and added to another is then one
    /// read of the rollups, not two.
    pub fn shared_stretches(&self) -> SharedStretches<'_> {
        let mut stretches: Vec<(&str, &str)> = Vec::new();
        let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let links = self
            .moves
            .iter()
            .map(|m| {
                let key = (m.from.as_str(), m.to.as_str());
                let i = *index.entry(key).or_insert_with(|| {
                    stretches.push(key);
                    stretches.len() - 1
                });
                (i, m.period.as_str(), m.sign)
            })
            .collect();
        SharedStretches { stretches, links }
    }
}

/// A plan's moves as [`PeriodPlan::shared_stretches`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedStretches<'a> {
    /// Each distinct stretch of quarter hours, `from` inclusive, `to` exclusive.
    pub stretches: Vec<(&'a str, &'a str)>,
    /// Each move: the index of its stretch, its period and its sign.
    pub links: Vec<(usize, &'a str, i64)>,
}

/// The label that occurs most often; the earliest of equals.
pub(super) fn most_common<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for label in labels {
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(label, _)| label.to_string())
        .unwrap_or_default()
}
