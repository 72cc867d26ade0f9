-- Spike alerts: a day whose spend runs far above the average of the 7 before it. JSON
-- {"percent": 300, "min_spend": "5"} (the amount in the budget's currency); NULL: none.
ALTER TABLE projects ADD COLUMN spike_alert TEXT;
