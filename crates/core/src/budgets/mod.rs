//! Budgets: the settings, the budget check and its alerts (email, webhook), the one delivery
//! path, and scheduled spend reports (digests).

pub mod alerts;
pub mod delivery;
pub mod digest;
pub mod memory;
pub mod settings;
pub mod store;
pub mod usage_report;

#[cfg(test)]
mod tests;
