-- Subscriptions (flat monthly plans with allotments) and workload profiles (issue 7).
-- Each is stored as its validated JSON, keyed for lookups; `project_id` is '' for a plan that
-- covers every project.

CREATE TABLE subscriptions (
    provider TEXT NOT NULL,
    project_id TEXT NOT NULL DEFAULT '',
    plan_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (provider, project_id)
);

CREATE TABLE workload_profiles (
    name TEXT PRIMARY KEY,
    profile_json TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX usage_jobs_by_operation ON usage_jobs (operation, project_id, job_id);
