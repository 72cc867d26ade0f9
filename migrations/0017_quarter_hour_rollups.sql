-- Quarter-hour rollups instead of hourly ones, so that a local day, week or month is exact in
-- every time zone. The hourly rollups counted a UTC hour in the local period its first instant
-- fell in, which is exact only for whole-hour offsets: in India (+05:30), Nepal (+05:45),
-- Iran, Afghanistan, Myanmar, central Australia, Newfoundland and the Chatham Islands, the
-- half or quarter hour at each end of a local day went to the wrong day (and month, and
-- budget). Every offset in use is a whole number of quarter hours.
--
-- `usage_quarter_hours` is `usage_hourly` keyed by the UTC quarter hour (`YYYY-MM-DDTHH:MM`,
-- minutes 00, 15, 30 or 45) instead of the hour; its key still sorts by time, and an hour
-- (`YYYY-MM-DDTHH`) bounds its quarters in a range. Each event still updates one row of it.
-- It is filled from the stored rows; the hours of days whose rows were pruned (before the
-- retention watermark) keep their hourly sums, as the quarter starting the hour.

CREATE TABLE usage_quarter_hours (
    quarter TEXT NOT NULL,
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
    PRIMARY KEY (quarter, project_id, provider, model, operation, currency)
) WITHOUT ROWID;

INSERT INTO usage_quarter_hours (quarter, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
SELECT hour || ':00', project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros
FROM usage_hourly
WHERE hour < (SELECT coalesce(max(pruned_before), '') FROM usage_retention);

INSERT INTO usage_quarter_hours (quarter, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros)
SELECT substr(request_timestamp, 1, 14) || CASE WHEN substr(request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END, project_id, provider, model, operation, currency, COUNT(*), SUM(cost_nanos IS NULL), COALESCE(SUM(cost_nanos), 0), SUM(cached), SUM(1 - success), COALESCE(SUM(duration_ms), 0), SUM(input_tokens), SUM(output_tokens), SUM(total_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(audio_input_tokens), SUM(audio_output_tokens), SUM(characters), SUM(audio_seconds_micros), SUM(video_seconds_micros), SUM(images), SUM(requests), SUM(tracks), SUM(credits_micros)
FROM api_usage
WHERE request_timestamp >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention)
GROUP BY 1, 2, 3, 4, 5, 6;

-- The rollup triggers of 0015 (insert, update) and 0009 (delete), with the quarter hour in
-- place of the hour.
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
    UPDATE usage_quarter_hours SET
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
    WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency;
    DELETE FROM usage_quarter_hours WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency AND events = 0;
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
    UPDATE usage_quarter_hours SET
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
    WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency;
    DELETE FROM usage_quarter_hours WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency AND events = 0;
END;

DROP TABLE usage_hourly;
