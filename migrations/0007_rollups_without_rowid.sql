-- The rollup tables become WITHOUT ROWID tables (issue 4, speed). Their keys are text
-- columns, so a rowid table kept each row twice, in the table and in its primary-key index;
-- every trigger upsert now finds and writes one b-tree instead of two. Data, triggers and
-- indexes are unchanged otherwise: the triggers are dropped first and created again as they
-- were, because a table they name is replaced.

DROP TRIGGER api_usage_rollup_insert;
DROP TRIGGER api_usage_rollup_delete;
DROP TRIGGER api_usage_rollup_update;
DROP TRIGGER api_usage_jobs_insert;
DROP TRIGGER api_usage_jobs_delete;
DROP TRIGGER api_usage_jobs_update;
DROP TRIGGER api_usage_dirty_insert;
DROP TRIGGER api_usage_dirty_update;
DROP TRIGGER api_usage_dirty_delete;

CREATE TABLE usage_daily_new (
    day TEXT NOT NULL,
    project_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    operation TEXT NOT NULL,
    currency TEXT NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    unpriced_events INTEGER NOT NULL DEFAULT 0,
    cost_nanos INTEGER NOT NULL DEFAULT 0,
    cache_hits INTEGER NOT NULL DEFAULT 0,
    failed_events INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    audio_input_tokens INTEGER NOT NULL DEFAULT 0,
    audio_output_tokens INTEGER NOT NULL DEFAULT 0,
    characters INTEGER NOT NULL DEFAULT 0,
    audio_seconds_micros INTEGER NOT NULL DEFAULT 0,
    video_seconds_micros INTEGER NOT NULL DEFAULT 0,
    images INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    tracks INTEGER NOT NULL DEFAULT 0,
    credits_micros INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, project_id, provider, model, operation, currency)
) WITHOUT ROWID;
INSERT INTO usage_daily_new SELECT * FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_new RENAME TO usage_daily;

CREATE TABLE usage_hourly_new (
    hour TEXT NOT NULL,
    project_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    operation TEXT NOT NULL,
    currency TEXT NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    unpriced_events INTEGER NOT NULL DEFAULT 0,
    cost_nanos INTEGER NOT NULL DEFAULT 0,
    cache_hits INTEGER NOT NULL DEFAULT 0,
    failed_events INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    audio_input_tokens INTEGER NOT NULL DEFAULT 0,
    audio_output_tokens INTEGER NOT NULL DEFAULT 0,
    characters INTEGER NOT NULL DEFAULT 0,
    audio_seconds_micros INTEGER NOT NULL DEFAULT 0,
    video_seconds_micros INTEGER NOT NULL DEFAULT 0,
    images INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    tracks INTEGER NOT NULL DEFAULT 0,
    credits_micros INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, project_id, provider, model, operation, currency)
) WITHOUT ROWID;
INSERT INTO usage_hourly_new SELECT * FROM usage_hourly;
DROP TABLE usage_hourly;
ALTER TABLE usage_hourly_new RENAME TO usage_hourly;

CREATE TABLE usage_jobs_new (
    project_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    provider TEXT NOT NULL,
    currency TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    unpriced_calls INTEGER NOT NULL DEFAULT 0,
    cost_nanos INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, job_id, operation, provider, currency)
) WITHOUT ROWID;
INSERT INTO usage_jobs_new SELECT * FROM usage_jobs;
DROP TABLE usage_jobs;
ALTER TABLE usage_jobs_new RENAME TO usage_jobs;

