//! A batch's rollups written once per batch (migrations/0025_batch_rollups.sql): the sums the
//! insert triggers of `api_usage` would add row by row (the day's and quarter hour's rollups,
//! the dirty-day marks, the job parts and their jobs' first calls), added here in one upsert
//! per rollup row, so that 1,000 events of a few models write a few rollup rows instead of
//! 2,000 and more.
//!
//! Each value below is the one the trigger reads from the inserted row (`NEW.x`), so the two
//! ways give the same rollups; `tests/writes.test.mjs` holds them to sums over the stored rows.

use rustc_hash::FxHashMap;

use crate::core::kernel::error::StoreError;
use crate::core::reports::report::MEASURES;
use crate::core::usage::record::StoredEvent;

use super::rows::{close, Cell, Field, COLUMNS};
use crate::core::kernel::json_out::{push_int, push_str};

/// A batch writes its own rollups only from this many events: a single event writes the same
/// rows either way, in one statement with the triggers.
pub(super) const MIN_EVENTS: usize = 2;

/// The largest sum a batch adds to a rollup column: the rollup's `MIN(x + excluded.x, ...)`
/// then saturates as it does for a single event, and the cost carry of migrations/0019 (moved
/// at 10^18) never meets an overflow. Beyond it the batch takes the triggers' way.
const MAX_SUM: i128 = 1 << 62;

/// The summed columns of `usage_daily` and `usage_quarter_hours`: the reports' measures, then
/// the cost.
fn summed_columns() -> impl Iterator<Item = &'static str> {
    MEASURES.into_iter().chain(["cost_nanos"])
}

/// What one event adds to a summed column of its rollup rows: a count of its own, or the
/// event's value of the `api_usage` column of that name (`rows::Field`). A `match`, not a
/// function pointer per column: 22 indirect calls an event left V8 running tiny functions at
/// its baseline tier (Liftoff) through most of a run of batches (BENCHMARKS.md, session 49).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Events,
    UnpricedEvents,
    CacheHits,
    FailedEvents,
    UncreditedCharacters,
    /// An integer column of the row; NULL counts 0.
    Column(Field),
}

impl Measure {
    /// What `e` adds to the column.
    fn of(self, e: &StoredEvent) -> i64 {
        match self {
            Measure::Events => 1,
            Measure::UnpricedEvents => i64::from(e.cost_nanos.is_none()),
            Measure::CacheHits => i64::from(e.cached),
            Measure::FailedEvents => i64::from(!e.success),
            Measure::UncreditedCharacters => {
                if e.credits_micros == 0 {
                    e.characters
                } else {
                    0
                }
            }
            Measure::Column(field) => match field.cell(e) {
                Cell::Int(n) => n,
                _ => 0,
            },
        }
    }
}

/// How a summed column is read from an event, as the trigger of migrations/0017 reads it from
/// the row; `None` for a name that is not one.
fn measure(name: &str) -> Option<Measure> {
    Some(match name {
        "events" => Measure::Events,
        "unpriced_events" => Measure::UnpricedEvents,
        "cache_hits" => Measure::CacheHits,
        "failed_events" => Measure::FailedEvents,
        "uncredited_characters" => Measure::UncreditedCharacters,
        // The quantities, `duration_ms` and `cost_nanos`: integer columns of the same name.
        _ => COLUMNS
            .iter()
            .find(|(column, _, _)| *column == name)
            .map(|(_, field, _)| Measure::Column(*field))?,
    })
}

/// How many columns [`summed_columns`] names.
const SUMMED: usize = MEASURES.len() + 1;

/// The readers of the summed columns, in the order of [`summed_columns`], found once per
/// batch (not once per event and column); `None` when a column has none.
fn measures() -> Option<[Measure; SUMMED]> {
    let mut out = [Measure::Events; SUMMED];
    for (slot, name) in out.iter_mut().zip(summed_columns()) {
        *slot = measure(name)?;
    }
    Some(out)
}

/// The quarter hour of a time stamp as the trigger writes it: the first 14 characters and
/// `00`, `15`, `30` or `45` by the minute's two characters compared as text. `None` for a
/// stamp the comparison would not read the same way here (shorter, or not ASCII). As the
/// first 14 characters and the quarter's two, so that no event allocates its key.
fn quarter(ts: &str) -> Option<(&str, &'static str)> {
    if !ts.is_ascii() || ts.len() < 16 {
        return None;
    }
    let minute = &ts[14..16];
    let q = if minute < "15" {
        "00"
    } else if minute < "30" {
        "15"
    } else if minute < "45" {
        "30"
    } else {
        "45"
    };
    Some((&ts[..14], q))
}

