-- Artifacts and sharing: each run's file manifest is kept with its history row (rich results are in
-- 0003's column), so a share made later can snapshot them; shares hold their own snapshot, by token hash.
ALTER TABLE executions ADD COLUMN artifacts TEXT;
CREATE TABLE shares (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  user_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE UNIQUE INDEX shares_token ON shares (token_hash);
CREATE INDEX shares_user_created ON shares (user_id, created_at DESC);
