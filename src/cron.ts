// The cron triggers' jobs: history retention, volume retention and reconciliation (daily), orphan reaping.
import { lt } from "drizzle-orm";
import { limits } from "./config.ts";
import { getDb } from "./db/index.ts";
import { executions, users } from "./db/schema.ts";
import { unwrap } from "./durable/outcome.ts";
import { userSpace } from "./durable/stub.ts";
import { deleteResultsBefore } from "./interpreter/stored-results.ts";
import { type ReapOptions, reapOrphans } from "./sandbox/orphans.ts";
import { STAGING_PREFIX } from "./volume/archive.ts";
import { sweepDeliveries } from "./webhooks/delivery.ts";

const DAY_MS = 86_400_000;

/** Deletes execution history older than HISTORY_RETENTION_DAYS (0 keeps it forever), with its results in R2. */
export async function pruneHistory(env: Env, now: number): Promise<number> {
  const days = limits(env).historyRetentionDays;
  if (days === 0) return 0;
  const cutoff = now - days * DAY_MS;
  // Their large results first: a row never points at a payload already gone, and none is orphaned.
  await deleteResultsBefore(env, cutoff);
  const deleted = await getDb(env)
    .delete(executions)
    .where(lt(executions.createdAt, cutoff))
    .returning({ id: executions.id });
  return deleted.length;
}

/** Users' Durable Objects woken at once by the volume pass; the rest wait their turn. */
const VOLUME_PASS_CONCURRENCY = 4;
/** An import that has been staging this long is dead (its Worker went away); its files are removed. */
const STAGING_MAX_AGE_MS = DAY_MS;

/**
 * Volume retention and bookkeeping: in every user's Durable Object, deletes files not modified for
 * VOLUME_RETENTION_DAYS (0 keeps them forever) and reconciles usage with the R2 listing; then removes
 * staging left by imports that never finished.
 */
export async function pruneVolumes(env: Env, now: number): Promise<{ deleted: number; users: number }> {
  const days = limits(env).volumeRetentionDays;
  const cutoff = days === 0 ? null : now - days * DAY_MS;
  const ids = (await getDb(env).select({ id: users.id }).from(users)).map((u) => u.id);
  let deleted = 0;
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const userId = ids[next++]!;
      try {
        deleted += unwrap(await userSpace(env, userId).maintainVolume(cutoff)).deleted;
      } catch (err) {
        console.error(`volume pass for ${userId} failed`, err);
      }
    }
  };
  await Promise.all(Array.from({ length: VOLUME_PASS_CONCURRENCY }, worker));

  let cursor: string | undefined;
  do {
    const page = await env.VOLUMES.list({ prefix: STAGING_PREFIX, cursor });
    const dead = page.objects.filter((o) => o.uploaded.getTime() < now - STAGING_MAX_AGE_MS).map((o) => o.key);
    if (dead.length) await env.VOLUMES.delete(dead);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { deleted, users: ids.length };
}

/**
 * The daily trigger in wrangler.toml; the other one (every 15 minutes) reaps orphans and re-enqueues
 * webhook deliveries whose queue message was lost.
 */
export const DAILY_CRON = "30 3 * * *";

/**
 * Runs the jobs of one cron trigger. Retention wakes every user's Durable Object, so it runs daily;
 * orphan sandboxes cost money while they live, so they are looked for every 15 minutes. `reap`
 * narrows the orphan reaping (tests share one sandbox server with other suites' objects).
 */
export async function runScheduled(env: Env, cron: string, now: number, reap: ReapOptions = {}): Promise<void> {
  const jobs =
    cron === DAILY_CRON
      ? [pruneHistory(env, now), pruneVolumes(env, now)]
      : [reapOrphans(env, reap), sweepDeliveries(env, now)];
  const results = await Promise.allSettled(jobs);
  for (const r of results) if (r.status === "rejected") console.error("cron job failed", r.reason);
}
