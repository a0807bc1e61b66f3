// Stateful runs (`"stateful": true`) through the Worker on e2b-local's code-interpreter-v1 template:
// state across runs, exceptions, rich results, streaming, cancel, history, and the 400/409 refusals.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, type ExecutionBody, execute } from "./helpers.ts";

describe("stateful executions", () => {
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  beforeAll(async () => {
    alice = await createUser("stateful-a");
    bob = await createUser("stateful-b");
  });

  it("keeps python state between runs in an interpreter sandbox", async () => {
    const first = await execute(alice.apiKey, {
      language: "python",
      code: "x = 41",
      stateful: true,
      conversationId: "nb",
    });
    expect(first.res.status).toBe(200);
    expect(first.json).toMatchObject({ status: "succeeded", results: [], conversationId: "nb" });
    expect(first.json.error).toBeUndefined();
    const second = await execute(alice.apiKey, {
      language: "python",
      code: "print('hi')\nx + 1",
      stateful: true,
      conversationId: "nb",
    });
    const result = second.json as ExecutionBody;
    expect(result).toMatchObject({ status: "succeeded", stdout: "hi\n", exitCode: null });
    expect(result.results).toEqual([{ type: "text/plain", data: "42", isMainResult: true }]);
    expect(result.sandboxId).toBe(first.json.sandboxId);
    const info = await call("/api/v1/sandboxes/nb", { key: alice.apiKey });
    expect(((await info.json()) as { template: string }).template).toBe("code-interpreter-v1");
  });

  it("keeps node state in its own context", async () => {
    const code = (c: string) => ({ language: "node", code: c, stateful: true, conversationId: "nb" });
    expect((await execute(alice.apiKey, code("let n = 20")).then((r) => r.json)).status).toBe("succeeded");
    const { json } = await execute(alice.apiKey, code("n * 2 + 2"));
    expect(json.status).toBe("succeeded");
    expect(json.results[0]).toMatchObject({ type: "text/plain", data: "42", isMainResult: true });
  });

  it("reports an exception as failed with its name, value and traceback", async () => {
    const undefinedName = await execute(alice.apiKey, {
      language: "python",
      code: "not_defined_anywhere",
      stateful: true,
      conversationId: "nb",
    });
    expect(undefinedName.json.status).toBe("failed");
    expect(undefinedName.json.error).toMatchObject({ name: "NameError" });
    expect(undefinedName.json.error.value).toContain("not_defined_anywhere");
    const division = await execute(alice.apiKey, {
      language: "python",
      code: "print('before')\n1 / 0",
      stateful: true,
      conversationId: "nb",
    });
    const result = division.json as ExecutionBody;
    expect(result.status).toBe("failed");
    expect(result.stdout).toBe("before\n");
    expect(result.error?.name).toBe("ZeroDivisionError");
    expect(result.error?.traceback).toContain("ZeroDivisionError");
    expect(result.results).toEqual([]);
    // history keeps the run and the exception as its error message
    const history = await call(`/api/v1/executions/${result.id}`, { key: alice.apiKey });
    expect(await history.json()).toMatchObject({
      status: "failed",
      stdout: "before\n",
      error: expect.stringMatching(/^ZeroDivisionError: /),
    });
  });

  it("returns a matplotlib plot as an image/png result", async () => {
    const { json } = await execute(alice.apiKey, {
      language: "python",
      code: "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.show()",
      stateful: true,
      conversationId: "nb",
    });
    expect(json.status).toBe("succeeded");
    const png = (json as ExecutionBody).results?.find((r) => r.type === "image/png");
    expect(png?.isMainResult).toBe(false);
    const bytes = Uint8Array.from(atob(png!.data), (ch) => ch.charCodeAt(0));
    expect([...bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it("streams a stateful run over SSE, ending with its results", async () => {
    const res = await call("/api/v1/executions", {
      key: alice.apiKey,
      headers: { Accept: "text/event-stream" },
      json: { language: "python", code: "print('streamed')\nx * 2", stateful: true, conversationId: "nb" },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('event: stdout\ndata: {"data":"streamed\\n"}');
    const end = text.split("\n\n").find((frame) => frame.includes("\nevent: end\n"));
    const result = JSON.parse(end!.split("data: ")[1]!) as ExecutionBody;
    expect(result.results).toEqual([{ type: "text/plain", data: "82", isMainResult: true }]);
  });

  it("times a cell out at timeoutMs and keeps the context's state", async () => {
    const slow = await execute(alice.apiKey, {
      language: "python",
      code: "import time\nx = 0\ntime.sleep(30)",
      stateful: true,
      conversationId: "nb",
      timeoutMs: 1500,
    });
    expect(slow.json).toMatchObject({ status: "timed_out", exitCode: null });
    // interrupted mid-cell: the assignment before the sleep ran, the context lives on
    const after = await execute(alice.apiKey, {
      language: "python",
      code: "x + 1",
      stateful: true,
      conversationId: "nb",
    });
    expect(after.json.results[0].data).toBe("1");
    await execute(alice.apiKey, { language: "python", code: "x = 41", stateful: true, conversationId: "nb" });
  });

  it("cancels a running stateful run by interrupting its cell: the context keeps its variables", async () => {
    await execute(alice.apiKey, { language: "python", code: "x = 41", stateful: true, conversationId: "nb" });
    const res = await call("/api/v1/executions", {
      key: alice.apiKey,
      headers: { Accept: "text/event-stream" },
      json: {
        language: "python",
        code: "import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.05)",
        stateful: true,
        conversationId: "nb",
        timeoutMs: 60_000,
      },
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    // once the loop runs (its output arrived), cancel it
    while (!text.includes("looping")) text += (await reader.read()).value ?? "";
    const id = text.match(/exe_[A-Za-z0-9_-]+/)![0];
    const cancel = await call(`/api/v1/executions/${id}/cancel`, { key: alice.apiKey, method: "POST" });
    expect(cancel.status).toBe(202);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
    expect(text).toContain('"status":"cancelled"');
    const after = await execute(alice.apiKey, { language: "python", code: "x", stateful: true, conversationId: "nb" });
    expect(after.json).toMatchObject({ status: "succeeded", results: [{ type: "text/plain", data: "41" }] });
    const history = await call(`/api/v1/executions/${id}`, { key: alice.apiKey });
    expect(await history.json()).toMatchObject({ status: "cancelled", stdout: "looping\n" });
  });

  it("drops results past OUTPUT_LIMIT_BYTES and says so", async () => {
    const limit = Number(env.OUTPUT_LIMIT_BYTES);
    const big = await execute(alice.apiKey, {
      language: "python",
      code: `'a' * ${limit + 10}`,
      stateful: true,
      conversationId: "nb",
    });
    expect(big.json).toMatchObject({ status: "succeeded", truncated: true, results: [] });
    const small = await execute(alice.apiKey, {
      language: "python",
      code: "'a' * 3",
      stateful: true,
      conversationId: "nb",
    });
    expect(small.json).toMatchObject({ truncated: false, results: [{ type: "text/plain", data: "aaa" }] });
  });

  it("refuses stateful shell with a 400", async () => {
    const { res, json } = await execute(alice.apiKey, { language: "shell", code: "echo hi", stateful: true });
    expect(res.status).toBe(400);
    expect((json as ErrorBody).error.message).toMatch(/^stateful: only python and node/);
  });

  it("refuses a stateful run in a conversation whose sandbox is base with a 409", async () => {
    const plain = await execute(alice.apiKey, { language: "shell", code: "true", conversationId: "plain" });
    expect(plain.json.status).toBe("succeeded");
    const { res, json } = await execute(alice.apiKey, {
      language: "python",
      code: "1",
      stateful: true,
      conversationId: "plain",
    });
    expect(res.status).toBe(409);
    expect((json as ErrorBody).error.message).toContain("DELETE /api/v1/sandboxes/plain");
  });

  it("keeps users apart: B's conversation of the same name does not see A's variable", async () => {
    const { json } = await execute(bob.apiKey, { language: "python", code: "x", stateful: true, conversationId: "nb" });
    expect(json.status).toBe("failed");
    expect(json.error.name).toBe("NameError");
    // and A's is still there
    const again = await execute(alice.apiKey, { language: "python", code: "x", stateful: true, conversationId: "nb" });
    expect(again.json.results[0].data).toBe("41");
  });
});
