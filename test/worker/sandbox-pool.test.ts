// The sandbox lifecycle on its own (durable/sandboxes.ts): a SandboxPool over a real Durable Object's
// storage, driving the real e2b SDK against e2b-local — no route, no runner in between.
import { env, runInDurableObject } from "cloudflare:test";
import { Sandbox } from "e2b";
import { describe, expect, it } from "vitest";
import { CREATE, LOOK, SandboxPool } from "../../src/durable/sandboxes.ts";
import { userSpace } from "../../src/durable/stub.ts";

const e2b = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL };

async function running(userId: string, conversationId: string): Promise<string[]> {
  const items = await Sandbox.list({
    ...e2b,
    query: { metadata: { app: "phoenix", userId, conversationId } },
  }).nextItems();
  return items.map((s) => s.sandboxId);
}

/**
 * Runs `fn` with a pool on the storage of a fresh user's object (its own pool stays idle: nothing
 * is sent to it). `restart()` gives a second pool on the same storage, as after the object restarted.
 */
async function withPool<T>(
  fn: (
    pool: SandboxPool,
    tools: { userId: string; changes: () => number; restart: () => SandboxPool; sql: SqlStorage },
  ) => Promise<T>,
): Promise<T> {
  const userId = `usr_pool_${crypto.randomUUID().slice(0, 8)}`;
  return runInDurableObject(userSpace(env, userId), async (_instance, state) => {
    let changes = 0;
    const make = () =>
      new SandboxPool(state.storage.sql, env, userId, {
        changed: async () => void changes++,
        waitUntil: (p) => state.waitUntil(p),
      });
    return fn(make(), { userId, changes: () => changes, restart: make, sql: state.storage.sql });
  });
}

function errorCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

describe("SandboxPool", () => {
  it("creates one sandbox for concurrent first opens, then reuses it, also after a restart", async () => {
    await withPool(async (pool, { userId, changes, restart }) => {
      const opened = await Promise.all(Array.from({ length: 5 }, () => pool.open("race", CREATE)));
      const ids = new Set(opened.map((s) => s.sandboxId));
      expect(ids.size).toBe(1);
      expect(await running(userId, "race")).toEqual([...ids]);
      expect(changes()).toBe(1);

      // Warm: the same handle, no round trip to E2B.
      expect(await pool.open("race", CREATE)).toBe(opened[0]);
      // A new pool on the same storage reconnects to the recorded sandbox instead of creating one.
      const again = await restart().open("race", CREATE);
      expect(again.sandboxId).toBe(opened[0]!.sandboxId);
      expect(await running(userId, "race")).toHaveLength(1);
      expect(pool.list().map((s) => s.conversationId)).toEqual(["race"]);
      expect(pool.trackedIds()).toEqual([opened[0]!.sandboxId]);
    });
  });

  it("recreates a sandbox E2B killed: a cached handle is checked before use, a recorded one on connect", async () => {
    await withPool(async (pool, { userId, restart }) => {
      const first = await pool.open("phoenix", CREATE);
      expect(await Sandbox.kill(first.sandboxId, e2b)).toBe(true);

      const ran = await pool.use("phoenix", CREATE, async (sandbox) => {
        const result = await sandbox.commands.run("echo alive");
        return { id: sandbox.sandboxId, out: result.stdout };
      });
      expect(ran.out).toBe("alive\n");
      expect(ran.id).not.toBe(first.sandboxId);
      expect(await running(userId, "phoenix")).toEqual([ran.id]);

      // As after a restart: no cached handle, only the recorded id of a sandbox killed meanwhile.
      expect(await Sandbox.kill(ran.id, e2b)).toBe(true);
      const fresh = await restart().open("phoenix", CREATE);
      expect([first.sandboxId, ran.id]).not.toContain(fresh.sandboxId);
      expect(pool.trackedIds()).toEqual([fresh.sandboxId]);
    });
  });

  it("a look-only open starts nothing: 404 for a new conversation and for one whose sandbox is gone", async () => {
    await withPool(async (pool, { userId, restart, changes }) => {
      const nothing = await pool.open("nothing", LOOK).catch((e: unknown) => e);
      expect(errorCode(nothing)).toBe("not_found");
      const looked = await pool.use("nothing", LOOK, async () => "ran").catch((e: unknown) => e);
      expect(errorCode(looked)).toBe("not_found");
      expect(await running(userId, "nothing")).toEqual([]);
      expect(pool.count()).toBe(0);
      expect(changes()).toBe(0);

      const made = await pool.open("gone", CREATE);
      expect(await Sandbox.kill(made.sandboxId, e2b)).toBe(true);
      const after = await restart()
        .open("gone", LOOK)
        .catch((e: unknown) => e);
      expect(errorCode(after)).toBe("not_found");
      // The dead record is dropped, and nothing was started in its place.
      expect(pool.count()).toBe(0);
      expect(await running(userId, "gone")).toEqual([]);
    });
  });

  it("a create waiting on a look-only open of the same conversation still gets a sandbox", async () => {
    await withPool(async (pool, { userId }) => {
      const [look, create] = await Promise.allSettled([pool.open("r", LOOK), pool.open("r", CREATE)]);
      expect(look.status).toBe("rejected");
      expect(create.status).toBe("fulfilled");
      expect(await running(userId, "r")).toHaveLength(1);
    });
  });

  it("reaps sandboxes idle past SANDBOX_IDLE_TIMEOUT_MS, sparing recent ones and ones in use", async () => {
    await withPool(async (pool, { userId, sql }) => {
      const idle = await pool.open("idle", CREATE);
      const busy = await pool.open("busy", CREATE);
      const recent = await pool.open("recent", CREATE);
      const idleMs = Number(env.SANDBOX_IDLE_TIMEOUT_MS);
      const longAgo = Date.now() - idleMs - 1000;
      sql.exec(`UPDATE sandboxes SET last_used_at = ? WHERE conversation_id IN ('idle', 'busy')`, longAgo);
      // The alarm is due when the oldest becomes idle: already.
      expect(pool.nextIdleAt(Date.now())).toBe(longAgo + idleMs);

      const release = pool.hold("busy");
      expect(await pool.reap(Date.now())).toBe(1);
      expect(await running(userId, "idle")).toEqual([]);
      expect(await idle.isRunning()).toBe(false);
      expect(await running(userId, "busy")).toEqual([busy.sandboxId]);
      expect(await running(userId, "recent")).toEqual([recent.sandboxId]);
      expect(
        pool
          .list()
          .map((s) => s.conversationId)
          .sort(),
      ).toEqual(["busy", "recent"]);

      // Released, the stale one goes at the next pass.
      release();
      expect(await pool.reap(Date.now())).toBe(1);
      expect(await running(userId, "busy")).toEqual([]);
      expect(pool.list().map((s) => s.conversationId)).toEqual(["recent"]);
      // The next open of a reaped conversation starts a fresh sandbox.
      expect((await pool.open("idle", CREATE)).sandboxId).not.toBe(idle.sandboxId);
    });
  });

  it("closes a conversation's sandbox and says 404 for one it does not have", async () => {
    await withPool(async (pool, { userId }) => {
      const made = await pool.open("c", CREATE);
      expect((await pool.close("c")).sandboxId).toBe(made.sandboxId);
      expect(await running(userId, "c")).toEqual([]);
      expect(errorCode(await pool.close("c").catch((e: unknown) => e))).toBe("not_found");
      expect(errorCode(await pool.info("c").catch((e: unknown) => e))).toBe("not_found");
    });
  });
});
