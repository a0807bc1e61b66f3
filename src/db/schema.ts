// D1 schema (drizzle-orm). The SQL in migrations/ creates exactly these tables.
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { InterpreterError } from "../executions/types.ts";
import type { StoredResult } from "../interpreter/stored-results.ts";

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
    /** What started the run: `api`, `schedule` (then `scheduleId` names it) or `mcp` (migration 0005). */
    trigger: text("trigger", { enum: ["api", "schedule", "mcp"] })
      .notNull()
      .default("api"),
    scheduleId: text("schedule_id"),
    /** A stateful run's results: inline, or the R2 key of a large payload (interpreter/stored-results.ts). */
    results: text("results", { mode: "json" }).$type<StoredResult[]>(),
    /** The exception a stateful run raised. */
    exception: text("exception", { mode: "json" }).$type<InterpreterError>(),
    /** JSON `{artifacts, truncated}`: the run's file manifest (artifacts/manifest.ts); null when not taken. */
    artifacts: text("artifacts"),
  },
  (t) => [
    index("executions_user_created").on(t.userId, sql`${t.createdAt} desc`, sql`${t.id} desc`),
    index("executions_created").on(t.createdAt),
    index("executions_user_trigger").on(t.userId, t.trigger, sql`${t.createdAt} desc`),
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

// ── Webhooks (src/webhooks/) ───────────────────────────────────────────────────────────────────

/** A user's endpoint. `secret` is the signing secret encrypted with WEBHOOK_SECRETS_KEY (webhooks/secrets.ts). */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    url: text("url").notNull(),
    /** JSON array of event types, `["*"]` for every one. */
    events: text("events").notNull(),
    description: text("description"),
    secret: text("secret").notNull(),
    createdAt: integer("created_at").notNull(),
    /** Set when the receiver answered 410 Gone: nothing more is sent to it. */
    disabledAt: integer("disabled_at"),
    disabledReason: text("disabled_reason"),
  },
  (t) => [index("webhooks_user").on(t.userId, t.createdAt)],
);

/** An event as signed and sent: `payload` is the exact body, its id the `webhook-id` of every attempt. */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    type: text("type").notNull(),
    payload: text("payload").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("webhook_events_created").on(t.createdAt)],
);

/** One event to one endpoint: `pending` until a 2xx (`succeeded`) or until retries run out (`failed`). */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    webhookId: text("webhook_id").notNull(),
    userId: text("user_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status", { enum: ["pending", "succeeded", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** When the next attempt is due (null once it ended); the cron re-enqueues one long overdue. */
    nextAttemptAt: integer("next_attempt_at"),
    /** The queue message allowed to make the next attempt; an older one finds it changed and stops. */
    lease: text("lease"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("webhook_deliveries_webhook").on(t.webhookId, sql`${t.createdAt} desc`, sql`${t.id} desc`),
    index("webhook_deliveries_due").on(t.status, t.nextAttemptAt),
  ],
);

/** Every attempt of a delivery: the receiver's status code or the network error, and how long it took. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [uniqueIndex("webhook_attempts_delivery").on(t.deliveryId, t.attempt)],
);

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
