-- Rollup costs stay exact past 2^63 - 1 nano-units. Since 0015 a rollup row's `cost_nanos`
-- saturated at 2^63 - 1 (about 9.22 billion units): a day of one project, provider, model and
-- operation reaches that in currencies with large nominal amounts (IDR, VND, KRW), and every
-- report then showed a silently wrong total.
--
-- Each cost sum is now kept in two columns: `cost_carry` counts whole 10^18 nano-units (a
-- billion units) and `cost_nanos` holds the rest, so that the row's cost is exactly
-- `cost_carry * 10^18 + cost_nanos`. A trigger moves every whole 10^18 of `cost_nanos` into
-- `cost_carry` as soon as an update takes it there; one event adds at most 10^15, so
-- `cost_nanos` stays within 10^18 + 10^15 of zero and the `MIN(..., 2^63 - 1)` of the rollup
-- triggers never clamps a cost again. The rest may be negative after a re-price took cost
-- out; the sum of the two parts is what counts. Reads add the carry to the high part of their
-- two-part sums (`edge::d1_reports`).

ALTER TABLE usage_daily ADD COLUMN cost_carry INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_quarter_hours ADD COLUMN cost_carry INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_jobs ADD COLUMN cost_carry INTEGER NOT NULL DEFAULT 0;

-- Rows saturated before this migration are summed again from their events, where the events
-- are all still stored (on or after the retention watermark). `units` and `rest` are the
-- two-part sum of the events' costs (whole units, then the nano-units left), which never
-- overflows: the row's cost is `units * 10^9 + rest`.
UPDATE usage_daily SET
    cost_carry = s.units / 1000000000,
    cost_nanos = (s.units % 1000000000) * 1000000000 + s.rest
FROM (
    SELECT d.day, d.project_id, d.provider, d.model, d.operation, d.currency,
        SUM(COALESCE(u.cost_nanos, 0) / 1000000000) + SUM(COALESCE(u.cost_nanos, 0) % 1000000000) / 1000000000 AS units,
        SUM(COALESCE(u.cost_nanos, 0) % 1000000000) % 1000000000 AS rest
    FROM usage_daily AS d
    JOIN api_usage AS u ON u.project_id = d.project_id
        AND u.request_timestamp >= d.day AND u.request_timestamp < d.day || 'U'
        AND u.provider = d.provider AND u.model = d.model AND u.operation = d.operation
        AND u.currency = d.currency
    WHERE d.cost_nanos = 9223372036854775807
      AND d.day >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention)
    GROUP BY d.day, d.project_id, d.provider, d.model, d.operation, d.currency
) AS s
WHERE usage_daily.day = s.day AND usage_daily.project_id = s.project_id
  AND usage_daily.provider = s.provider AND usage_daily.model = s.model
  AND usage_daily.operation = s.operation AND usage_daily.currency = s.currency;

UPDATE usage_quarter_hours SET
    cost_carry = s.units / 1000000000,
    cost_nanos = (s.units % 1000000000) * 1000000000 + s.rest
FROM (
    SELECT q.quarter, q.project_id, q.provider, q.model, q.operation, q.currency,
        SUM(COALESCE(u.cost_nanos, 0) / 1000000000) + SUM(COALESCE(u.cost_nanos, 0) % 1000000000) / 1000000000 AS units,
        SUM(COALESCE(u.cost_nanos, 0) % 1000000000) % 1000000000 AS rest
    FROM usage_quarter_hours AS q
    JOIN api_usage AS u ON u.project_id = q.project_id
        AND u.request_timestamp >= q.quarter
        AND u.request_timestamp < strftime('%Y-%m-%dT%H:%M', q.quarter, '+15 minutes')
        AND u.provider = q.provider AND u.model = q.model AND u.operation = q.operation
        AND u.currency = q.currency
    WHERE q.cost_nanos = 9223372036854775807
      AND q.quarter >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention)
    GROUP BY q.quarter, q.project_id, q.provider, q.model, q.operation, q.currency
) AS s
WHERE usage_quarter_hours.quarter = s.quarter AND usage_quarter_hours.project_id = s.project_id
  AND usage_quarter_hours.provider = s.provider AND usage_quarter_hours.model = s.model
  AND usage_quarter_hours.operation = s.operation AND usage_quarter_hours.currency = s.currency;

