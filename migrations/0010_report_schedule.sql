-- Scheduled email reports: a project's spend over each closed week or month, sent to its
-- alert emails by the cron. NULL (the default) sends none; otherwise 'weekly' or 'monthly'.
ALTER TABLE projects ADD COLUMN report_schedule TEXT;
