-- An event id is the idempotency key: sent again, it must be a retry of the same event. Each
-- row keeps a fingerprint of what the client sent (the validated fields apart from the key,
-- without a time the client left out; see `UsageEvent::fingerprint`). Rows stored before this
-- migration have none and match any retry.
ALTER TABLE api_usage ADD COLUMN fingerprint TEXT;

-- Ingestion inserts with `ON CONFLICT (project_id, id) DO UPDATE SET fingerprint =
-- excluded.fingerprint WHERE fingerprint <> excluded.fingerprint`: a retry (same fingerprint)
-- is a no-op, and an id reused for a different event reaches this trigger, which aborts the
-- whole transaction, so nothing of the request is stored. A fingerprint is never changed.
CREATE TRIGGER api_usage_fingerprint_kept BEFORE UPDATE OF fingerprint ON api_usage
WHEN OLD.fingerprint IS NOT NULL AND NEW.fingerprint IS NOT OLD.fingerprint
BEGIN
    SELECT RAISE(ABORT, 'event id reused for a different event');
END;
