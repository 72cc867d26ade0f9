//! Jobs (generations): one unit of work that may span several calls, named by `job_id`. What
//! one job costs, and how many there were per month.

use litemap::LiteMap;

use crate::json;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::access::projects::{Project, ProjectId};
use crate::kernel::clock::format_timestamp;
use crate::kernel::date_text::{date_text, month_text};
use crate::kernel::error::{CoreError, Problems};
use crate::kernel::money::{div_round_half_even, Currency, Money, Totals};
use crate::kernel::query::{only_known, param, QueryPairs};
use crate::reports::report::{parse_range, Dim, RollupQuery};
use crate::reports::store::JobStore;
use crate::reports::store::ReportStore;

/// Which jobs: those whose first event falls in the range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobQuery {
    pub project_id: Option<ProjectId>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub job_id: Option<String>,
    pub limit: u32,
    /// The job cost summary reads at most this many jobs, the newest by first event.
    pub max_jobs: u32,
}

/// How many jobs the job cost summary reads at most (and the most `max_jobs` may ask for):
/// its exact percentiles need every job's cost, so its time grows with the jobs it reads;
/// past this many it summarises the newest ones and says so (`sample`).
pub const SUMMARY_MAX_JOBS: u32 = 10_000;

/// The job cost summary's distributions, and which jobs of the range they cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobCostRead {
    pub stats: Vec<JobCostStats>,
    /// Jobs read (at most `max_jobs`).
    pub jobs_read: i64,
    /// Whether the range holds no other job than those read.
    pub complete: bool,
    /// The first event of the oldest job read (none when no job was read).
    pub oldest_first_seen: Option<String>,
}

/// What one operation and provider cost within one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobPart {
    pub operation: String,
    pub provider: String,
    pub currency: String,
    pub calls: i64,
    pub unpriced_calls: i64,
    pub cost_nanos: i128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub project_id: String,
    pub job_id: String,
    pub first_seen: String,
    pub last_seen: String,
    pub calls: i64,
    pub parts: Vec<JobPart>,
}

/// The distribution of job cost in one currency, per project and operation (`None`: whole
/// jobs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCostStats {
    pub project_id: String,
    pub operation: Option<String>,
    pub currency: String,
    pub jobs: i64,
    pub total_nanos: i128,
    pub min_nanos: i128,
    pub p50_nanos: i128,
    pub p90_nanos: i128,
    pub max_nanos: i128,
}

fn parse_job_query(
    query: &QueryPairs,
    now: DateTime<Utc>,
    summary: bool,
) -> Result<JobQuery, CoreError> {
    const KNOWN: [&str; 8] = [
        "project_id",
        "from",
        "to",
        "preset",
        "tz",
        "job_id",
        "limit",
        "max_jobs",
    ];
    // `max_jobs` (the last) is the summary's alone.
    let known = if summary { &KNOWN[..] } else { &KNOWN[..7] };
    only_known(query, known)?;
    let range = parse_range(query, now, "month")?;
    let mut p = Problems::new();
    let project_id = param(query, "project_id").and_then(|v| {
        ProjectId::parse(v)
            .map_err(|m| p.push("project_id", m))
            .ok()
    });
    let limit = match param(query, "limit") {
        None => 100,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                p.push("limit", "must be a whole number from 1 to 1000");
                100
            }
        },
    };
    let max_jobs = match param(query, "max_jobs") {
        None => SUMMARY_MAX_JOBS,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=SUMMARY_MAX_JOBS).contains(&n) => n,
            _ => {
                p.push(
                    "max_jobs",
                    format!("must be a whole number from 1 to {SUMMARY_MAX_JOBS}"),
                );
                SUMMARY_MAX_JOBS
            }
        },
    };
    p.finish()?;
    Ok(JobQuery {
        project_id,
        from: range.from.map(format_timestamp),
        to: range.to.map(format_timestamp),
        job_id: param(query, "job_id").map(str::to_string),
        limit,
        max_jobs,
    })
}

