//! D1 adapter of the report and job stores: sums over the rollup tables, never `api_usage`
//! rows (except the last hour, by minute, and the newest event's time, overall or of each
//! provider, all on an index).

use chrono::NaiveDate;
use wasm_bindgen::JsValue;

use crate::core::access::projects::ProjectId;
use crate::core::kernel::date_text::{date_text, parse_date};
use crate::core::kernel::error::StoreError;
use crate::core::reports::jobs::{JobCostRead, JobCostStats, JobPart, JobQuery, JobRow};
use crate::core::reports::report::{
    Dim, MinuteRow, QuarterSpan, RollupQuery, RollupRow, RollupTable, MEASURES,
};
use crate::core::reports::store::JobStore;
use crate::core::reports::store::ReportStore;

use super::d1::{
    corrupt, execute, query_first_row, query_js, query_rows, store_error, text, Binds, D1Store,
};
use super::d1_retention::USAGE_PROJECTS;
use super::d1_row::{js_rows, JsRow, Loose};

fn nanos(value: Loose) -> Result<i128, StoreError> {
    match value {
        Loose::Null => Ok(0),
        Loose::Text(s) => s
            .parse::<i128>()
            .map_err(|e| corrupt("cost", format!("`{s}`: {e}"))),
        Loose::Number(n) => Loose::Number(n)
            .as_safe_int()
            .map(i128::from)
            .ok_or_else(|| {
                corrupt(
                    "cost",
                    crate::core::kernel::json_value::text(&serde_json::Value::from(n)),
                )
            }),
        Loose::Bool(b) => Err(corrupt("cost", b.to_string())),
        Loose::Other => Err(corrupt("cost", "another kind of value".into())),
    }
}

fn int(value: Loose) -> i64 {
    match value {
        Loose::Text(s) => s.parse::<i64>().ok(),
        Loose::Number(n) => Some(n as i64),
        _ => None,
    }
    .unwrap_or(0)
}

/// Columns whose sums can pass 2^63 - 1 with events the ingest accepts (costs and quantities
/// kept in nano- and micro-units, up to 10^15 an event): summed in two parts, so that SQLite's
/// `SUM` (which fails on overflow) never overflows. See [`split_sum`].
fn is_split(measure: &str) -> bool {
    measure == "cost_nanos" || measure.ends_with("_micros")
}

/// The two parts of an overflow-safe sum of `column`, named `<name>_hi` and `<name>_lo`,
/// as exact text (D1 hands numbers to JavaScript as doubles).
fn split_sum_sql(column: &str, name: &str) -> String {
    format!(
        "CAST(SUM({column} / {SPLIT}) AS TEXT) AS {name}_hi, \
         CAST(SUM({column} % {SPLIT}) AS TEXT) AS {name}_lo"
    )
}

/// `measures` as a list of columns: `split(m)` for a measure summed in two parts, `whole(m)`
/// for the others.
fn measure_columns(
    measures: &[&str],
    split: impl Fn(&str) -> String,
    whole: impl Fn(&str) -> String,
) -> String {
    measures
        .iter()
        .map(|m| if is_split(m) { split(m) } else { whole(m) })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The high part (whole units) of `measure` in a row of a rollup or job table. A cost's row
/// keeps its whole 10^18 nano-units in `cost_carry` (migration 0019), so that it never
/// saturates: the carry joins the high part here, and the row's cost is exactly
/// `high * 10^9 + low`.
fn high_part(measure: &str) -> String {
    if measure == "cost_nanos" {
        format!("(cost_carry * {SPLIT} + cost_nanos / {SPLIT})")
    } else {
        format!("({measure} / {SPLIT})")
    }
}

/// The sum [`split_sum_sql`] read in two parts.
fn split_sum(row: &JsRow, name: &str) -> Result<i128, StoreError> {
    let hi = nanos(row.get(&format!("{name}_hi")))?;
    let lo = nanos(row.get(&format!("{name}_lo")))?;
    Ok(hi.saturating_mul(SPLIT as i128).saturating_add(lo))
}

const SPLIT: i64 = 1_000_000_000;

/// Nano-units of one `cost_carry` of a rollup or job row (migration 0019).
const CARRY: i128 = 1_000_000_000_000_000_000;

fn string(value: Loose) -> Option<String> {
    value.text()
}

/// A list of a period plan as the JSON its SQL expands with `json_each`.
fn plan_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt("period plan", e.to_string()))
}

