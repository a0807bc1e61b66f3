// The cron trigger: volume files past VOLUME_RETENTION_DAYS and history past HISTORY_RETENTION_DAYS go.
import {
  createExecutionContext,
  createScheduledController,
  env,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Sandbox } from "e2b";
import { DAILY_CRON, pruneVolumes, runScheduled } from "../../src/cron.ts";
import { userSpace } from "../../src/durable/stub.ts";
import worker from "../../src/index.ts";
import { VolumeLedger } from "../../src/volume/ledger.ts";
import { storeFile } from "../../src/volume/store.ts";
import { call, createUser, until } from "./helpers.ts";
import { fileUrl, put, r2Totals, usage } from "./volume-helpers.ts";

const DAY_MS = 86_400_000;

async function modifiedAt(res: Response): Promise<number> {
  expect(res.status).toBe(201);
  return Date.parse((await res.json<{ modifiedAt: string }>()).modifiedAt);
}

/** An execution row written straight to D1, dated `createdAt`. */
function historyRow(userId: string, id: string, createdAt: number) {
  return env.DB.prepare(
    `INSERT INTO executions (id, user_id, conversation_id, language, code, status, duration_ms, created_at)
     VALUES (?, ?, 'default', 'python', 'print(1)', 'succeeded', 5, ?)`,
  ).bind(id, userId, createdAt);
}

describe("volume retention", () => {
  it("deletes files not modified for VOLUME_RETENTION_DAYS and updates usage", async () => {
    const u = await createUser("retention");
    const old = await modifiedAt(await put(u.apiKey, "old/a.txt", "aaaa"));
    // R2 stamps the time itself: b.txt is written once the clock has moved past a.txt's stamp.
    await until(async () => Date.now() > old, "the clock passed a.txt's mtime");
    const fresh = await modifiedAt(await put(u.apiKey, "new/b.txt", "bb"));
    expect(fresh).toBeGreaterThan(old);
    // Retention cut exactly at b.txt's mtime, 30 days on: a.txt (older) is past it, b.txt is not.
    await pruneVolumes(env, fresh + 30 * DAY_MS);
    expect((await call(fileUrl("old/a.txt"), { key: u.apiKey })).status).toBe(404);
    expect(await (await call(fileUrl("new/b.txt"), { key: u.apiKey })).text()).toBe("bb");
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 2, fileCount: 1 });
    expect(await r2Totals(u.id)).toEqual({ bytes: 2, count: 1 });
  });

  it("keeps everything when VOLUME_RETENTION_DAYS is 0", async () => {
    const u = await createUser("keep-forever");
    await put(u.apiKey, "a.txt", "aaaa");
    await pruneVolumes({ ...env, VOLUME_RETENTION_DAYS: "0" }, Date.now() + 3650 * DAY_MS);
    expect((await call(fileUrl("a.txt"), { key: u.apiKey })).status).toBe(200);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 4, fileCount: 1 });
  });

  it("removes staging left behind by an import that never finished", async () => {
    await env.VOLUMES.put("staging/usr_gone/import/0", "x");
    await pruneVolumes(env, Date.now() + 2 * DAY_MS);
    expect((await env.VOLUMES.list({ prefix: "staging/" })).objects).toHaveLength(0);
  });
});

/**
 * Prunes `userId`'s volume (everything is past `cutoff`) with the ledger of their Durable Object
 * reading R2 through `wrap`, which can slip an upload into the middle; then reports what R2 and the
 * ledger hold for `name`.
 */
async function pruneWith(
  userId: string,
  wrap: (bucket: R2Bucket, upload: (body: string) => Promise<unknown>) => Partial<R2Bucket>,
): Promise<{ deleted: number; text: string | null; counted: number | undefined }> {
  return runInDurableObject(userSpace(env, userId), async (_instance, state) => {
    let ledger!: VolumeLedger;
    const upload = (body: string) =>
      storeFile(env.VOLUMES, ledger.port(), userId, "a.txt", body.length, new Blob([body]).stream());
    const real = env.VOLUMES;
    const bucket = Object.assign(Object.create(real) as R2Bucket, {
      head: real.head.bind(real),
      get: real.get.bind(real),
      put: real.put.bind(real),
      list: real.list.bind(real),
      delete: real.delete.bind(real),
      ...wrap(real, upload),
    });
    ledger = new VolumeLedger(state.storage.sql, bucket, userId, () => 100 * 1024 * 1024);
    const deleted = await ledger.prune(Date.now() + DAY_MS);
    const object = await real.get(`volumes/${userId}/a.txt`);
    const row = state.storage.sql
      .exec<{ size: number }>(`SELECT size FROM volume_files WHERE name = 'a.txt'`)
      .toArray()[0];
    return { deleted, text: object ? await object.text() : null, counted: row?.size };
  });
}