/// Five texts: what a rollup row is kept for besides its period (project, provider, model,
/// operation and currency), and a job part's key (project, job, operation, provider and
/// currency). One type for both: each map type is its own copy of the table's code.
type Combination<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// A job part's sums as the trigger of migrations/0023 keeps them.
struct JobPart<'a> {
    calls: i128,
    unpriced: i128,
    cost_nanos: i128,
    last_seen: &'a str,
}

/// The statements' bound values: each a JSON array of rows, `None` when it has none.
pub(super) struct BatchRollups {
    pub(super) daily: String,
    pub(super) quarters: String,
    pub(super) job_parts: Option<String>,
    pub(super) jobs: Option<String>,
    pub(super) days: String,
}

/// The rollups of `events`, each of which the batch inserts, or `None` when the batch should
/// take the triggers' way: too few events, a key twice in the batch (the insert skips the
/// second), a time stamp not read here as SQLite reads it, or a sum past [`MAX_SUM`].
pub(super) fn batch_rollups(events: &[StoredEvent]) -> Result<Option<BatchRollups>, StoreError> {
    if events.len() < MIN_EVENTS {
        return Ok(None);
    }
    let Some(measures) = measures() else {
        return Ok(None);
    };
    // The maps keyed by (project, id) and (project, job) hold indexes: one compiled map type,
    // shared with the batch's check of its ids.
    let mut keys: FxHashMap<(&str, &str), usize> = FxHashMap::default();
    // The job parts, found through a map to their index in a list.
    let mut parts: FxHashMap<Combination, usize> = FxHashMap::default();
    let mut part_sums: Vec<JobPart> = Vec::new();
    // The rollup rows, keyed by two indexes: the event's period (a day in `days`, a quarter
    // hour in `quarter_list`) and its combination of project, provider, model, operation and
    // currency (in `combination_list`), each hashed once per event rather than six texts per
    // table. The quarter hours are found through a map of the ids' type.
    let mut combinations: FxHashMap<Combination, usize> = FxHashMap::default();
    let mut combination_list: Vec<Combination> = Vec::new();
    let mut quarter_index: FxHashMap<(&str, &str), usize> = FxHashMap::default();
    let mut quarter_list: Vec<(&str, &'static str)> = Vec::new();
    let mut daily: FxHashMap<(usize, usize), usize> = FxHashMap::default();
    let mut quarters: FxHashMap<(usize, usize), usize> = FxHashMap::default();
    let (mut daily_sums, mut quarter_sums) = (Vec::new(), Vec::new());
    // Each job's earliest event, by its index in `events`.
    let mut jobs: FxHashMap<(&str, &str), usize> = FxHashMap::default();
    let mut days: Vec<&str> = Vec::new();
    for (index, e) in events.iter().enumerate() {
        if keys.insert((&e.project_id, &e.id), index).is_some() {
            return Ok(None);
        }
        let ts = e.request_timestamp.as_str();
        let Some(q) = quarter(ts) else {
            return Ok(None);
        };
        let day = &ts[..10];
        let day_at = match days.iter().position(|d| *d == day) {
            Some(at) => at,
            None => {
                days.push(day);
                days.len() - 1
            }
        };
        // Events of a batch mostly fall in the quarter hour of the one before.
        let quarter_at = match quarter_list.last() {
            Some(last) if *last == q => quarter_list.len() - 1,
            _ => *quarter_index.entry(q).or_insert_with(|| {
                quarter_list.push(q);
                quarter_list.len() - 1
            }),
        };
        let combination = (
            e.project_id.as_str(),
            e.provider.as_str(),
            e.model.as_str(),
            e.operation.as_str(),
            e.currency.as_str(),
        );
        let combination_at = *combinations.entry(combination).or_insert_with(|| {
            combination_list.push(combination);
            combination_list.len() - 1
        });
        // The event's measures, read once for both tables.
        let values = measures.map(|measure| measure.of(e));
        for (table, sums, period) in [
            (&mut daily, &mut daily_sums, day_at),
            (&mut quarters, &mut quarter_sums, quarter_at),
        ] {
            let row = *table.entry((period, combination_at)).or_insert(sums.len());
            if row == sums.len() {
                sums.push([0i128; SUMMED]);
            }
            for (sum, value) in sums[row].iter_mut().zip(values) {
                *sum += i128::from(value);
            }
        }
        if let Some(job) = e.job_id.as_deref() {
            let key = (
                e.project_id.as_str(),
                job,
                e.operation.as_str(),
                e.provider.as_str(),
                e.currency.as_str(),
            );
            let slot = *parts.entry(key).or_insert(part_sums.len());
            if slot == part_sums.len() {
                part_sums.push(JobPart {
                    calls: 0,
                    unpriced: 0,
                    cost_nanos: 0,
                    last_seen: ts,
                });
            }
            let part = &mut part_sums[slot];
            part.calls += 1;
            part.unpriced += i128::from(e.cost_nanos.is_none());
            part.cost_nanos += i128::from(e.cost_nanos.unwrap_or(0));
            part.last_seen = part.last_seen.max(ts);
            let first = jobs.entry((e.project_id.as_str(), job)).or_insert(index);
            if ts < events[*first].request_timestamp.as_str() {
                *first = index;
            }
        }
    }
    let within = |x: &i128| (-MAX_SUM..=MAX_SUM).contains(x);
    if !daily_sums.iter().chain(&quarter_sums).flatten().all(within)
        || !part_sums
            .iter()
            .all(|p| within(&p.calls) && within(&p.cost_nanos))
    {
        return Ok(None);
    }
    let rollup_rows = |table: FxHashMap<(usize, usize), usize>,
                       sums: &[[i128; SUMMED]],
                       periods: &[(&str, &str)]| {
        let mut rows = RowsJson::default();
        // The period's two parts in one text, in a buffer reused by every row.
        let mut period = String::new();
        for ((period_at, combination_at), row) in table {
            let (day, minute) = periods[period_at];
            let (p, pr, m, o, c) = combination_list[combination_at];
            period.clear();
            period.push_str(day);
            period.push_str(minute);
            rows.row([period.as_str(), p, pr, m, o, c], &sums[row]);
        }
        rows.finish()
    };
    let day_periods: Vec<(&str, &str)> = days.iter().map(|day| (*day, "")).collect();
    let daily = rollup_rows(daily, &daily_sums, &day_periods)?;
    let quarters = rollup_rows(quarters, &quarter_sums, &quarter_list)?;
    let job_parts = (!parts.is_empty())
        .then(|| {
            let mut rows = RowsJson::default();
            for ((p, j, o, pr, c), index) in parts {
                let part = &part_sums[index];
                rows.row(
                    [p, j, o, pr, c, part.last_seen],
                    &[part.calls, part.unpriced, part.cost_nanos],
                );
            }
            rows.finish()
        })
        .transpose()?;
    let jobs = (!jobs.is_empty())
        .then(|| {
            let mut rows = RowsJson::default();
            for ((p, j), first) in jobs {
                rows.row([p, j, events[first].request_timestamp.as_str()], &[]);
            }
            rows.finish()
        })
        .transpose()?;
    let mut day_rows = RowsJson::default();
    for day in days {
        day_rows.row([day], &[]);
    }
    let days = day_rows.finish()?;
    Ok(Some(BatchRollups {
        daily,
        quarters,
        job_parts,
        jobs,
        days,
    }))
}

/// Rows as a JSON array of arrays, each written as it comes (its texts, then its integers):
/// no row is built as a value first.
#[derive(Default)]
struct RowsJson {
    out: Vec<u8>,
}

impl RowsJson {
    fn row<const N: usize>(&mut self, texts: [&str; N], numbers: &[i128]) {
        let out = &mut self.out;
        out.push(if out.is_empty() { b'[' } else { b',' });
        out.push(b'[');
        for (i, text) in texts.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, text);
        }
        for (i, &n) in numbers.iter().enumerate() {
            if N + i > 0 {
                out.push(b',');
            }
            // Every sum is within [`MAX_SUM`] (checked before any row is written): the 64-bit
            // writer, without the 128-bit division of `i128`'s `to_string`.
            match i64::try_from(n) {
                Ok(n) => push_int(out, n),
                Err(_) => out.extend_from_slice(n.to_string().as_bytes()),
            }
        }
        out.push(b']');
    }

    fn finish(mut self) -> Result<String, StoreError> {
        if self.out.is_empty() {
            self.out.push(b'[');
        }
        close(self.out)
    }
}