fn money(nanos: i128, currency: &str) -> Value {
    match Currency::parse(currency) {
        Ok(c) => json!(Money::new(nanos, c)),
        Err(_) => Value::Null,
    }
}

/// `GET /api/admin/usage/jobs`: each job's cost, calls and providers, newest first.
pub async fn list_jobs(
    store: &impl JobStore,
    now: DateTime<Utc>,
    query: &QueryPairs,
) -> Result<Value, CoreError> {
    let q = parse_job_query(query, now, false)?;
    let rows = store.jobs(&q).await?;
    let jobs: Vec<Value> = rows
        .iter()
        .map(|job| {
            let mut cost = Totals::new();
            let mut providers: LiteMap<&str, (i64, Totals)> = LiteMap::new();
            let mut operations: LiteMap<&str, (i64, Totals)> = LiteMap::new();
            let mut unpriced = 0;
            for part in &job.parts {
                unpriced += part.unpriced_calls;
                let p = providers.entry(part.provider.as_str()).or_default();
                let o = operations.entry(part.operation.as_str()).or_default();
                p.0 += part.calls;
                o.0 += part.calls;
                if let Ok(c) = Currency::parse(&part.currency) {
                    let m = Money::new(part.cost_nanos, c);
                    cost.add(m);
                    p.1.add(m);
                    o.1.add(m);
                }
            }
            let list = |map: &LiteMap<&str, (i64, Totals)>, key: &str| {
                map.iter()
                    .map(|(name, (calls, cost))| {
                        json!({ key: if name.is_empty() { Value::Null } else { json!(name) }, "calls": calls, "cost": cost })
                    })
                    .collect::<Vec<_>>()
            };
            json!({
                "project_id": job.project_id,
                "job_id": job.job_id,
                "first_seen": job.first_seen,
                "last_seen": job.last_seen,
                "calls": job.calls,
                "unpriced_calls": unpriced,
                "cost": cost,
                "providers": list(&providers, "provider"),
                "operations": list(&operations, "operation"),
            })
        })
        .collect();
    Ok(json!({ "count": jobs.len(), "jobs": jobs }))
}

/// `GET /api/admin/usage/jobs/summary`: what one job costs per project and operation: count,
/// average (rounded half to even to a nano-unit), minimum, median, 90th percentile, maximum.
/// Exact over the newest `max_jobs` jobs of the range (at most [`SUMMARY_MAX_JOBS`]), which
/// are every job of the range unless `sample.complete` is false.
pub async fn job_cost_summary(
    store: &impl JobStore,
    now: DateTime<Utc>,
    query: &QueryPairs,
) -> Result<Value, CoreError> {
    let q = parse_job_query(query, now, true)?;
    let read = store.job_cost_stats(&q).await?;
    let rows: Vec<Value> = read
        .stats
        .iter()
        .map(|s| {
            json!({
                "project_id": s.project_id,
                "operation": s.operation.as_deref().map(|o| if o.is_empty() { Value::Null } else { json!(o) }).unwrap_or(json!("all")),
                "jobs": s.jobs,
                "total": money(s.total_nanos, &s.currency),
                "average": money(div_round_half_even(s.total_nanos, i128::from(s.jobs.max(1))), &s.currency),
                "min": money(s.min_nanos, &s.currency),
                "median": money(s.p50_nanos, &s.currency),
                "p90": money(s.p90_nanos, &s.currency),
                "max": money(s.max_nanos, &s.currency),
            })
        })
        .collect();
    Ok(json!({
        "range": { "from": q.from, "to": q.to },
        "note": "Per project, per operation and for whole jobs (operation \"all\"); jobs count in the range of their first event; unpriced calls are left out of costs. At most max_jobs jobs are read, the newest by first event: when the range holds more, sample.complete is false and the rows describe the jobs first seen from sample.first_seen_from on.",
        "sample": {
            "complete": read.complete,
            "jobs_read": read.jobs_read,
            "max_jobs": q.max_jobs,
            "first_seen_from": read.oldest_first_seen,
        },
        "rows": rows,
    }))
}

