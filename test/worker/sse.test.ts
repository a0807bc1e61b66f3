// The streaming API: events as the code produces output, recorded like the JSON API, robust to a
// client that goes away.
import { env } from "cloudflare:test";
import { Sandbox } from "e2b";
import { describe, expect, it } from "vitest";
import { call, createUser, execute, type ErrorBody, type SseEvent, sseReader } from "./helpers.ts";

function stream(key: string, body: Record<string, unknown>) {
  return call("/api/v1/executions", { key, json: body, headers: { Accept: "text/event-stream" } });
}

describe("POST /api/v1/executions as SSE", () => {
  it("streams output while the code runs, then ends with the recorded result", async () => {
    const u = await createUser("sse");
    const conversationId = "live";
    // The code waits for a file that the test only writes after it has seen the first line: without
    // live streaming the run could never finish.
    const res = await stream(u.apiKey, {
      language: "shell",
      conversationId,
      code: "echo first; echo oops >&2; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo second",
      timeoutMs: 30_000,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/event-stream");
    const events = sseReader(res);
    const start = await events.next();
    expect(start).toMatchObject({ event: "start", data: { conversationId, language: "shell" } });
    expect(start!.data.id).toMatch(/^exe_/);

    const seen: SseEvent[] = [];
    while (!seen.some((e) => e.event === "stdout" && e.data.data.includes("first"))) seen.push((await events.next())!);
    const go = await execute(u.apiKey, { language: "shell", code: "touch /tmp/go", conversationId });
    expect(go.json.status).toBe("succeeded");

    for (let e = await events.next(); e; e = await events.next()) seen.push(e);
    const end = seen.at(-1)!;
    expect(end.event).toBe("end");
    expect(end.data).toMatchObject({
      id: start!.data.id,
      status: "succeeded",
      exitCode: 0,
      stdout: "first\nsecond\n",
      stderr: "oops\n",
    });
    expect(
      seen
        .filter((e) => e.event === "stderr")
        .map((e) => e.data.data)
        .join(""),
    ).toBe("oops\n");
    // Event by event: each line arrived as it was written (the gate separates them in time), in order,
    // and nothing but output came between start and end.
    expect(seen.filter((e) => e.event === "stdout").map((e) => e.data.data)).toEqual(["first\n", "second\n"]);
    expect(seen.slice(0, -1).every((e) => e.event === "stdout" || e.event === "stderr")).toBe(true);

    const recorded = await (await call(`/api/v1/executions/${start!.data.id}`, { key: u.apiKey })).json<any>();
    expect(recorded).toMatchObject({ status: "succeeded", stdout: "first\nsecond\n" });
    const stats = await (await call("/api/v1/stats", { key: u.apiKey })).json<any>();
    expect(stats.user.totalExecutions).toBe(2);
  });

  it("records the run when the client disconnects mid-run", async () => {
    const u = await createUser("sse-gone");
    const res = await stream(u.apiKey, {
      language: "python",
      code: "import time\nprint('a')\ntime.sleep(0.5)\nprint('b')",
    });
    const events = sseReader(res);
    const start = await events.next();
    let e = await events.next();
    while (e && e.event !== "stdout") e = await events.next();
    await events.cancel();

    // The run goes on without a reader; poll (bounded) until it is in the history.
    let item: any;
    for (let i = 0; i < 100 && !item; i++) {
      const page = await (await call("/api/v1/executions", { key: u.apiKey })).json<any>();
      item = page.items.find((x: any) => x.id === start!.data.id);
      if (!item) await new Promise((r) => setTimeout(r, 100));
    }
    expect(item).toMatchObject({ status: "succeeded", stdout: "a\nb\n" });
  });

  it("stops streaming output past OUTPUT_LIMIT_BYTES", async () => {
    const u = await createUser("sse-flood");
    const limit = Number(env.OUTPUT_LIMIT_BYTES);
    const res = await stream(u.apiKey, {
      language: "python",
      code: `import sys\nfor _ in range(40): sys.stdout.write("y" * ${Math.floor(limit / 10)})`,
    });
    const events = sseReader(res);
    let streamed = 0;
    let end: SseEvent | null = null;
    for (let e = await events.next(); e; e = await events.next()) {
      if (e.event === "stdout") streamed += e.data.data.length;
      if (e.event === "end") end = e;
    }
    expect(streamed).toBe(limit);
    expect(end!.data).toMatchObject({ status: "succeeded", truncated: true });
  });

  it("answers errors before the code starts with an HTTP status, not a stream", async () => {
    const u = await createUser("sse-bad");
    const bad = await stream(u.apiKey, { language: "cobol", code: "x" });
    expect(bad.status).toBe(400);
    const max = Number(env.MAX_CONCURRENT_EXECUTIONS);
    // Every slot taken by a run that waits for a file (each has sent its start event, so it holds its
    // slot), until the test releases them: no sleep decides whether they are still running.
    const busy = await Promise.all(
      Array.from({ length: max }, async (_, i) => {
        const events = sseReader(
          await stream(u.apiKey, {
            language: "shell",
            code: "while [ ! -f /tmp/go ]; do sleep 0.05; done",
            conversationId: `b${i}`,
            timeoutMs: 30_000,
          }),
        );
        const start = (await events.next())!;
        expect(start.event).toBe("start");
        return { events, id: start.data.id as string };
      }),
    );
    for (let i = 0; i < 2; i++) {
      const limited = await stream(u.apiKey, { language: "shell", code: "true" });
      expect(limited.status).toBe(429);
      expect(limited.headers.get("Retry-After")).toBe("1");
      expect((await limited.json<ErrorBody>()).error.code).toBe("rate_limited");
    }
    for (let i = 0; i < max; i++) {
      const put = await call(`/api/v1/sandboxes/b${i}/file?path=/tmp/go`, { key: u.apiKey, method: "PUT", body: "go" });
      expect(put.status).toBe(200);
    }
    for (const { events } of busy) {
      let last: SseEvent | null = null;
      for (let e = await events.next(); e; e = await events.next()) last = e;
      expect(last!.event).toBe("end");
      expect(last!.data.status).toBe("succeeded");
    }
    expect((await stream(u.apiKey, { language: "shell", code: "true" })).status).toBe(200);
  });
});

describe("POST /api/v1/executions/:id/cancel", () => {
  it("kills a running execution, which ends cancelled and is recorded so", async () => {
    const u = await createUser("canceller");
    const events = sseReader(
      await stream(u.apiKey, { language: "shell", code: "echo begun; sleep 30; echo never", conversationId: "c" }),
    );
    const start = (await events.next())!;
    let e = await events.next();
    while (e && e.event !== "stdout") e = await events.next();

    const other = await createUser("bystander");
    expect(
      (await call(`/api/v1/executions/${start.data.id}/cancel`, { key: other.apiKey, method: "POST" })).status,
    ).toBe(404);

    const res = await call(`/api/v1/executions/${start.data.id}/cancel`, { key: u.apiKey, method: "POST" });
    expect(res.status).toBe(202);
    let end: SseEvent | null = null;
    for (let x = await events.next(); x; x = await events.next()) if (x.event === "end") end = x;
    expect(end!.data).toMatchObject({ id: start.data.id, status: "cancelled", exitCode: null, stdout: "begun\n" });

    const recorded = await (await call(`/api/v1/executions/${start.data.id}`, { key: u.apiKey })).json<any>();
    expect(recorded.status).toBe("cancelled");
    const stats = await (await call("/api/v1/stats", { key: u.apiKey })).json<any>();
    expect(stats.user.byLanguage.shell).toMatchObject({ total: 1, cancelled: 1 });
    // The sandbox lives on, and the killed process is gone.
    const after = await execute(u.apiKey, {
      language: "shell",
      code: "for i in $(seq 50); do pgrep -x sleep >/dev/null || { echo none; exit; }; sleep 0.1; done; echo still running",
      conversationId: "c",
    });
    expect(after.json).toMatchObject({ status: "succeeded", stdout: "none\n", sandboxId: start.data.sandboxId });

    const again = await call(`/api/v1/executions/${start.data.id}/cancel`, { key: u.apiKey, method: "POST" });
    expect(again.status).toBe(409);
    expect((await again.json<ErrorBody>()).error).toMatchObject({
      code: "conflict",
      message: `Execution ${start.data.id} already ended (cancelled).`,
    });
  });

  it("answers 404 for an execution id that never existed", async () => {
    const u = await createUser("cancel-unknown");
    const res = await call("/api/v1/executions/exe_doesnotexist/cancel", { key: u.apiKey, method: "POST" });
    expect(res.status).toBe(404);
    expect((await res.json<ErrorBody>()).error).toMatchObject({
      code: "not_found",
      message: "No execution exe_doesnotexist.",
      requestId: res.headers.get("X-Request-Id"),
    });
  });
});

describe("SSE when the sandbox is lost mid-run", () => {
  it("ends with an error event carrying the HTTP status, and history keeps the output already streamed", async () => {
    const u = await createUser("sse-lost");
    const res = await stream(u.apiKey, {
      language: "shell",
      conversationId: "lost",
      code: "echo before; echo warned >&2; while [ ! -f /tmp/never ]; do sleep 0.05; done",
      timeoutMs: 30_000,
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get("X-Request-Id");
    const events = sseReader(res);
    const start = (await events.next())!;
    expect(start.event).toBe("start");
    // Both streams seen (they arrive independently), so what history must keep has reached Phoenix.
    let out = "";
    let err = "";
    while (!out.includes("before") || !err.includes("warned")) {
      const e = await events.next();
      if (!e) throw new Error("the stream ended before the code's output arrived");
      if (e.event === "stdout") out += e.data.data;
      if (e.event === "stderr") err += e.data.data;
    }

    // Killed behind Phoenix's back, as E2B does when a sandbox expires or its host fails.
    const e2b = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL };
    expect(await Sandbox.kill(start.data.sandboxId, e2b)).toBe(true);
    let last: SseEvent | null = null;
    for (let x = await events.next(); x; x = await events.next()) last = x;
    expect(last!.event).toBe("error");
    expect(last!.data.error).toMatchObject({ code: "sandbox_unavailable", status: 502, requestId });
    expect(last!.data.error.message).toMatch(/sandbox stopped while running the code/);

    const recorded = await (await call(`/api/v1/executions/${start.data.id}`, { key: u.apiKey })).json<any>();
    expect(recorded).toMatchObject({
      status: "error",
      stdout: "before\n",
      stderr: "warned\n",
      exitCode: null,
      sandboxId: start.data.sandboxId,
    });
    expect(recorded.error).toMatch(/sandbox stopped/);
  });
});
