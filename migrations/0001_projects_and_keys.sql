-- Projects own usage, ingest keys and a budget. The budget columns keep the names the seed
-- teams already use; amounts are exact decimal text (never REAL), read by the worker.
CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  budget_threshold_usd TEXT DEFAULT NULL,
  budget_alert_threshold_percent INTEGER NOT NULL DEFAULT 80
    CHECK (budget_alert_threshold_percent BETWEEN 1 AND 1000),
  last_budget_alert_sent TEXT DEFAULT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Ingest keys: only the SHA-256 of a key is stored, with a short prefix to tell keys apart.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT DEFAULT NULL
);

CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at);