describe("retention racing an upload", () => {
  it("keeps a file rewritten after the listing and before the delete", async () => {
    const u = await createUser("prune-race-list");
    await put(u.apiKey, "a.txt", "old");
    const result = await pruneWith(u.id, (real, upload) => ({
      list: async (options) => {
        const page = await real.list(options);
        await upload("newer!"); // finishes before prune gets to delete the listed (old) a.txt
        return page;
      },
    }));
    expect(result).toEqual({ deleted: 0, text: "newer!", counted: 6 });
  });

  it("lets an upload that starts while the delete is in flight land after it", async () => {
    const u = await createUser("prune-race-delete");
    await put(u.apiKey, "a.txt", "old");
    let uploading: Promise<unknown> | undefined;
    const result = await pruneWith(u.id, (real, upload) => ({
      delete: async (keys) => {
        uploading = upload("newer!");
        await new Promise((r) => setTimeout(r, 200)); // the delete reaches R2 late
        await real.delete(keys);
      },
    }));
    expect(result.deleted).toBe(1);
    await uploading;
    expect(await (await call(fileUrl("a.txt"), { key: u.apiKey })).text()).toBe("newer!");
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 6, fileCount: 1, reservedBytes: 0 });
  });
});

describe("the scheduled handler", () => {
  it("prunes history past HISTORY_RETENTION_DAYS and stale volume files in one run", async () => {
    const u = await createUser("scheduled");
    const now = Date.now();
    await env.DB.batch([
      historyRow(u.id, "exe_ancient", now - 91 * DAY_MS),
      historyRow(u.id, "exe_recent", now - 89 * DAY_MS),
    ]);
    await put(u.apiKey, "stale.txt", "x");

    // The 15-minute trigger only reaps orphan sandboxes: retention waits for the daily one. Reaping is
    // scoped to this user, so it cannot touch sandboxes other test files' objects track.
    const e2b = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL };
    const orphan = await Sandbox.create("base", {
      ...e2b,
      metadata: { app: "phoenix", userId: u.id, conversationId: "lost" },
    });
    await runScheduled(env, "*/15 * * * *", now + 31 * DAY_MS, { graceMs: 0, scope: { userId: u.id } });
    expect(await orphan.isRunning()).toBe(false);
    expect((await call(fileUrl("stale.txt"), { key: u.apiKey })).status).toBe(200);

    const ctx = createExecutionContext();
    // 31 days from now: stale.txt is past the 30-day volume retention.
    await worker.scheduled(createScheduledController({ scheduledTime: now + 31 * DAY_MS, cron: DAILY_CRON }), env, ctx);
    await waitOnExecutionContext(ctx);

    const left = await env.DB.prepare(`SELECT id FROM executions WHERE user_id = ?`).bind(u.id).all<{ id: string }>();
    // Seen from 31 days ahead, both rows are past the 90 days.
    expect(left.results.map((r) => r.id)).toEqual([]);
    expect((await call(fileUrl("stale.txt"), { key: u.apiKey })).status).toBe(404);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 0, fileCount: 0 });
  });

  it("keeps history when HISTORY_RETENTION_DAYS is 0 and prunes only what is past the limit", async () => {
    const u = await createUser("history");
    const now = Date.now();
    await env.DB.batch([
      historyRow(u.id, "exe_h_old", now - 91 * DAY_MS),
      historyRow(u.id, "exe_h_new", now - 89 * DAY_MS),
    ]);
    const { pruneHistory } = await import("../../src/cron.ts");
    expect(await pruneHistory({ ...env, HISTORY_RETENTION_DAYS: "0" }, now)).toBe(0);
    await pruneHistory(env, now);
    const left = await env.DB.prepare(`SELECT id FROM executions WHERE user_id = ?`).bind(u.id).all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual(["exe_h_new"]);
  });
});
