-- Jobs counted per project and UTC day of their first event, so that the monthly stats'
-- job counts (this month and all time) read one row per project and day rather than one
-- `jobs` entry per job: their time follows the days in range, not the number of jobs.
--
-- Written only when `jobs` is: a job's first call (one row more for that call; a job's later
-- calls write nothing here), a first call that moves to another day (an earlier call arriving
-- late, or a replay moved in time: two), and a job that goes (one). Nothing is added to an
-- event that does not create or move a job.
CREATE TABLE job_days (
    project_id TEXT NOT NULL,
    day TEXT NOT NULL,
    jobs INTEGER NOT NULL,
    PRIMARY KEY (project_id, day)
) WITHOUT ROWID;

INSERT INTO job_days (project_id, day, jobs)
SELECT project_id, substr(first_seen, 1, 10), COUNT(*) FROM jobs GROUP BY 1, 2;

CREATE TRIGGER jobs_days_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_days (project_id, day, jobs) VALUES (NEW.project_id, substr(NEW.first_seen, 1, 10), 1)
    ON CONFLICT (project_id, day) DO UPDATE SET jobs = jobs + 1;
END;

CREATE TRIGGER jobs_days_moved AFTER UPDATE OF first_seen ON jobs
WHEN substr(NEW.first_seen, 1, 10) <> substr(OLD.first_seen, 1, 10) BEGIN
    UPDATE job_days SET jobs = jobs - 1 WHERE project_id = OLD.project_id AND day = substr(OLD.first_seen, 1, 10);
    INSERT INTO job_days (project_id, day, jobs) VALUES (NEW.project_id, substr(NEW.first_seen, 1, 10), 1)
    ON CONFLICT (project_id, day) DO UPDATE SET jobs = jobs + 1;
END;

CREATE TRIGGER jobs_days_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_days SET jobs = jobs - 1 WHERE project_id = OLD.project_id AND day = substr(OLD.first_seen, 1, 10);
END;
