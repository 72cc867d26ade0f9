-- Jobs (generations) and the days whose R2 summaries need rewriting (issue 5).
--
-- A job is one unit of work that may span several calls (one video clip: a script, a voice
-- track, a render), named by the events' `job_id`. `usage_jobs` keeps, per job, what each
-- operation and provider cost; `jobs` keeps one row per job with its first event, which
-- decides the month a job counts in. Both are kept by triggers on api_usage, like the
-- usage rollups, so a duplicate never touches them.
--
-- `summary_dirty_days` lists the UTC days whose stored usage changed since the cron last
-- wrote their summary objects to R2.

CREATE TABLE usage_jobs (
    project_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    provider TEXT NOT NULL,
    currency TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    unpriced_calls INTEGER NOT NULL DEFAULT 0,
    cost_nanos INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, job_id, operation, provider, currency)
);

CREATE TABLE jobs (
    project_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, job_id)
);

CREATE INDEX jobs_by_first_seen ON jobs (first_seen, project_id);

CREATE TABLE summary_dirty_days (
    day TEXT PRIMARY KEY,
    -- Bumped on every change, so the cron clears a day only if nothing changed while it
    -- was writing that day's summary.
    changes INTEGER NOT NULL DEFAULT 1
);

CREATE TRIGGER api_usage_jobs_insert AFTER INSERT ON api_usage WHEN NEW.job_id IS NOT NULL BEGIN
    INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos)
    VALUES (NEW.project_id, NEW.job_id, NEW.operation, NEW.provider, NEW.currency, 1,
            (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0))
    ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
        calls = calls + 1,
        unpriced_calls = unpriced_calls + excluded.unpriced_calls,
        cost_nanos = cost_nanos + excluded.cost_nanos;
    INSERT INTO jobs (project_id, job_id, first_seen, last_seen, calls)
    VALUES (NEW.project_id, NEW.job_id, NEW.request_timestamp, NEW.request_timestamp, 1)
    ON CONFLICT (project_id, job_id) DO UPDATE SET
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        calls = calls + 1;
END;

CREATE TRIGGER api_usage_jobs_delete AFTER DELETE ON api_usage WHEN OLD.job_id IS NOT NULL BEGIN
    UPDATE usage_jobs SET
        calls = calls - 1,
        unpriced_calls = unpriced_calls - (OLD.cost_nanos IS NULL),
        cost_nanos = cost_nanos - COALESCE(OLD.cost_nanos, 0)
    WHERE project_id = OLD.project_id AND job_id = OLD.job_id AND operation = OLD.operation
      AND provider = OLD.provider AND currency = OLD.currency;
    DELETE FROM usage_jobs WHERE project_id = OLD.project_id AND job_id = OLD.job_id
      AND operation = OLD.operation AND provider = OLD.provider AND currency = OLD.currency
      AND calls = 0;
    UPDATE jobs SET calls = calls - 1 WHERE project_id = OLD.project_id AND job_id = OLD.job_id;
    DELETE FROM jobs WHERE project_id = OLD.project_id AND job_id = OLD.job_id AND calls = 0;
END;

-- Re-pricing changes cost and currency only; the job keeps its calls and times.
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
    INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos)
    VALUES (NEW.project_id, NEW.job_id, NEW.operation, NEW.provider, NEW.currency, 1,
            (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0))
    ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
        calls = calls + 1,
        unpriced_calls = unpriced_calls + excluded.unpriced_calls,
        cost_nanos = cost_nanos + excluded.cost_nanos;
END;

CREATE TRIGGER api_usage_dirty_insert AFTER INSERT ON api_usage BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(NEW.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET changes = changes + 1;
END;

CREATE TRIGGER api_usage_dirty_update AFTER UPDATE ON api_usage BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(NEW.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET changes = changes + 1;
END;

CREATE TRIGGER api_usage_dirty_delete AFTER DELETE ON api_usage BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(OLD.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET changes = changes + 1;
END;

-- Usage stored before this migration.
INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos)
SELECT project_id, job_id, operation, provider, currency, COUNT(*), SUM(cost_nanos IS NULL), COALESCE(SUM(cost_nanos), 0)
FROM api_usage WHERE job_id IS NOT NULL GROUP BY project_id, job_id, operation, provider, currency;

INSERT INTO jobs (project_id, job_id, first_seen, last_seen, calls)
SELECT project_id, job_id, MIN(request_timestamp), MAX(request_timestamp), COUNT(*)
FROM api_usage WHERE job_id IS NOT NULL GROUP BY project_id, job_id;

INSERT OR IGNORE INTO summary_dirty_days (day)
SELECT DISTINCT substr(request_timestamp, 1, 10) FROM api_usage;
