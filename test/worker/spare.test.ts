// The spare sandbox (SPARE_SANDBOX, durable/spare.ts): kept while a user is active, taken by their next
// new conversation and replaced, never at the cap, reaped when idle, killed with the user — through the
// Worker and the user's Durable Object, with the real e2b SDK on e2b-local.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Sandbox } from "e2b";
import { describe, expect, it } from "vitest";
import type { SandboxPool } from "../../src/durable/sandboxes.ts";
import { SPARE_CONVERSATION } from "../../src/durable/spare.ts";
import { userSpace } from "../../src/durable/stub.ts";
import { reapOrphans } from "../../src/sandbox/orphans.ts";
import { call, createUser, execute, OWNER_TOKEN, until } from "./helpers.ts";

const e2b = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL };

/** The object's pool, as tests reach into it: its env is swapped per user (as executions.test.ts does). */
type Pooled = { sandboxes: Pick<SandboxPool, "spareId"> & { env: Env } };

/** A fresh user whose object runs with SPARE_SANDBOX set to `spare` (the test pool's wrangler.toml says "false"). */
async function userWithSpare(name: string, spare: "true" | "false") {
  const user = await createUser(name);
  await runInDurableObject(userSpace(env, user.id), (instance) => {
    (instance as unknown as Pooled).sandboxes.env = { ...env, SPARE_SANDBOX: spare };
  });
  return user;
}

/** The spare the user's object records, or null. */
function spareOf(userId: string): Promise<string | null> {
  return runInDurableObject(userSpace(env, userId), (instance) => (instance as unknown as Pooled).sandboxes.spareId());
}

/** The user's running sandboxes that were started as spares (E2B keeps a spare's metadata once taken). */
async function runningSpares(userId: string): Promise<string[]> {
  const items = await Sandbox.list({
    ...e2b,
    query: { metadata: { app: "phoenix", userId, conversationId: SPARE_CONVERSATION } },
  }).nextItems();
  return items.map((s) => s.sandboxId);
}

/** Waits until the object records a spare other than `not` (started in the background), and returns it. */
async function nextSpare(userId: string, not?: string): Promise<string> {
  let id: string | null = null;
  await until(async () => {
    id = await spareOf(userId);
    return id !== null && id !== not;
  }, "a spare sandbox is ready");
  return id!;
}

async function run(key: string, conversationId: string, code = "echo ran") {
  const { res, json } = await execute(key, { language: "shell", code, conversationId });
  expect(res.status).toBe(200);
  expect(json.status).toBe("succeeded");
  return json as { sandboxId: string; stdout: string };
}

