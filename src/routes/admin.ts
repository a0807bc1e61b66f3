// Owner routes: users, API keys (issued once, stored hashed), and usage across all users.
import { and, eq, isNull, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { generateApiKey, hashApiKey, keyPrefix } from "../auth/keys.ts";
import { getDb, type Db } from "../db/index.ts";
import { apiKeys, auditLog, executions, shares, users } from "../db/schema.ts";
import { unwrap } from "../durable/outcome.ts";
import { userSpace } from "../durable/stub.ts";
import { ApiError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { AppEnv } from "../types.ts";
import { validate } from "../validation.ts";
import { webhookErasure } from "../webhooks/store.ts";
import { doc, empty, json } from "../openapi/registry.ts";
import {
  adminStatsSchema,
  createdUserSchema,
  deletedUserSchema,
  issuedKeySchema,
  keyListSchema,
  userListSchema,
} from "../openapi/schemas.ts";

const createUserSchema = z.object({
  name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
});

/** What happens to a deleted user's execution history: gone, or kept without anything that names them. */
const historyModeSchema = z.enum(["delete", "anonymise"], { error: "must be 'delete' or 'anonymise'" });
const deleteUserQuery = z.object({ history: historyModeSchema.optional() });

/** The id a deleted user's anonymised history is filed under. */
export const DELETED_USER_ID = "usr_deleted";

async function issueKey(userId: string) {
  const apiKey = generateApiKey(userId);
  const row = {
    id: newId("key"),
    userId,
    keyHash: await hashApiKey(apiKey),
    prefix: keyPrefix(apiKey),
    createdAt: Date.now(),
  };
  return { row, apiKey };
}

function audit(action: string, targetId: string, detail?: string) {
  return { action, targetId, detail: detail ?? null, createdAt: Date.now() };
}

/** p50/p95 of execution durations for each value of `group` (null: over all executions), in one scan. */
async function durationPercentiles(
  db: Db,
  group: "user_id" | "language" | null,
): Promise<Map<string, { p50: number; p95: number }>> {
  const key = group ?? "''";
  // ROW_NUMBER at ceil(n·p), with ceil done in integers: (n·95 + 99) / 100.
  const rows = await db.all<{ g: string; p50: number; p95: number }>(
    sql.raw(`
      WITH ranked AS (
        SELECT ${key} AS g, duration_ms AS d,
               ROW_NUMBER() OVER (PARTITION BY ${key} ORDER BY duration_ms) AS rn,
               COUNT(*) OVER (PARTITION BY ${key}) AS n
        FROM executions)
      SELECT g, MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN d END) AS p50,
                MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN d END) AS p95
      FROM ranked GROUP BY g`),
  );
  return new Map(rows.map((r) => [r.g, { p50: r.p50, p95: r.p95 }]));
}

export const adminRoutes = new Hono<AppEnv>()
  .post(
    "/users",
    doc({
      operationId: "createUser",
      summary: "Create a user and their first API key (shown once)",
      tags: ["admin"],
      auth: "owner",
      responses: { 201: json(createdUserSchema, "Created.") },
      errors: ["payload_too_large"],
    }),
    validate("json", createUserSchema),
    async (c) => {
      const db = getDb(c.env);
      const user = { id: newId("usr"), name: c.req.valid("json").name, createdAt: Date.now() };
      const { row, apiKey } = await issueKey(user.id);
      await db.batch([
        db.insert(users).values(user),
        db.insert(apiKeys).values(row),
        db.insert(auditLog).values(audit("user.create", user.id, user.name)),
      ]);
      return c.json(
        { id: user.id, name: user.name, apiKey, keyId: row.id, createdAt: new Date(user.createdAt).toISOString() },
        201,
      );
    },
  )
  .get(
    "/users",
    doc({
      operationId: "listUsers",
      summary: "List users",
      tags: ["admin"],
      auth: "owner",
      responses: { 200: json(userListSchema) },
      errors: [],
    }),
    async (c) => {
      const db = getDb(c.env);
      const rows = await db
        .select({
          id: users.id,
          name: users.name,
          createdAt: users.createdAt,
          activeKeys: sql<number>`(SELECT COUNT(*) FROM api_keys k WHERE k.user_id = users.id AND k.revoked_at IS NULL)`,
        })
        .from(users)
        .orderBy(users.createdAt);
      return c.json({ items: rows.map((u) => ({ ...u, createdAt: new Date(u.createdAt).toISOString() })) });
    },
  )
  .post(
    "/users/:id/keys",
    doc({
      operationId: "issueKey",
      summary: "Issue another API key for a user (shown once)",
      tags: ["admin"],
      auth: "owner",
      params: { id: "The user's id (`usr_…`)." },
      responses: { 201: json(issuedKeySchema, "Issued.") },
      errors: ["not_found"],
    }),
    async (c) => {
      const db = getDb(c.env);
      const userId = c.req.param("id");
      const user = await db.select().from(users).where(eq(users.id, userId)).get();
      if (!user) throw new ApiError("not_found", `No user ${userId}.`);
      const { row, apiKey } = await issueKey(userId);
      await db.batch([db.insert(apiKeys).values(row), db.insert(auditLog).values(audit("key.issue", row.id, userId))]);
      return c.json(
        { id: row.id, userId, apiKey, prefix: row.prefix, createdAt: new Date(row.createdAt).toISOString() },
        201,
      );
    },
  )
  .get(
    "/users/:id/keys",
    doc({
      operationId: "listKeys",
      summary: "List a user's API keys (prefixes only)",
      tags: ["admin"],
      auth: "owner",
      params: { id: "The user's id (`usr_…`)." },
      responses: { 200: json(keyListSchema) },
      errors: ["not_found"],
    }),
    async (c) => {
      const db = getDb(c.env);
      const userId = c.req.param("id");
      if (!(await db.select({ id: users.id }).from(users).where(eq(users.id, userId)).get())) {
        throw new ApiError("not_found", `No user ${userId}.`);
      }
      const rows = await db
        .select({ id: apiKeys.id, prefix: apiKeys.prefix, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
        .from(apiKeys)
        .where(eq(apiKeys.userId, userId))
        .orderBy(apiKeys.createdAt);
      return c.json({
        items: rows.map((k) => ({
          ...k,
          createdAt: new Date(k.createdAt).toISOString(),
          revokedAt: k.revokedAt ? new Date(k.revokedAt).toISOString() : null,
        })),
      });
    },
  )
  // Deletes a user and everything they had. Keys are revoked first (refused at once), then their
  // Durable Object cancels runs, kills sandboxes and deletes the volume, then D1 forgets them. A step
  // that fails leaves the user row in place, so calling again finishes the job; once gone, calling
  // again answers the same way with `alreadyDeleted` (the audit log remembers the deletion).
  .delete(
    "/users/:id",
    doc({
      operationId: "deleteUser",
      summary: "Delete a user and everything they had",
      description:
        "Keys revoked, runs cancelled, sandboxes killed, volume and history deleted (or history anonymised). Calling again finishes an interrupted deletion, or answers `alreadyDeleted`.",
      tags: ["admin"],
      auth: "owner",
      params: { id: "The user's id (`usr_…`)." },
      responses: { 200: json(deletedUserSchema) },
      errors: ["not_found", "storage_unavailable", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("query", deleteUserQuery),
    async (c) => {
      const db = getDb(c.env);
      const userId = c.req.param("id");
      const requested = c.req.valid("query").history;
      const configured = historyModeSchema.safeParse(c.env.DELETED_USER_HISTORY || "delete");
      const history = requested ?? (configured.success ? configured.data : "delete");
      const user = await db.select().from(users).where(eq(users.id, userId)).get();
      if (!user) {
        const earlier = await db
          .select({ createdAt: auditLog.createdAt })
          .from(auditLog)
          .where(and(eq(auditLog.action, "user.delete"), eq(auditLog.targetId, userId)))
          .get();
        if (!earlier) throw new ApiError("not_found", `No user ${userId}.`);
        return c.json({ id: userId, alreadyDeleted: true, deletedAt: new Date(earlier.createdAt).toISOString() });
      }
      const space = userSpace(c.env, userId);
      // The object refuses the keys first (it checks them: middleware/auth.ts), then D1 records it.
      const active = await db
        .select({ keyId: apiKeys.id, keyHash: apiKeys.keyHash })
        .from(apiKeys)
        .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
        .all();
      unwrap(await space.revokeKeys(active));
      const revoked = await db
        .update(apiKeys)
        .set({ revokedAt: Date.now() })
        .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id });
      // Anonymised history keeps the runs still waiting in the object's outbox too.
      if (history === "anonymise") unwrap(await space.flushHistory());
      const erased = unwrap(await space.erase());
      const keys = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.userId, userId)).all();
      const runs = await db
        .select({ n: sql<number>`COUNT(*)` })
        .from(executions)
        .where(eq(executions.userId, userId))
        .get();
      const removed = {
        keys: keys.length,
        activeKeysRevoked: revoked.length,
        sandboxes: erased.sandboxes,
        cancelledExecutions: erased.cancelledExecutions,
        volumeFiles: erased.volumeFiles,
        volumeBytes: erased.volumeBytes,
        executions: runs?.n ?? 0,
      };
      const deletedAt = Date.now();
      await db.batch([
        history === "anonymise"
          ? db
              .update(executions)
              .set({
                userId: DELETED_USER_ID,
                conversationId: "deleted",
                code: "",
                stdout: "",
                stderr: "",
                error: null,
                sandboxId: null,
                scheduleId: null,
                results: null,
                exception: null,
                artifacts: null,
              })
              .where(eq(executions.userId, userId))
          : db.delete(executions).where(eq(executions.userId, userId)),
        db.delete(apiKeys).where(eq(apiKeys.userId, userId)),
        ...webhookErasure(db, userId),
        // Their share links stop opening (the snapshots hold their code and output).
        db.delete(shares).where(eq(shares.userId, userId)),
        db.delete(users).where(eq(users.id, userId)),
        db
          .insert(auditLog)
          .values({ ...audit("user.delete", userId, JSON.stringify({ history, ...removed })), createdAt: deletedAt }),
      ]);
      return c.json({ id: userId, name: user.name, history, removed, deletedAt: new Date(deletedAt).toISOString() });
    },
  )
  .delete(
    "/keys/:keyId",
    doc({
      operationId: "revokeKey",
      summary: "Revoke an API key",
      tags: ["admin"],
      auth: "owner",
      params: { keyId: "The key's id (`key_…`)." },
      responses: { 204: empty("Revoked.") },
      errors: ["not_found"],
    }),
    async (c) => {
      const db = getDb(c.env);
      const keyId = c.req.param("keyId");
      const key = await db
        .select({ userId: apiKeys.userId, keyHash: apiKeys.keyHash })
        .from(apiKeys)
        .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
        .get();
      if (!key) throw new ApiError("not_found", `No active key ${keyId}.`);
      // The user's object checks their keys (middleware/auth.ts): it refuses this one before D1 says so.
      unwrap(await userSpace(c.env, key.userId).revokeKeys([{ keyHash: key.keyHash, keyId }]));
      const [revoked] = await db
        .update(apiKeys)
        .set({ revokedAt: Date.now() })
        .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id });
      if (!revoked) throw new ApiError("not_found", `No active key ${keyId}.`);
      await db.insert(auditLog).values(audit("key.revoke", keyId));
      return c.body(null, 204);
    },
  )
  .get(
    "/stats",
    doc({
      operationId: "getAdminStats",
      summary: "Usage across users: totals, per user, per language",
      tags: ["admin"],
      auth: "owner",
      responses: { 200: json(adminStatsSchema) },
      errors: [],
    }),
    async (c) => {
      const db = getDb(c.env);
      const failedExpr = sql<number>`SUM(CASE WHEN ${executions.status} != 'succeeded' THEN 1 ELSE 0 END)`;
      const errorExpr = sql<number>`SUM(CASE WHEN ${executions.status} = 'error' THEN 1 ELSE 0 END)`;
      const [totals, perUser, perLanguage, overall, byUser, byLanguage] = await Promise.all([
        db
          .select({
            total: sql<number>`COUNT(*)`,
            failed: failedExpr,
            errors: errorExpr,
            avg: sql<number>`AVG(${executions.durationMs})`,
          })
          .from(executions)
          .get(),
        db
          .select({
            userId: executions.userId,
            name: users.name,
            total: sql<number>`COUNT(*)`,
            failed: failedExpr,
            avg: sql<number>`AVG(${executions.durationMs})`,
          })
          .from(executions)
          .leftJoin(users, eq(users.id, executions.userId))
          .groupBy(executions.userId)
          .orderBy(sql`COUNT(*) DESC`),
        db
          .select({
            language: executions.language,
            total: sql<number>`COUNT(*)`,
            failed: failedExpr,
            avg: sql<number>`AVG(${executions.durationMs})`,
          })
          .from(executions)
          .groupBy(executions.language),
        durationPercentiles(db, null),
        durationPercentiles(db, "user_id"),
        durationPercentiles(db, "language"),
      ]);
      const total = totals?.total ?? 0;
      const rate = (n: number | null, of: number) => (of ? Math.round(((n ?? 0) / of) * 1000) / 10 : 0);
      const p = (m: Map<string, { p50: number; p95: number }>, key: string) => ({
        p50DurationMs: m.get(key)?.p50 ?? 0,
        p95DurationMs: m.get(key)?.p95 ?? 0,
      });
      return c.json({
        totals: {
          executions: total,
          failed: totals?.failed ?? 0,
          errors: totals?.errors ?? 0,
          errorRate: rate(totals?.failed ?? 0, total),
          averageDurationMs: Math.round(totals?.avg ?? 0),
          ...p(overall, ""),
        },
        perUser: perUser.map((u) => ({
          userId: u.userId,
          name: u.name,
          executions: u.total,
          errorRate: rate(u.failed, u.total),
          averageDurationMs: Math.round(u.avg ?? 0),
          ...p(byUser, u.userId),
        })),
        perLanguage: Object.fromEntries(
          perLanguage.map((l) => [
            l.language,
            {
              executions: l.total,
              errorRate: rate(l.failed, l.total),
              averageDurationMs: Math.round(l.avg ?? 0),
              ...p(byLanguage, l.language),
            },
          ]),
        ),
      });
    },
  );
