// The cron trigger's jobs: history retention (and, as they land, volume retention and orphan reaping).
import { lt } from "drizzle-orm";
import { limits } from "./config.ts";
import { getDb } from "./db/index.ts";
import { executions } from "./db/schema.ts";

const DAY_MS = 86_400_000;

/** Deletes execution history older than HISTORY_RETENTION_DAYS (0 keeps it forever). */
export async function pruneHistory(env: Env, now: number): Promise<number> {
  const days = limits(env).historyRetentionDays;
  if (days === 0) return 0;
  const deleted = await getDb(env)
    .delete(executions)
    .where(lt(executions.createdAt, now - days * DAY_MS))
    .returning({ id: executions.id });
  return deleted.length;
}

export async function runScheduled(env: Env, now: number): Promise<void> {
  const results = await Promise.allSettled([pruneHistory(env, now)]);
  for (const r of results) if (r.status === "rejected") console.error("cron job failed", r.reason);
}