describe("the spare sandbox", () => {
  it("is started after a first run, taken by the next new conversation, and replaced", async () => {
    const u = await userWithSpare("spare-on", "true");
    const first = await run(u.apiKey, "first");
    const spare = await nextSpare(u.id);
    expect(spare).not.toBe(first.sandboxId);
    expect(await runningSpares(u.id)).toEqual([spare]);
    // Not a conversation's: the API lists only "first"; but tracked, so the orphan reaper leaves it be.
    const listed = await (await call("/api/v1/sandboxes", { key: u.apiKey })).json<any>();
    expect(listed.items.map((s: any) => s.conversationId)).toEqual(["first"]);
    expect(await reapOrphans(env, { graceMs: 0, scope: { userId: u.id } })).toBe(0);

    const second = await run(u.apiKey, "second", "echo warm");
    expect(second).toMatchObject({ sandboxId: spare, stdout: "warm\n" });
    const info = await (await call("/api/v1/sandboxes/second", { key: u.apiKey })).json<any>();
    expect(info).toMatchObject({ conversationId: "second", sandboxId: spare, template: env.E2B_TEMPLATE });
    const replacement = await nextSpare(u.id, spare);
    expect([first.sandboxId, spare]).not.toContain(replacement);
    // The taken one still says "(spare)" at E2B: two such run, one is the spare, one is "second"'s.
    expect((await runningSpares(u.id)).sort()).toEqual([spare, replacement].sort());
    expect(await reapOrphans(env, { graceMs: 0, scope: { userId: u.id } })).toBe(0);
    // A warm run stays in its own sandbox, and the spare stays the spare.
    expect((await run(u.apiKey, "second")).sandboxId).toBe(spare);
    expect(await spareOf(u.id)).toBe(replacement);
  });

  it("is never started with the var off", async () => {
    const u = await userWithSpare("spare-off", "false");
    const first = await run(u.apiKey, "one");
    const second = await run(u.apiKey, "two");
    expect(second.sandboxId).not.toBe(first.sandboxId);
    await run(u.apiKey, "two");
    expect(await spareOf(u.id)).toBeNull();
    expect(await runningSpares(u.id)).toEqual([]);
    const all = await Sandbox.list({ ...e2b, query: { metadata: { app: "phoenix", userId: u.id } } }).nextItems();
    expect(all.map((s) => s.sandboxId).sort()).toEqual([first.sandboxId, second.sandboxId].sort());
  });

  it("is replaced transparently when E2B lost it: the new conversation gets a fresh sandbox, no error", async () => {
    const u = await userWithSpare("spare-lost", "true");
    await run(u.apiKey, "first");
    const spare = await nextSpare(u.id);
    expect(await Sandbox.kill(spare, e2b)).toBe(true);

    const next = await run(u.apiKey, "next", "echo fine");
    expect(next.stdout).toBe("fine\n");
    expect(next.sandboxId).not.toBe(spare);
    const replacement = await nextSpare(u.id, spare);
    expect(replacement).not.toBe(next.sandboxId);
    expect(await runningSpares(u.id)).toEqual([replacement]);
  });

  it("is not taken by a stateful run, which needs the interpreter template", async () => {
    const u = await userWithSpare("spare-stateful", "true");
    await run(u.apiKey, "first");
    const spare = await nextSpare(u.id);
    const { json } = await execute(u.apiKey, {
      language: "python",
      code: "1 + 1",
      stateful: true,
      conversationId: "notebook",
    });
    expect(json.status).toBe("succeeded");
    expect(json.sandboxId).not.toBe(spare);
    expect(await spareOf(u.id)).toBe(spare);
  });

  it("is not kept while the user is at MAX_SANDBOXES_PER_USER, and comes back below it", async () => {
    const u = await userWithSpare("spare-cap", "true");
    const max = Number(env.MAX_SANDBOXES_PER_USER);
    let spare: string | undefined;
    for (let i = 0; i < max - 1; i++) {
      const ran = await run(u.apiKey, `c${i}`);
      if (i > 0) expect(ran.sandboxId).toBe(spare);
      // Still below the cap: a spare is started for the next conversation.
      spare = await nextSpare(u.id, spare);
    }
    // The last conversation under the cap is a stateful one: it cannot take the spare, and once it is
    // open the user is at the cap, so the spare goes.
    const { json } = await execute(u.apiKey, { language: "python", code: "1", stateful: true, conversationId: "nb" });
    expect(json.status).toBe("succeeded");
    await until(async () => (await spareOf(u.id)) === null, "the spare is dropped at the cap");
    await until(async () => !(await runningSpares(u.id)).includes(spare!), "the spare is killed");
    const all = await Sandbox.list({ ...e2b, query: { metadata: { app: "phoenix", userId: u.id } } }).nextItems();
    expect(all).toHaveLength(max);
    // Activity at the cap starts none.
    await run(u.apiKey, "c0");
    expect(await spareOf(u.id)).toBeNull();

    // Closing one makes room: the next run (activity) starts a spare again.
    expect((await call("/api/v1/sandboxes/c0", { key: u.apiKey, method: "DELETE" })).status).toBe(204);
    await run(u.apiKey, "c1");
    await nextSpare(u.id);
  });

  it("is reaped by the alarm once the user has been idle past SANDBOX_IDLE_TIMEOUT_MS", async () => {
    const u = await userWithSpare("spare-idle", "true");
    await run(u.apiKey, "first");
    await nextSpare(u.id);
    const stub = userSpace(env, u.id);
    await runInDurableObject(stub, (_instance, state) => {
      const longAgo = Date.now() - Number(env.SANDBOX_IDLE_TIMEOUT_MS) - 1000;
      state.storage.sql.exec(`UPDATE spare_sandbox SET active_at = ?`, longAgo);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await spareOf(u.id)).toBeNull();
    expect(await runningSpares(u.id)).toEqual([]);
    // The conversation's sandbox, used recently, is kept.
    expect((await call("/api/v1/sandboxes/first", { key: u.apiKey })).status).toBe(200);
  });

  it("is killed when the user is deleted", async () => {
    const u = await userWithSpare("spare-deleted", "true");
    await run(u.apiKey, "first");
    await nextSpare(u.id);
    const res = await call(`/api/v1/admin/users/${u.id}`, { key: OWNER_TOKEN, method: "DELETE" });
    expect(res.status).toBe(200);
    expect((await res.json<any>()).removed).toMatchObject({ sandboxes: 2 });
    expect(await runningSpares(u.id)).toEqual([]);
    expect(await Sandbox.list({ ...e2b, query: { metadata: { app: "phoenix", userId: u.id } } }).nextItems()).toEqual(
      [],
    );
  });
});
