// Running code through the Worker, the user's Durable Object and the real e2b SDK on e2b-local.
import { env, runInDurableObject } from "cloudflare:test";
import { Sandbox } from "e2b";
import { beforeAll, describe, expect, it } from "vitest";
import { userSpace } from "../../src/durable/stub.ts";
import { call, createUser, type ErrorBody, type ExecutionBody, execute, gatedRun } from "./helpers.ts";

const e2b = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL };

async function sandboxesOf(userId: string, conversationId?: string) {
  const metadata: Record<string, string> = { app: "phoenix", userId };
  if (conversationId) metadata.conversationId = conversationId;
  return Sandbox.list({ ...e2b, query: { metadata } }).nextItems();
}

describe("executions", () => {
  let user: { id: string; apiKey: string };
  beforeAll(async () => {
    user = await createUser("runner");
  });

  it("runs python, node and shell", async () => {
    const cases = [
      ["python", "import sys; print(sys.version_info[0] * 2)", "6\n"],
      ["node", "console.log([1, 2, 3].map((x) => x * 2).join(','))", "2,4,6\n"],
      ["shell", "echo $((6 * 7)) && echo err >&2", "42\n"],
    ] as const;
    for (const [language, code, stdout] of cases) {
      const { res, json } = await execute(user.apiKey, { language, code });
      expect(res.status).toBe(200);
      const result = json as ExecutionBody;
      expect(result).toMatchObject({
        language,
        status: "succeeded",
        exitCode: 0,
        stdout,
        truncated: false,
        conversationId: "default",
      });
      expect(result.id).toMatch(/^exe_/);
      expect((await sandboxesOf(user.id, "default")).map((s) => s.sandboxId)).toEqual([result.sandboxId]);
      if (language === "shell") expect(result.stderr).toBe("err\n");
    }
  });

  it("passes envs and keeps files between executions of a conversation", async () => {
    const conversationId = "files";
    await execute(user.apiKey, {
      language: "shell",
      code: 'echo "$GREETING" > note.txt',
      envs: { GREETING: "hi there" },
      conversationId,
    });
    const { json } = await execute(user.apiKey, {
      language: "python",
      code: "print(open('note.txt').read().strip())",
      conversationId,
    });
    expect(json.stdout).toBe("hi there\n");
  });

  it("reports a non-zero exit as failed with HTTP 200, exit code and stderr", async () => {
    const { res, json } = await execute(user.apiKey, {
      language: "python",
      code: "import sys\nprint('before')\nsys.exit('boom')",
    });
    expect(res.status).toBe(200);
    expect(json).toMatchObject({ status: "failed", exitCode: 1, stdout: "before\n", stderr: "boom\n" });
    const thrown = await execute(user.apiKey, { language: "node", code: "throw new Error('kaput')" });
    expect(thrown.json.status).toBe("failed");
    expect(thrown.json.stderr).toContain("kaput");
  });

  it("kills code at timeoutMs and answers timed_out", async () => {
    const { res, json } = await execute(user.apiKey, {
      language: "shell",
      code: "echo started; sleep 30; echo never",
      timeoutMs: 1500,
      conversationId: "slow",
    });
    expect(res.status).toBe(200);
    expect(json.status).toBe("timed_out");
    expect(json.stdout).toBe("started\n");
    // The sandbox survives the timeout and the killed process is gone (given a moment to be reaped).
    const after = await execute(user.apiKey, {
      language: "shell",
      code: "for i in $(seq 50); do pgrep -x sleep >/dev/null || { echo none; exit; }; sleep 0.1; done; echo still running",
      conversationId: "slow",
    });
    expect(after.json.stdout).toBe("none\n");
  });

  it("caps stdout at OUTPUT_LIMIT_BYTES and says so", async () => {
    const limit = Number(env.OUTPUT_LIMIT_BYTES);
    const { json } = await execute(user.apiKey, { language: "python", code: `print("x" * ${limit + 5000})` });
    expect(json.status).toBe("succeeded");
    expect(json.truncated).toBe(true);
    expect(new TextEncoder().encode(json.stdout).length).toBe(limit);
  });

  it("runs code bigger than an environment variable can hold", async () => {
    const filler = "#".repeat(150 * 1024);
    const { json } = await execute(user.apiKey, { language: "python", code: `${filler}\nprint('big ok')` });
    expect(json).toMatchObject({ status: "succeeded", stdout: "big ok\n" });
  });

  it("creates exactly one sandbox for concurrent first requests of a conversation", async () => {
    const fresh = await createUser("concurrent");
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        execute(fresh.apiKey, { language: "shell", code: `echo ${i}`, conversationId: "race" }),
      ),
    );
    const ids = new Set(results.map((r) => r.json.sandboxId));
    expect(results.every((r) => r.json.status === "succeeded")).toBe(true);
    expect(ids.size).toBe(1);
    expect(await sandboxesOf(fresh.id, "race")).toHaveLength(1);
  });

  it("recreates a sandbox that E2B killed, and the request still succeeds", async () => {
    const first = await execute(user.apiKey, { language: "shell", code: "echo one", conversationId: "phoenix" });
    expect(await Sandbox.kill(first.json.sandboxId, e2b)).toBe(true);
    const second = await execute(user.apiKey, { language: "shell", code: "echo two", conversationId: "phoenix" });
    expect(second.json).toMatchObject({ status: "succeeded", stdout: "two\n" });
    expect(second.json.sandboxId).not.toBe(first.json.sandboxId);
  });

  it("answers 429 with Retry-After beyond MAX_CONCURRENT_EXECUTIONS", async () => {
    const busy = await createUser("busy");
    const max = Number(env.MAX_CONCURRENT_EXECUTIONS);
    // Every slot held by a run waiting for a file, until the test releases it.
    const held = [];
    for (let i = 0; i < max; i++) held.push(await gatedRun(busy.apiKey, `c${i}`));
    const extra = await Promise.all(
      [0, 1].map(() => execute(busy.apiKey, { language: "shell", code: "true", conversationId: "extra" })),
    );
    for (const limited of extra) {
      expect(limited.res.status).toBe(429);
      expect(limited.res.headers.get("Retry-After")).toBe("1");
      expect((limited.json as ErrorBody).error.code).toBe("rate_limited");
    }
    for (const h of held) await h.release();
    for (const h of held) expect((await h.done).json).toMatchObject({ status: "succeeded" });
    // The slots are free again.
    expect((await execute(busy.apiKey, { language: "shell", code: "true", conversationId: "extra" })).res.status).toBe(
      200,
    );
  });
});

