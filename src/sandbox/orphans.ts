// Orphan reaping for the cron trigger: Phoenix sandboxes that no user's Durable Object tracks
// (a lost row, a crash between create and record) are killed instead of idling until E2B's TTL.
import { unwrap } from "../durable/outcome.ts";
import { userSpace } from "../durable/stub.ts";
import { killSandbox, listPhoenixSandboxes, type RunningSandbox } from "./e2b.ts";

/**
 * A sandbox younger than this is spared: its object may have created it and not yet recorded it.
 */
export const ORPHAN_GRACE_MS = 5 * 60_000;

export interface ReapOptions {
  /** Spare sandboxes younger than this (default ORPHAN_GRACE_MS). */
  graceMs?: number;
  /**
   * Only sandboxes whose metadata also matches (tests use it to keep their hands off sandboxes
   * that other suites' objects track in storage they cannot see).
   */
  scope?: Record<string, string>;
}

/**
 * Kills every Phoenix sandbox that its user's object does not track; returns how many. Age is
 * judged by the clock, not the cron's scheduled time: a sandbox is young or not in real time.
 */
export async function reapOrphans(
  env: Env,
  { graceMs = ORPHAN_GRACE_MS, scope = {} }: ReapOptions = {},
): Promise<number> {
  const now = Date.now();
  const byUser = new Map<string, RunningSandbox[]>();
  for (const sandbox of await listPhoenixSandboxes(env, scope)) {
    if (now - sandbox.startedAt < graceMs) continue;
    const userId = sandbox.metadata.userId ?? "";
    byUser.set(userId, [...(byUser.get(userId) ?? []), sandbox]);
  }
  let killed = 0;
  for (const [userId, sandboxes] of byUser) {
    // No userId: no object could track it.
    const tracked = new Set(userId ? unwrap(await userSpace(env, userId).trackedSandboxIds()) : []);
    for (const { sandboxId } of sandboxes) {
      if (tracked.has(sandboxId)) continue;
      try {
        if (await killSandbox(env, sandboxId)) killed++;
      } catch (err) {
        console.error(`reaping orphan ${sandboxId}`, err);
      }
    }
  }
  return killed;
}
