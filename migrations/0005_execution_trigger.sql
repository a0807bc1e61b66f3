-- What started each execution: 'api' (a client's request), 'schedule' (a schedule of the user's,
-- named by schedule_id) or 'mcp'. Older rows were all started by the API.
ALTER TABLE executions ADD COLUMN "trigger" TEXT NOT NULL DEFAULT 'api';
ALTER TABLE executions ADD COLUMN schedule_id TEXT;
-- History filtered by trigger or schedule, newest first (the page's schedules panel, ?trigger=schedule).
CREATE INDEX executions_user_trigger ON executions (user_id, "trigger", created_at DESC);
