// Deleting a user (owner): keys refused at once, sandboxes killed, volume and history gone (or history
// anonymised), idempotent, audited, and another user untouched — even with a run in flight.
import { env } from "cloudflare:test";
import { Sandbox } from "e2b";
import { describe, expect, it } from "vitest";
import { DELETED_USER_ID } from "../../src/routes/admin.ts";
import { call, createUser, execute, OWNER_TOKEN, type ErrorBody } from "./helpers.ts";
import { fileUrl } from "./volume-helpers.ts";

const e2b = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL };

function liveSandboxes(userId: string) {
  return Sandbox.list({ ...e2b, query: { metadata: { app: "phoenix", userId } } }).nextItems();
}

async function historyRows(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM executions WHERE user_id = ?")
    .bind(userId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

async function volumeObjects(userId: string): Promise<number> {
  return (await env.VOLUMES.list({ prefix: `volumes/${userId}/` })).objects.length;
}

/** A user with a live sandbox, two volume files and one finished run in history. */
async function userWithEverything(name: string) {
  const user = await createUser(name);
  const run = await execute(user.apiKey, { language: "shell", code: "echo hi > /home/user/f; echo ran" });
  expect(run.json.status).toBe("succeeded");
  for (const file of ["a.txt", "dir/b.txt"]) {
    const put = await call(fileUrl(file), { key: user.apiKey, method: "PUT", body: `content of ${file}` });
    expect(put.status).toBe(201);
  }
  // History reads flush the outbox, so the run is in D1 before the deletion.
  expect((await call("/api/v1/executions", { key: user.apiKey })).status).toBe(200);
  return user;
}

const remove = (id: string, query = "") =>
  call(`/api/v1/admin/users/${id}${query}`, { key: OWNER_TOKEN, method: "DELETE" });

describe("deleting a user", () => {
  it("removes keys, sandboxes, volume and history, says what it removed, and leaves others alone", async () => {
    const doomed = await userWithEverything("doomed");
    const other = await userWithEverything("bystander");
    expect(await liveSandboxes(doomed.id)).toHaveLength(1);

    const res = await remove(doomed.id);
    expect(res.status).toBe(200);
    const body = await res.json<{ id: string; history: string; removed: Record<string, number> }>();
    expect(body).toMatchObject({
      id: doomed.id,
      history: "delete",
      removed: {
        keys: 1,
        activeKeysRevoked: 1,
        sandboxes: 1,
        cancelledExecutions: 0,
        volumeFiles: 2,
        volumeBytes: "content of a.txt".length + "content of dir/b.txt".length,
        executions: 1,
      },
    });

    const refused = await call("/api/v1/stats", { key: doomed.apiKey });
    expect(refused.status).toBe(401);
    expect(await liveSandboxes(doomed.id)).toHaveLength(0);
    expect(await volumeObjects(doomed.id)).toBe(0);
    expect(await historyRows(doomed.id)).toBe(0);
    const keys = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?")
      .bind(doomed.id)
      .first<{ n: number }>();
    expect(keys?.n).toBe(0);
    const users = await (await call("/api/v1/admin/users", { key: OWNER_TOKEN })).json<{ items: { id: string }[] }>();
    expect(users.items.map((u) => u.id)).not.toContain(doomed.id);
    const audit = await env.DB.prepare("SELECT detail FROM audit_log WHERE action = 'user.delete' AND target_id = ?")
      .bind(doomed.id)
      .first<{ detail: string }>();
    expect(JSON.parse(audit!.detail)).toMatchObject({ history: "delete", volumeFiles: 2, executions: 1 });

    // The bystander keeps everything.
    expect((await call("/api/v1/stats", { key: other.apiKey })).status).toBe(200);
    expect(await liveSandboxes(other.id)).toHaveLength(1);
    expect(await volumeObjects(other.id)).toBe(2);
    expect(await historyRows(other.id)).toBe(1);
    const read = await call(fileUrl("a.txt"), { key: other.apiKey });
    expect(await read.text()).toBe("content of a.txt");
  });

  it("is idempotent: deleting again answers alreadyDeleted; an id that never existed is a 404", async () => {
    const user = await createUser("twice");
    expect((await remove(user.id)).status).toBe(200);
    const again = await remove(user.id);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: user.id, alreadyDeleted: true });
    const never = await remove("usr_neverexisted");
    expect(never.status).toBe(404);
    expect((await never.json<ErrorBody>()).error.code).toBe("not_found");
  });

  it("can keep history anonymised: the runs stay for usage figures without code, output or ids", async () => {
    const user = await userWithEverything("anonymous");
    const before = await historyRows(DELETED_USER_ID);
    const res = await remove(user.id, "?history=anonymise");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ history: "anonymise", removed: { executions: 1 } });
    expect(await historyRows(user.id)).toBe(0);
    expect(await historyRows(DELETED_USER_ID)).toBe(before + 1);
    const kept = await env.DB.prepare("SELECT * FROM executions WHERE user_id = ? ORDER BY created_at DESC")
      .bind(DELETED_USER_ID)
      .first<Record<string, unknown>>();
    expect(kept).toMatchObject({
      language: "shell",
      status: "succeeded",
      code: "",
      stdout: "",
      stderr: "",
      sandbox_id: null,
    });
  });

  it("refuses a bad history mode, and a user key", async () => {
    const user = await createUser("guarded");
    const bad = await remove(user.id, "?history=shred");
    expect(bad.status).toBe(400);
    expect((await bad.json<ErrorBody>()).error.message).toContain("history");
    const self = await call(`/api/v1/admin/users/${user.id}`, { key: user.apiKey, method: "DELETE" });
    expect(self.status).toBe(403);
    expect((await call("/api/v1/stats", { key: user.apiKey })).status).toBe(200);
  });

  it("cancels a run in flight, and nothing of it reaches history afterwards", async () => {
    const user = await createUser("mid-run");
    const stream = await call("/api/v1/executions", {
      key: user.apiKey,
      headers: { Accept: "text/event-stream" },
      json: { language: "shell", code: "echo started; while [ ! -f /tmp/never ]; do sleep 0.05; done" },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let seen = "";
    while (!seen.includes("started")) seen += new TextDecoder().decode((await reader.read()).value);

    const res = await remove(user.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ removed: { cancelledExecutions: 1, sandboxes: 1 } });
    // The stream ends (the run was cancelled and its sandbox killed) rather than hanging.
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    expect(seen).toMatch(/event: (end|error)/);
    expect(await liveSandboxes(user.id)).toHaveLength(0);
    expect(await historyRows(user.id)).toBe(0);
  });
});
