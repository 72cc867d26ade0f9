-- Acknowledgements of raw-log objects: a request's object is acknowledged by a row written in
-- the same D1 transaction as its events, so a rebuild can tell an object whose events were
-- stored (and answered 2xx) from one whose request crashed between the R2 put and the D1
-- commit, or was refused. `duplicates`: a JSON array of the [project_id, id] of the object's
-- events that were already stored before it (their stored facts are another object's), NULL
-- when none.
--
-- The row with the empty key holds, in `duplicates`, the raw-key time stamp from which objects
-- are acknowledged here (this migration's time): rebuild replays objects of the worker's own
-- key form stamped at or after it only when acknowledged, and every older or foreign-named
-- object (imports) as before. Wiping this table drops that row too, and rebuild then replays
-- every object, as it did before acknowledgements.
CREATE TABLE raw_log_acks (
    key TEXT PRIMARY KEY,
    duplicates TEXT
) WITHOUT ROWID;

INSERT INTO raw_log_acks (key, duplicates)
VALUES ('', strftime('%Y%m%dT%H%M%S', 'now') || substr(strftime('%f', 'now'), 4, 3) || 'Z');
