-- An alert's id, the same on every record of one alert in its window: the first attempt makes
-- it, and a later run that retries a channel of the same alert (its claim given back after a
-- failure) reuses it, so a webhook receiver can drop a repeat (`x-ast-alert-id`). NULL on the
-- records written before it.
ALTER TABLE alert_log ADD COLUMN alert_id TEXT;
