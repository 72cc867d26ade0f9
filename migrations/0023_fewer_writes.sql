-- Fewer B-tree writes per event (D1 bills rows written, index entries included).
--
-- 1. `summary_dirty_days` is a mark, not a counter: `state` 1 = changed since its summary,
--    2 = claimed by a cron run that is writing the summary. The triggers write only when the
--    mark is not already 1, so the second and later events of a day write nothing there. The
--    cron claims (1 -> 2), writes the summaries, then deletes the rows still at 2: a change
--    while it writes sets 1 again and keeps the day due; a run that dies leaves 2, which the
--    next run claims again.
-- 2. `jobs` keeps only `first_seen`, written when a job is first seen (or an earlier event of
--    it arrives); `calls` and `last_seen` come from `usage_jobs`, whose row every job event
--    updates anyway (it gains `last_seen`, at no extra write).
-- 3. `api_usage_by_job` goes: the events of a job lie between its `first_seen` (jobs) and its
--    `last_seen` (usage_jobs), and are read through the (project, time) index in that span.
-- 4. `usage_jobs_by_operation` goes: its one reader (plans' jobs with given operations) now
--    groups `usage_jobs` by its key to read each job's `last_seen`, and a new part of a job
--    writes one entry less.
-- 5. `api_usage_by_time` goes: reads across projects (the admin's event list, the newest
--    event, realtime minutes, retention's prune) take each project's range on
--    `api_usage_by_project_time`, the projects found by a loose scan of that index.

-- 1. Dirty days.
DROP TRIGGER api_usage_dirty_insert;
DROP TRIGGER api_usage_dirty_update;
DROP TRIGGER api_usage_dirty_delete;
ALTER TABLE summary_dirty_days RENAME COLUMN changes TO state;
UPDATE summary_dirty_days SET state = 1;

CREATE TRIGGER api_usage_dirty_insert AFTER INSERT ON api_usage BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(NEW.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET state = 1 WHERE state <> 1;
END;

-- A replay that moves an event to another day changes the day it left as well.
CREATE TRIGGER api_usage_dirty_update AFTER UPDATE ON api_usage BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(NEW.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET state = 1 WHERE state <> 1;
    INSERT INTO summary_dirty_days (day) SELECT substr(OLD.request_timestamp, 1, 10)
    WHERE substr(OLD.request_timestamp, 1, 10) <> substr(NEW.request_timestamp, 1, 10)
    ON CONFLICT (day) DO UPDATE SET state = 1 WHERE state <> 1;
END;

CREATE TRIGGER api_usage_dirty_delete AFTER DELETE ON api_usage WHEN OLD.request_timestamp >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention) BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(OLD.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET state = 1 WHERE state <> 1;
END;

-- 2. Jobs.
DROP TRIGGER api_usage_jobs_insert;
DROP TRIGGER api_usage_jobs_update;
DROP TRIGGER api_usage_jobs_delete;
ALTER TABLE usage_jobs ADD COLUMN last_seen TEXT NOT NULL DEFAULT '';
-- Each part's last event, read from its rows on the job index (still there: it goes below);
-- a part whose rows retention pruned takes its job's last event, which is the newest of the
-- parts in every case, so the job's last call stays exact.
UPDATE usage_jobs SET last_seen = coalesce(
    (SELECT MAX(a.request_timestamp) FROM api_usage a
     WHERE a.project_id = usage_jobs.project_id AND a.job_id = usage_jobs.job_id
       AND a.operation = usage_jobs.operation AND a.provider = usage_jobs.provider
       AND a.currency = usage_jobs.currency),
    (SELECT j.last_seen FROM jobs j
     WHERE j.project_id = usage_jobs.project_id AND j.job_id = usage_jobs.job_id), '');
-- Each job starts no later than its earliest stored event: a replay that moved an event
-- earlier left `jobs` as it was until now, and a job's events are read from its first call on.
UPDATE jobs SET first_seen = coalesce(min(first_seen,
    (SELECT MIN(a.request_timestamp) FROM api_usage a
     WHERE a.project_id = jobs.project_id AND a.job_id = jobs.job_id)), first_seen);
ALTER TABLE jobs DROP COLUMN calls;
ALTER TABLE jobs DROP COLUMN last_seen;

CREATE TRIGGER api_usage_jobs_insert AFTER INSERT ON api_usage WHEN NEW.job_id IS NOT NULL BEGIN
    INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos, last_seen)
    VALUES (NEW.project_id, NEW.job_id, NEW.operation, NEW.provider, NEW.currency, 1,
            (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.request_timestamp)
    ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
        calls = calls + 1,
        unpriced_calls = MIN(unpriced_calls + excluded.unpriced_calls, 9223372036854775807),
        cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807),
        last_seen = max(last_seen, excluded.last_seen);
    INSERT INTO jobs (project_id, job_id, first_seen)
    VALUES (NEW.project_id, NEW.job_id, NEW.request_timestamp)
    ON CONFLICT (project_id, job_id) DO UPDATE SET first_seen = excluded.first_seen
    WHERE excluded.first_seen < first_seen;
END;

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
    INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos, last_seen)
    VALUES (NEW.project_id, NEW.job_id, NEW.operation, NEW.provider, NEW.currency, 1,
            (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.request_timestamp)
    ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
        calls = calls + 1,
        unpriced_calls = MIN(unpriced_calls + excluded.unpriced_calls, 9223372036854775807),
        cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807),
        last_seen = max(last_seen, excluded.last_seen);
END;

-- A replayed event moved in time keeps its job's span around it.
CREATE TRIGGER api_usage_jobs_moved AFTER UPDATE OF request_timestamp ON api_usage
WHEN NEW.job_id IS NOT NULL AND NEW.request_timestamp <> OLD.request_timestamp BEGIN
    UPDATE usage_jobs SET last_seen = NEW.request_timestamp
    WHERE project_id = NEW.project_id AND job_id = NEW.job_id AND operation = NEW.operation
      AND provider = NEW.provider AND currency = NEW.currency AND last_seen < NEW.request_timestamp;
    UPDATE jobs SET first_seen = NEW.request_timestamp
    WHERE project_id = NEW.project_id AND job_id = NEW.job_id AND first_seen > NEW.request_timestamp;
END;

CREATE TRIGGER api_usage_jobs_delete AFTER DELETE ON api_usage WHEN OLD.job_id IS NOT NULL AND OLD.request_timestamp >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention) BEGIN
    UPDATE usage_jobs SET
        calls = calls - 1,
        unpriced_calls = unpriced_calls - (OLD.cost_nanos IS NULL),
        cost_nanos = cost_nanos - COALESCE(OLD.cost_nanos, 0)
    WHERE project_id = OLD.project_id AND job_id = OLD.job_id AND operation = OLD.operation
      AND provider = OLD.provider AND currency = OLD.currency;
    DELETE FROM usage_jobs WHERE project_id = OLD.project_id AND job_id = OLD.job_id
      AND operation = OLD.operation AND provider = OLD.provider AND currency = OLD.currency
      AND calls = 0;
    DELETE FROM jobs WHERE project_id = OLD.project_id AND job_id = OLD.job_id
      AND NOT EXISTS (SELECT 1 FROM usage_jobs u WHERE u.project_id = OLD.project_id AND u.job_id = OLD.job_id);
END;

-- 3. The job index.
DROP INDEX api_usage_by_job;

-- 4. The operation index of the job parts.
DROP INDEX usage_jobs_by_operation;

-- 5. The time index across projects.
DROP INDEX api_usage_by_time;