describe("history", () => {
  it("records every execution and pages newest first with filters", async () => {
    const u = await createUser("history");
    for (const [language, code] of [
      ["shell", "echo 1"],
      ["python", "print(2)"],
      ["shell", "exit 3"],
      ["node", "1"],
    ] as const) {
      await execute(u.apiKey, { language, code, conversationId: language === "node" ? "other" : "default" });
    }
    const page1 = await (await call("/api/v1/executions?limit=3", { key: u.apiKey })).json<any>();
    expect(page1.items.map((e: any) => e.language)).toEqual(["node", "shell", "python"]);
    expect(page1.items[1]).toMatchObject({ status: "failed", exitCode: 3, code: "exit 3" });
    const page2 = await (
      await call(`/api/v1/executions?limit=3&cursor=${page1.nextCursor}`, { key: u.apiKey })
    ).json<any>();
    expect(page2.items.map((e: any) => e.stdout)).toEqual(["1\n"]);
    expect(page2.nextCursor).toBeNull();

    const shells = await (await call("/api/v1/executions?language=shell&status=failed", { key: u.apiKey })).json<any>();
    expect(shells.items).toHaveLength(1);
    const other = await (await call("/api/v1/executions?conversationId=other", { key: u.apiKey })).json<any>();
    expect(other.items).toHaveLength(1);

    const one = await call(`/api/v1/executions/${page1.items[0].id}`, { key: u.apiKey });
    expect(await one.json()).toMatchObject({ id: page1.items[0].id, language: "node" });
  });
});