/// `x = MIN(x + excluded.x, 2^63 - 1)` for each summed column, as the triggers add.
fn saturating_adds(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{c} = MIN({c} + excluded.{c}, 9223372036854775807)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The upsert of a batch's rows of `usage_daily` (`period` `day`) or `usage_quarter_hours`
/// (`quarter`), bound to [`BatchRollups::daily`] or [`BatchRollups::quarters`].
pub(super) fn rollup_sql(table: &str, period: &str) -> String {
    let keys = [
        period,
        "project_id",
        "provider",
        "model",
        "operation",
        "currency",
    ];
    let sums: Vec<&str> = summed_columns().collect();
    let columns: Vec<&str> = keys.iter().chain(&sums).copied().collect();
    let values = (0..columns.len())
        .map(|i| format!("value ->> {i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {table} ({}) SELECT {values} FROM json_each(?1) WHERE true \
         ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        keys.join(", "),
        saturating_adds(&sums)
    )
}

/// The upsert of a batch's job parts, bound to [`BatchRollups::job_parts`].
pub(super) const JOB_PARTS_SQL: &str = "INSERT INTO usage_jobs (project_id, job_id, operation, \
     provider, currency, last_seen, calls, unpriced_calls, cost_nanos) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7, value ->> 8 FROM json_each(?1) WHERE true \
     ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET \
     calls = calls + excluded.calls, \
     unpriced_calls = MIN(unpriced_calls + excluded.unpriced_calls, 9223372036854775807), \
     cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807), \
     last_seen = max(last_seen, excluded.last_seen)";

/// A batch's jobs at their first call in it, bound to [`BatchRollups::jobs`]: a job seen
/// before keeps its first call unless this one is earlier.
pub(super) const JOBS_SQL: &str = "INSERT INTO jobs (project_id, job_id, first_seen) \
     SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1) WHERE true \
     ON CONFLICT (project_id, job_id) DO UPDATE SET first_seen = excluded.first_seen \
     WHERE excluded.first_seen < first_seen";

/// The days a batch changed, marked for their summaries, bound to [`BatchRollups::days`].
pub(super) const DAYS_SQL: &str = "INSERT INTO summary_dirty_days (day) \
     SELECT value ->> 0 FROM json_each(?1) WHERE true \
     ON CONFLICT (day) DO UPDATE SET state = 1 WHERE state <> 1";

/// Right after a chunk's insert: every one of its `?1` rows was inserted, or the transaction
/// aborts with [`NOT_ALL_INSERTED`] (migrations/0025_batch_rollups.sql).
pub(super) const CHECK_SQL: &str =
    "INSERT INTO batch_rollup_check (inserted, expected) VALUES (changes(), ?1)";

/// The message of the check's `RAISE`.
pub(super) const NOT_ALL_INSERTED: &str = "batch rollups need every row inserted";

#[cfg(test)]
mod tests {
    use super::super::tests::full_event;
    use super::*;

    fn event(id: &str, ts: &str, model: &str, job: Option<&str>, cost: Option<i64>) -> StoredEvent {
        StoredEvent {
            project_id: "p".into(),
            id: id.into(),
            provider: "openai".into(),
            model: model.into(),
            operation: "chat".into(),
            input_tokens: 10,
            output_tokens: 5,
            total_tokens: 15,
            cost_nanos: cost,
            currency: "USD".into(),
            request_timestamp: ts.into(),
            job_id: job.map(str::to_string),
            cached_input_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            audio_input_tokens: 0,
            audio_output_tokens: 0,
            characters: 0,
            audio_seconds_micros: 0,
            video_seconds_micros: 0,
            images: 0,
            requests: 0,
            tracks: 0,
            credits_micros: 0,
            cached: false,
            success: true,
            duration_ms: None,
            ..full_event()
        }
    }

    #[test]
    fn a_quarter_hour_is_read_from_the_minute_as_the_trigger_compares_it() {
        let q = |ts| {
            let (prefix, minute) = quarter(ts).unwrap();
            format!("{prefix}{minute}")
        };
        assert_eq!(q("2026-12-06T07:00:00.000Z"), "2026-12-06T07:00");
        assert_eq!(q("2026-12-06T07:14:59.999Z"), "2026-12-06T07:00");
        assert_eq!(q("2026-12-06T07:15:00.000Z"), "2026-12-06T07:15");
        assert_eq!(q("2026-12-06T07:44:00.000Z"), "2026-12-06T07:30");
        assert_eq!(q("2026-12-06T07:59:59.999Z"), "2026-12-06T07:45");
        assert_eq!(quarter("2026-12-06T07:5"), None);
    }

    #[test]
    fn a_batch_sums_its_events_per_rollup_row_and_its_jobs_per_part() {
        let events = [
            event(
                "a",
                "2026-12-06T07:01:00.000Z",
                "gpt-4o",
                Some("j"),
                Some(100),
            ),
            event("b", "2026-12-06T07:20:00.000Z", "gpt-4o", Some("j"), None),
            event("c", "2026-12-06T07:02:00.000Z", "gpt-4o", None, Some(7)),
        ];
        let r = batch_rollups(&events).unwrap().unwrap();
        let daily: Vec<serde_json::Value> = serde_json::from_str(&r.daily).unwrap();
        assert_eq!(daily.len(), 1);
        let sum = |name: &str| {
            let i = summed_columns().position(|c| c == name).unwrap();
            daily[0][6 + i].as_i64().unwrap()
        };
        assert_eq!(
            [
                "events",
                "unpriced_events",
                "cost_nanos",
                "cache_hits",
                "failed_events"
            ]
            .map(sum),
            [3, 1, 107, 0, 0]
        );
        assert_eq!(
            ["input_tokens", "output_tokens", "total_tokens"].map(sum),
            [30, 15, 45]
        );
        assert_eq!(daily[0].as_array().unwrap().len(), 6 + SUMMED);
        let mut quarters: Vec<(String, i64)> =
            serde_json::from_str::<Vec<serde_json::Value>>(&r.quarters)
                .unwrap()
                .iter()
                .map(|q| (q[0].as_str().unwrap().to_string(), q[6].as_i64().unwrap()))
                .collect();
        quarters.sort();
        assert_eq!(
            quarters,
            [
                ("2026-12-06T07:00".to_string(), 2),
                ("2026-12-06T07:15".to_string(), 1)
            ]
        );
        let parts: serde_json::Value =
            serde_json::from_str(r.job_parts.as_deref().unwrap()).unwrap();
        assert_eq!(
            parts,
            serde_json::json!([[
                "p",
                "j",
                "chat",
                "openai",
                "USD",
                "2026-12-06T07:20:00.000Z",
                2,
                1,
                100
            ]])
        );
        let jobs: serde_json::Value = serde_json::from_str(r.jobs.as_deref().unwrap()).unwrap();
        assert_eq!(
            jobs,
            serde_json::json!([["p", "j", "2026-12-06T07:01:00.000Z"]])
        );
        assert_eq!(r.days, r#"[["2026-12-06"]]"#);
    }

    #[test]
    fn a_single_event_a_repeated_key_or_a_huge_sum_leaves_the_rollups_to_the_triggers() {
        let one = [event("a", "2026-12-06T07:01:00.000Z", "m", None, Some(1))];
        assert!(batch_rollups(&one).unwrap().is_none());
        let repeated = [one[0].clone(), one[0].clone()];
        assert!(batch_rollups(&repeated).unwrap().is_none());
        let mut huge: Vec<StoredEvent> = (0..6)
            .map(|i| {
                event(
                    &format!("e{i}"),
                    "2026-12-06T07:01:00.000Z",
                    "m",
                    None,
                    Some(1),
                )
            })
            .collect();
        for e in &mut huge {
            e.credits_micros = i64::MAX / 8;
        }
        assert!(batch_rollups(&huge).unwrap().is_none());
        assert!(batch_rollups(&huge[..2]).unwrap().is_some());
    }

    #[test]
    fn every_measure_of_the_reports_is_summed_and_the_upsert_adds_each_saturating() {
        for name in summed_columns() {
            assert!(measure(name).is_some(), "{name}");
        }
        let e = full_event();
        let read: Vec<i64> = measures().unwrap().iter().map(|m| m.of(&e)).collect();
        // Each event counts 1, and its cost is the last column.
        assert_eq!(read[0], 1);
        assert_eq!(read[SUMMED - 1], e.cost_nanos.unwrap());
        // A summed column of the row's name sums the record's field of that name.
        let fields = serde_json::to_value(&e).unwrap();
        let mut read_from_fields = 0;
        for (name, value) in summed_columns().zip(&read) {
            if let Some(stored) = fields.get(name) {
                assert_eq!(stored.as_i64(), Some(*value), "{name}");
                read_from_fields += 1;
            }
        }
        assert_eq!(
            read_from_fields,
            SUMMED - 5,
            "all but the five counts of their own"
        );
        let sql = rollup_sql("usage_daily", "day");
        for column in summed_columns() {
            assert!(
                sql.contains(&format!("{column} = MIN({column} + excluded.{column}, ")),
                "{column}"
            );
        }
        assert!(sql.contains(&format!("value ->> {} FROM json_each(?1)", 5 + SUMMED)));
        assert!(!sql.contains(&format!("value ->> {}", 6 + SUMMED)));
    }
}
