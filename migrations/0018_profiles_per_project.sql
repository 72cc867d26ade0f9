-- Workload profiles are scoped per project (issue 23): two projects may each have a profile
-- named `clip`, and saving one never replaces the other. `project_id` is '' for a global
-- profile, as for plans. The project is read back out of each stored profile's JSON.

CREATE TABLE workload_profiles_by_project (
    name TEXT NOT NULL,
    project_id TEXT NOT NULL DEFAULT '',
    profile_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (name, project_id)
);

INSERT INTO workload_profiles_by_project (name, project_id, profile_json, updated_at)
SELECT name, COALESCE(json_extract(profile_json, '$.project_id'), ''), profile_json, updated_at
FROM workload_profiles;

DROP TABLE workload_profiles;

ALTER TABLE workload_profiles_by_project RENAME TO workload_profiles;
