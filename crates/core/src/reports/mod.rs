//! Reports over the rollups: ranges, presets, time zones and local periods; grouping by
//! period and dimension; stats, summaries, realtime; jobs; the R2 daily and monthly summaries.

pub mod jobs;
pub mod memory;
pub mod report;
pub mod store;
pub mod summaries;

#[cfg(test)]
mod tests;
