// Owner routes: users, API keys (issued once, stored hashed), and usage across all users.
import { and, eq, isNull, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { generateApiKey, hashApiKey, keyPrefix } from "../auth/keys.ts";
import { getDb, type Db } from "../db/index.ts";
import { apiKeys, auditLog, executions, users } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { AppEnv } from "../types.ts";
import { validate } from "../validation.ts";

const createUserSchema = z.object({
  name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
});

async function issueKey(db: Db, userId: string) {
  const apiKey = generateApiKey();
  const row = { id: newId("key"), userId, keyHash: await hashApiKey(apiKey), prefix: keyPrefix(apiKey), createdAt: Date.now() };
  return { row, apiKey };
}

function audit(action: string, targetId: string, detail?: string) {
  return { action, targetId, detail: detail ?? null, createdAt: Date.now() };
}

async function percentile(db: Db, where: ReturnType<typeof sql> | undefined, count: number, p: number): Promise<number> {
  if (count === 0) return 0;
  const offset = Math.min(count - 1, Math.ceil(count * p) - 1);
  const row = await db
    .select({ d: executions.durationMs })
    .from(executions)
    .where(where)
    .orderBy(executions.durationMs)
    .limit(1)
    .offset(Math.max(0, offset))
    .get();
  return row?.d ?? 0;
}

export const adminRoutes = new Hono<AppEnv>()
  .post("/users", validate("json", createUserSchema), async (c) => {
    const db = getDb(c.env);
    const user = { id: newId("usr"), name: c.req.valid("json").name, createdAt: Date.now() };
    const { row, apiKey } = await issueKey(db, user.id);
    await db.batch([
      db.insert(users).values(user),
      db.insert(apiKeys).values(row),
      db.insert(auditLog).values(audit("user.create", user.id, user.name)),
    ]);
    return c.json({ id: user.id, name: user.name, apiKey, keyId: row.id, createdAt: new Date(user.createdAt).toISOString() }, 201);
  })
  .get("/users", async (c) => {
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
  })
  .post("/users/:id/keys", async (c) => {
    const db = getDb(c.env);
    const userId = c.req.param("id");
    const user = await db.select().from(users).where(eq(users.id, userId)).get();
    if (!user) throw new ApiError("not_found", `No user ${userId}.`);
    const { row, apiKey } = await issueKey(db, userId);
    await db.batch([db.insert(apiKeys).values(row), db.insert(auditLog).values(audit("key.issue", row.id, userId))]);
    return c.json({ id: row.id, userId, apiKey, prefix: row.prefix, createdAt: new Date(row.createdAt).toISOString() }, 201);
  })
  .get("/users/:id/keys", async (c) => {
    const rows = await getDb(c.env)
      .select({ id: apiKeys.id, prefix: apiKeys.prefix, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
      .from(apiKeys)
      .where(eq(apiKeys.userId, c.req.param("id")))
      .orderBy(apiKeys.createdAt);
    return c.json({
      items: rows.map((k) => ({
        ...k,
        createdAt: new Date(k.createdAt).toISOString(),
        revokedAt: k.revokedAt ? new Date(k.revokedAt).toISOString() : null,
      })),
    });
  })
  .delete("/keys/:keyId", async (c) => {
    const db = getDb(c.env);
    const keyId = c.req.param("keyId");
    const [revoked] = await db
      .update(apiKeys)
      .set({ revokedAt: Date.now() })
      .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    if (!revoked) throw new ApiError("not_found", `No active key ${keyId}.`);
    await db.insert(auditLog).values(audit("key.revoke", keyId));
    return c.body(null, 204);
  })
  .get("/stats", async (c) => {
    const db = getDb(c.env);
    const failedExpr = sql<number>`SUM(CASE WHEN ${executions.status} != 'succeeded' THEN 1 ELSE 0 END)`;
    const errorExpr = sql<number>`SUM(CASE WHEN ${executions.status} = 'error' THEN 1 ELSE 0 END)`;
    const [totals, perUser, perLanguage] = await Promise.all([
      db
        .select({ total: sql<number>`COUNT(*)`, failed: failedExpr, errors: errorExpr, avg: sql<number>`AVG(${executions.durationMs})` })
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
        .select({ language: executions.language, total: sql<number>`COUNT(*)`, failed: failedExpr, avg: sql<number>`AVG(${executions.durationMs})` })
        .from(executions)
        .groupBy(executions.language),
    ]);
    const total = totals?.total ?? 0;
    const rate = (n: number | null, of: number) => (of ? Math.round(((n ?? 0) / of) * 1000) / 10 : 0);
    const [p50, p95] = await Promise.all([percentile(db, undefined, total, 0.5), percentile(db, undefined, total, 0.95)]);
    return c.json({
      totals: {
        executions: total,
        failed: totals?.failed ?? 0,
        errors: totals?.errors ?? 0,
        errorRate: rate(totals?.failed ?? 0, total),
        averageDurationMs: Math.round(totals?.avg ?? 0),
        p50DurationMs: p50,
        p95DurationMs: p95,
      },
      perUser: perUser.map((u) => ({ userId: u.userId, name: u.name, executions: u.total, errorRate: rate(u.failed, u.total), averageDurationMs: Math.round(u.avg ?? 0) })),
      perLanguage: Object.fromEntries(
        perLanguage.map((l) => [l.language, { executions: l.total, errorRate: rate(l.failed, l.total), averageDurationMs: Math.round(l.avg ?? 0) }]),
      ),
    });
  });
