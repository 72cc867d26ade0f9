-- The client a project is for (an agency's customer): shown with the project in reports, so
-- spend can be summed per client. NULL: none.
ALTER TABLE projects ADD COLUMN client TEXT;