/// Reads `m=YYYYMM` (default: the current UTC month) into the month's first day.
pub fn parse_month(value: Option<&str>, now: DateTime<Utc>) -> Result<NaiveDate, CoreError> {
    let bad = |v: &str| CoreError::invalid("m", format!("`{v}` is not a month as YYYYMM"));
    match value {
        None => NaiveDate::from_ymd_opt(now.year(), now.month(), 1).ok_or_else(|| bad("now")),
        Some(v) if v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()) => {
            let year: i32 = v[..4].parse().map_err(|_| bad(v))?;
            let month: u32 = v[4..].parse().map_err(|_| bad(v))?;
            NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(|| bad(v))
        }
        Some(v) => Err(bad(v)),
    }
}

/// `GET /api/admin/stats?m=YYYYMM`: events and jobs in the month and in total, per project
/// and combined.
pub async fn month_stats(
    reports: &impl ReportStore,
    jobs: &impl JobStore,
    projects: &[Project],
    now: DateTime<Utc>,
    query: &QueryPairs,
) -> Result<Value, CoreError> {
    only_known(query, &["m"])?;
    let first = parse_month(param(query, "m"), now)?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first + Duration::days(31));
    let month_rollups = RollupQuery {
        from: Some(date_text(first)),
        to: Some(date_text(next)),
        dims: vec![Dim::Project],
        ..RollupQuery::default()
    };
    let all_rollups = RollupQuery {
        dims: vec![Dim::Project],
        ..RollupQuery::default()
    };
    #[derive(Default, Serialize)]
    struct Counts {
        events_month: i64,
        events_total: i64,
        jobs_month: i64,
        jobs_total: i64,
    }
    // Every count of every project, then summed per project (sorted once: a deployment may
    // hold many projects).
    let mut parts: Vec<(String, Counts)> = Vec::new();
    for row in reports.rollups(&month_rollups).await? {
        let events_month = row.measures[0];
        parts.push((
            row.project_id.unwrap_or_default(),
            Counts {
                events_month,
                ..Counts::default()
            },
        ));
    }
    for row in reports.rollups(&all_rollups).await? {
        let events_total = row.measures[0];
        parts.push((
            row.project_id.unwrap_or_default(),
            Counts {
                events_total,
                ..Counts::default()
            },
        ));
    }
    for (project, jobs_month) in jobs.job_counts(Some(first), Some(next)).await? {
        parts.push((
            project,
            Counts {
                jobs_month,
                ..Counts::default()
            },
        ));
    }
    for (project, jobs_total) in jobs.job_counts(None, None).await? {
        parts.push((
            project,
            Counts {
                jobs_total,
                ..Counts::default()
            },
        ));
    }
    for project in projects {
        parts.push((project.id.as_str().to_string(), Counts::default()));
    }
    let per = crate::kernel::sort::fold_by_key(parts, |sum: &mut Counts, part: Counts| {
        sum.events_month += part.events_month;
        sum.events_total += part.events_total;
        sum.jobs_month += part.jobs_month;
        sum.jobs_total += part.jobs_total;
    });
    let names: LiteMap<&str, &str> =
        crate::kernel::sort::collect_map(projects.iter().map(|p| (p.id.as_str(), p.name.as_str())));
    let mut combined = Counts::default();
    let rows: Vec<Value> = per
        .iter()
        .map(|(id, c)| {
            combined.events_month += c.events_month;
            combined.events_total += c.events_total;
            combined.jobs_month += c.jobs_month;
            combined.jobs_total += c.jobs_total;
            json!({
                "project_id": id,
                "project_name": names.get(id.as_str()),
                "events_month": c.events_month,
                "events_total": c.events_total,
                "jobs_month": c.jobs_month,
                "jobs_total": c.jobs_total,
            })
        })
        .collect();
    Ok(json!({
        "month": month_text(first),
        "note": "Events count in the UTC month of their timestamp; a job counts in the month of its first event.",
        "projects": rows,
        "combined": combined,
    }))
}
