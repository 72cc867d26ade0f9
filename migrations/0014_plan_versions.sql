-- Every version of every plan, so the month picker (`GET /api/admin/subscriptions?at=`) shows
-- the plans as they were then: a plan added later is not there, a changed fee or allotment is
-- the old one, and a deleted plan still shows in the months it was in force. A save writes a
-- row with the plan's JSON; a delete writes a row with NULL. The version in force at an
-- instant is the newest row at or before it. Plans saved before versions were kept count as
-- in force since always (effective_at '' sorts before every timestamp).

CREATE TABLE plan_versions (
    provider TEXT NOT NULL,
    project_id TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    plan_json TEXT,
    PRIMARY KEY (provider, project_id, unit, effective_at)
) WITHOUT ROWID;

INSERT INTO plan_versions (provider, project_id, unit, effective_at, plan_json)
SELECT provider, project_id, unit, '', plan_json FROM subscriptions;
