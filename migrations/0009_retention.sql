-- Retention: raw rows older than a configured number of days may be pruned from api_usage to
-- keep D1 small, while every rollup keeps counting them (reports, summaries and budgets stay
-- exact). `usage_retention.pruned_before` is the watermark: rows before it may be gone. A
-- delete of a row before the watermark is such a prune and leaves the rollups, the job totals
-- and the summary queue alone; deleting any newer row still takes it out of them, as before.

CREATE TABLE usage_retention (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- A UTC day, YYYY-MM-DD: raw rows of earlier days may be gone.
    pruned_before TEXT NOT NULL,
    -- Raw rows deleted by pruning so far, and when the last prune ran.
    rows_pruned INTEGER NOT NULL DEFAULT 0,
    last_pruned_at TEXT
);

DROP TRIGGER api_usage_rollup_delete;
CREATE TRIGGER api_usage_rollup_delete AFTER DELETE ON api_usage WHEN OLD.request_timestamp >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention) BEGIN
    UPDATE usage_daily SET
        events = events - 1,
        unpriced_events = unpriced_events - (OLD.cost_nanos IS NULL),
        cost_nanos = cost_nanos - COALESCE(OLD.cost_nanos, 0),
        cache_hits = cache_hits - OLD.cached,
        failed_events = failed_events - (1 - OLD.success),
        duration_ms = duration_ms - COALESCE(OLD.duration_ms, 0),
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        total_tokens = total_tokens - OLD.total_tokens,
        cached_input_tokens = cached_input_tokens - OLD.cached_input_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        reasoning_tokens = reasoning_tokens - OLD.reasoning_tokens,
        audio_input_tokens = audio_input_tokens - OLD.audio_input_tokens,
        audio_output_tokens = audio_output_tokens - OLD.audio_output_tokens,
        characters = characters - OLD.characters,
        audio_seconds_micros = audio_seconds_micros - OLD.audio_seconds_micros,
        video_seconds_micros = video_seconds_micros - OLD.video_seconds_micros,
        images = images - OLD.images,
        requests = requests - OLD.requests,
        tracks = tracks - OLD.tracks,
        credits_micros = credits_micros - OLD.credits_micros
    WHERE day = substr(OLD.request_timestamp, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency;
    DELETE FROM usage_daily WHERE day = substr(OLD.request_timestamp, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency AND events = 0;
    UPDATE usage_hourly SET
        events = events - 1,
        unpriced_events = unpriced_events - (OLD.cost_nanos IS NULL),
        cost_nanos = cost_nanos - COALESCE(OLD.cost_nanos, 0),
        cache_hits = cache_hits - OLD.cached,
        failed_events = failed_events - (1 - OLD.success),
        duration_ms = duration_ms - COALESCE(OLD.duration_ms, 0),
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        total_tokens = total_tokens - OLD.total_tokens,
        cached_input_tokens = cached_input_tokens - OLD.cached_input_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        reasoning_tokens = reasoning_tokens - OLD.reasoning_tokens,
        audio_input_tokens = audio_input_tokens - OLD.audio_input_tokens,
        audio_output_tokens = audio_output_tokens - OLD.audio_output_tokens,
        characters = characters - OLD.characters,
        audio_seconds_micros = audio_seconds_micros - OLD.audio_seconds_micros,
        video_seconds_micros = video_seconds_micros - OLD.video_seconds_micros,
        images = images - OLD.images,
        requests = requests - OLD.requests,
        tracks = tracks - OLD.tracks,
        credits_micros = credits_micros - OLD.credits_micros
    WHERE hour = substr(OLD.request_timestamp, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency;
    DELETE FROM usage_hourly WHERE hour = substr(OLD.request_timestamp, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency AND events = 0;
END;

DROP TRIGGER api_usage_jobs_delete;
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
    UPDATE jobs SET calls = calls - 1 WHERE project_id = OLD.project_id AND job_id = OLD.job_id;
    DELETE FROM jobs WHERE project_id = OLD.project_id AND job_id = OLD.job_id AND calls = 0;
END;

DROP TRIGGER api_usage_dirty_delete;
CREATE TRIGGER api_usage_dirty_delete AFTER DELETE ON api_usage WHEN OLD.request_timestamp >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention) BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(OLD.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET changes = changes + 1;
END;
