//! The report query (`GET /api/admin/usage` and friends), parsed once.

use super::*;

/// `GET /api/admin/usage` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageReportQuery {
    pub period: Option<Period>,
    pub dims: Vec<Dim>,
    pub range: Range,
    pub project_id: Option<ProjectId>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub csv: bool,
    pub limit: usize,
    /// `group=client`: rows summed per project's client (read by project, then merged).
    pub by_client: bool,
    /// With `by_client`: the project was asked for too, so rows stay per project.
    pub keep_project: bool,
}

pub const MAX_REPORT_ROWS: usize = 10_000;

impl UsageReportQuery {
    pub fn parse(query: &QueryPairs, now: DateTime<Utc>) -> Result<Self, CoreError> {
        only_known(
            query,
            &[
                "group",
                "from",
                "to",
                "preset",
                "tz",
                "project_id",
                "provider",
                "model",
                "format",
                "limit",
            ],
        )?;
        let range = parse_range(query, now, "month")?;
        let mut p = Problems::new();
        let mut period = None;
        let mut dims = Vec::new();
        let mut by_client = false;
        for part in param(query, "group")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let next_period = match part {
                "day" => Some(Period::Day),
                "week" => Some(Period::Week),
                "month" => Some(Period::Month),
                _ => None,
            };
            let dim = match part {
                "project" | "project_id" => Some(Dim::Project),
                "provider" => Some(Dim::Provider),
                "model" => Some(Dim::Model),
                "operation" => Some(Dim::Operation),
                _ => None,
            };
            if part == "client" {
                by_client = true;
                continue;
            }
            match (next_period, dim) {
                (Some(_), _) if period.is_some() => {
                    p.push("group", "at most one of day, week and month")
                }
                (Some(next), _) => period = Some(next),
                (None, Some(dim)) if !dims.contains(&dim) => dims.push(dim),
                (None, Some(_)) => {}
                (None, None) => p.push(
                    "group",
                    format!("`{part}` is not one of day, week, month, provider, model, project, operation, client"),
                ),
            }
        }
        let project_id = param(query, "project_id").and_then(|v| {
            ProjectId::parse(v)
                .map_err(|m| p.push("project_id", m))
                .ok()
        });
        let csv = match param(query, "format") {
            None | Some("json") => false,
            Some("csv") => true,
            Some(other) => {
                p.push("format", format!("`{other}` is not json or csv"));
                false
            }
        };
        let limit = match param(query, "limit") {
            None => MAX_REPORT_ROWS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_REPORT_ROWS).contains(&n) => n,
                _ => {
                    p.push(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_REPORT_ROWS}"),
                    );
                    MAX_REPORT_ROWS
                }
            },
        };
        p.finish()?;
        // A model is read with its provider: `default` or a model name two providers share
        // are different rows (HeyGen's `default` is not OpenAI's).
        if let Some(at) = dims.iter().position(|d| *d == Dim::Model) {
            if !dims.contains(&Dim::Provider) {
                dims.insert(at, Dim::Provider);
            }
        }
        let keep_project = dims.contains(&Dim::Project);
        if by_client && !keep_project {
            dims.push(Dim::Project);
        }
        Ok(UsageReportQuery {
            period,
            dims,
            by_client,
            keep_project,
            range,
            project_id,
            provider: param(query, "provider")
                .map(|v| crate::pricing::catalog::canonical_provider(&v.to_ascii_lowercase())),
            model: param(query, "model").map(str::to_ascii_lowercase),
            csv,
            limit,
        })
    }

    pub fn rollup_query(&self) -> RollupQuery {
        self.rollup_query_over(self.range)
    }

    /// The dimensions the answer shows: without the project read only to find clients.
    pub fn shown_dims(&self) -> Vec<Dim> {
        self.dims
            .iter()
            .copied()
            .filter(|d| *d != Dim::Project || !self.by_client || self.keep_project)
            .collect()
    }

    /// Whether rows carry a `client` of their own (not only beside a project).
    pub(super) fn client_column(&self) -> bool {
        self.by_client && !self.keep_project
    }

    /// The rollup query over `range`: this query's own range, or the same range narrowed to
    /// the days that hold data. A bounded range split by local period in a zone other than
    /// UTC is read through a [`PeriodPlan`].
    pub fn rollup_query_over(&self, range: Range) -> RollupQuery {
        let mut q = range.rollup_query(self.period);
        q.project_id = self.project_id.clone();
        q.provider = self.provider.clone();
        q.model = self.model.clone();
        q.dims = self.dims.clone();
        q
    }
}
