-- The spend guard (issue 25): what reaching each limit does, and reservations held against
-- the limits until the usage they cover is recorded, they are released, or they expire.

ALTER TABLE projects ADD COLUMN budget_mode TEXT NOT NULL DEFAULT 'alert'
    CHECK (budget_mode IN ('alert', 'block'));
ALTER TABLE projects ADD COLUMN daily_limit_mode TEXT NOT NULL DEFAULT 'alert'
    CHECK (daily_limit_mode IN ('alert', 'block'));

-- One row per reservation. `holds` is what it holds, a JSON array of {"limit", "amount"}
-- (the limit's key and an integer amount: nano-units of money, micro-units of a plan's unit);
-- `answer` is the guard's answer when it was granted, given again to a retry of the same id.
CREATE TABLE guard_reservations (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    holds TEXT NOT NULL,
    answer TEXT NOT NULL,
    -- A token of the grant that wrote the row: the grant reads it back to know it won.
    attempt TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    -- Set once: settled by the event that names it, or released.
    ended_at TEXT,
    ended_by TEXT CHECK (ended_by IN ('settled', 'released')),
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;

-- The holds of reservations still open, one row per (reservation, limit): what a grant's
-- conditional insert sums. Rows go when their reservation ends; expired ones are skipped by
-- time and swept by the grants that meet them.
CREATE TABLE guard_holds (
    limit_key TEXT NOT NULL,
    project_id TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (limit_key, project_id, reservation_id)
) WITHOUT ROWID;

-- Moves on every settlement: a grant computed from spend read before a settlement is retried
-- (the settled usage is in the spend, its hold no longer in the holds).
CREATE TABLE guard_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO guard_version (id, version) VALUES (1, 0);

-- Denials, for the dashboard: the last reason and the counts per day.
CREATE TABLE guard_denials (
    project_id TEXT NOT NULL,
    day TEXT NOT NULL,
    denials INTEGER NOT NULL DEFAULT 0,
    last_reason TEXT,
    last_at TEXT,
    PRIMARY KEY (project_id, day)
) WITHOUT ROWID;
