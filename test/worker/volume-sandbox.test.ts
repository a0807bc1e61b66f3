// Sandbox ↔ volume: persist copies a sandbox file into the volume under the quota, restore copies it
// back — so what code writes outlives its sandbox. Real e2b SDK on e2b-local.
import { describe, expect, it } from "vitest";
import { call, createUser, execute, type ErrorBody } from "./helpers.ts";
import { fileUrl, MiB, put, r2Totals, sized, usage } from "./volume-helpers.ts";

const persist = (key: string, conversationId: string, body: unknown) =>
  call(`/api/v1/sandboxes/${conversationId}/files/persist`, { key, json: body });
const restore = (key: string, conversationId: string, body: unknown) =>
  call(`/api/v1/sandboxes/${conversationId}/files/restore`, { key, json: body });

describe("persist and restore", () => {
  it("keeps what code wrote after its sandbox is gone", async () => {
    const u = await createUser("persist");
    const wrote = await execute(u.apiKey, {
      language: "python",
      conversationId: "job",
      code: "import os, json\nos.makedirs('out', exist_ok=True)\njson.dump({'answer': 42}, open('out/result.json', 'w'))\nopen('out/bytes.bin', 'wb').write(bytes(range(256)))",
    });
    expect(wrote.json.status).toBe("succeeded");

    const saved = await persist(u.apiKey, "job", { path: "out/result.json", name: "results/2026/run.json" });
    expect(saved.status).toBe(201);
    expect(await saved.json()).toMatchObject({
      name: "results/2026/run.json",
      path: "/home/user/out/result.json",
      size: 14,
      replaced: false,
    });
    expect((await persist(u.apiKey, "job", { path: "/home/user/out/bytes.bin", name: "bytes.bin" })).status).toBe(201);
    expect(await (await call(fileUrl("results/2026/run.json"), { key: u.apiKey })).json()).toEqual({ answer: 42 });
    const bytes = new Uint8Array(await (await call(fileUrl("bytes.bin"), { key: u.apiKey })).arrayBuffer());
    expect(bytes).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i));
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 14 + 256, fileCount: 2 });

    // The sandbox goes; the file comes back into a fresh one, and code reads it there.
    expect((await call("/api/v1/sandboxes/job", { key: u.apiKey, method: "DELETE" })).status).toBe(204);
    const restored = await restore(u.apiKey, "job", { name: "results/2026/run.json", path: "in/run.json" });
    expect(restored.status).toBe(200);
    expect(await restored.json()).toEqual({ name: "results/2026/run.json", path: "/home/user/in/run.json", size: 14 });
    expect((await restore(u.apiKey, "job", { name: "bytes.bin", path: "in/bytes.bin" })).status).toBe(200);
    const read = await execute(u.apiKey, {
      language: "python",
      conversationId: "job",
      code: "import json\nprint(json.load(open('in/run.json'))['answer'], open('in/bytes.bin','rb').read() == bytes(range(256)))",
    });
    expect(read.json.stdout.trim()).toBe("42 True");
  });

  it("persists under the quota: over is 507 and nothing is stored; an overwrite counts the difference", async () => {
    const u = await createUser("persist-quota");
    expect((await put(u.apiKey, "filler.bin", sized(90 * MiB))).status).toBe(201);
    const made = await execute(u.apiKey, {
      language: "shell",
      conversationId: "q",
      code: "head -c 20971520 /dev/zero > big.bin && head -c 5242880 /dev/zero > mid.bin",
    });
    expect(made.json.status).toBe("succeeded");
    const over = await persist(u.apiKey, "q", { path: "big.bin", name: "big.bin" });
    expect(over.status).toBe(507);
    expect((await over.json<ErrorBody>()).error.code).toBe("quota_exceeded");
    expect((await call(fileUrl("big.bin"), { key: u.apiKey })).status).toBe(404);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 90 * MiB, fileCount: 1, reservedBytes: 0 });

    // 5 MiB replacing the 90 MiB filler fits where a new 5 MiB file would too; 20 MiB replacing it fits as well.
    expect((await persist(u.apiKey, "q", { path: "big.bin", name: "filler.bin" })).status).toBe(200);
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: 20 * MiB, fileCount: 1 });
    expect((await persist(u.apiKey, "q", { path: "mid.bin", name: "mid.bin" })).status).toBe(201);
    const truth = await r2Totals(u.id);
    expect(truth).toEqual({ bytes: 25 * MiB, count: 2 });
    expect(await usage(u.apiKey)).toMatchObject({ usedBytes: truth.bytes, fileCount: 2 });
  });

  it("answers 404 without starting a sandbox, and 400 naming the field", async () => {
    const u = await createUser("persist-errors");
    const none = await persist(u.apiKey, "never-used", { path: "x.txt", name: "x.txt" });
    expect(none.status).toBe(404);
    const missingName = await restore(u.apiKey, "never-used", { name: "nope.txt", path: "x.txt" });
    expect(missingName.status).toBe(404);
    expect((await missingName.json<ErrorBody>()).error.message).toContain("nope.txt");
    const listed = await (await call("/api/v1/sandboxes", { key: u.apiKey })).json<{ items: unknown[] }>();
    expect(listed.items).toEqual([]);

    await execute(u.apiKey, { language: "shell", conversationId: "c", code: "mkdir -p d && echo hi > d/f.txt" });
    expect((await persist(u.apiKey, "c", { path: "missing.txt", name: "m.txt" })).status).toBe(404);
    const dir = await persist(u.apiKey, "c", { path: "d", name: "d" });
    expect(dir.status).toBe(400);

    const cases: [string, unknown, string][] = [
      ["persist", { path: "d/f.txt", name: "../escape" }, "name"],
      ["persist", { path: "d/f.txt", name: "/abs" }, "name"],
      ["persist", { path: "d/f.txt" }, "name"],
      ["persist", { name: "ok.txt" }, "path"],
      ["restore", { name: "a\\b", path: "x" }, "name"],
      ["restore", { name: "ok.txt", path: "" }, "path"],
    ];
    for (const [op, body, field] of cases) {
      const res = await (op === "persist" ? persist : restore)(u.apiKey, "c", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<ErrorBody>()).error.message).toContain(field);
    }
    expect((await persist(u.apiKey, "bad conversation!", { path: "d/f.txt", name: "f" })).status).toBe(400);
  });

  it("never crosses users", async () => {
    const a = await createUser("persist-a");
    const b = await createUser("persist-b");
    await put(a.apiKey, "a-only.txt", "secret");
    await execute(a.apiKey, { language: "shell", conversationId: "shared-name", code: "echo mine > f.txt" });
    // b's conversation of the same name is b's own (no sandbox yet), and a's volume is not b's.
    expect((await persist(b.apiKey, "shared-name", { path: "f.txt", name: "stolen.txt" })).status).toBe(404);
    expect((await restore(b.apiKey, "shared-name", { name: "a-only.txt", path: "x.txt" })).status).toBe(404);
    expect(await usage(b.apiKey)).toMatchObject({ usedBytes: 0, fileCount: 0 });
  });
});

