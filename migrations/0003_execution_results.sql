-- A stateful run's results and exception in history (JSON). Large result payloads live in R2
-- (`results/<userId>/<executionId>/<index>`); a row keeps their key, not their bytes.
ALTER TABLE executions ADD COLUMN results TEXT;
ALTER TABLE executions ADD COLUMN exception TEXT;
