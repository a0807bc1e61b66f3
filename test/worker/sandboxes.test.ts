// Sandbox info, close, files and package installs over HTTP, idle and orphan reaping — through the
// Worker and the user's Durable Object, with the real e2b SDK on e2b-local.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Sandbox } from "e2b";
import { beforeAll, describe, expect, it } from "vitest";
import { userSpace } from "../../src/durable/stub.ts";
import { ORPHAN_GRACE_MS, reapOrphans } from "../../src/sandbox/orphans.ts";
import { call, createUser, type ErrorBody, execute, gatedRun, until } from "./helpers.ts";

const e2b = { apiKey: env.E2B_API_KEY, apiUrl: env.E2B_API_URL, sandboxUrl: env.E2B_SANDBOX_URL };

async function sandboxesOf(userId: string, conversationId?: string) {
  const metadata: Record<string, string> = { app: "phoenix", userId };
  if (conversationId) metadata.conversationId = conversationId;
  return Sandbox.list({ ...e2b, query: { metadata } }).nextItems();
}

const base = (conversationId: string) => `/api/v1/sandboxes/${conversationId}`;
const fileUrl = (conversationId: string, path: string) =>
  `${base(conversationId)}/file?path=${encodeURIComponent(path)}`;

function put(key: string, conversationId: string, path: string, body: BodyInit) {
  return call(fileUrl(conversationId, path), { key, method: "PUT", body });
}

