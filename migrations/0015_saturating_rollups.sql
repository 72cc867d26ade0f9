-- Rollup sums saturate instead of overflowing. SQLite turns an integer sum past 2^63 - 1 into a
-- float, and a float in a rollup row broke every report that read it (a 503 that retrying
-- could never mend). Each `x = x + excluded.x` of the rollup and job triggers becomes
-- `x = MIN(x + excluded.x, 9223372036854775807)`: the row stays an integer, at most the
-- largest one. Only absurd volumes reach it (about 9,200 events at the per-event cost cap in
-- one day, project, provider, model and operation); reports sum rows so that they cannot
-- overflow either. The triggers are otherwise those of 0003, 0004 and 0009.

DROP TRIGGER api_usage_rollup_insert;
CREATE TRIGGER api_usage_rollup_insert AFTER INSERT ON api_usage BEGIN
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
    INSERT INTO usage_hourly (hour, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 13), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (hour, project_id, provider, model, operation, currency) DO UPDATE SET
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

DROP TRIGGER api_usage_rollup_update;
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
    INSERT INTO usage_hourly (hour, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
    VALUES (substr(NEW.request_timestamp, 1, 13), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros)
    ON CONFLICT (hour, project_id, provider, model, operation, currency) DO UPDATE SET
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

DROP TRIGGER api_usage_jobs_insert;
CREATE TRIGGER api_usage_jobs_insert AFTER INSERT ON api_usage WHEN NEW.job_id IS NOT NULL BEGIN
    INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos)
    VALUES (NEW.project_id, NEW.job_id, NEW.operation, NEW.provider, NEW.currency, 1,
            (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0))
    ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
        calls = calls + 1,
        unpriced_calls = MIN(unpriced_calls + excluded.unpriced_calls, 9223372036854775807),
        cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807);
    INSERT INTO jobs (project_id, job_id, first_seen, last_seen, calls)
    VALUES (NEW.project_id, NEW.job_id, NEW.request_timestamp, NEW.request_timestamp, 1)
    ON CONFLICT (project_id, job_id) DO UPDATE SET
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        calls = calls + 1;
END;

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
    INSERT INTO usage_jobs (project_id, job_id, operation, provider, currency, calls, unpriced_calls, cost_nanos)
    VALUES (NEW.project_id, NEW.job_id, NEW.operation, NEW.provider, NEW.currency, 1,
            (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0))
    ON CONFLICT (project_id, job_id, operation, provider, currency) DO UPDATE SET
        calls = calls + 1,
        unpriced_calls = MIN(unpriced_calls + excluded.unpriced_calls, 9223372036854775807),
        cost_nanos = MIN(cost_nanos + excluded.cost_nanos, 9223372036854775807);
END;