CREATE TABLE jobs_new (
    project_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, job_id)
) WITHOUT ROWID;
INSERT INTO jobs_new SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE TABLE summary_dirty_days_new (
    day TEXT PRIMARY KEY,
    -- Bumped on every change, so the cron clears a day only if nothing changed while it
    -- was writing that day's summary.
    changes INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
INSERT INTO summary_dirty_days_new SELECT * FROM summary_dirty_days;
DROP TABLE summary_dirty_days;
ALTER TABLE summary_dirty_days_new RENAME TO summary_dirty_days;

CREATE INDEX usage_daily_by_project ON usage_daily (project_id, day);
CREATE INDEX jobs_by_first_seen ON jobs (first_seen, project_id);
CREATE INDEX usage_jobs_by_operation ON usage_jobs (operation, project_id, job_id);

CREATE TRIGGER api_usage_rollup_insert AFTER INSERT ON api_usage BEGIN
    INSERT INTO usage_daily (day, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 10), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (day, project_id, provider, model, operation, currency) DO UPDATE SET
        events = events + excluded.events,
        unpriced_events = unpriced_events + excluded.unpriced_events,
        cost_nanos = cost_nanos + excluded.cost_nanos,
        cache_hits = cache_hits + excluded.cache_hits,
        failed_events = failed_events + excluded.failed_events,
        duration_ms = duration_ms + excluded.duration_ms,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        total_tokens = total_tokens + excluded.total_tokens,
        cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
        audio_input_tokens = audio_input_tokens + excluded.audio_input_tokens,
        audio_output_tokens = audio_output_tokens + excluded.audio_output_tokens,
        characters = characters + excluded.characters,
        audio_seconds_micros = audio_seconds_micros + excluded.audio_seconds_micros,
        video_seconds_micros = video_seconds_micros + excluded.video_seconds_micros,
        images = images + excluded.images,
        requests = requests + excluded.requests,
        tracks = tracks + excluded.tracks,
        credits_micros = credits_micros + excluded.credits_micros;
    INSERT INTO usage_hourly (hour, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 13), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (hour, project_id, provider, model, operation, currency) DO UPDATE SET
        events = events + excluded.events,
        unpriced_events = unpriced_events + excluded.unpriced_events,
        cost_nanos = cost_nanos + excluded.cost_nanos,
        cache_hits = cache_hits + excluded.cache_hits,
        failed_events = failed_events + excluded.failed_events,
        duration_ms = duration_ms + excluded.duration_ms,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        total_tokens = total_tokens + excluded.total_tokens,
        cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
        audio_input_tokens = audio_input_tokens + excluded.audio_input_tokens,
        audio_output_tokens = audio_output_tokens + excluded.audio_output_tokens,
        characters = characters + excluded.characters,
        audio_seconds_micros = audio_seconds_micros + excluded.audio_seconds_micros,
        video_seconds_micros = video_seconds_micros + excluded.video_seconds_micros,
        images = images + excluded.images,
        requests = requests + excluded.requests,
        tracks = tracks + excluded.tracks,
        credits_micros = credits_micros + excluded.credits_micros;
END;

CREATE TRIGGER api_usage_rollup_delete AFTER DELETE ON api_usage BEGIN
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

CREATE TRIGGER api_usage_rollup_update AFTER UPDATE ON api_usage BEGIN
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
    INSERT INTO usage_daily (day, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 10), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (day, project_id, provider, model, operation, currency) DO UPDATE SET
        events = events + excluded.events,
        unpriced_events = unpriced_events + excluded.unpriced_events,
        cost_nanos = cost_nanos + excluded.cost_nanos,
        cache_hits = cache_hits + excluded.cache_hits,
        failed_events = failed_events + excluded.failed_events,
        duration_ms = duration_ms + excluded.duration_ms,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        total_tokens = total_tokens + excluded.total_tokens,
        cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
        audio_input_tokens = audio_input_tokens + excluded.audio_input_tokens,
        audio_output_tokens = audio_output_tokens + excluded.audio_output_tokens,
        characters = characters + excluded.characters,
        audio_seconds_micros = audio_seconds_micros + excluded.audio_seconds_micros,
        video_seconds_micros = video_seconds_micros + excluded.video_seconds_micros,
        images = images + excluded.images,
        requests = requests + excluded.requests,
        tracks = tracks + excluded.tracks,
        credits_micros = credits_micros + excluded.credits_micros;
    INSERT INTO usage_hourly (hour, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 13), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (hour, project_id, provider, model, operation, currency) DO UPDATE SET
        events = events + excluded.events,
        unpriced_events = unpriced_events + excluded.unpriced_events,
        cost_nanos = cost_nanos + excluded.cost_nanos,
        cache_hits = cache_hits + excluded.cache_hits,
        failed_events = failed_events + excluded.failed_events,
        duration_ms = duration_ms + excluded.duration_ms,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        total_tokens = total_tokens + excluded.total_tokens,
        cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
        audio_input_tokens = audio_input_tokens + excluded.audio_input_tokens,
        audio_output_tokens = audio_output_tokens + excluded.audio_output_tokens,
        characters = characters + excluded.characters,
        audio_seconds_micros = audio_seconds_micros + excluded.audio_seconds_micros,
        video_seconds_micros = video_seconds_micros + excluded.video_seconds_micros,
        images = images + excluded.images,
        requests = requests + excluded.requests,
        tracks = tracks + excluded.tracks,
        credits_micros = credits_micros + excluded.credits_micros;
END;

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