/** A body read as UTF-8 (file reads are octet-stream, so `Response.text()` would warn). */
async function textOf(res: Response): Promise<string> {
  return new TextDecoder().decode(await res.arrayBuffer());
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

describe("sandbox files", () => {
  let user: { id: string; apiKey: string };
  beforeAll(async () => {
    user = await createUser("files");
  });

  it("round-trips all 256 byte values and lists the file", async () => {
    const bytes = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
    const written = await put(user.apiKey, "bin", "data/nested/all.bin", bytes);
    expect(written.status).toBe(200);
    expect(await written.json()).toEqual({ path: "/home/user/data/nested/all.bin", size: 512 });

    const read = await call(fileUrl("bin", "/home/user/data/nested/all.bin"), { key: user.apiKey });
    expect(read.status).toBe(200);
    expect(read.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(bytes);

    const listed = await call(`${base("bin")}/files?path=data/nested`, { key: user.apiKey });
    const body = await listed.json<any>();
    expect(body.path).toBe("/home/user/data/nested");
    expect(body.items).toEqual([
      expect.objectContaining({ name: "all.bin", path: "/home/user/data/nested/all.bin", type: "file", size: 512 }),
    ]);
    expect(Date.parse(body.items[0].modifiedAt)).not.toBeNaN();
    const home = await (await call(`${base("bin")}/files`, { key: user.apiKey })).json<any>();
    expect(home.items).toContainEqual(expect.objectContaining({ name: "data", type: "dir" }));
  });

  it("writes a file an execution then reads, and reads what an execution wrote", async () => {
    expect((await put(user.apiKey, "shared-work", "input.txt", "from the API\n")).status).toBe(200);
    const ran = await execute(user.apiKey, {
      language: "python",
      conversationId: "shared-work",
      code: "print(open('input.txt').read().strip())\nopen('/tmp/out.txt', 'w').write('from code')",
    });
    expect(ran.json).toMatchObject({ status: "succeeded", stdout: "from the API\n" });
    const read = await call(fileUrl("shared-work", "/tmp/out.txt"), { key: user.apiKey });
    expect(await textOf(read)).toBe("from code");
  });

  it("deletes a file, then a folder with what is in it; a missing path is 404, the home folder stays", async () => {
    expect((await put(user.apiKey, "deletes", "keep.txt", "keep")).status).toBe(200);
    expect((await put(user.apiKey, "deletes", "gone.txt", "gone")).status).toBe(200);
    expect((await put(user.apiKey, "deletes", "dir/inner/a.txt", "a")).status).toBe(200);
    const del = (path: string) => call(fileUrl("deletes", path), { key: user.apiKey, method: "DELETE" });

    expect((await del("gone.txt")).status).toBe(204);
    expect((await call(fileUrl("deletes", "gone.txt"), { key: user.apiKey })).status).toBe(404);
    expect((await del("/home/user/dir")).status).toBe(204);
    const home = await (await call(`${base("deletes")}/files`, { key: user.apiKey })).json<any>();
    expect(home.items.map((i: { name: string }) => i.name)).toEqual(["keep.txt"]);

    const missing = await del("gone.txt");
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe("not_found");
    const homeItself = await del("/home/user");
    expect(homeItself.status).toBe(400);
    expect((await errorOf(homeItself)).message).toMatch(/^path: /);
    // Another user's conversation of the same name is theirs: nothing there to delete.
    const other = await createUser("files-other");
    expect((await call(fileUrl("deletes", "keep.txt"), { key: other.apiKey, method: "DELETE" })).status).toBe(404);
    expect(await textOf(await call(fileUrl("deletes", "keep.txt"), { key: user.apiKey }))).toBe("keep");
  });

  it("answers 404 for a conversation without a sandbox, and does not start one to look", async () => {
    for (const path of [`${base("nothing")}`, `${base("nothing")}/files`, fileUrl("nothing", "a.txt")]) {
      const res = await call(path, { key: user.apiKey });
      expect(res.status, path).toBe(404);
      expect((await errorOf(res)).code).toBe("not_found");
    }
    expect((await call(base("nothing"), { key: user.apiKey, method: "DELETE" })).status).toBe(404);
    expect(await sandboxesOf(user.id, "nothing")).toHaveLength(0);
  });

  it("maps missing files, directories and bad paths to 404 and 400", async () => {
    await put(user.apiKey, "errs", "dir/x.txt", "x");
    const missing = await call(fileUrl("errs", "nope.txt"), { key: user.apiKey });
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).message).toContain("/home/user/nope.txt");

    const dir = await call(fileUrl("errs", "dir"), { key: user.apiKey });
    expect(dir.status).toBe(400);
    expect((await errorOf(dir)).message).toMatch(/^path: /);
    expect((await call(`${base("errs")}/files?path=nowhere`, { key: user.apiKey })).status).toBe(404);

    const bad: [string, RegExp][] = [
      ["a\u0000b", /path: must not contain NUL/],
      ["a\nb", /path: must not contain NUL or other control/],
      ["x".repeat(300), /path: each segment must be at most 255 bytes/],
      [`${"abc/".repeat(1100)}f`, /path: must be at most 4096 bytes/],
    ];
    for (const [path, message] of bad) {
      const res = await call(fileUrl("errs", path), { key: user.apiKey });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(message);
    }
    const noPath = await call(`${base("errs")}/file`, { key: user.apiKey });
    expect(noPath.status).toBe(400);
    expect((await errorOf(noPath)).message).toMatch(/^path: /);
    const badConversation = await call(`${base("no%20spaces")}/files`, { key: user.apiKey });
    expect(badConversation.status).toBe(400);
    expect((await errorOf(badConversation)).message).toMatch(/^conversationId: /);
  });

  it("refuses writes over 50 MiB with 413, declared or streamed", async () => {
    const declared = await put(user.apiKey, "big", "big.bin", new Uint8Array(50 * 1024 * 1024 + 1));
    expect(declared.status, "declared").toBe(413);
    expect(await sandboxesOf(user.id, "big")).toHaveLength(0);

    expect((await put(user.apiKey, "big", "big.bin", "keep")).status).toBe(200);
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 51) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await put(user.apiKey, "big", "big.bin", streamed);
    expect(res.status, "streamed").toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
    // The file it would have replaced is intact, and nothing half-written is left beside it.
    expect(await textOf(await call(fileUrl("big", "big.bin"), { key: user.apiKey }))).toBe("keep");
    const listed = await (await call(`${base("big")}/files`, { key: user.apiKey })).json<any>();
    expect(listed.items.map((e: any) => e.name)).toEqual(["big.bin"]);
  });
});

