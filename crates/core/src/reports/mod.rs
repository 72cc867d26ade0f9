//! Reports over the rollups: ranges, presets, time zones and local periods; grouping by
//! period and dimension; stats, summaries, realtime; jobs; the R2 daily and monthly summaries.

pub mod jobs;
pub mod report;
pub mod summaries;

#[cfg(test)]
mod tests_periods;
#[cfg(test)]
mod tests_reports;
