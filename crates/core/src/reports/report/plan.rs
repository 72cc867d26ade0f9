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

/// The most UTC days a [`PeriodPlan`] may span (ten years); a longer range is read by the
/// quarter hour instead. A report narrows a range longer than a year to the days that hold
/// data before it plans it, so that its work follows the data, not the range asked for.
pub const MAX_PLAN_DAYS: i64 = 3_660;

/// Quarter hours of a UTC day.
pub(super) const QUARTERS_A_DAY: i64 = 96;

/// The local periods of quarter hours `first..last` of the UTC day starting at `midnight`, as
/// runs of consecutive quarter hours with one label (`from`, `to` exclusive, label), in time
/// order, no two neighbours alike. Where one offset holds all day, local time only moves
/// forward, so a label holds everything between two quarter hours that have it: the labels
/// are found by halving, with a few lookups instead of one per quarter hour.
fn label_runs(
    midnight: DateTime<Utc>,
    first: i64,
    last: i64,
    period: Period,
    tz: Tz,
) -> Vec<(i64, i64, String)> {
    let mut runs: Vec<(i64, i64, String)> = Vec::new();
    if first >= last {
        return runs;
    }
    let at = |q: i64| midnight + Duration::minutes(15 * q);
    let label = |q: i64| local_period(at(q), period, tz);
    if tz.fixed_between(at(first), at(last - 1)) {
        halve(
            first,
            label(first),
            last - 1,
            label(last - 1),
            &label,
            &mut runs,
        );
    } else {
        for q in first..last {
            push_run(&mut runs, q, q + 1, label(q));
        }
    }
    runs
}

/// Labels quarter hours `lo..=hi`, knowing that labels only change forward between them.
fn halve(
    lo: i64,
    lo_label: String,
    hi: i64,
    hi_label: String,
    label: &impl Fn(i64) -> String,
    runs: &mut Vec<(i64, i64, String)>,
) {
    if lo_label == hi_label {
        push_run(runs, lo, hi + 1, lo_label);
    } else if hi - lo <= 1 {
        push_run(runs, lo, lo + 1, lo_label);
        push_run(runs, hi, hi + 1, hi_label);
    } else {
        let mid = lo + (hi - lo) / 2;
        let mid_label = label(mid);
        halve(lo, lo_label, mid, mid_label.clone(), label, runs);
        halve(mid, mid_label, hi, hi_label, label, runs);
    }
}

/// Adds quarter hours `from..to` with `label`, joined to the last run when they meet it.
fn push_run(runs: &mut Vec<(i64, i64, String)>, from: i64, to: i64, label: String) {
    match runs.last_mut() {
        Some((_, end, last)) if *end >= from && *last == label => *end = (*end).max(to),
        _ => runs.push((from, to, label)),
    }
}

/// The label holding the most quarter hours of `runs`; the earliest of equals.
fn most_common_run(runs: &[(i64, i64, String)]) -> String {
    let mut counts: Vec<(&str, i64)> = Vec::new();
    for (from, to, label) in runs {
        match counts.iter_mut().find(|(l, _)| *l == label.as_str()) {
            Some((_, n)) => *n += to - from,
            None => counts.push((label, to - from)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(label, _)| label.to_string())
        .unwrap_or_default()
}

impl PeriodPlan {
    /// The plan for `from..to` (quarter hours are whole: `from` rounds down, `to` up) split by
    /// `period` in `tz`, or `None` when it would hold more than [`MAX_PLAN_MOVES`] moves or
    /// span more than [`MAX_PLAN_DAYS`] UTC days.
    pub fn build(from: DateTime<Utc>, to: DateTime<Utc>, period: Period, tz: Tz) -> Option<Self> {
        let start = floor_quarter(from);
        let end = ceil_quarter(to);
        if (end - start).num_days() > MAX_PLAN_DAYS {
            return None;
        }
        let mut plan = PeriodPlan::default();
        let mut day = start.date_naive();
        loop {
            let midnight = day.and_time(chrono::NaiveTime::MIN).and_utc();
            if midnight >= end {
                break;
            }
            // The day's quarter hours inside the range: whole quarter hours, so one stretch.
            let quarter = |t: DateTime<Utc>| (t - midnight).num_minutes().div_euclid(15);
            let first = quarter(start).clamp(0, QUARTERS_A_DAY);
            let last = quarter(end).clamp(0, QUARTERS_A_DAY);
            let runs = label_runs(midnight, first, last, period, tz);
            let span = |(a, b): (i64, i64)| {
                (
                    midnight + Duration::minutes(15 * a),
                    midnight + Duration::minutes(15 * b),
                )
            };
            if first == 0 && last == QUARTERS_A_DAY {
                let anchor = most_common_run(&runs);
                for (a, b, label) in runs.into_iter().filter(|(_, _, l)| *l != anchor) {
                    let (from, to) = span((a, b));
                    let stretch = Move {
                        from: quarter_bucket(from),
                        to: quarter_bucket(to),
                        period: label,
                        sign: 1,
                    };
                    plan.moves.push(Move {
                        period: anchor.clone(),
                        sign: -1,
                        ..stretch.clone()
                    });
                    plan.moves.push(stretch);
                }
                plan.days.push((day_bucket(day), anchor));
            } else {
                plan.moves.extend(runs.into_iter().map(|(a, b, label)| {
                    let (from, to) = span((a, b));
                    Move {
                        from: quarter_bucket(from),
                        to: quarter_bucket(to),
                        period: label,
                        sign: 1,
                    }
                }));
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
        let mut index: LiteMap<(&str, &str), usize> = LiteMap::new();
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