describe("sandbox lifecycle", () => {
  it("shows info, lists live sandboxes, closes, and the next execution gets a fresh sandbox", async () => {
    const u = await createUser("lifecycle");
    const first = await execute(u.apiKey, { language: "shell", code: "echo one", conversationId: "life" });
    const info = await (await call(base("life"), { key: u.apiKey })).json<any>();
    expect(info).toMatchObject({ conversationId: "life", sandboxId: first.json.sandboxId, template: "base" });
    for (const field of ["startedAt", "lastUsedAt", "expiresAt"]) expect(Date.parse(info[field]), field).not.toBeNaN();
    expect(Date.parse(info.expiresAt)).toBeGreaterThan(Date.parse(info.lastUsedAt));

    const list = await (await call("/api/v1/sandboxes", { key: u.apiKey })).json<any>();
    expect(list.items.map((s: any) => s.sandboxId)).toEqual([first.json.sandboxId]);

    const closed = await call(base("life"), { key: u.apiKey, method: "DELETE" });
    expect(closed.status).toBe(204);
    expect(await sandboxesOf(u.id, "life")).toHaveLength(0);
    expect((await call(base("life"), { key: u.apiKey })).status).toBe(404);
    expect((await call(base("life"), { key: u.apiKey, method: "DELETE" })).status).toBe(404);

    const second = await execute(u.apiKey, { language: "shell", code: "echo two", conversationId: "life" });
    expect(second.json).toMatchObject({ status: "succeeded", stdout: "two\n" });
    expect(second.json.sandboxId).not.toBe(first.json.sandboxId);
  });

  it("answers 502 sandbox_unavailable when the sandbox provider cannot list sandboxes", async () => {
    const u = await createUser("list-down");
    expect((await put(u.apiKey, "kept", "f.txt", "x")).status).toBe(200);
    // A provider outage cannot be produced against a healthy e2b-local: this user's sandboxes point at a dead port.
    await runInDurableObject(userSpace(env, u.id), (instance) => {
      const pool = (instance as unknown as { sandboxes: { env: Env } }).sandboxes;
      pool.env = { ...pool.env, E2B_API_URL: "http://127.0.0.1:9", E2B_SANDBOX_URL: "http://127.0.0.1:9" };
    });
    const res = await call("/api/v1/sandboxes", { key: u.apiKey });
    expect(res.status).toBe(502);
    const error = await errorOf(res);
    expect(error.code).toBe("sandbox_unavailable");
    expect(error.message).toMatch(/^Could not list sandboxes: /);
    expect(error.requestId).toBe(res.headers.get("X-Request-Id"));
    // Nothing was forgotten for want of an answer.
    await runInDurableObject(userSpace(env, u.id), (instance) => {
      const pool = (instance as unknown as { sandboxes: { env: Env; count(): number } }).sandboxes;
      expect(pool.count()).toBe(1);
      pool.env = env;
    });
    expect((await (await call("/api/v1/sandboxes", { key: u.apiKey })).json<any>()).items).toHaveLength(1);
  });

  it("drops a sandbox E2B no longer runs from the list and info", async () => {
    const u = await createUser("vanished");
    const ran = await execute(u.apiKey, { language: "shell", code: "true", conversationId: "gone" });
    expect(await Sandbox.kill(ran.json.sandboxId, e2b)).toBe(true);
    const list = await (await call("/api/v1/sandboxes", { key: u.apiKey })).json<any>();
    expect(list.items).toEqual([]);
    expect((await call(base("gone"), { key: u.apiKey })).status).toBe(404);
    // Writing starts a fresh one, as an execution would.
    expect((await put(u.apiKey, "gone", "f.txt", "again")).status).toBe(200);
    expect((await call(base("gone"), { key: u.apiKey })).status).toBe(200);
  });

  it("kills sandboxes idle past SANDBOX_IDLE_TIMEOUT_MS when the alarm runs, and keeps recent ones", async () => {
    const u = await createUser("idle");
    const idle = await execute(u.apiKey, { language: "shell", code: "true", conversationId: "idle" });
    const recent = await execute(u.apiKey, { language: "shell", code: "true", conversationId: "recent" });
    const stub = userSpace(env, u.id);
    await runInDurableObject(stub, (_instance, state) => {
      const longAgo = Date.now() - Number(env.SANDBOX_IDLE_TIMEOUT_MS) - 1000;
      state.storage.sql.exec(`UPDATE sandboxes SET last_used_at = ? WHERE conversation_id = 'idle'`, longAgo);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);

    expect(await sandboxesOf(u.id, "idle")).toHaveLength(0);
    expect((await call(base("idle"), { key: u.apiKey })).status).toBe(404);
    const kept = await (await call(base("recent"), { key: u.apiKey })).json<any>();
    expect(kept.sandboxId).toBe(recent.json.sandboxId);
    const again = await execute(u.apiKey, { language: "shell", code: "echo back", conversationId: "idle" });
    expect(again.json.sandboxId).not.toBe(idle.json.sandboxId);
  });

  it("kills Phoenix sandboxes that no Durable Object tracks, and spares tracked ones", async () => {
    const u = await createUser("orphans");
    const tracked = await execute(u.apiKey, { language: "shell", code: "true", conversationId: "tracked" });
    const ghostUser = `usr_ghost_${crypto.randomUUID()}`;
    const orphan = await Sandbox.create("base", {
      ...e2b,
      metadata: { app: "phoenix", userId: u.id, conversationId: "lost" },
    });
    const stranger = await Sandbox.create("base", {
      ...e2b,
      metadata: { app: "phoenix", userId: ghostUser, conversationId: "x" },
    });

    // Young sandboxes are spared (ORPHAN_GRACE_MS): their object may not have recorded them yet.
    expect(ORPHAN_GRACE_MS).toBeGreaterThan(0);
    expect(await reapOrphans(env, { scope: { userId: u.id } })).toBe(0);
    expect(await orphan.isRunning()).toBe(true);

    // Scoped to this test's users so other suites' sandboxes (tracked in storage this file cannot see) are left alone.
    expect(await reapOrphans(env, { graceMs: 0, scope: { userId: u.id } })).toBe(1);
    expect(await reapOrphans(env, { graceMs: 0, scope: { userId: ghostUser } })).toBe(1);
    expect(await orphan.isRunning()).toBe(false);
    expect(await stranger.isRunning()).toBe(false);
    expect((await sandboxesOf(u.id)).map((s) => s.sandboxId)).toEqual([tracked.json.sandboxId]);
    const ran = await execute(u.apiKey, { language: "shell", code: "echo still", conversationId: "tracked" });
    expect(ran.json).toMatchObject({ stdout: "still\n", sandboxId: tracked.json.sandboxId });
  });
});

describe("sandboxes per user", () => {
  it("opening a conversation beyond MAX_SANDBOXES_PER_USER closes the least recently used idle sandbox", async () => {
    const u = await createUser("many");
    const max = Number(env.MAX_SANDBOXES_PER_USER);
    const ids: Record<string, string> = {};
    for (let i = 0; i < max; i++) {
      const ran = await execute(u.apiKey, { language: "shell", code: "true", conversationId: `s${i}` });
      ids[`s${i}`] = ran.json.sandboxId;
    }
    // s0 used again: s1 is now the least recently used.
    expect((await execute(u.apiKey, { language: "shell", code: "true", conversationId: "s0" })).json.sandboxId).toBe(
      ids.s0,
    );
    const extra = await execute(u.apiKey, { language: "shell", code: "echo in", conversationId: "extra" });
    expect(extra.json).toMatchObject({ status: "succeeded", stdout: "in\n" });

    expect(await sandboxesOf(u.id, "s1")).toHaveLength(0);
    expect((await sandboxesOf(u.id)).length).toBe(max);
    const listed = await (await call("/api/v1/sandboxes", { key: u.apiKey })).json<any>();
    expect(listed.items.map((s: any) => s.conversationId).sort()).toEqual(
      ["extra", ...Array.from({ length: max }, (_, i) => `s${i}`).filter((c) => c !== "s1")].sort(),
    );
    expect((await call(base("s1"), { key: u.apiKey })).status).toBe(404);
    expect((await (await call(base("s0"), { key: u.apiKey })).json<any>()).sandboxId).toBe(ids.s0);
  });

  it("answers 429 with Retry-After when every live sandbox is busy, and creates nothing", async () => {
    const u = await createUser("all-busy");
    const max = Number(env.MAX_SANDBOXES_PER_USER);
    const slots = Number(env.MAX_CONCURRENT_EXECUTIONS);
    // Busy sandboxes: runs waiting for a file (one execution slot left free), then uploads held mid-body.
    const runs = [];
    for (let i = 0; i < Math.min(slots - 1, max); i++) runs.push(await gatedRun(u.apiKey, `r${i}`));
    const uploads: { release: () => void; done: Promise<Response> }[] = [];
    for (let i = runs.length; i < max; i++) {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent) {
            await gate;
            return controller.close();
          }
          sent = true;
          controller.enqueue(new Uint8Array(1024));
        },
      });
      const done = put(u.apiKey, `u${i}`, "held.bin", body);
      await until(async () => (await call(base(`u${i}`), { key: u.apiKey })).status === 200, `u${i} has a sandbox`);
      uploads.push({ release, done });
    }
    expect(await sandboxesOf(u.id)).toHaveLength(max);

    const refused = await execute(u.apiKey, { language: "shell", code: "true", conversationId: "one-more" });
    expect(refused.res.status).toBe(429);
    expect(refused.res.headers.get("Retry-After")).toBe("1");
    expect((refused.json as ErrorBody).error).toMatchObject({ code: "rate_limited" });
    expect((refused.json as ErrorBody).error.message).toContain(`At most ${max} sandboxes`);
    expect(await sandboxesOf(u.id, "one-more")).toHaveLength(0);
    // Work in a conversation that already has its sandbox is not refused.
    expect((await put(u.apiKey, "r0", "note.txt", "ok")).status).toBe(200);

    for (const up of uploads) up.release();
    for (const up of uploads) expect((await up.done).status).toBe(200);
    for (const run of runs) await run.release();
    for (const run of runs) await run.done;
    const now = await execute(u.apiKey, { language: "shell", code: "echo ok", conversationId: "one-more" });
    expect(now.json).toMatchObject({ status: "succeeded", stdout: "ok\n" });
    expect(await sandboxesOf(u.id)).toHaveLength(max);
  });
});