describe("persist and restore across users with the same conversation name", () => {
  it("each user's conversation is their own sandbox, even when both have one", async () => {
    const a = await createUser("same-a");
    const b = await createUser("same-b");
    const aRan = await execute(a.apiKey, {
      language: "shell",
      conversationId: "both",
      code: "echo A > f.txt; echo A > a-only.txt",
    });
    const bRan = await execute(b.apiKey, { language: "shell", conversationId: "both", code: "echo B > f.txt" });
    expect(bRan.json.sandboxId).not.toBe(aRan.json.sandboxId);

    // b persists "f.txt" from b's own sandbox into b's own volume.
    const saved = await persist(b.apiKey, "both", { path: "f.txt", name: "f.txt" });
    expect(saved.status).toBe(201);
    expect(await (await call(fileUrl("f.txt"), { key: b.apiKey })).text()).toBe("B\n");
    expect((await call(fileUrl("f.txt"), { key: a.apiKey })).status).toBe(404);
    // A path only a's sandbox has does not exist in b's.
    const missing = await persist(b.apiKey, "both", { path: "a-only.txt", name: "a.txt" });
    expect(missing.status).toBe(404);
    expect((await missing.json<ErrorBody>()).error.message).toContain("/home/user/a-only.txt");

    // a restores its own volume file into a's sandbox; b's sandbox is untouched.
    expect((await put(a.apiKey, "note.txt", "for A")).status).toBe(201);
    expect((await restore(a.apiKey, "both", { name: "note.txt", path: "note.txt" })).status).toBe(200);
    expect((await restore(b.apiKey, "both", { name: "note.txt", path: "note.txt" })).status).toBe(404);
    const aSees = await execute(a.apiKey, { language: "shell", conversationId: "both", code: "cat note.txt f.txt" });
    expect(aSees.json).toMatchObject({ stdout: "for AA\n", sandboxId: aRan.json.sandboxId });
    const bSees = await execute(b.apiKey, { language: "shell", conversationId: "both", code: "ls; cat f.txt" });
    expect(bSees.json).toMatchObject({ stdout: "f.txt\nB\n", sandboxId: bRan.json.sandboxId });
    expect(await usage(a.apiKey)).toMatchObject({ usedBytes: 5, fileCount: 1 });
    expect(await usage(b.apiKey)).toMatchObject({ usedBytes: 2, fileCount: 1 });
  });
});
