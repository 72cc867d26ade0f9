-- Budgets and alerts (issue 6).
--
-- A project's budget amount stays in `budget_threshold_usd` (its historic name) with its
-- currency in `budget_currency`; the other settings are new columns. `alert_claims` holds,
-- per project and alert level, the last claim to send: a run claims a level with one
-- conditional upsert, so two overlapping runs never both send. `alert_log` keeps every
-- attempt, with what was rendered.

ALTER TABLE projects ADD COLUMN budget_currency TEXT NOT NULL DEFAULT 'USD';
-- JSON array of percents; NULL means [budget_alert_threshold_percent].
ALTER TABLE projects ADD COLUMN alert_levels TEXT;
-- Decimal amount in budget_currency.
ALTER TABLE projects ADD COLUMN daily_limit TEXT;
-- IANA zone of the budget period (calendar month); NULL means UTC.
ALTER TABLE projects ADD COLUMN budget_timezone TEXT;
-- JSON array of addresses.
ALTER TABLE projects ADD COLUMN alert_emails TEXT;
ALTER TABLE projects ADD COLUMN webhook_url TEXT;
ALTER TABLE projects ADD COLUMN webhook_secret TEXT;

CREATE TABLE alert_claims (
    project_id TEXT NOT NULL,
    level TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (project_id, level)
);

CREATE TABLE alert_log (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    level TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    subject TEXT,
    text_body TEXT,
    html_body TEXT,
    payload TEXT,
    spend TEXT,
    budget TEXT,
    currency TEXT,
    percent_used TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX alert_log_by_time ON alert_log (created_at);
CREATE INDEX alert_log_by_project ON alert_log (project_id, created_at);