describe("isolation between users", () => {
  it("B never sees A's executions, sandboxes or stats", async () => {
    const a = await createUser("alice");
    const b = await createUser("bob");
    const ran = await execute(a.apiKey, { language: "shell", code: "echo secret > /home/user/a.txt; echo done" });
    expect(ran.json.status).toBe("succeeded");

    expect((await call(`/api/v1/executions/${ran.json.id}`, { key: b.apiKey })).status).toBe(404);
    const bHistory = await (await call("/api/v1/executions", { key: b.apiKey })).json<any>();
    expect(bHistory.items).toHaveLength(0);

    const bRun = await execute(b.apiKey, { language: "shell", code: "cat /home/user/a.txt 2>&1 || true" });
    expect(bRun.json.sandboxId).not.toBe(ran.json.sandboxId);
    expect(bRun.json.stdout).not.toContain("secret");

    const bStats = await (await call("/api/v1/stats", { key: b.apiKey })).json<any>();
    expect(bStats.user.totalExecutions).toBe(1);
    const aStats = await (await call("/api/v1/stats", { key: a.apiKey })).json<any>();
    expect(aStats.user.totalExecutions).toBe(1);
  });
});

describe("stats", () => {
  it("counts per language with success rate, average duration and recent errors", async () => {
    const u = await createUser("stats");
    await execute(u.apiKey, { language: "python", code: "print(1)" });
    await execute(u.apiKey, { language: "python", code: "raise SystemExit(2)" });
    await execute(u.apiKey, { language: "shell", code: "true" });
    const stats = await (await call("/api/v1/stats", { key: u.apiKey })).json<any>();
    expect(stats.user).toMatchObject({
      totalExecutions: 3,
      successfulExecutions: 2,
      failedExecutions: 1,
      successRate: 66.7,
    });
    expect(stats.user.byLanguage.python).toMatchObject({ total: 2, succeeded: 1, failed: 1 });
    expect(stats.user.recentErrors[0]).toMatchObject({ language: "python", status: "failed" });
    expect(stats.sandboxes.active).toBe(1);
    expect(stats.volume).toMatchObject({ usedBytes: 0, fileCount: 0 });

    // The owner's view is read from D1, where history lands just after each response; reading
    // the user's own history first waits for that copy.
    await call("/api/v1/executions", { key: u.apiKey });
    const admin = await (await call("/api/v1/admin/stats", { key: env.OWNER_TOKEN })).json<any>();
    const mine = admin.perUser.find((p: any) => p.userId === u.id);
    expect(mine).toMatchObject({ executions: 3, errorRate: 33.3 });
    expect(admin.totals.executions).toBeGreaterThanOrEqual(3);
    expect(admin.totals.p95DurationMs).toBeGreaterThanOrEqual(admin.totals.p50DurationMs);
    expect(admin.perLanguage.python.executions).toBeGreaterThanOrEqual(2);
  });
});

describe("sandbox failures", () => {
  it("answers 502 sandbox_unavailable and records status error when no sandbox can be had", async () => {
    const u = await createUser("unlucky");
    // A fault that cannot be produced against a healthy e2b-local: point this user's object at a dead port.
    const stub = userSpace(env, u.id);
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { sandboxes: { env: Env } }).sandboxes.env = {
        ...env,
        E2B_API_URL: "http://127.0.0.1:9",
        E2B_SANDBOX_URL: "http://127.0.0.1:9",
      };
    });
    const { res, json } = await execute(u.apiKey, { language: "python", code: "print(1)" });
    expect(res.status).toBe(502);
    expect((json as ErrorBody).error.code).toBe("sandbox_unavailable");
    const history = await (await call("/api/v1/executions", { key: u.apiKey })).json<any>();
    expect(history.items[0]).toMatchObject({ status: "error" });
    expect(history.items[0].error).toContain("sandbox");
  });
});

