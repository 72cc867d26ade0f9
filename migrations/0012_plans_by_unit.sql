-- A provider may have several plans for one scope, one per unit (Lahajati's points and its
-- voice minutes): the unit joins the key. SQLite cannot change a primary key in place, so the
-- table is rebuilt; every plan keeps its JSON (whose `unit` fills the new column).

CREATE TABLE subscriptions_by_unit (
    provider TEXT NOT NULL,
    project_id TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (provider, project_id, unit)
);

INSERT INTO subscriptions_by_unit (provider, project_id, unit, plan_json, updated_at)
SELECT provider, project_id, coalesce(json_extract(plan_json, '$.unit'), 'money'), plan_json, updated_at
FROM subscriptions;

DROP TABLE subscriptions;
ALTER TABLE subscriptions_by_unit RENAME TO subscriptions;
