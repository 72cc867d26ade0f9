//! Reservations in memory, for host tests: the table the guard keeps in a [`MemoryStore`].
//! A reservation counts as settled once an event stored in memory names it (D1 ends it in
//! the transaction that stores the event).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::access::projects::ProjectId;
use crate::guard::store::{
    Granted, GuardActivity, Hold, NewReservation, OpenReservation, ReservationStore,
    StoredReservation,
};
use crate::kernel::date_text::month_text;
use crate::kernel::error::StoreError;
use crate::kernel::testing::MemoryStore;

#[derive(Debug, Clone)]
struct Stored {
    holds: Vec<Hold>,
    answer: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    released: bool,
}

#[derive(Debug, Default)]
pub(crate) struct GuardTables {
    reservations: RefCell<BTreeMap<(String, String), Stored>>,
    /// (project, reason, at), oldest first.
    denials: RefCell<Vec<(String, String, DateTime<Utc>)>>,
    /// When set, a grant is stored and then reported as failed (D1 committed, answer lost).
    lose_grant_answers: Cell<bool>,
    /// Reservations another request gets granted first, between the next grant's read and
    /// its own grant.
    granted_first: RefCell<Vec<NewReservation>>,
}

impl MemoryStore {
    fn guard_tables(&self) -> &GuardTables {
        self.part()
    }

    /// Grants are stored and then reported as failed (the database committed, its answer lost).
    pub fn lose_grant_answers(&self, on: bool) {
        self.guard_tables().lose_grant_answers.set(on);
    }

    /// The next grant finds `reservation` granted just before it (another request's, made
    /// after this one read the holds).
    pub fn grant_first(&self, reservation: NewReservation) {
        self.guard_tables()
            .granted_first
            .borrow_mut()
            .push(reservation);
    }

    /// The reservations settled so far (named by a stored event), and the version: how many
    /// stored events name one.
    fn settled(&self) -> (Vec<(String, String)>, i64) {
        let events = self.stored_events();
        let settled: Vec<(String, String)> = events
            .iter()
            .filter_map(|e| Some((e.project_id.clone(), e.reservation_id.clone()?)))
            .collect();
        let version = settled.len() as i64;
        (settled, version)
    }

    fn open_holds(&self, now: DateTime<Utc>) -> Vec<Hold> {
        let (settled, _) = self.settled();
        self.guard_tables()
            .reservations
            .borrow()
            .iter()
            .filter(|(key, r)| !r.released && r.expires_at > now && !settled.contains(key))
            .flat_map(|(_, r)| r.holds.clone())
            .collect()
    }
}

impl MemoryStore {
    fn store_reservation(&self, reservation: &NewReservation) {
        self.guard_tables().reservations.borrow_mut().insert(
            (reservation.project_id.to_string(), reservation.id.clone()),
            Stored {
                holds: reservation.holds.clone(),
                answer: reservation.answer.clone(),
                created_at: reservation.created_at,
                expires_at: reservation.expires_at,
                released: false,
            },
        );
    }
}

impl ReservationStore for MemoryStore {
    async fn holds(
        &self,
        limits: &[String],
        now: DateTime<Utc>,
    ) -> Result<(i64, Vec<Hold>), StoreError> {
        self.check()?;
        let mut sums: BTreeMap<String, i128> = BTreeMap::new();
        for hold in self.open_holds(now) {
            if limits.contains(&hold.limit) {
                *sums.entry(hold.limit).or_default() += hold.amount;
            }
        }
        let holds = sums
            .into_iter()
            .map(|(limit, amount)| Hold { limit, amount })
            .collect();
        Ok((self.settled().1, holds))
    }

