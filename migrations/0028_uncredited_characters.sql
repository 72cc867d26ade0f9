-- The characters of events that report no credits, per rollup row (`uncredited_characters`).
--
-- An ElevenLabs plan with a credits allotment counts the credits events report, and the
-- characters of events that report none at their model's rate (`plans::measure_of`). A rollup
-- row held both kinds of event summed together, so a day's one event with credits hid the
-- characters of every other event of that model. The rollups now keep those characters apart.
-- The reports do not show the column: it is read by the plans only.
--
-- Existing rows: a row without credits is all uncredited characters; a row with both is summed
-- again from its stored events (a day pruned by retention keeps 0 there: its events are gone).
-- The insert, update and delete triggers of migrations/0025 and 0017 add the column; the batch
-- rollups (`edge::d1_usage::rollups`) add it as they add the others.

ALTER TABLE usage_daily ADD COLUMN uncredited_characters INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_quarter_hours ADD COLUMN uncredited_characters INTEGER NOT NULL DEFAULT 0;

UPDATE usage_daily SET uncredited_characters = CASE
    WHEN credits_micros = 0 THEN characters
    ELSE coalesce((SELECT sum(a.characters) FROM api_usage a
        WHERE a.project_id = usage_daily.project_id
          AND a.request_timestamp >= usage_daily.day
          AND a.request_timestamp < date(usage_daily.day, '+1 day')
          AND a.provider = usage_daily.provider AND a.model = usage_daily.model
          AND a.operation = usage_daily.operation AND a.currency = usage_daily.currency
          AND a.credits_micros = 0), 0)
    END
WHERE characters <> 0;

UPDATE usage_quarter_hours SET uncredited_characters = CASE
    WHEN credits_micros = 0 THEN characters
    ELSE coalesce((SELECT sum(a.characters) FROM api_usage a
        WHERE a.project_id = usage_quarter_hours.project_id
          AND a.request_timestamp >= usage_quarter_hours.quarter
          AND a.request_timestamp < strftime('%Y-%m-%dT%H:%M', usage_quarter_hours.quarter, '+15 minutes')
          AND a.provider = usage_quarter_hours.provider AND a.model = usage_quarter_hours.model
          AND a.operation = usage_quarter_hours.operation AND a.currency = usage_quarter_hours.currency
          AND a.credits_micros = 0), 0)
    END
WHERE characters <> 0;

DROP TRIGGER api_usage_rollup_insert;
CREATE TRIGGER api_usage_rollup_insert AFTER INSERT ON api_usage WHEN NEW.rolled_up = 0 BEGIN
    INSERT INTO usage_daily (day, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros, uncredited_characters)
    VALUES (substr(NEW.request_timestamp, 1, 10), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros, (NEW.credits_micros = 0) * NEW.characters)
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
        credits_micros = MIN(credits_micros + excluded.credits_micros, 9223372036854775807),
        uncredited_characters = MIN(uncredited_characters + excluded.uncredited_characters, 9223372036854775807);
    INSERT INTO usage_quarter_hours (quarter, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros, uncredited_characters)
    VALUES (substr(NEW.request_timestamp, 1, 14) || CASE WHEN substr(NEW.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(NEW.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(NEW.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END, NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros, (NEW.credits_micros = 0) * NEW.characters)
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
        credits_micros = MIN(credits_micros + excluded.credits_micros, 9223372036854775807),
        uncredited_characters = MIN(uncredited_characters + excluded.uncredited_characters, 9223372036854775807);
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
        credits_micros = credits_micros - OLD.credits_micros,
        uncredited_characters = uncredited_characters - (OLD.credits_micros = 0) * OLD.characters
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
        credits_micros = credits_micros - OLD.credits_micros,
        uncredited_characters = uncredited_characters - (OLD.credits_micros = 0) * OLD.characters
    WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency;
    DELETE FROM usage_quarter_hours WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency AND events = 0;
    INSERT INTO usage_daily (day, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros, uncredited_characters)
    VALUES (substr(NEW.request_timestamp, 1, 10), NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros, (NEW.credits_micros = 0) * NEW.characters)
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
        credits_micros = MIN(credits_micros + excluded.credits_micros, 9223372036854775807),
        uncredited_characters = MIN(uncredited_characters + excluded.uncredited_characters, 9223372036854775807);
    INSERT INTO usage_quarter_hours (quarter, project_id, provider, model, operation, currency, events, unpriced_events, cost_nanos, cache_hits, failed_events, duration_ms, input_tokens, output_tokens, total_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, characters, audio_seconds_micros, video_seconds_micros, images, requests, tracks, credits_micros, uncredited_characters)
    VALUES (substr(NEW.request_timestamp, 1, 14) || CASE WHEN substr(NEW.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(NEW.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(NEW.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END, NEW.project_id, NEW.provider, NEW.model, NEW.operation, NEW.currency, 1, (NEW.cost_nanos IS NULL), COALESCE(NEW.cost_nanos, 0), NEW.cached, (1 - NEW.success), COALESCE(NEW.duration_ms, 0), NEW.input_tokens, NEW.output_tokens, NEW.total_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.reasoning_tokens, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.characters, NEW.audio_seconds_micros, NEW.video_seconds_micros, NEW.images, NEW.requests, NEW.tracks, NEW.credits_micros, (NEW.credits_micros = 0) * NEW.characters)
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
        credits_micros = MIN(credits_micros + excluded.credits_micros, 9223372036854775807),
        uncredited_characters = MIN(uncredited_characters + excluded.uncredited_characters, 9223372036854775807);
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
        credits_micros = credits_micros - OLD.credits_micros,
        uncredited_characters = uncredited_characters - (OLD.credits_micros = 0) * OLD.characters
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
        credits_micros = credits_micros - OLD.credits_micros,
        uncredited_characters = uncredited_characters - (OLD.credits_micros = 0) * OLD.characters
    WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency;
    DELETE FROM usage_quarter_hours WHERE quarter = substr(OLD.request_timestamp, 1, 14) || CASE WHEN substr(OLD.request_timestamp, 15, 2) < '15' THEN '00' WHEN substr(OLD.request_timestamp, 15, 2) < '30' THEN '15' WHEN substr(OLD.request_timestamp, 15, 2) < '45' THEN '30' ELSE '45' END AND project_id = OLD.project_id AND provider = OLD.provider AND model = OLD.model AND operation = OLD.operation AND currency = OLD.currency AND events = 0;
END;