/** A minimal pure-Python wheel (a stored zip), made here because no package index is reachable. */
function wheel(name: string, version: string, files: Record<string, string>): Uint8Array {
  const info = `${name}-${version}.dist-info`;
  const entries: Record<string, string> = {
    ...files,
    [`${info}/METADATA`]: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`,
    [`${info}/WHEEL`]: "Wheel-Version: 1.0\nGenerator: phoenix-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    [`${info}/RECORD`]: "",
  };
  return zip(entries);
}

function zip(files: Record<string, string>): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const [path, text] of Object.entries(files)) {
    const name = enc.encode(path);
    const data = enc.encode(text);
    const crc = crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, name.length, true);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, 20, true);
    central.setUint16(6, 20, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, data.length, true);
    central.setUint32(24, data.length, true);
    central.setUint16(28, name.length, true);
    central.setUint32(42, offset, true);
    locals.push(new Uint8Array(local.buffer), name, data);
    centrals.push(new Uint8Array(central.buffer), name);
    offset += 30 + name.length + data.length;
  }
  const centralSize = centrals.reduce((n, part) => n + part.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, Object.keys(files).length, true);
  end.setUint16(10, Object.keys(files).length, true);
  end.setUint32(12, centralSize, true);
  end.setUint32(16, offset, true);
  const parts = [...locals, ...centrals, new Uint8Array(end.buffer)];
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe("packages", () => {
  let user: { id: string; apiKey: string };
  beforeAll(async () => {
    user = await createUser("packages");
  });

  const install = (conversationId: string, json: unknown) =>
    call(`${base(conversationId)}/packages`, { key: user.apiKey, json });

  it("installs a local wheel with pip, and a later execution imports it", async () => {
    const whl = wheel("phoenix_tiny", "0.1", { "phoenix_tiny/__init__.py": "ANSWER = 42\n" });
    expect((await put(user.apiKey, "py", "dist/phoenix_tiny-0.1-py3-none-any.whl", whl)).status).toBe(200);
    const res = await install("py", { manager: "pip", packages: ["./dist/phoenix_tiny-0.1-py3-none-any.whl"] });
    expect(res.status).toBe(200);
    const result = await res.json<any>();
    expect(result).toMatchObject({ manager: "pip", status: "succeeded", exitCode: 0, truncated: false });
    expect(result.stdout).toContain("Successfully installed phoenix-tiny-0.1");
    // pip takes well over a millisecond to start, let alone install.
    expect(result.durationMs).toBeGreaterThan(0);
    const ran = await execute(user.apiKey, {
      language: "python",
      conversationId: "py",
      code: "import phoenix_tiny; print(phoenix_tiny.ANSWER)",
    });
    expect(ran.json).toMatchObject({ status: "succeeded", stdout: "42\n", sandboxId: result.sandboxId });
  });

  it("installs a local folder with npm, and a later execution requires it", async () => {
    await put(
      user.apiKey,
      "js",
      "pkgs/phoenix-tiny/package.json",
      JSON.stringify({ name: "phoenix-tiny", version: "1.0.0", main: "index.js" }),
    );
    await put(user.apiKey, "js", "pkgs/phoenix-tiny/index.js", "module.exports = { answer: 7 };\n");
    const res = await install("js", { manager: "npm", packages: ["./pkgs/phoenix-tiny"] });
    const result = await res.json<any>();
    expect(result).toMatchObject({ manager: "npm", status: "succeeded", exitCode: 0 });
    const ran = await execute(user.apiKey, {
      language: "node",
      conversationId: "js",
      code: "console.log(require('phoenix-tiny').answer)",
    });
    expect(ran.json).toMatchObject({ status: "succeeded", stdout: "7\n" });
  });

  it("reports a failed install with the installer's exit status and output", async () => {
    const res = await install("py", { manager: "pip", packages: ["./dist/missing-0.1-py3-none-any.whl"] });
    expect(res.status).toBe(200);
    const result = await res.json<any>();
    expect(result.status).toBe("failed");
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/missing-0\.1-py3-none-any\.whl/);
  });

  it("cuts an installer at timeoutMs, and records the install in history and stats", async () => {
    const u = await createUser("slow-install");
    // A local package whose preinstall script never ends on its own: no network, no registry involved.
    await put(
      u.apiKey,
      "slow",
      "pkgs/stuck/package.json",
      JSON.stringify({
        name: "stuck",
        version: "1.0.0",
        scripts: { preinstall: "touch /tmp/stuck.started; sleep 60" },
      }),
    );
    const res = await call(`${base("slow")}/packages`, {
      key: u.apiKey,
      json: { manager: "npm", packages: ["./pkgs/stuck"], timeoutMs: 8000 },
    });
    expect(res.status).toBe(200);
    const result = await res.json<any>();
    expect(result).toMatchObject({ manager: "npm", packages: ["./pkgs/stuck"], status: "timed_out", exitCode: null });
    expect(result.id).toMatch(/^exe_/);
    // It was cut in its script (npm keeps a script's output to itself until the script ends).
    expect((await call(fileUrl("slow", "/tmp/stuck.started"), { key: u.apiKey })).status).toBe(200);

    // The installer and its script are gone with the timeout.
    const after = await execute(u.apiKey, {
      language: "shell",
      conversationId: "slow",
      code: "for i in $(seq 50); do pgrep -x sleep >/dev/null || { echo none; exit; }; sleep 0.1; done; echo still running",
    });
    expect(after.json.stdout).toBe("none\n");

    const recorded = await (await call(`/api/v1/executions/${result.id}`, { key: u.apiKey })).json<any>();
    expect(recorded).toMatchObject({
      id: result.id,
      kind: "install",
      language: "shell",
      conversationId: "slow",
      status: "timed_out",
      sandboxId: result.sandboxId,
    });
    expect(recorded.code).toContain("npm install");
    expect(recorded.code).toContain("'/home/user/pkgs/stuck'");
    const installs = await (await call("/api/v1/executions?kind=install", { key: u.apiKey })).json<any>();
    expect(installs.items.map((i: any) => i.id)).toEqual([result.id]);
    const runs = await (await call("/api/v1/executions?kind=run", { key: u.apiKey })).json<any>();
    expect(runs.items.map((i: any) => i.kind)).toEqual(["run"]);
    const stats = await (await call("/api/v1/stats", { key: u.apiKey })).json<any>();
    expect(stats.user.totalExecutions).toBe(2);
    expect(stats.user.byLanguage.shell).toMatchObject({ total: 2, timedOut: 1, succeeded: 1 });
  });

  it("refuses an install timeoutMs above INSTALL_TIMEOUT_MS", async () => {
    const ceiling = Number(env.INSTALL_TIMEOUT_MS);
    const over = await install("js", { manager: "npm", packages: ["x"], timeoutMs: ceiling + 1 });
    expect(over.status).toBe(400);
    expect((await errorOf(over)).message).toBe(`timeoutMs: must be at most ${ceiling} (INSTALL_TIMEOUT_MS)`);
    const tooLong = await install("js", { manager: "npm", packages: ["x"], timeoutMs: 600_001 });
    expect(tooLong.status).toBe(400);
    expect((await errorOf(tooLong)).message).toMatch(/^timeoutMs: /);
  });

  it("an install takes an execution slot: beyond MAX_CONCURRENT_EXECUTIONS it is a 429", async () => {
    const u = await createUser("install-slots");
    const max = Number(env.MAX_CONCURRENT_EXECUTIONS);
    // Every slot but one held by a run, the last by an install whose script waits for a file.
    const held = [];
    for (let i = 0; i < max - 1; i++) held.push(await gatedRun(u.apiKey, `g${i}`));
    await put(
      u.apiKey,
      "inst",
      "pkgs/gated/package.json",
      JSON.stringify({
        name: "gated",
        version: "1.0.0",
        scripts: { preinstall: "touch /tmp/inst.started; while [ ! -f /tmp/inst.go ]; do sleep 0.05; done" },
      }),
    );
    const installing = call(`${base("inst")}/packages`, {
      key: u.apiKey,
      json: { manager: "npm", packages: ["./pkgs/gated"], timeoutMs: 30_000 },
    });
    await until(
      async () => (await call(fileUrl("inst", "/tmp/inst.started"), { key: u.apiKey })).status === 200,
      "the install started",
    );

    const run = await execute(u.apiKey, { language: "shell", code: "true", conversationId: "extra" });
    expect(run.res.status).toBe(429);
    expect(run.res.headers.get("Retry-After")).toBe("1");
    expect((run.json as ErrorBody).error.code).toBe("rate_limited");
    const another = await call(`${base("inst")}/packages`, {
      key: u.apiKey,
      json: { manager: "npm", packages: ["./pkgs/gated"] },
    });
    expect(another.status).toBe(429);
    expect(another.headers.get("Retry-After")).toBe("1");
    expect((await errorOf(another)).message).toContain("package installs");

    expect((await put(u.apiKey, "inst", "/tmp/inst.go", "go")).status).toBe(200);
    expect(await (await installing).json<any>()).toMatchObject({ status: "succeeded", exitCode: 0 });
    for (const h of held) await h.release();
    for (const h of held)
      expect((await h.done).json).toMatchObject({ status: "succeeded", stdout: "started\nreleased\n" });
    // Slots free again.
    expect((await execute(u.apiKey, { language: "shell", code: "true", conversationId: "extra" })).res.status).toBe(
      200,
    );
  });

  it("accepts each ecosystem's names and version specifiers, and refuses anything else naming the package", async () => {
    const { packageSpecProblem } = await import("../../src/sandbox/packages.ts");
    for (const spec of [
      "requests",
      "requests>=2.31,<3",
      "Django==4.2.*",
      "pandas[excel,performance]~=2.1",
      "zope.interface",
      "a_b-c.d!=1.0rc1",
    ]) {
      expect(packageSpecProblem("pip", spec), spec).toBeUndefined();
    }
    for (const spec of [
      "lodash",
      "lodash@4.17.21",
      "@types/node@^22",
      "react@next",
      "left-pad@>=1.0.0 <2",
      "@scope/pkg.name_x~y@1.x || 2.x",
    ]) {
      expect(packageSpecProblem("npm", spec), spec).toBeUndefined();
    }
    const notPip = (spec: string) => `'${spec}' is not a pip requirement: a PEP 508 name`;
    const notNpmName = (name: string) => `'${name}' is not an npm package name: lower-case letters`;
    const refused: ["pip" | "npm", string, string][] = [
      ["pip", "requests; rm -rf ~", notPip("requests; rm -rf ~")],
      ["pip", "--index-url=http://evil", notPip("--index-url=http://evil")],
      ["pip", "pkg @ https://x/y.whl", notPip("pkg @ https://x/y.whl")],
      ["pip", "-e .", notPip("-e .")],
      ["pip", "$(touch pwned)", notPip("$(touch pwned)")],
      ["pip", "../etc/passwd", notPip("../etc/passwd")],
      ["pip", "/etc/passwd", "a local package must be under /home/user/ or /tmp/"],
      ["pip", "./a/../../etc/x.whl", "'./a/../../etc/x.whl' is not an acceptable local package path"],
      ["npm", "Lodash", notNpmName("Lodash")],
      ["npm", "lodash@`id`", "'`id`' is not an npm version, range or tag"],
      ["npm", "--prefix=/tmp", notNpmName("--prefix=/tmp")],
      ["npm", "lodash@1.0; id", "'1.0; id' is not an npm version, range or tag"],
      ["npm", "git+ssh://host/repo", notNpmName("git+ssh://host/repo")],
      ["npm", "@/x", notNpmName("@/x")],
    ];
    for (const [manager, spec, says] of refused) {
      expect(packageSpecProblem(manager, spec), spec).toContain(says);
    }
    const res = await install("refused", { manager: "pip", packages: ["ok", "requests; rm -rf ~"] });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/^packages\.1: 'requests; rm -rf ~' is not a pip requirement/);
    const wrongManager = await install("refused", { manager: "cargo", packages: ["serde"] });
    expect((await errorOf(wrongManager)).message).toMatch(/^manager: /);
    const empty = await install("refused", { manager: "npm", packages: [] });
    expect((await errorOf(empty)).message).toMatch(/^packages: /);
    expect(await sandboxesOf(user.id, "refused")).toHaveLength(0);
  });
});

describe("isolation between users", () => {
  it("B can never reach A's conversation sandbox: B's same conversationId is B's own", async () => {
    const a = await createUser("alice-sb");
    const b = await createUser("bob-sb");
    expect((await put(a.apiKey, "same", "secret.txt", "A's secret")).status).toBe(200);
    const aInfo = await (await call(base("same"), { key: a.apiKey })).json<any>();

    // Looking: B has no sandbox in "same".
    expect((await call(base("same"), { key: b.apiKey })).status).toBe(404);
    expect((await call(`${base("same")}/files`, { key: b.apiKey })).status).toBe(404);
    expect((await call(fileUrl("same", "secret.txt"), { key: b.apiKey })).status).toBe(404);
    expect((await call(base("same"), { key: b.apiKey, method: "DELETE" })).status).toBe(404);
    expect((await (await call("/api/v1/sandboxes", { key: b.apiKey })).json<any>()).items).toEqual([]);

    // Writing and installing start B's own sandbox; A's file is untouched.
    expect((await put(b.apiKey, "same", "secret.txt", "B's file")).status).toBe(200);
    const installed = await call(`${base("same")}/packages`, {
      key: b.apiKey,
      json: { manager: "npm", packages: ["./missing"] },
    });
    const bInfo = await (await call(base("same"), { key: b.apiKey })).json<any>();
    expect(bInfo.sandboxId).not.toBe(aInfo.sandboxId);
    expect((await installed.json<any>()).sandboxId).toBe(bInfo.sandboxId);
    const bList = await (await call(`${base("same")}/files`, { key: b.apiKey })).json<any>();
    expect(bList.items.map((e: any) => e.name)).toContain("secret.txt");
    expect(await textOf(await call(fileUrl("same", "secret.txt"), { key: b.apiKey }))).toBe("B's file");
    expect(await textOf(await call(fileUrl("same", "secret.txt"), { key: a.apiKey }))).toBe("A's secret");

    // B closing "same" closes B's sandbox only.
    expect((await call(base("same"), { key: b.apiKey, method: "DELETE" })).status).toBe(204);
    expect((await (await call(base("same"), { key: a.apiKey })).json<any>()).sandboxId).toBe(aInfo.sandboxId);
    const aList = await (await call("/api/v1/sandboxes", { key: a.apiKey })).json<any>();
    expect(aList.items.map((s: any) => s.sandboxId)).toEqual([aInfo.sandboxId]);
  });
});
