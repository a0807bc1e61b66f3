import { describe, expect, it, vi } from "vitest";
import { AuthenticationError, Sandbox, SandboxNotFoundError } from "e2b";
import { conn, marker, withSandbox } from "./helpers.ts";

describe("sandbox lifecycle (control-plane API)", () => {
  it("create with metadata/envs/timeout, getInfo, connect, kill", async () => {
    const tag = marker();
    const sb = await Sandbox.create({
      ...conn(),
      metadata: { app: "t", tag },
      envs: { GREETING: "hi there" },
      timeoutMs: 120_000,
    });
    const info = await sb.getInfo();
    expect(info.sandboxId).toBe(sb.sandboxId);
    expect(info.templateId).toBe("base");
    expect(info.metadata).toEqual({ app: "t", tag });
    expect(info.state).toBe("running");
    const ttl = info.endAt.getTime() - info.startedAt.getTime();
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    expect((await sb.commands.run("echo $GREETING")).stdout).toBe("hi there\n");

    const again = await Sandbox.connect(sb.sandboxId, conn());
    expect((await again.commands.run("echo $GREETING")).stdout).toBe("hi there\n");
    expect(await sb.isRunning()).toBe(true);

    expect(await sb.kill()).toBe(true);
    expect(await sb.isRunning()).toBe(false);
    expect(await Sandbox.kill(sb.sandboxId, conn())).toBe(false);
    await expect(Sandbox.getInfo(sb.sandboxId, conn())).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(sb.commands.run("true")).rejects.toBeInstanceOf(SandboxNotFoundError);
    // envd's HTTP routes answer 502 "not found" for a dead sandbox, which the SDK reports as a timeout
    await expect(sb.files.read("/etc/hostname")).rejects.toThrow(/The sandbox was not found/);
  });

  it("Sandbox.kill of an unknown id is false", async () => {
    expect(await Sandbox.kill("doesnotexist0000000", conn())).toBe(false);
  });

  it("rejects a wrong API key", async () => {
    await expect(Sandbox.create({ ...conn(), apiKey: "e2b_0000" })).rejects.toBeInstanceOf(AuthenticationError);
    await expect(Sandbox.list({ ...conn(), apiKey: "e2b_0000" }).nextItems()).rejects.toBeInstanceOf(
      AuthenticationError,
    );
  });

  it("lists with a metadata filter and pages with X-Next-Token", async () => {
    const tag = marker();
    const boxes = await Promise.all(
      [0, 1, 2].map(() => Sandbox.create({ ...conn(), metadata: { tag, "odd key&=": "v a/l" } })),
    );
    const other = await Sandbox.create({ ...conn(), metadata: { tag: `${tag}x` } });
    try {
      const pager = Sandbox.list({ ...conn(), query: { metadata: { tag, "odd key&=": "v a/l" } }, limit: 2 });
      const first = await pager.nextItems();
      expect(first).toHaveLength(2);
      expect(pager.hasNext).toBe(true);
      const second = await pager.nextItems();
      expect(second).toHaveLength(1);
      expect(pager.hasNext).toBe(false);
      const ids = [...first, ...second].map((s) => s.sandboxId).sort();
      expect(ids).toEqual(boxes.map((b) => b.sandboxId).sort());
      for (const s of [...first, ...second]) expect(s.metadata).toEqual({ tag, "odd key&=": "v a/l" });
    } finally {
      await Promise.all([...boxes, other].map((b) => b.kill()));
    }
  });

  it("setTimeout replaces the TTL and the sandbox is killed when it expires", async () => {
    const sb = await Sandbox.create({ ...conn(), timeoutMs: 300_000 });
    try {
      await sb.commands.run("sleep 1000 >/dev/null 2>&1 &");
      await sb.setTimeout(1_000);
      const info = await sb.getInfo();
      expect(info.endAt.getTime() - Date.now()).toBeLessThan(5_000);
      await vi.waitFor(async () => expect(await sb.isRunning()).toBe(false), { timeout: 15_000, interval: 200 });
      expect(await Sandbox.kill(sb.sandboxId, conn())).toBe(false);
    } finally {
      await sb.kill().catch(() => {});
    }
  });

  it("connect only extends the TTL", async () => {
    await withSandbox(
      async (sb) => {
        const before = (await sb.getInfo()).endAt.getTime();
        await Sandbox.connect(sb.sandboxId, { ...conn(), timeoutMs: 10_000 });
        expect((await sb.getInfo()).endAt.getTime()).toBe(before);
        await Sandbox.connect(sb.sandboxId, { ...conn(), timeoutMs: 600_000 });
        expect((await sb.getInfo()).endAt.getTime()).toBeGreaterThan(before);
      },
      { timeoutMs: 120_000 },
    );
  });

  it("rejects a bad create body with a 4xx, and the server keeps serving", async () => {
    const url = conn().apiUrl;
    const key = conn().apiKey;
    for (const body of [
      "{not json",
      JSON.stringify({ timeout: "x" }),
      JSON.stringify({ templateID: "nope" }),
      JSON.stringify({ envVars: { a: 1 } }),
    ]) {
      const r = await fetch(`${url}/v2/sandboxes`, {
        method: "POST",
        headers: { "X-API-KEY": key, "content-type": "application/json" },
        body,
      });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      const j = (await r.json()) as { code: number; message: string };
      expect(j.code).toBe(r.status);
    }
    const r = await fetch(`${url}/sandboxes/nope`, { method: "DELETE", headers: { "X-API-KEY": key } });
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: 404 });
    await withSandbox(async (sb) => expect((await sb.commands.run("echo ok")).stdout).toBe("ok\n"));
  });
});
