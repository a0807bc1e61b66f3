// Pause and resume through the unmodified SDK (filesystem-only: files kept, processes restart),
// onTimeout "pause" with autoResume, and Sandbox.list's filters, order and paging.
import { describe, expect, it } from "vitest";
import { Sandbox } from "e2b";
import { Sandbox as CodeInterpreter } from "@e2b/code-interpreter";
import { conn, marker, waitFor } from "./helpers.ts";

describe("pause and resume", () => {
  it("pause keeps the filesystem, ends the processes; connect resumes; listed as paused meanwhile", async () => {
    const tag = marker();
    const sb = await Sandbox.create({ ...conn(), metadata: { tag } });
    try {
      await sb.files.write("/home/user/kept.txt", "still here");
      await sb.commands.run("echo root-file > /root/r.txt; echo tmp > /tmp/t.txt", { user: "root" });
      await sb.commands.run("sleep 1000 >/dev/null 2>&1 &");
      expect(await sb.pause()).toBe(true);
      // paused: envd is not reachable, the API knows it as paused
      expect(await sb.isRunning()).toBe(false);
      expect((await sb.getInfo()).state).toBe("paused");
      const paused = await Sandbox.list({ ...conn(), query: { metadata: { tag }, state: ["paused"] } }).nextItems();
      expect(paused.map((s) => [s.sandboxId, s.state])).toEqual([[sb.sandboxId, "paused"]]);
      const running = await Sandbox.list({ ...conn(), query: { metadata: { tag }, state: ["running"] } }).nextItems();
      expect(running).toEqual([]);
      // pausing again is "already paused"
      expect(await Sandbox.pause(sb.sandboxId, conn())).toBe(false);

      const again = await Sandbox.connect(sb.sandboxId, conn());
      expect(await again.isRunning()).toBe(true);
      expect((await again.getInfo()).state).toBe("running");
      expect(await again.files.read("/home/user/kept.txt")).toBe("still here");
      expect((await again.commands.run("cat /root/r.txt /tmp/t.txt", { user: "root" })).stdout).toBe(
        "root-file\ntmp\n",
      );
      // filesystem-only: the old processes are gone, new ones run
      expect((await again.commands.run("pgrep -x sleep || echo none")).stdout).toBe("none\n");
      expect((await again.commands.run("echo $((6*7))")).stdout).toBe("42\n");
      // and the same handle works again too
      expect((await sb.commands.run("cat kept.txt")).stdout).toBe("still here");
    } finally {
      await sb.kill();
    }
    // a killed paused sandbox is gone
    expect(await Sandbox.kill(sb.sandboxId, conn())).toBe(false);
  });

  it("keepMemory is refused with a clear error (memory state is not kept)", async () => {
    const sb = await Sandbox.create(conn());
    try {
      await expect(sb.pause({ keepMemory: true })).rejects.toThrow(/filesystem only/);
      expect(await sb.pause({ keepMemory: false })).toBe(true);
    } finally {
      await sb.kill();
    }
  });

  it("onTimeout pause: the TTL pauses instead of killing, and envd traffic resumes (autoResume)", async () => {
    const sb = await Sandbox.create({
      ...conn(),
      timeoutMs: 1_000,
      lifecycle: { onTimeout: "pause", autoResume: true },
    });
    try {
      await sb.files.write("/home/user/x.txt", "before");
      const info = await sb.getInfo();
      expect(info.lifecycle).toEqual({ onTimeout: "pause", autoResume: true });
      await waitFor(async () => (await Sandbox.getInfo(sb.sandboxId, conn())).state === "paused", 200);
      // a command resumes it (autoResume) and the file is there
      expect((await sb.commands.run("cat /home/user/x.txt")).stdout).toBe("before");
      expect((await sb.getInfo()).state).toBe("running");
    } finally {
      await sb.kill();
    }
  });

  it("onTimeout pause without autoResume stays paused until connect", async () => {
    const sb = await Sandbox.create({ ...conn(), timeoutMs: 1_000, lifecycle: { onTimeout: "pause" } });
    try {
      await sb.files.write("/home/user/y.txt", "kept");
      await waitFor(async () => (await Sandbox.getInfo(sb.sandboxId, conn())).state === "paused", 200);
      expect(await sb.isRunning()).toBe(false);
      const again = await Sandbox.connect(sb.sandboxId, { ...conn(), timeoutMs: 60_000 });
      expect(await again.files.read("/home/user/y.txt")).toBe("kept");
    } finally {
      await sb.kill();
    }
  });

  it("port traffic resumes a sandbox paused with autoResume, as envd traffic does", async () => {
    const sb = await Sandbox.create({
      ...conn(),
      timeoutMs: 1_000,
      lifecycle: { onTimeout: "pause", autoResume: true },
    });
    try {
      await waitFor(async () => (await Sandbox.getInfo(sb.sandboxId, conn())).state === "paused", 200);
      // nothing listens after a filesystem-only resume, but the request woke the sandbox up
      const r = await fetch(`${conn().apiUrl}/`, {
        headers: { "E2b-Sandbox-Id": sb.sandboxId, "E2b-Sandbox-Port": "8000" },
      });
      expect(r.status).toBe(502);
      expect(((await r.json()) as { message: string }).message).toBe("The sandbox is running but port is not open");
      expect((await Sandbox.getInfo(sb.sandboxId, conn())).state).toBe("running");
    } finally {
      await sb.kill();
    }
  });

  it("a resumed code-interpreter sandbox starts its interpreter again (variables are gone, runCode works)", async () => {
    const sb = await CodeInterpreter.create(conn());
    try {
      await sb.runCode("kept = 6 * 7");
      expect(await sb.pause()).toBe(true);
      const again = await CodeInterpreter.connect(sb.sandboxId, conn());
      expect((await again.runCode("1 + 1")).text).toBe("2");
      // filesystem-only: the kernel is new
      expect((await again.runCode("kept")).error?.name).toBe("NameError");
    } finally {
      await sb.kill();
    }
  });
});

