//! The in-memory store the host tests and benches run on: one [`MemoryStore`] that every
//! capability's store traits are implemented for, each capability keeping its own tables
//! in it (see the `memory` module of each capability), and [`MemoryLog`], an in-memory raw
//! log. They keep the same contracts as the D1 and R2 adapters (conflicts, cascades,
//! revocation), with switches that make them fail as a database or a bucket would.
//!
//! The kernel names no capability's types: a capability's tables are a part, created empty
//! on first use and found by type ([`MemoryStore::part`]).

use std::any::{Any, TypeId};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::BTreeMap;
use std::fmt;

use crate::kernel::error::StoreError;

/// How many kinds of tables a store holds at most (one per capability that stores).
const PARTS: usize = 8;

pub struct MemoryStore {
    parts: [OnceCell<(TypeId, Box<dyn Any>)>; PARTS],
    /// When set, every operation fails as an unreachable database would.
    pub fail: RefCell<bool>,
    /// When set, only event inserts fail (the database went away after validation).
    pub fail_event_writes: Cell<bool>,
    /// When set, the next event insert is stored and then reported as failed (the database
    /// committed, but its answer was lost); the switch then turns itself off.
    pub lose_event_write_answers: Cell<bool>,
    /// With [`MemoryStore::fail_event_writes`] or [`MemoryStore::lose_event_write_answers`]:
    /// after the failed write the whole store becomes unreachable ([`MemoryStore::fail`]), so
    /// nothing can be read of whether it committed.
    pub unreachable_after_event_write: Cell<bool>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            parts: std::array::from_fn(|_| OnceCell::new()),
            fail: RefCell::new(false),
            fail_event_writes: Cell::new(false),
            lose_event_write_answers: Cell::new(false),
            unreachable_after_event_write: Cell::new(false),
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field(
                "parts",
                &self.parts.iter().filter(|p| p.get().is_some()).count(),
            )
            .field("fail", &self.fail)
            .field("fail_event_writes", &self.fail_event_writes)
            .field("lose_event_write_answers", &self.lose_event_write_answers)
            .finish()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tables of type `T`, created empty on first use.
    ///
    /// # Panics
    /// When more than [`PARTS`] kinds of tables are asked for: a fault of the test set-up.
    pub fn part<T: Any + Default>(&self) -> &T {
        let id = TypeId::of::<T>();
        for cell in &self.parts {
            let (held, part) = cell.get_or_init(|| (id, Box::new(T::default())));
            if *held == id {
                if let Some(part) = part.downcast_ref::<T>() {
                    return part;
                }
            }
        }
        panic!("a MemoryStore holds at most {PARTS} kinds of tables")
    }

    /// Fails as an unreachable database would, when [`MemoryStore::fail`] is set.
    pub fn check(&self) -> Result<(), StoreError> {
        if *self.fail.borrow() {
            Err(StoreError::Unavailable("memory store set to fail".into()))
        } else {
            Ok(())
        }
    }
}

/// An in-memory raw log (R2), with a switch to make writes fail. Its `RawLog` implementation
/// is in `usage::memory`.
#[derive(Debug, Default)]
pub struct MemoryLog {
    pub objects: RefCell<BTreeMap<String, Vec<u8>>>,
    pub fail_writes: Cell<bool>,
    /// When set, only deletes fail.
    pub fail_deletes: Cell<bool>,
}