/// The SQL and bound values of one rollup read.
fn rollup_statement(query: &RollupQuery) -> Result<(String, Vec<JsValue>), StoreError> {
    let mut binds = Binds::new();
    let filter = |binds: &mut Binds| {
        if let Some(p) = &query.project_id {
            binds.add("project_id = ?", p.as_str());
        }
        if let Some(p) = &query.provider {
            binds.add("provider = ?", p);
        }
        if let Some(m) = &query.model {
            binds.add("model = ?", m);
        }
        binds.take_filter()
    };
    let columns = format!(
        "project_id, provider, model, operation, currency, cost_carry, cost_nanos, {}",
        MEASURES.join(", ")
    );
    // Each read is one `SELECT` of a bucket (or a period) and the columns, with its own
    // filter; they are summed together below.
    let mut reads: Vec<String> = Vec::new();
    if let Some(plan) = &query.periods {
        // In a plan's reads each summed-in-parts measure comes already split into `_hi` and
        // `_lo` columns, so that a stretch can be summed before its sign is applied.
        let summed: Vec<&str> = std::iter::once("cost_nanos").chain(MEASURES).collect();
        let split_columns = measure_columns(
            &summed,
            |m| format!("{} AS {m}_hi, {m} % {SPLIT} AS {m}_lo", high_part(m)),
            str::to_string,
        );
        let days = binds.bind(text(&plan_json(&plan.days)?));
        // The LIMIT keeps each list a table of its own, read once, rather than its JSON
        // re-read for every rollup row joined to it.
        let daily_filter = filter(&mut binds);
        reads.push(format!(
            "SELECT m.label AS bucket, project_id, provider, model, operation, currency, \
             {split_columns} FROM (SELECT value ->> 0 AS day, value ->> 1 AS label \
             FROM json_each(?{days}) LIMIT -1) AS m \
             JOIN usage_daily ON usage_daily.day = m.day {daily_filter}"
        ));
        // Each stretch of quarter hours is one range read on the table's key, summed by the
        // report's groups; its moves then add that sum to one period and take it from
        // another. A month by day reads each stretch once rather than once per move.
        let shared = plan.shared_stretches();
        let stretches = binds.bind(text(&plan_json(&shared.stretches)?));
        let links = binds.bind(text(&plan_json(&shared.links)?));
        let groups: Vec<&str> = [Dim::Project, Dim::Provider, Dim::Model, Dim::Operation]
            .iter()
            .filter(|d| query.dims.contains(d))
            .map(|d| match d {
                Dim::Project => "project_id",
                other => other.name(),
            })
            .collect();
        let group_columns: String = groups.iter().map(|g| format!("{g}, ")).collect();
        let outer_groups = ["project_id", "provider", "model", "operation"]
            .iter()
            .map(|c| {
                if groups.contains(c) {
                    format!("x.{c} AS {c}")
                } else {
                    format!("NULL AS {c}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let stretch_sums = measure_columns(
            &summed,
            |m| {
                format!(
                    "SUM({}) AS {m}_hi, SUM({m} % {SPLIT}) AS {m}_lo",
                    high_part(m)
                )
            },
            |m| format!("SUM({m}) AS {m}"),
        );
        let signed = measure_columns(
            &summed,
            |m| format!("x.{m}_hi * l.sign AS {m}_hi, x.{m}_lo * l.sign AS {m}_lo"),
            |m| format!("x.{m} * l.sign AS {m}"),
        );
        let quarter_filter = filter(&mut binds);
        reads.push(format!(
            "SELECT l.label AS bucket, {outer_groups}, x.currency AS currency, {signed} \
             FROM (SELECT s.i AS i, {group_columns}currency, {stretch_sums} \
             FROM (SELECT key AS i, value ->> 0 AS q_from, value ->> 1 AS q_to \
             FROM json_each(?{stretches}) LIMIT -1) AS s \
             JOIN usage_quarter_hours AS q ON q.quarter >= s.q_from AND q.quarter < s.q_to \
             {quarter_filter} GROUP BY s.i, {group_columns}currency) AS x \
             JOIN (SELECT value ->> 0 AS i, value ->> 1 AS label, value ->> 2 AS sign \
             FROM json_each(?{links}) LIMIT -1) AS l ON l.i = x.i"
        ));
    } else {
        for part in query.parts() {
            let (table, bucket) = match part.table {
                RollupTable::QuarterHours => ("usage_quarter_hours", "quarter"),
                RollupTable::Daily => ("usage_daily", "day"),
            };
            if let Some(from) = &part.from {
                binds.add(&format!("{bucket} >= ?"), from);
            }
            if let Some(to) = &part.to {
                binds.add(&format!("{bucket} < ?"), to);
            }
            let part_filter = filter(&mut binds);
            reads.push(format!(
                "SELECT {bucket} AS bucket, {columns} FROM {table} {part_filter}"
            ));
        }
    }
    let by_bucket = query.by_bucket || query.periods.is_some();
    let mut keys: Vec<String> = Vec::new();
    if by_bucket {
        keys.push("bucket".to_string());
    }
    keys.extend(query.dims.iter().map(|d| match d {
        Dim::Project => "project_id".to_string(),
        other => other.name().to_string(),
    }));
    keys.push("currency".into());
    let bucket_select = if by_bucket {
        "bucket"
    } else {
        "NULL AS bucket"
    };
    let dims = [Dim::Project, Dim::Provider, Dim::Model, Dim::Operation]
        .iter()
        .map(|d| {
            if query.dims.contains(d) {
                d.name().to_string()
            } else {
                format!("NULL AS {}", d.name())
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    // A plan's reads hand over the split measures already in parts.
    let split_sum = |m: &str| {
        if query.periods.is_some() {
            format!("CAST(SUM({m}_hi) AS TEXT) AS {m}_hi, CAST(SUM({m}_lo) AS TEXT) AS {m}_lo")
        } else {
            split_sum_sql(m, m)
        }
    };
    let sums = measure_columns(&MEASURES, split_sum, |m| {
        format!("CAST(SUM({m}) AS TEXT) AS {m}")
    });
    let cost = if query.periods.is_some() {
        split_sum("cost_nanos")
    } else {
        format!(
            "CAST(SUM({}) AS TEXT) AS cost_nanos_hi, \
             CAST(SUM(cost_nanos % {SPLIT}) AS TEXT) AS cost_nanos_lo",
            high_part("cost_nanos")
        )
    };
    let source = reads.join(" UNION ALL ");
    // Hours moved out of a day's period leave no empty group behind.
    let having = if query.periods.is_some() {
        " HAVING SUM(events) <> 0"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {bucket_select}, {dims}, currency, {cost}, {sums} \
         FROM ({source}) GROUP BY {}{having}",
        keys.join(", ")
    );
    Ok((sql, binds.values))
}

/// The rows of one rollup read, as [`RollupRow`]s.
fn rollup_rows(query: &RollupQuery, rows: Vec<JsRow>) -> Result<Vec<RollupRow>, StoreError> {
    rows.into_iter()
        .map(|row| {
            let mut measures = [0i64; MEASURES.len()];
            for (slot, name) in measures.iter_mut().zip(MEASURES) {
                *slot = if is_split(name) {
                    let sum = split_sum(&row, name)?;
                    i64::try_from(sum).unwrap_or(i64::MAX)
                } else {
                    int(row.get(name))
                };
            }
            let bucket = string(row.get("bucket"));
            let (bucket, period) = if query.periods.is_some() {
                (None, bucket)
            } else {
                (bucket, None)
            };
            Ok(RollupRow {
                bucket,
                period,
                project_id: string(row.get("project_id")),
                provider: string(row.get("provider")),
                model: string(row.get("model")),
                operation: string(row.get("operation")),
                currency: string(row.get("currency")).unwrap_or_default(),
                cost_nanos: split_sum(&row, "cost_nanos")?,
                measures,
            })
        })
        .collect()
}

impl ReportStore for D1Store {
    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<RollupRow>, StoreError> {
        let (sql, values) = rollup_statement(query)?;
        let rows = query_js(self.db(), &sql, &values).await?;
        rollup_rows(query, rows)
    }

    async fn rollups_many(
        &self,
        queries: &[RollupQuery],
    ) -> Result<Vec<Vec<RollupRow>>, StoreError> {
        if queries.len() <= 1 {
            let mut out = Vec::new();
            for query in queries {
                out.push(self.rollups(query).await?);
            }
            return Ok(out);
        }
        // Every read in one batch: one call to D1, whatever the number of reads.
        let mut statements = Vec::with_capacity(queries.len());
        for query in queries {
            let (sql, values) = rollup_statement(query)?;
            statements.push(self.db().prepare(sql).bind(&values).map_err(store_error)?);
        }
        let results = self.db().batch(statements).await.map_err(store_error)?;
        queries
            .iter()
            .zip(results)
            .map(|(query, result)| rollup_rows(query, js_rows(&result)?))
            .collect()
    }

    async fn rollup_days(&self) -> Result<Option<(NaiveDate, NaiveDate)>, StoreError> {
        crate::d1_row! {
        struct Ends {
            first: Option<String>,
            last: Option<String>,
        }
        }
        let ends: Option<Ends> = query_first_row(
            self.db(),
            "SELECT MIN(day) AS first, MAX(day) AS last FROM usage_daily",
            &[],
        )
        .await?;
        let day = |text: &str| {
            parse_date(text).ok_or_else(|| {
                corrupt("rollup day", format!("`{text}` is not a date (YYYY-MM-DD)"))
            })
        };
        match ends {
            Some(Ends {
                first: Some(first),
                last: Some(last),
            }) => Ok(Some((day(&first)?, day(&last)?))),
            _ => Ok(None),
        }
    }

    async fn last_event_at(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Option<String>, StoreError> {
        crate::d1_row! {
        struct Last {
            t: Option<String>,
        }
        }
        let rows: Vec<Last> = match project {
            Some(p) => {
                query_rows(
                    self.db(),
                    "SELECT MAX(request_timestamp) AS t FROM api_usage WHERE project_id = ?1",
                    &[text(p.as_str())],
                )
                .await?
            }
            None => {
                // Each project's newest on the (project, time) index: no index on time alone.
                query_rows(
                    self.db(),
                    &format!(
                        "WITH RECURSIVE {USAGE_PROJECTS} SELECT MAX((SELECT MAX(u.request_timestamp) \
                         FROM api_usage u WHERE u.project_id = ps.pid)) AS t FROM ps"
                    ),
                    &[],
                )
                .await?
            }
        };
        Ok(rows.into_iter().next().and_then(|r| r.t))
    }

    async fn newest_by_provider(
        &self,
        span: &QuarterSpan,
        project: Option<&ProjectId>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        crate::d1_row! {
        struct Newest {
            provider: String,
            t: Option<String>,
        }
        }
        // Three steps, each on a key: the last UTC day with events of each project and
        // provider (daily rollups); a walk back through the quarter hours from that day's
        // last one (or the newest stored, or the span's last, if earlier), looking each up
        // by its key, until one holds the provider's events: one lookup for a provider in
        // use, at most 192 (that day and the one before, for a day whose events all fall
        // after the span) for one silent since early in the day; then the newest row of that
        // quarter hour on the (project, time) index. How many days ago the provider was last
        // called does not change the cost.
        let probe = |quarter: &str, of: &str| {
            format!(
                "EXISTS (SELECT 1 FROM usage_quarter_hours h WHERE h.quarter = {quarter} \
                 AND h.project_id = {of}.project_id AND h.provider = {of}.provider AND h.events > 0)"
            )
        };
        let earlier = "strftime('%Y-%m-%dT%H:%M', w.quarter, '-15 minutes')";
        let sql = format!(
            "WITH RECURSIVE d AS (SELECT project_id, provider, MAX(day) AS day FROM usage_daily \
               WHERE day >= ?1 AND day <= ?2 AND events > 0 {} GROUP BY project_id, provider), \
             walk(project_id, provider, quarter, n, hit) AS ( \
               SELECT project_id, provider, q, 0, {} FROM (SELECT project_id, provider, \
                 MIN(day || 'T23:45', ?4, (SELECT MAX(quarter) FROM usage_quarter_hours)) AS q FROM d) s \
               UNION ALL \
               SELECT w.project_id, w.provider, {earlier}, w.n + 1, {} FROM walk w \
               WHERE NOT w.hit AND w.n < 191 AND {earlier} >= ?3) \
             SELECT provider, MAX((SELECT MAX(u.request_timestamp) FROM api_usage u \
               WHERE u.project_id = walk.project_id AND u.request_timestamp >= walk.quarter \
                 AND u.request_timestamp < strftime('%Y-%m-%dT%H:%M', walk.quarter, '+15 minutes') \
                 AND u.provider = walk.provider)) AS t \
             FROM walk WHERE hit GROUP BY provider ORDER BY provider",
            if project.is_some() { "AND project_id = ?5" } else { "" },
            probe("s.q", "s"),
            probe(earlier, "w"),
        );
        let mut binds = vec![
            text(&span.first_day),
            text(&span.last_day),
            text(&span.first_quarter),
            text(&span.last_quarter),
        ];
        if let Some(p) = project {
            binds.push(text(p.as_str()));
        }
        let rows: Vec<Newest> = query_rows(self.db(), &sql, &binds).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r.provider, r.t?)))
            .collect())
    }

    async fn recent_minutes(
        &self,
        since: &str,
        project: Option<&ProjectId>,
    ) -> Result<Vec<MinuteRow>, StoreError> {
        let mut binds = Binds::new();
        binds.add("request_timestamp >= ?", since);
        if let Some(p) = project {
            binds.add("project_id = ?", p.as_str());
        } else {
            // Every project's range on the (project, time) index: no index on time alone.
            binds.push("project_id IN (SELECT pid FROM ps)");
        }
        let sql = format!(
            "{}SELECT substr(request_timestamp, 1, 16) AS minute, currency, COUNT(*) AS events, \
             SUM(cost_nanos IS NULL) AS unpriced, {} \
             FROM api_usage {} GROUP BY 1, 2",
            if project.is_some() {
                String::new()
            } else {
                format!("WITH RECURSIVE {USAGE_PROJECTS} ")
            },
            split_sum_sql("COALESCE(cost_nanos, 0)", "cost"),
            binds.filter()
        );
        let rows = query_js(self.db(), &sql, &binds.values).await?;
        rows.into_iter()
            .map(|r| {
                Ok(MinuteRow {
                    minute: string(r.get("minute")).unwrap_or_default(),
                    currency: string(r.get("currency")).unwrap_or_default(),
                    events: int(r.get("events")),
                    unpriced_events: int(r.get("unpriced")),
                    cost_nanos: split_sum(&r, "cost")?,
                })
            })
            .collect()
    }
}

/// The conditions of a job query on `jobs`, the project compared as `project`: a read that
/// must stay on the first-seen index passes `+project_id`, which keeps the planner off the
/// primary key.
fn job_filter(query: &JobQuery, project: &str) -> Binds {
    let mut binds = Binds::new();
    if let Some(p) = &query.project_id {
        binds.add(&format!("{project} = ?"), p.as_str());
    }
    if let Some(f) = &query.from {
        binds.add("first_seen >= ?", f);
    }
    if let Some(t) = &query.to {
        binds.add("first_seen < ?", t);
    }
    if let Some(j) = &query.job_id {
        binds.add("job_id = ?", j);
    }
    binds
}

impl JobStore for D1Store {
    async fn job_counts(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        // One row per project and UTC day of first events (`job_days`, migration 0024), kept by
        // the triggers on `jobs`: the read follows the days in range, not the jobs in them.
        let mut binds = Binds::new();
        if let Some(f) = from {
            binds.add("day >= ?", &date_text(f));
        }
        if let Some(t) = to {
            binds.add("day < ?", &date_text(t));
        }
        let sql = format!(
            "SELECT project_id, SUM(jobs) AS n FROM job_days {} GROUP BY project_id HAVING n <> 0",
            binds.filter()
        );
        let rows = query_js(self.db(), &sql, &binds.values).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    string(r.get("project_id")).unwrap_or_default(),
                    int(r.get("n")),
                )
            })
            .collect())
    }

    async fn jobs(&self, query: &JobQuery) -> Result<Vec<JobRow>, StoreError> {
        let binds = job_filter(query, "project_id");
        let sql = format!(
            "SELECT project_id, job_id, first_seen FROM jobs {} \
             ORDER BY first_seen DESC, job_id LIMIT {}",
            binds.filter(),
            query.limit
        );
        let rows = query_js(self.db(), &sql, &binds.values).await?;
        let mut jobs: Vec<JobRow> = rows
            .into_iter()
            .map(|r| JobRow {
                project_id: string(r.get("project_id")).unwrap_or_default(),
                job_id: string(r.get("job_id")).unwrap_or_default(),
                first_seen: string(r.get("first_seen")).unwrap_or_default(),
                // The job's calls and last event are its parts' (below): `jobs` keeps only
                // when it was first seen, so that later events of a job do not write it.
                last_seen: String::new(),
                calls: 0,
                parts: Vec::new(),
            })
            .collect();
        if jobs.is_empty() {
            return Ok(jobs);
        }
        let keys: Vec<[&str; 2]> = jobs
            .iter()
            .map(|j| [j.project_id.as_str(), j.job_id.as_str()])
            .collect();
        let json = serde_json::to_string(&keys).map_err(|e| corrupt("jobs", e.to_string()))?;
        let parts = query_js(
            self.db(),
            "SELECT u.project_id, u.job_id, u.operation, u.provider, u.currency, u.calls, \
                    u.unpriced_calls, u.last_seen, CAST(u.cost_carry AS TEXT) AS cost_carry, \
                    CAST(u.cost_nanos AS TEXT) AS cost_nanos \
             FROM json_each(?1) AS k JOIN usage_jobs AS u \
               ON u.project_id = k.value ->> 0 AND u.job_id = k.value ->> 1 \
             ORDER BY u.operation, u.provider, u.currency",
            &[text(&json)],
        )
        .await?;
        for part in parts {
            let project = string(part.get("project_id")).unwrap_or_default();
            let job = string(part.get("job_id")).unwrap_or_default();
            if let Some(row) = jobs
                .iter_mut()
                .find(|j| j.project_id == project && j.job_id == job)
            {
                row.calls = row.calls.saturating_add(int(part.get("calls")));
                let seen = string(part.get("last_seen")).unwrap_or_default();
                if seen > row.last_seen {
                    row.last_seen = seen;
                }
                row.parts.push(JobPart {
                    operation: string(part.get("operation")).unwrap_or_default(),
                    provider: string(part.get("provider")).unwrap_or_default(),
                    currency: string(part.get("currency")).unwrap_or_default(),
                    calls: int(part.get("calls")),
                    unpriced_calls: int(part.get("unpriced_calls")),
                    cost_nanos: nanos(part.get("cost_carry"))?
                        .saturating_mul(CARRY)
                        .saturating_add(nanos(part.get("cost_nanos"))?),
                });
            }
        }
        Ok(jobs)
    }

    async fn job_cost_stats(&self, query: &JobQuery) -> Result<JobCostRead, StoreError> {
        // The newest `max_jobs` jobs of the range, on the (first_seen, project_id) index read
        // backwards: `+project_id` keeps the planner off the primary key, which would read
        // every job of a project to sort them. The cap bounds the work whatever the data
        // size; the first statement says whether the range holds more.
        let mut binds = job_filter(query, "+project_id");
        let filter = binds.filter();
        let max = binds.bind(JsValue::from_f64(f64::from(query.max_jobs)));
        let newest = format!(
            "SELECT project_id, job_id, first_seen FROM jobs {filter} \
             ORDER BY first_seen DESC, project_id DESC, job_id DESC"
        );
        let meta = format!(
            "SELECT (SELECT COUNT(*) FROM ({newest} LIMIT ?{max} + 1)) AS n, \
                    (SELECT MIN(first_seen) FROM ({newest} LIMIT ?{max})) AS oldest"
        );
        let sql = format!(
            "WITH sel AS MATERIALIZED ({newest} LIMIT ?{max}), \
             ops AS MATERIALIZED ( \
               SELECT u.project_id, u.job_id, u.operation, u.currency, SUM(u.cost_carry) * {CARRY} + SUM(u.cost_nanos) AS c \
               FROM sel JOIN usage_jobs u ON u.project_id = sel.project_id AND u.job_id = sel.job_id \
               WHERE u.currency <> '' \
               GROUP BY u.project_id, u.job_id, u.operation, u.currency), \
             parts AS ( \
               SELECT project_id, operation, currency, c FROM ops \
               UNION ALL \
               SELECT project_id, NULL, currency, SUM(c) FROM ops GROUP BY project_id, job_id, currency), \
             ranked AS ( \
               SELECT project_id, operation, currency, c, ROW_NUMBER() OVER w AS rn, \
                 COUNT(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n \
               FROM parts WINDOW w AS (PARTITION BY project_id, operation, currency ORDER BY c)) \
             SELECT project_id, operation, currency, MAX(n) AS jobs, {}, CAST(MIN(c) AS TEXT) AS min, CAST(MAX(c) AS TEXT) AS max, \
               CAST(MAX(CASE WHEN rn = (n + 1) / 2 THEN c END) AS TEXT) AS p50, \
               CAST(MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN c END) AS TEXT) AS p90 \
             FROM ranked GROUP BY project_id, operation, currency \
             ORDER BY project_id, operation IS NOT NULL, operation, currency",
            split_sum_sql("c", "total")
        );
        // Both in one call to D1.
        let statements = vec![
            self.db()
                .prepare(meta)
                .bind(&binds.values)
                .map_err(store_error)?,
            self.db()
                .prepare(sql)
                .bind(&binds.values)
                .map_err(store_error)?,
        ];
        let mut results = self
            .db()
            .batch(statements)
            .await
            .map_err(store_error)?
            .into_iter();
        let mut next =
            || -> Result<Vec<JsRow>, StoreError> {
                js_rows(&results.next().ok_or_else(|| {
                    corrupt("job cost stats", "a statement without result".into())
                })?)
            };
        let meta = next()?;
        let rows = next()?;
        let read = meta.first().map_or(0, |m| int(m.get("n")));
        let stats = rows
            .into_iter()
            .map(|r| {
                Ok(JobCostStats {
                    project_id: string(r.get("project_id")).unwrap_or_default(),
                    operation: string(r.get("operation")),
                    currency: string(r.get("currency")).unwrap_or_default(),
                    jobs: int(r.get("jobs")),
                    total_nanos: split_sum(&r, "total")?,
                    min_nanos: nanos(r.get("min"))?,
                    p50_nanos: nanos(r.get("p50"))?,
                    p90_nanos: nanos(r.get("p90"))?,
                    max_nanos: nanos(r.get("max"))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(JobCostRead {
            stats,
            jobs_read: read.min(i64::from(query.max_jobs)),
            complete: read <= i64::from(query.max_jobs),
            oldest_first_seen: meta.first().and_then(|m| m.get("oldest").text()),
        })
    }
}

impl crate::core::reports::store::SummaryStore for D1Store {
    async fn dirty_days(
        &self,
    ) -> Result<Vec<crate::core::reports::summaries::DirtyDay>, StoreError> {
        let rows = query_js(
            self.db(),
            // Claims every marked day (1 -> 2) and reads it; a change while its summary is
            // written sets 1 again, and `clear_dirty_day` deletes only rows still at 2.
            "UPDATE summary_dirty_days SET state = 2 RETURNING day, state",
            &[],
        )
        .await?;
        let mut days: Vec<crate::core::reports::summaries::DirtyDay> = rows
            .into_iter()
            .filter_map(|r| {
                let day = parse_date(r.get("day").as_str()?)?;
                Some(crate::core::reports::summaries::DirtyDay {
                    day,
                    changes: int(r.get("state")),
                })
            })
            .collect();
        // RETURNING has no order; the cron takes the oldest first.
        crate::core::kernel::sort::sort_by_key(&mut days, |d| d.day);
        Ok(days)
    }

    async fn clear_dirty_day(
        &self,
        day: &crate::core::reports::summaries::DirtyDay,
    ) -> Result<(), StoreError> {
        execute(
            self.db(),
            "DELETE FROM summary_dirty_days WHERE day = ?1 AND state = ?2",
            &[
                text(&date_text(day.day)),
                JsValue::from_f64(day.changes as f64),
            ],
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{int, nanos, Loose::*};

    #[test]
    fn a_cost_reads_from_exact_text_a_safe_integer_or_null_and_anything_else_is_corrupt() {
        let read =
            [Text("-12345678901234567890".into()), Number(42.0), Null].map(|v| nanos(v).ok());
        assert_eq!(read, [Some(-12_345_678_901_234_567_890), Some(42), Some(0)]);
        let refused = [Number(1.5), Number(1e17), Text("x".into()), Bool(true)]
            .map(|v| nanos(v).err().map(|e| e.to_string()).unwrap_or_default());
        assert_eq!(
            &refused[..2],
            [
                "stored data is corrupt: cost: 1.5",
                "stored data is corrupt: cost: 1e+17"
            ]
        );
        assert_eq!(&refused[3], "stored data is corrupt: cost: true");
    }

    #[test]
    fn a_count_reads_from_text_or_a_number_and_is_zero_otherwise() {
        let read = [
            Text("7".into()),
            Number(3.9),
            Text("x".into()),
            Null,
            Bool(true),
        ]
        .map(int);
        assert_eq!(read, [7, 3, 0, 0, 0]);
    }
}