    async fn reservation(
        &self,
        project: &ProjectId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredReservation>, StoreError> {
        self.check()?;
        let key = (project.to_string(), id.to_string());
        let settled = self.settled().0.contains(&key);
        Ok(self
            .guard_tables()
            .reservations
            .borrow()
            .get(&key)
            .map(|r| StoredReservation {
                answer: r.answer.clone(),
                open: !r.released && r.expires_at > now && !settled,
            }))
    }

    async fn grant(
        &self,
        reservation: &NewReservation,
        now: DateTime<Utc>,
    ) -> Result<Granted, StoreError> {
        self.check()?;
        let first: Vec<NewReservation> = self.guard_tables().granted_first.take();
        for other in first {
            self.store_reservation(&other);
        }
        let key = (reservation.project_id.to_string(), reservation.id.clone());
        if let Some(existing) = self.guard_tables().reservations.borrow().get(&key) {
            return Ok(Granted::Existing(existing.answer.clone()));
        }
        if self.settled().1 != reservation.version {
            return Ok(Granted::Stale);
        }
        let open = self.open_holds(now);
        for ceiling in &reservation.ceilings {
            let held: i128 = open
                .iter()
                .filter(|h| h.limit == ceiling.limit)
                .map(|h| h.amount)
                .sum();
            let adding: i128 = reservation
                .holds
                .iter()
                .filter(|h| h.limit == ceiling.limit)
                .map(|h| h.amount)
                .sum();
            if held + adding > ceiling.amount {
                return Ok(Granted::NoRoom);
            }
        }
        let mut others: BTreeMap<String, i128> = BTreeMap::new();
        for hold in open
            .iter()
            .filter(|h| reservation.limits.contains(&h.limit))
        {
            *others.entry(hold.limit.clone()).or_default() += hold.amount;
        }
        self.store_reservation(reservation);
        if self.guard_tables().lose_grant_answers.get() {
            return Err(StoreError::Unavailable(
                "the grant's answer was lost".into(),
            ));
        }
        Ok(Granted::Reserved {
            others: others
                .into_iter()
                .map(|(limit, amount)| Hold { limit, amount })
                .collect(),
        })
    }

    async fn restate(&self, project: &ProjectId, id: &str, answer: &str) -> Result<(), StoreError> {
        self.check()?;
        if let Some(r) = self
            .guard_tables()
            .reservations
            .borrow_mut()
            .get_mut(&(project.to_string(), id.to_string()))
        {
            r.answer = answer.to_string();
        }
        Ok(())
    }

    async fn release(
        &self,
        project: &ProjectId,
        id: &str,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.check()?;
        let mut reservations = self.guard_tables().reservations.borrow_mut();
        match reservations.get_mut(&(project.to_string(), id.to_string())) {
            Some(r) => {
                r.released = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn note_denial(
        &self,
        project: &ProjectId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.guard_tables().denials.borrow_mut().push((
            project.to_string(),
            reason.to_string(),
            at,
        ));
        Ok(())
    }

    async fn activity(
        &self,
        project: &ProjectId,
        now: DateTime<Utc>,
    ) -> Result<GuardActivity, StoreError> {
        self.check()?;
        let (settled, _) = self.settled();
        let reservations = self
            .guard_tables()
            .reservations
            .borrow()
            .iter()
            .filter(|((p, _), r)| p == project.as_str() && !r.released && r.expires_at > now)
            .filter(|(key, _)| !settled.contains(key))
            .map(|((_, id), r)| OpenReservation {
                id: id.clone(),
                created_at: r.created_at,
                expires_at: r.expires_at,
                holds: r.holds.clone(),
            })
            .collect();
        let denials = self.guard_tables().denials.borrow();
        let mine: Vec<&(String, String, DateTime<Utc>)> =
            denials.iter().filter(|d| d.0 == project.as_str()).collect();
        let day = now.date_naive();
        let month = month_text(now.date_naive());
        let last = mine.last();
        Ok(GuardActivity {
            reservations,
            denials_today: mine.iter().filter(|d| d.2.date_naive() == day).count() as i64,
            denials_month: mine
                .iter()
                .filter(|d| month_text(d.2.date_naive()) == month)
                .count() as i64,
            last_reason: last.map(|d| d.1.clone()),
            last_at: last.map(|d| d.2),
        })
    }
}
