-- An event id is the idempotency key: sent again, it must be a retry of the same event. Each
-- row keeps a fingerprint of what the client sent (the validated fields apart from the key,
-- without a time the client left out; see `UsageEvent::fingerprint`). Rows stored before this
-- migration have none and match any retry.
ALTER TABLE api_usage ADD COLUMN fingerprint TEXT;

-- The guard of an ingest batch inserts here the keys of its events whose id is stored with a
-- different fingerprint; any such row aborts the batch's transaction with the message below,
-- so nothing of the request is stored. The table stays empty.
CREATE TABLE event_id_reuse (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL
);

CREATE TRIGGER event_id_reuse_refused BEFORE INSERT ON event_id_reuse BEGIN
    SELECT RAISE(ABORT, 'event id reused for a different event');
END;
