-- A replayed event moved in time, or re-priced into another currency, keeps its job's span
-- exact. Before, the span only widened: a job's first call moved later left `jobs.first_seen`
-- (and the job's day in `job_days`) at the old time, a part's last call moved earlier left
-- `usage_jobs.last_seen` at the old time, and a part's last call re-priced into another
-- currency (another part) left the old part's `last_seen` at its time. Spans widened so
-- before this migration stay as they are (a rebuild's moves are rare, and recomputing every
-- job would read every stored row).
--
-- When the moved event was the job's first call and moved later, the job's first call is now
-- the earliest of its calls at or after the old time: read from `api_usage_by_project_time`
-- from the old time on, stopping at the first call of the job (at the latest the moved event
-- itself), so the read is bounded by the move, not by the project's data. The last call of a
-- part moved earlier is read the same way backwards.
DROP TRIGGER api_usage_jobs_moved;

CREATE TRIGGER api_usage_jobs_moved AFTER UPDATE OF request_timestamp ON api_usage
WHEN NEW.job_id IS NOT NULL AND NEW.request_timestamp <> OLD.request_timestamp BEGIN
    UPDATE usage_jobs SET last_seen = NEW.request_timestamp
    WHERE project_id = NEW.project_id AND job_id = NEW.job_id AND operation = NEW.operation
      AND provider = NEW.provider AND currency = NEW.currency AND last_seen < NEW.request_timestamp;
    UPDATE usage_jobs SET last_seen = coalesce((
        SELECT a.request_timestamp FROM api_usage a
        WHERE a.project_id = NEW.project_id AND a.request_timestamp <= OLD.request_timestamp
          AND a.job_id = NEW.job_id AND a.operation = NEW.operation AND a.provider = NEW.provider
          AND a.currency IS NEW.currency
        ORDER BY a.request_timestamp DESC LIMIT 1), last_seen)
    WHERE NEW.request_timestamp < OLD.request_timestamp
      AND project_id = NEW.project_id AND job_id = NEW.job_id AND operation = NEW.operation
      AND provider = NEW.provider AND currency = NEW.currency AND last_seen = OLD.request_timestamp;
    UPDATE jobs SET first_seen = NEW.request_timestamp
    WHERE project_id = NEW.project_id AND job_id = NEW.job_id AND first_seen > NEW.request_timestamp;
    UPDATE jobs SET first_seen = coalesce((
        SELECT a.request_timestamp FROM api_usage a
        WHERE a.project_id = NEW.project_id AND a.request_timestamp >= OLD.request_timestamp
          AND a.job_id = NEW.job_id
        ORDER BY a.request_timestamp LIMIT 1), first_seen)
    WHERE NEW.request_timestamp > OLD.request_timestamp
      AND project_id = NEW.project_id AND job_id = NEW.job_id AND first_seen = OLD.request_timestamp;
END;

-- Re-pricing moves an event between a job's parts when its currency changes: the old part's
-- last call, if it was this event, is now the part's latest call at or before it, read back
-- through the (project, time) index no further than the job's first call.
DROP TRIGGER api_usage_jobs_update;

CREATE TRIGGER api_usage_jobs_update AFTER UPDATE OF cost_nanos, currency ON api_usage WHEN NEW.job_id IS NOT NULL BEGIN
    UPDATE usage_jobs SET
        calls = calls - 1,
        unpriced_calls = unpriced_calls - (OLD.cost_nanos IS NULL),
        cost_nanos = cost_nanos - COALESCE(OLD.cost_nanos, 0)
    WHERE project_id = OLD.project_id AND job_id = OLD.job_id AND operation = OLD.operation
      AND provider = OLD.provider AND currency = OLD.currency;
    DELETE FROM usage_jobs WHERE project_id = OLD.project_id AND job_id = OLD.job_id
      AND operation = OLD.operation AND provider = OLD.provider AND currency = OLD.currency
      AND calls = 0;
    UPDATE usage_jobs SET last_seen = coalesce((
        SELECT a.request_timestamp FROM api_usage a
        WHERE a.project_id = OLD.project_id AND a.request_timestamp <= OLD.request_timestamp
          AND a.request_timestamp >= (SELECT j.first_seen FROM jobs j
                                      WHERE j.project_id = OLD.project_id AND j.job_id = OLD.job_id)
          AND a.job_id = OLD.job_id AND a.operation = OLD.operation AND a.provider = OLD.provider
          AND a.currency = OLD.currency
        ORDER BY a.request_timestamp DESC LIMIT 1), last_seen)
    WHERE NEW.currency <> OLD.currency
      AND project_id = OLD.project_id AND job_id = OLD.job_id AND operation = OLD.operation
      AND provider = OLD.provider AND currency = OLD.currency AND last_seen = OLD.request_timestamp;
    INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos, last_seen)
    VALUES (NEW.project_id, NEW.job_id, NEW.operation, NEW.provider, NEW.currency, 1,
            (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.request_timestamp)
    ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
        calls = calls + 1,
        unpriced_calls = MIN(unpriced_calls + excluded.unpriced_calls, 9223372036854775807),
        cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807),
        last_seen = max(last_seen, excluded.last_seen);
END;