UPDATE usage_jobs SET
    cost_carry = s.units / 1000000000,
    cost_nanos = (s.units % 1000000000) * 1000000000 + s.rest
FROM (
    SELECT j.project_id, j.job_id, j.operation, j.provider, j.currency,
        SUM(COALESCE(u.cost_nanos, 0) / 1000000000) + SUM(COALESCE(u.cost_nanos, 0) % 1000000000) / 1000000000 AS units,
        SUM(COALESCE(u.cost_nanos, 0) % 1000000000) % 1000000000 AS rest
    FROM usage_jobs AS j
    JOIN jobs AS whole ON whole.project_id = j.project_id AND whole.job_id = j.job_id
    JOIN api_usage AS u ON u.project_id = j.project_id AND u.job_id = j.job_id
        AND u.operation = j.operation AND u.provider = j.provider AND u.currency = j.currency
    WHERE j.cost_nanos = 9223372036854775807
      AND whole.first_seen >= (SELECT coalesce(max(pruned_before), '') FROM usage_retention)
    GROUP BY j.project_id, j.job_id, j.operation, j.provider, j.currency
) AS s
WHERE usage_jobs.project_id = s.project_id AND usage_jobs.job_id = s.job_id
  AND usage_jobs.operation = s.operation AND usage_jobs.provider = s.provider
  AND usage_jobs.currency = s.currency;

-- Every other row's cost in the same two parts.
UPDATE usage_daily SET cost_carry = cost_carry + cost_nanos / 1000000000000000000, cost_nanos = cost_nanos % 1000000000000000000
WHERE cost_nanos >= 1000000000000000000 OR cost_nanos <= -1000000000000000000;
UPDATE usage_quarter_hours SET cost_carry = cost_carry + cost_nanos / 1000000000000000000, cost_nanos = cost_nanos % 1000000000000000000
WHERE cost_nanos >= 1000000000000000000 OR cost_nanos <= -1000000000000000000;
UPDATE usage_jobs SET cost_carry = cost_carry + cost_nanos / 1000000000000000000, cost_nanos = cost_nanos % 1000000000000000000
WHERE cost_nanos >= 1000000000000000000 OR cost_nanos <= -1000000000000000000;

-- The carry, kept by the tables themselves: the rollup and job triggers of 0015, 0017 and
-- 0009 are unchanged, and a row's `cost_nanos` is moved on within the update that took it
-- past 10^18 (the trigger's own update leaves less than 10^18, so it does not fire again).
CREATE TRIGGER usage_daily_cost_carry AFTER UPDATE OF cost_nanos ON usage_daily
WHEN NEW.cost_nanos >= 1000000000000000000 OR NEW.cost_nanos <= -1000000000000000000 BEGIN
    UPDATE usage_daily SET cost_carry = cost_carry + cost_nanos / 1000000000000000000, cost_nanos = cost_nanos % 1000000000000000000
    WHERE day = NEW.day AND project_id = NEW.project_id AND provider = NEW.provider
      AND model = NEW.model AND operation = NEW.operation AND currency = NEW.currency;
END;

CREATE TRIGGER usage_quarter_hours_cost_carry AFTER UPDATE OF cost_nanos ON usage_quarter_hours
WHEN NEW.cost_nanos >= 1000000000000000000 OR NEW.cost_nanos <= -1000000000000000000 BEGIN
    UPDATE usage_quarter_hours SET cost_carry = cost_carry + cost_nanos / 1000000000000000000, cost_nanos = cost_nanos % 1000000000000000000
    WHERE quarter = NEW.quarter AND project_id = NEW.project_id AND provider = NEW.provider
      AND model = NEW.model AND operation = NEW.operation AND currency = NEW.currency;
END;

CREATE TRIGGER usage_jobs_cost_carry AFTER UPDATE OF cost_nanos ON usage_jobs
WHEN NEW.cost_nanos >= 1000000000000000000 OR NEW.cost_nanos <= -1000000000000000000 BEGIN
    UPDATE usage_jobs SET cost_carry = cost_carry + cost_nanos / 1000000000000000000, cost_nanos = cost_nanos % 1000000000000000000
    WHERE project_id = NEW.project_id AND job_id = NEW.job_id AND operation = NEW.operation
      AND provider = NEW.provider AND currency = NEW.currency;
END;
