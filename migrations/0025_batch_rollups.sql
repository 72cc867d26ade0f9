-- Rollups written once per batch instead of once per event (issue 28, points 2 and 3).
--
-- The insert triggers of the rollups (`usage_daily`, `usage_quarter_hours`), the dirty-day
-- mark and the job tables (`usage_jobs`, `jobs`) fired for every row: a batch of 1,000 events
-- of one model upserted the same day's and quarter's rollup row 1,000 times each. A batch
-- now writes its rows with `rolled_up = 1`, which these triggers skip, and adds to each
-- rollup row once, with the batch's sums computed by the worker (`edge::d1_usage::rollups`),
-- in the same transaction. Single events, replays and any other insert leave `rolled_up` at
-- 0 and keep the triggers. The update and delete triggers (re-pricing, replay moves,
-- retention) read OLD and NEW as before: how a row's rollups were first written does not
-- matter to them.
--
-- The batch's sums are right only if every one of its rows was inserted (none already stored,
-- none before the retention watermark). Right after each insert of rows with
-- `rolled_up = 1`, the batch inserts `(changes(), rows sent)` into `batch_rollup_check`, a
-- view whose trigger aborts the transaction when the two differ; the worker then writes the
-- batch again the per-row way, where a stored row is skipped by its own conflict clause.

ALTER TABLE api_usage ADD COLUMN rolled_up INTEGER NOT NULL DEFAULT 0;

CREATE VIEW batch_rollup_check AS SELECT 0 AS inserted, 0 AS expected;

CREATE TRIGGER batch_rollup_check_insert INSTEAD OF INSERT ON batch_rollup_check
WHEN NEW.inserted IS NOT NEW.expected BEGIN
    SELECT RAISE(ABORT, 'batch rollups need every row inserted');
END;

-- The triggers of migrations/0017 (rollups) and 0023 (dirty days, jobs), now only for rows
-- whose rollups their batch does not write.
DROP TRIGGER api_usage_rollup_insert;
CREATE TRIGGER api_usage_rollup_insert AFTER INSERT ON api_usage WHEN NEW.rolled_up = 0 BEGIN
    INSERT INTO usage_daily (day, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 10), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (day, project_id, provider, model, operation, currency) DO UPDATE SET
        events = MIN(events + excluded.events, 9223372036854775807),
        unpriced_events = MIN(unpriced_events + excluded.unpriced_events, 9223372036854775807),
        cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807),
        cache_hits = MIN(cache_hits + excluded.cache_hits, 9223372036854775807),
        failed_events = MIN(failed_events + excluded.failed_events, 9223372036854775807),
        duration_ms = MIN(duration_ms + excluded.duration_ms, 9223372036854775807),
        input_tokens = MIN(input_tokens + excluded.input_tokens, 9223372036854775807),
        output_tokens = MIN(output_tokens + excluded.output_tokens, 9223372036854775807),
        total_tokens = MIN(total_tokens + excluded.total_tokens, 9223372036854775807),
        cached_input_tokens = MIN(cached_input_tokens + excluded.cached_input_tokens, 9223372036854775807),
        cache_write_tokens = MIN(cache_write_tokens + excluded.cache_write_tokens, 9223372036854775807),
        reasoning_tokens = MIN(reasoning_tokens + excluded.reasoning_tokens, 9223372036854775807),
        audio_input_tokens = MIN(audio_input_tokens + excluded.audio_input_tokens, 9223372036854775807),
        audio_output_tokens = MIN(audio_output_tokens + excluded.audio_output_tokens, 9223372036854775807),
        characters = MIN(characters + excluded.characters, 9223372036854775807),
        audio_seconds_micros = MIN(audio_seconds_micros + excluded.audio_seconds_micros, 9223372036854775807),
        video_seconds_micros = MIN(video_seconds_micros + excluded.video_seconds_micros, 9223372036854775807),
        images = MIN(images + excluded.images, 9223372036854775807),
        requests = MIN(requests + excluded.requests, 9223372036854775807),
        tracks = MIN(tracks + excluded.tracks, 9223372036854775807),
        credits_micros = MIN(credits_micros + excluded.credits_micros, 9223372036854775807);
    INSERT INTO usage_quarter_hours (quarter, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 14) || CASE WHEN substr(NEW.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(NEW.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(NEW.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END, NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (quarter, project_id, provider, model, operation, currency) DO UPDATE SET
        events = MIN(events + excluded.events, 9223372036854775807),
        unpriced_events = MIN(unpriced_events + excluded.unpriced_events, 9223372036854775807),
        cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807),
        cache_hits = MIN(cache_hits + excluded.cache_hits, 9223372036854775807),
        failed_events = MIN(failed_events + excluded.failed_events, 9223372036854775807),
        duration_ms = MIN(duration_ms + excluded.duration_ms, 9223372036854775807),
        input_tokens = MIN(input_tokens + excluded.input_tokens, 9223372036854775807),
        output_tokens = MIN(output_tokens + excluded.output_tokens, 9223372036854775807),
        total_tokens = MIN(total_tokens + excluded.total_tokens, 9223372036854775807),
        cached_input_tokens = MIN(cached_input_tokens + excluded.cached_input_tokens, 9223372036854775807),
        cache_write_tokens = MIN(cache_write_tokens + excluded.cache_write_tokens, 9223372036854775807),
        reasoning_tokens = MIN(reasoning_tokens + excluded.reasoning_tokens, 9223372036854775807),
        audio_input_tokens = MIN(audio_input_tokens + excluded.audio_input_tokens, 9223372036854775807),
        audio_output_tokens = MIN(audio_output_tokens + excluded.audio_output_tokens, 9223372036854775807),
        characters = MIN(characters + excluded.characters, 9223372036854775807),
        audio_seconds_micros = MIN(audio_seconds_micros + excluded.audio_seconds_micros, 9223372036854775807),
        video_seconds_micros = MIN(video_seconds_micros + excluded.video_seconds_micros, 9223372036854775807),
        images = MIN(images + excluded.images, 9223372036854775807),
        requests = MIN(requests + excluded.requests, 9223372036854775807),
        tracks = MIN(tracks + excluded.tracks, 9223372036854775807),
        credits_micros = MIN(credits_micros + excluded.credits_micros, 9223372036854775807);
END;

DROP TRIGGER api_usage_dirty_insert;
CREATE TRIGGER api_usage_dirty_insert AFTER INSERT ON api_usage WHEN NEW.rolled_up = 0 BEGIN
    INSERT INTO summary_dirty_days (day) VALUES (substr(NEW.request_timestamp, 1, 10))
    ON CONFLICT (day) DO UPDATE SET state = 1 WHERE state <> 1;
END;

DROP TRIGGER api_usage_jobs_insert;
CREATE TRIGGER api_usage_jobs_insert AFTER INSERT ON api_usage WHEN NEW.job_id IS NOT NULL AND NEW.rolled_up = 0 BEGIN
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
