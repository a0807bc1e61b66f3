// D1 schema (drizzle-orm). The SQL in migrations/ creates exactly these tables.
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    /** SHA-256 of the key, hex. The key itself is never stored. */
    keyHash: text("key_hash").notNull(),
    /** The first characters of the key, so an owner can tell keys apart. */
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.keyHash), index("api_keys_user").on(t.userId)],
);

export const executions = sqliteTable(
  "executions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    conversationId: text("conversation_id").notNull(),
    language: text("language", { enum: ["python", "node", "shell"] }).notNull(),
    /** `run` (code a client sent) or `install` (a package install, `code` being its shell command). */
    kind: text("kind", { enum: ["run", "install"] })
      .notNull()
      .default("run"),
    code: text("code").notNull(),
    status: text("status", { enum: ["succeeded", "failed", "timed_out", "cancelled", "error"] }).notNull(),
    exitCode: integer("exit_code"),
    stdout: text("stdout").notNull().default(""),
    stderr: text("stderr").notNull().default(""),
    truncated: integer("truncated", { mode: "boolean" }).notNull().default(false),
    durationMs: integer("duration_ms").notNull(),
    sandboxId: text("sandbox_id"),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    /** JSON `{artifacts, truncated}`: the run's file manifest (artifacts/manifest.ts); null when not taken. */
    artifacts: text("artifacts"),
    /** JSON: a stateful run's rich results (bounded), kept so a share made later still shows its charts. */
    results: text("results"),
  },
  (t) => [
    index("executions_user_created").on(t.userId, sql`${t.createdAt} desc`, sql`${t.id} desc`),
    index("executions_created").on(t.createdAt),
  ],
);

export const auditLog = sqliteTable("audit_log", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  action: text("action").notNull(),
  targetId: text("target_id").notNull(),
  detail: text("detail"),
  createdAt: integer("created_at").notNull(),
});

export type ExecutionRow = typeof executions.$inferSelect;

/** Public links to one execution (routes/shares.ts): a snapshot taken when made, found by its token's hash. */
export const shares = sqliteTable(
  "shares",
  {
    id: text("id").primaryKey(),
    /** SHA-256 of the token, hex. The token itself is never stored. */
    tokenHash: text("token_hash").notNull(),
    userId: text("user_id").notNull(),
    executionId: text("execution_id").notNull(),
    /** JSON of what the public page shows (shares/snapshot.ts): nothing private is in it. */
    snapshot: text("snapshot").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [
    uniqueIndex("shares_token").on(t.tokenHash),
    index("shares_user_created").on(t.userId, sql`${t.createdAt} desc`),
  ],
);

export type ShareRow = typeof shares.$inferSelect;
