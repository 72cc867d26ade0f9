-- Chat channels: per project, a Slack and a Discord incoming webhook that alerts also go to,
-- each in that service's own message format. NULL: not set.
ALTER TABLE projects ADD COLUMN slack_webhook_url TEXT;
ALTER TABLE projects ADD COLUMN discord_webhook_url TEXT;