describe("history in D1", () => {
  it("arrives on its own shortly after the run (the Durable Object's alarm copies a batch)", async () => {
    const u = await createUser("batched");
    const { json } = await execute(u.apiKey, { language: "shell", code: "echo batched" });
    // No history read here (it would flush): only the alarm can bring the row to D1. Bounded poll.
    let found: unknown = null;
    for (let i = 0; i < 100 && !found; i++) {
      found = await env.DB.prepare("SELECT id FROM executions WHERE id = ?").bind(json.id).first("id");
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    expect(found).toBe(json.id);
  });
});

describe("history, many runs at once", () => {
  it("copies a large batch to D1 (more rows than one statement may bind)", async () => {
    const u = await createUser("burst");
    const runs = 12;
    for (let i = 0; i < runs; i++)
      await execute(u.apiKey, { language: "shell", code: `echo ${i}`, conversationId: "burst" });
    const page = await (await call("/api/v1/executions?limit=50", { key: u.apiKey })).json<any>();
    expect(page.items.map((e: any) => e.stdout)).toEqual(Array.from({ length: runs }, (_, i) => `${runs - 1 - i}\n`));
  });
});

describe("history when D1 fails", () => {
  it("keeps the execution in the Durable Object and copies it once D1 answers again", async () => {
    const u = await createUser("outbox");
    const stub = userSpace(env, u.id);
    // D1 cannot be made to fail for one user only without disturbing the other test files that
    // share it, so this user's object gets a D1 binding that refuses every statement.
    const refusing = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare" || prop === "batch" || prop === "exec") {
          return () => {
            throw new Error("D1 is unavailable");
          };
        }
        return Reflect.get(target, prop);
      },
    });
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { history: { env: Env } }).history.env = { ...env, DB: refusing };
    });
    const { res, json } = await execute(u.apiKey, { language: "shell", code: "echo kept" });
    expect(res.status).toBe(200);
    expect(json.stdout).toBe("kept\n");
    const pending = await runInDurableObject(stub, (instance) =>
      (instance as unknown as { history: { pending(): number } }).history.pending(),
    );
    expect(pending).toBe(1);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM executions WHERE user_id = ?").bind(u.id).first("n")).toBe(
      0,
    );
    // Meanwhile history reads say so rather than show a history without that run.
    const stale = await call("/api/v1/executions", { key: u.apiKey });
    expect(stale.status).toBe(503);
    expect((await stale.json<ErrorBody>()).error.code).toBe("storage_unavailable");

    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { history: { env: Env } }).history.env = env;
    });
    const history = await (await call("/api/v1/executions", { key: u.apiKey })).json<any>();
    expect(history.items).toHaveLength(1);
    expect(history.items[0]).toMatchObject({ id: json.id, stdout: "kept\n" });
  });
});

describe("sandbox races", () => {
  it("a run arriving while a look-only request finds the sandbox gone still gets a fresh one", async () => {
    const u = await createUser("racer");
    const first = await execute(u.apiKey, { language: "shell", code: "echo one", conversationId: "r" });
    // As after a restart of the user's object: no cached handle, only the stored sandbox id. Then
    // the sandbox is killed behind its back.
    await runInDurableObject(userSpace(env, u.id), (instance) => {
      (instance as unknown as { sandboxes: { live: Map<string, unknown> } }).sandboxes.live.clear();
    });
    expect(await Sandbox.kill(first.json.sandboxId, e2b)).toBe(true);
    const [look, run] = await Promise.all([
      call("/api/v1/sandboxes/r/files?path=.", { key: u.apiKey }),
      execute(u.apiKey, { language: "shell", code: "echo two", conversationId: "r" }),
    ]);
    expect(look.status).toBe(404);
    expect(run.res.status).toBe(200);
    expect(run.json).toMatchObject({ status: "succeeded", stdout: "two\n" });
  });

  it("never runs code twice: a sandbox lost after the code started ends the run in error", async () => {
    const u = await createUser("once");
    await execute(u.apiKey, { language: "shell", code: "true", conversationId: "o" });
    const running = execute(u.apiKey, { language: "shell", code: "touch /tmp/started; sleep 20", conversationId: "o" });
    // Wait (bounded) until the code has visibly started, then close the sandbox under it.
    let started = false;
    for (let i = 0; i < 200 && !started; i++) {
      started = (await call("/api/v1/sandboxes/o/file?path=/tmp/started", { key: u.apiKey })).status === 200;
      if (!started) await new Promise((r) => setTimeout(r, 50));
    }
    expect(started).toBe(true);
    expect((await call("/api/v1/sandboxes/o", { key: u.apiKey, method: "DELETE" })).status).toBe(204);
    const { res, json } = await running;
    expect(res.status).toBe(502);
    expect((json as ErrorBody).error.code).toBe("sandbox_unavailable");
    // No second sandbox was created to run it again.
    expect(await sandboxesOf(u.id, "o")).toHaveLength(0);
  });
});
