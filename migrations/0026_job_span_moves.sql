-- A replayed event moved in time keeps its job's span exact both ways. Before, the span only
-- widened: a job's first call moved later left `jobs.first_seen` (and the job's day in
-- `job_days`) at the old time, and a part's last call moved earlier left `usage_jobs.last_seen`
-- at the old time.
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
