//! The storage seam of the guard: reservations and the holds they keep against limits. The
//! edge implements it over D1 (one conditional batch per grant), `guard::memory` in memory.

use chrono::{DateTime, Utc};

use crate::access::projects::ProjectId;
use crate::kernel::error::StoreError;

/// What one reservation holds against one limit: an integer amount (nano-units of money,
/// micro-units of a plan's unit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hold {
    /// The limit's key (`budget@<project>`, `daily@<project>`, `plan:<provider>:<unit>@<scope>`).
    pub limit: String,
    pub amount: i128,
}

crate::object_reader!(
    Hold,
    skip {
        limit: required,
        amount: required,
    }
);

/// A reservation to grant, all or nothing.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub project_id: ProjectId,
    pub id: String,
    pub holds: Vec<Hold>,
    /// The key of every limit of the answer: what the other open reservations hold against
    /// each when this one is granted is read back with the grant ([`Granted::Reserved`]).
    pub limits: Vec<String>,
    /// The most each limit may hold with this reservation counted, for the limits that
    /// block (the room left below the limit when the spend was read).
    pub ceilings: Vec<Hold>,
    /// The guard's answer, kept so that a retry with the same id is answered the same.
    pub answer: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The settlement version the spend was read at: a settlement since then moved spend
    /// and holds, so the grant must be computed again.
    pub version: i64,
}

/// How a grant went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    /// Reserved now. `others`: what the other open reservations held against each of the
    /// reservation's `limits` when it was granted, read in the same atomic step (one per
    /// limit holding anything), so that its answer can count reservations granted since its
    /// spend was read.
    Reserved { others: Vec<Hold> },
    /// A reservation of that id existed: its stored answer.
    Existing(String),
    /// A settlement happened since the spend was read: read again and retry.
    Stale,
    /// Some blocking limit has no room left for it (reservations granted meanwhile).
    NoRoom,
}

/// An open reservation, as the guard's status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReservation {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub holds: Vec<Hold>,
}

/// What the guard did for a project lately: reservations in flight and denials (UTC days).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardActivity {
    pub reservations: Vec<OpenReservation>,
    pub denials_today: i64,
    pub denials_month: i64,
    pub last_reason: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
}

/// A reservation as stored: the answer a retry of its id gets, and whether it still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReservation {
    pub answer: String,
    pub open: bool,
}

// Futures from D1 are not `Send` (wasm is single-threaded), so these traits use plain
// `async fn` and are only ever used through generics, never `dyn`.
#[allow(async_fn_in_trait)]
pub trait ReservationStore {
    /// The settlement version, and what the open reservations hold against each of `limits`
    /// at `now` (expired ones count for nothing), in one call.
    async fn holds(
        &self,
        limits: &[String],
        now: DateTime<Utc>,
    ) -> Result<(i64, Vec<Hold>), StoreError>;
    /// The project's reservation `id`, if there is one: its stored answer, and whether it is
    /// still open at `now` (not settled, released or expired).
    async fn reservation(
        &self,
        project: &ProjectId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredReservation>, StoreError>;
    /// Grants `reservation` when no ceiling would be passed and the version is unchanged, in
    /// one atomic step: concurrent grants can never together pass a ceiling.
    async fn grant(
        &self,
        reservation: &NewReservation,
        now: DateTime<Utc>,
    ) -> Result<Granted, StoreError>;
    /// Replaces the stored answer of the project's reservation `id` (granted while others
    /// were: its answer counts their holds), which a retry with the same id is answered.
    async fn restate(&self, project: &ProjectId, id: &str, answer: &str) -> Result<(), StoreError>;
    /// Ends an open reservation: its holds go. `false` when there is no such reservation of
    /// the project (a reservation already ended answers `true` again).
    async fn release(
        &self,
        project: &ProjectId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Counts a denial of the project on `at`'s UTC day, with its reason.
    async fn note_denial(
        &self,
        project: &ProjectId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The project's open reservations at `now`, and its denials today and this month (UTC).
    async fn activity(
        &self,
        project: &ProjectId,
        now: DateTime<Utc>,
    ) -> Result<GuardActivity, StoreError>;
}
