//! The rollups in memory, for host tests: read from the events `usage` keeps in a
//! [`MemoryStore`], as D1's triggers keep them.

use std::collections::BTreeMap;
use std::collections::HashMap;

use crate::access::projects::ProjectId;
use crate::kernel::date_text::parse_date;
use crate::kernel::error::StoreError;
use crate::kernel::testing::MemoryStore;

impl crate::reports::store::ReportStore for MemoryStore {
    async fn rollups(
        &self,
        query: &crate::reports::report::RollupQuery,
    ) -> Result<Vec<crate::reports::report::RollupRow>, StoreError> {
        use crate::reports::report::{Dim, RollupRow, RollupTable, MEASURES};
        self.check()?;
        let parts = query.parts();
        // A period plan, as a lookup of the day's period, and its moves.
        let plan_days: HashMap<&str, &str> = query
            .periods
            .iter()
            .flat_map(|p| p.days.iter().map(|(d, l)| (d.as_str(), l.as_str())))
            .collect();
        let moves = query.periods.iter().flat_map(|p| p.moves.iter());
        let mut groups: BTreeMap<Vec<String>, RollupRow> = BTreeMap::new();
        for listed in &self.counted_events() {
            let e = &listed.event;
            let quarter = e
                .timestamp()
                .map(crate::reports::report::quarter_bucket)
                .unwrap_or_default();
            // Where the event counts: (bucket, period, sign). Without a plan, once, in the
            // first read whose table and bounds hold it; with one, as the plan's days and
            // moves say, exactly as the SQL of a plan sums the rollups.
            let counts: Vec<(Option<String>, Option<String>, i64)> = if query.periods.is_some() {
                plan_days
                    .get(e.day())
                    .map(|label| (None, Some(label.to_string()), 1))
                    .into_iter()
                    .chain(
                        moves
                            .clone()
                            .filter(|m| quarter >= m.from && quarter < m.to)
                            .map(|m| (None, Some(m.period.clone()), m.sign)),
                    )
                    .collect()
            } else {
                parts
                    .iter()
                    .find_map(|part| {
                        let bucket = match part.table {
                            RollupTable::QuarterHours => quarter.clone(),
                            RollupTable::Daily => e.day().to_string(),
                        };
                        let inside = part.from.as_ref().is_none_or(|f| bucket >= *f)
                            && part.to.as_ref().is_none_or(|t| bucket < *t);
                        inside.then(|| (query.by_bucket.then_some(bucket), None, 1))
                    })
                    .into_iter()
                    .collect()
            };
            if query
                .project_id
                .as_ref()
                .is_some_and(|p| p.as_str() != e.project_id)
                || query.provider.as_ref().is_some_and(|p| *p != e.provider)
                || query.model.as_ref().is_some_and(|m| *m != e.model)
            {
                continue;
            }
            let dim = |d: Dim| {
                query.dims.contains(&d).then(|| match d {
                    Dim::Project => e.project_id.clone(),
                    Dim::Provider => e.provider.clone(),
                    Dim::Model => e.model.clone(),
                    Dim::Operation => e.operation.clone(),
                })
            };
            let values = crate::reports::report::measures_of(e);
            for (bucket, period, sign) in counts {
                let row = RollupRow {
                    bucket,
                    period,
                    project_id: dim(Dim::Project),
                    provider: dim(Dim::Provider),
                    model: dim(Dim::Model),
                    operation: dim(Dim::Operation),
                    currency: e.currency.clone(),
                    cost_nanos: 0,
                    measures: [0; MEASURES.len()],
                };
                let key = vec![
                    row.bucket.clone().unwrap_or_default(),
                    row.period.clone().unwrap_or_default(),
                    row.project_id.clone().unwrap_or_default(),
                    row.provider.clone().unwrap_or_default(),
                    row.model.clone().unwrap_or_default(),
                    row.operation.clone().unwrap_or_default(),
                    row.currency.clone(),
                ];
                let group = groups.entry(key).or_insert(row);
                group.cost_nanos += i128::from(sign) * i128::from(e.cost_nanos.unwrap_or(0));
                for (total, value) in group.measures.iter_mut().zip(values) {
                    *total += sign * value;
                }
            }
        }
        // Hours moved out of a day's period leave no empty group behind, as in SQL.
        if query.periods.is_some() {
            groups.retain(|_, row| row.measures[0] != 0);
        }
        Ok(groups.into_values().collect())
    }

    async fn rollup_days(
        &self,
    ) -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>, StoreError> {
        self.check()?;
        let days: Vec<chrono::NaiveDate> = self
            .counted_events()
            .iter()
            .filter_map(|l| parse_date(l.event.day()))
            .collect();
        Ok(days.iter().min().copied().zip(days.iter().max().copied()))
    }

    async fn last_event_at(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self
            .usage_tables()
            .events
            .borrow()
            .iter()
            .filter(|l| project.is_none_or(|p| p.as_str() == l.event.project_id))
            .map(|l| l.event.request_timestamp.clone())
            .max())
    }

    async fn newest_by_provider(
        &self,
        span: &crate::reports::report::QuarterSpan,
        project: Option<&ProjectId>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.check()?;
        let mut newest: BTreeMap<String, String> = BTreeMap::new();
        for listed in self.usage_tables().events.borrow().iter() {
            let event = &listed.event;
            if project.is_some_and(|p| p.as_str() != event.project_id)
                || !span.holds(&event.request_timestamp)
            {
                continue;
            }
            let slot = newest.entry(event.provider.clone()).or_default();
            if event.request_timestamp > *slot {
                slot.clone_from(&event.request_timestamp);
            }
        }
        Ok(newest.into_iter().collect())
    }

    async fn recent_minutes(
        &self,
        _since: &str,
        _project: Option<&ProjectId>,
    ) -> Result<Vec<crate::reports::report::MinuteRow>, StoreError> {
        self.check()?;
        Ok(Vec::new())
    }
}
