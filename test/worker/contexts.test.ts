// Interpreter contexts through the Worker on e2b-local: …/contexts create, list (defaults included),
// restart, delete; runs with `contextId`; the 400/404/409 refusals; and users kept apart.
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, execute } from "./helpers.ts";

interface ContextBody {
  id: string;
  language: string;
  cwd: string;
  createdAt: string;
  default: boolean;
}

const contexts = (conversationId: string) => `/api/v1/sandboxes/${conversationId}/contexts`;

async function createContext(key: string, conversationId: string, body: Record<string, unknown>) {
  const res = await call(contexts(conversationId), { key, json: body });
  return { res, json: (await res.json()) as ContextBody & ErrorBody };
}

async function listContexts(key: string, conversationId: string): Promise<ContextBody[]> {
  const res = await call(contexts(conversationId), { key });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: ContextBody[] }).items;
}

describe("interpreter contexts", () => {
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  beforeAll(async () => {
    alice = await createUser("contexts-a");
    bob = await createUser("contexts-b");
  });

  it("creates a context, runs in it by contextId apart from the default, restarts and deletes it", async () => {
    const key = alice.apiKey;
    const created = await createContext(key, "ctx", { language: "python" });
    expect(created.res.status).toBe(201);
    const ctx = created.json;
    expect(ctx).toMatchObject({ language: "python", cwd: "/home/user", default: false });
    expect(typeof ctx.id).toBe("string");
    expect(Date.parse(ctx.createdAt)).not.toBeNaN();

    const run = (code: string, extra: Record<string, unknown> = { contextId: ctx.id }) =>
      execute(key, { language: "python", code, conversationId: "ctx", ...extra }).then((r) => r.json);
    expect((await run("y = 5")).status).toBe("succeeded");
    // contextId alone makes the run stateful
    expect((await run("y * 2")).results).toEqual([{ type: "text/plain", data: "10", isMainResult: true }]);
    // the conversation's default context is another one
    const inDefault = await run("y", { stateful: true });
    expect(inDefault.error?.name).toBe("NameError");

    const items = await listContexts(key, "ctx");
    expect(items).toContainEqual(ctx);
    const defaults = items.filter((c) => c.default);
    expect(defaults.map((c) => c.language)).toContain("python");
    expect(defaults.every((c) => c.id !== ctx.id)).toBe(true);

    const restarted = await call(`${contexts("ctx")}/${ctx.id}/restart`, { key, method: "POST" });
    expect(restarted.status).toBe(200);
    expect(await restarted.json()).toEqual(ctx);
    expect((await run("y")).error?.name).toBe("NameError");
    expect((await run("z = 1")).status).toBe("succeeded");

    const removed = await call(`${contexts("ctx")}/${ctx.id}`, { key, method: "DELETE" });
    expect(removed.status).toBe(204);
    expect((await listContexts(key, "ctx")).map((c) => c.id)).not.toContain(ctx.id);
    const gone = await execute(key, { language: "python", code: "z", conversationId: "ctx", contextId: ctx.id });
    expect(gone.res.status).toBe(404);
    expect(gone.json.error.message).toContain(ctx.id);
    for (const [path, method] of [
      [`${contexts("ctx")}/${ctx.id}/restart`, "POST"],
      [`${contexts("ctx")}/${ctx.id}`, "DELETE"],
      [`${contexts("ctx")}/no-such-context/restart`, "POST"],
    ] as const) {
      const res = await call(path, { key, method });
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe("not_found");
    }
  });

  it("restarts the default context that stateful runs use: their variables are gone", async () => {
    const key = alice.apiKey;
    const stateful = (code: string) =>
      execute(key, { language: "python", code, stateful: true, conversationId: "ctx-default" }).then((r) => r.json);
    expect((await stateful("kept = 99")).status).toBe("succeeded");
    expect((await stateful("kept")).results[0].data).toBe("99");
    const python = (await listContexts(key, "ctx-default")).find((c) => c.default && c.language === "python");
    expect(python).toBeDefined();
    // the default's id also works as an explicit contextId
    const same = await execute(key, {
      language: "python",
      code: "kept",
      conversationId: "ctx-default",
      contextId: python!.id,
    });
    expect(same.json.results[0].data).toBe("99");
    const res = await call(`${contexts("ctx-default")}/${python!.id}/restart`, { key, method: "POST" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ContextBody).default).toBe(true);
    expect((await stateful("kept")).error?.name).toBe("NameError");
  });

  it("runs node in a node context, in the cwd it was given", async () => {
    const key = alice.apiKey;
    const { res, json } = await createContext(key, "ctx", { language: "node", cwd: "/tmp" });
    expect(res.status).toBe(201);
    expect(json).toMatchObject({ language: "node", cwd: "/tmp", default: false });
    const run = (code: string) =>
      execute(key, { language: "node", code, conversationId: "ctx", contextId: json.id }).then((r) => r.json);
    expect((await run("globalThis.counter = 40")).status).toBe("succeeded");
    expect((await run("counter + 2")).results[0].data).toBe("42");
    expect((await run("process.cwd()")).results[0].data).toContain("/tmp");
  });

  it("refuses what does not fit: language mismatch, shell, bad language or cwd, a base sandbox", async () => {
    const key = alice.apiKey;
    const { json: py } = await createContext(key, "ctx", { language: "python" });
    const mismatch = await execute(key, { language: "node", code: "1", conversationId: "ctx", contextId: py.id });
    expect(mismatch.res.status).toBe(400);
    expect(mismatch.json.error.message).toMatch(/^language: /);
    const shell = await execute(key, { language: "shell", code: "true", conversationId: "ctx", contextId: py.id });
    expect(shell.res.status).toBe(400);
    expect(shell.json.error.message).toMatch(/^contextId: /);
    const malformed = await execute(key, { language: "python", code: "1", conversationId: "ctx", contextId: "../x" });
    expect(malformed.res.status).toBe(400);
    expect(malformed.json.error.message).toMatch(/^contextId: /);

    const badLanguage = await createContext(key, "ctx", { language: "shell" });
    expect(badLanguage.res.status).toBe(400);
    expect(badLanguage.json.error.message).toMatch(/^language: /);
    const badCwd = await createContext(key, "ctx", { language: "python", cwd: "/no/such/dir" });
    expect(badCwd.res.status).toBe(400);
    expect(badCwd.json.error.message).toMatch(/^cwd: /);

    expect((await execute(key, { language: "shell", code: "true", conversationId: "ctx-plain" })).json.status).toBe(
      "succeeded",
    );
    const plain = await createContext(key, "ctx-plain", { language: "python" });
    expect(plain.res.status).toBe(409);
    expect(plain.json.error.message).toContain("DELETE /api/v1/sandboxes/ctx-plain");
    expect(await listContexts(key, "ctx-plain")).toEqual([]);
    expect(await listContexts(key, "ctx-never-used")).toEqual([]);
  });

  it("keeps users apart: B can neither see nor use nor touch A's contexts", async () => {
    const { json: mine } = await createContext(alice.apiKey, "shared-name", { language: "python" });
    await execute(alice.apiKey, {
      language: "python",
      code: "secret = 7",
      conversationId: "shared-name",
      contextId: mine.id,
    });

    // B's conversation of the same name is B's own sandbox: A's context is not there
    const theirs = await createContext(bob.apiKey, "shared-name", { language: "python" });
    expect(theirs.res.status).toBe(201);
    const bobIds = (await listContexts(bob.apiKey, "shared-name")).map((c) => c.id);
    expect(bobIds).not.toContain(mine.id);
    for (const conversationId of ["shared-name", "default"]) {
      const used = await execute(bob.apiKey, {
        language: "python",
        code: "secret",
        conversationId,
        contextId: mine.id,
      });
      expect(used.res.status).toBe(404);
      const restart = await call(`${contexts(conversationId)}/${mine.id}/restart`, { key: bob.apiKey, method: "POST" });
      expect(restart.status).toBe(404);
      const remove = await call(`${contexts(conversationId)}/${mine.id}`, { key: bob.apiKey, method: "DELETE" });
      expect(remove.status).toBe(404);
    }
    // A's context is untouched
    const again = await execute(alice.apiKey, {
      language: "python",
      code: "secret",
      conversationId: "shared-name",
      contextId: mine.id,
    });
    expect(again.json.results[0].data).toBe("7");
  });
});