describe("Sandbox.list", () => {
  it("filters by metadata, state and template, orders by start time and pages with nextToken", async () => {
    const tag = marker();
    const made: Sandbox[] = [];
    try {
      for (let i = 0; i < 5; i++) made.push(await Sandbox.create({ ...conn(), metadata: { tag, n: String(i) } }));
      const other = await Sandbox.create({ ...conn(), metadata: { tag: `${tag}-other` } });
      made.push(other);
      await made[1]!.pause();
      const ids = made.slice(0, 5).map((s) => s.sandboxId);

      // paging exactly as the SDK pages: 2 + 2 + 1, newest first by default
      const pager = Sandbox.list({ ...conn(), query: { metadata: { tag } }, limit: 2 });
      const pages: string[][] = [];
      while (pager.hasNext) pages.push((await pager.nextItems()).map((s) => s.sandboxId));
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      expect(pages.flat()).toEqual([...ids].reverse());
      // ascending order
      const asc = await Sandbox.list({ ...conn(), query: { metadata: { tag } }, order: "asc" }).nextItems();
      expect(asc.map((s) => s.sandboxId)).toEqual(ids);
      // a page fetched with a saved token (a fresh paginator)
      const first = Sandbox.list({ ...conn(), query: { metadata: { tag } }, limit: 3 });
      await first.nextItems();
      const resumed = Sandbox.list({ ...conn(), query: { metadata: { tag } }, limit: 3, nextToken: first.nextToken });
      expect((await resumed.nextItems()).map((s) => s.sandboxId)).toEqual([ids[1], ids[0]]);
      // state and template filters, template in the entries
      const paused = await Sandbox.list({ ...conn(), query: { metadata: { tag }, state: ["paused"] } }).nextItems();
      expect(paused.map((s) => s.sandboxId)).toEqual([ids[1]]);
      const running = await Sandbox.list({ ...conn(), query: { metadata: { tag }, state: ["running"] } }).nextItems();
      expect(running).toHaveLength(4);
      const base = await Sandbox.list({ ...conn(), query: { metadata: { tag }, template: "base" } }).nextItems();
      expect(base).toHaveLength(5);
      for (const s of base) expect(s.templateId).toBe("base");
      const none = await Sandbox.list({
        ...conn(),
        query: { metadata: { tag }, template: "code-interpreter-v1" },
      }).nextItems();
      expect(none).toEqual([]);
      // two metadata keys
      const one = await Sandbox.list({ ...conn(), query: { metadata: { tag, n: "3" } } }).nextItems();
      expect(one.map((s) => s.sandboxId)).toEqual([ids[3]]);
      // startedAfter
      const later = await Sandbox.list({
        ...conn(),
        query: { metadata: { tag }, startedAfter: (await made[3]!.getInfo()).startedAt },
      }).nextItems();
      expect(later.map((s) => s.sandboxId).sort()).toEqual([ids[3], ids[4]].sort());
    } finally {
      await Promise.all(made.map((s) => s.kill().catch(() => {})));
    }
  });

  it("refuses a bad limit or token with 400", async () => {
    await expect(Sandbox.list({ ...conn(), limit: 1000 }).nextItems()).rejects.toThrow(/limit/);
    await expect(Sandbox.list({ ...conn(), nextToken: "garbage!" }).nextItems()).rejects.toThrow(/nextToken/);
  });
});
