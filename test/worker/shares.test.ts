// Sharing: links made only by an execution's owner, stored hashed, opened without a key as a snapshot
// that shows code and output and nothing private; revoked and expired links are the same 404.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, execute, until } from "./helpers.ts";

type Key = { id: string; apiKey: string; keyId: string };

async function share(key: string, id: string, body?: unknown): Promise<Response> {
  return call(`/api/v1/executions/${id}/shares`, { key, method: "POST", ...(body ? { json: body } : {}) });
}

/** The public page, as a browser or a program opens it (no key). */
function open(path: string, json = false): Promise<Response> {
  return call(path, { headers: { Accept: json ? "application/json" : "text/html,application/xhtml+xml" } });
}

describe("shares", () => {
  let alice: Key;
  let bob: Key;
  let run: { id: string; sandboxId: string; conversationId: string };
  const conversationId = "private-conversation-7f3";
  beforeAll(async () => {
    alice = await createUser("alice-the-sharer");
    bob = await createUser("bob-the-other");
    const { json } = await execute(alice.apiKey, {
      language: "python",
      conversationId,
      envs: { API_SECRET: "s3cr3t-env-value" },
      code: "import os\nprint('hello <share> & friends')\nassert os.environ['API_SECRET']",
    });
    expect(json.status).toBe("succeeded");
    run = json;
  });

  it("makes a link with a long random token, stored only hashed", async () => {
    const res = await share(alice.apiKey, run.id);
    expect(res.status).toBe(201);
    const body = await res.json<{ token: string; url: string; expiresAt: string }>();
    // ≥ 128 random bits: 32 bytes, base64url.
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.url).toBe(`https://phoenix.test/s/${body.token}`);
    const days = (Date.parse(body.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    const rows = await env.DB.prepare("SELECT * FROM shares WHERE execution_id = ?").bind(run.id).all();
    expect(rows.results.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows.results)).not.toContain(body.token);
  });

  it("opens without a key, shows code and output, and nothing private (HTML and JSON)", async () => {
    const { url } = await (await share(alice.apiKey, run.id)).json<{ url: string }>();
    const path = new URL(url).pathname;
    const private_ = [alice.id, "alice-the-sharer", alice.apiKey, alice.keyId, run.sandboxId, conversationId, "s3cr3t"];

    const page = await open(path);
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toContain("text/html");
    const csp = page.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get("Cache-Control")).toBe("no-store");
    const html = await page.text();
    expect(html).toContain("hello &#60;share&#62; &#38; friends");
    expect(html).toContain("print(&#39;hello &#60;share&#62; &#38; friends&#39;)");
    expect(html).toContain('property="og:title"');
    expect(html).toContain('property="og:description"');
    expect(html).toContain("Open in Phoenix");
    expect(html).toContain(`href="/#language=python&amp;code=import%20os`.replace("&amp;", "&#38;"));
    expect(html).not.toContain("<script");
    for (const secret of private_) expect(html).not.toContain(secret);

    const data = await open(path, true);
    expect(data.status).toBe(200);
    const json = await data.json<Record<string, unknown>>();
    expect(json).toMatchObject({
      language: "python",
      status: "succeeded",
      stdout: "hello <share> & friends\n",
      code: expect.stringContaining("print("),
    });
    expect(Object.keys(json).sort()).toEqual(
      [
        "changes",
        "code",
        "createdAt",
        "durationMs",
        "error",
        "exitCode",
        "expiresAt",
        "files",
        "language",
        "results",
        "status",
        "stderr",
        "stdout",
        "truncated",
      ].sort(),
    );
    const text = JSON.stringify(json);
    for (const secret of [...private_, run.id]) expect(text).not.toContain(secret);
  });

  it("is a snapshot: deleting the history row does not break it", async () => {
    const { json: other } = await execute(alice.apiKey, { language: "shell", conversationId, code: "echo snapshot" });
    const { url } = await (await share(alice.apiKey, other.id)).json<{ url: string }>();
    await env.DB.prepare("DELETE FROM executions WHERE id = ?").bind(other.id).run();
    const res = await open(new URL(url).pathname, true);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ stdout: "snapshot\n", language: "shell" });
  });

  it("lists the caller's shares and revokes them (by token or id); revoked, expired and unknown are one 404", async () => {
    const made = await (await share(alice.apiKey, run.id)).json<{ token: string; url: string; id: string }>();
    const listed = await (await call("/api/v1/shares", { key: alice.apiKey })).json<{ items: { id: string }[] }>();
    expect(listed.items.map((s) => s.id)).toContain(made.id);
    expect(JSON.stringify(listed)).not.toContain(made.token);
    // Bob sees none of them and cannot revoke them.
    const bobs = await (await call("/api/v1/shares", { key: bob.apiKey })).json<{ items: unknown[] }>();
    expect(bobs.items).toEqual([]);
    expect((await call(`/api/v1/shares/${made.token}`, { key: bob.apiKey, method: "DELETE" })).status).toBe(404);
    expect((await open(new URL(made.url).pathname, true)).status).toBe(200);

    const unknown = `/s/${"A".repeat(43)}`;
    const missingHtml = await (await open(unknown)).text();
    const missingJson = await (await open(unknown, true)).json<ErrorBody>();

    expect((await call(`/api/v1/shares/${made.token}`, { key: alice.apiKey, method: "DELETE" })).status).toBe(204);
    const revoked = await open(new URL(made.url).pathname);
    expect(revoked.status).toBe(404);
    expect(await revoked.text()).toBe(missingHtml);
    const revokedJson = await open(new URL(made.url).pathname, true);
    expect(revokedJson.status).toBe(404);
    const body = await revokedJson.json<ErrorBody>();
    expect({ ...body.error, requestId: "" }).toEqual({ ...missingJson.error, requestId: "" });
    expect((await call(`/api/v1/shares/${made.token}`, { key: alice.apiKey, method: "DELETE" })).status).toBe(404);

    const byId = await (await share(alice.apiKey, run.id)).json<{ id: string; url: string }>();
    expect((await call(`/api/v1/shares/${byId.id}`, { key: alice.apiKey, method: "DELETE" })).status).toBe(204);
    expect((await open(new URL(byId.url).pathname)).status).toBe(404);

    const brief = await share(alice.apiKey, run.id, { expiresIn: 1 });
    expect(brief.status).toBe(201);
    const briefPath = new URL((await brief.json<{ url: string }>()).url).pathname;
    await until(async () => (await open(briefPath, true)).status === 404, "the 1-second share expired");
    expect(await (await open(briefPath)).text()).toBe(missingHtml);
  });

  it("shares only the caller's own executions and checks the body", async () => {
    const res = await share(bob.apiKey, run.id);
    expect(res.status).toBe(404);
    expect((await share(alice.apiKey, "exe_nope")).status).toBe(404);
    const bad = await share(alice.apiKey, run.id, { expiresIn: -5 });
    expect(bad.status).toBe(400);
    expect((await bad.json<ErrorBody>()).error.message).toContain("expiresIn");
    expect((await call(`/api/v1/executions/${run.id}/shares`, { method: "POST" })).status).toBe(401);
  });

  it("includes kept artifacts, downloadable from the link without a key", async () => {
    const { json } = await execute(alice.apiKey, {
      language: "shell",
      conversationId: "share-files",
      artifacts: true,
      code: "printf 'a,b\\n1,2\\n' > out.csv",
    });
    const res = await share(alice.apiKey, json.id, { includeArtifacts: true });
    expect(res.status).toBe(201);
    const path = new URL((await res.json<{ url: string }>()).url).pathname;
    const data = await (await open(path, true)).json<{ files: { path: string; size: number; url: string }[] }>();
    expect(data.files).toEqual([{ path: "out.csv", size: 8, url: `${path}/artifacts/out.csv` }]);
    const file = await call(data.files[0]!.url);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("a,b\n1,2\n");
    expect(await (await open(path)).text()).toContain(`href="${path}/artifacts/out.csv"`);
    expect((await call(`${path}/artifacts/other.csv`)).status).toBe(404);
  });

  it("keeps a stateful run's chart in the snapshot", async () => {
    const { json } = await execute(alice.apiKey, {
      language: "python",
      conversationId: "share-chart",
      stateful: true,
      code: "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()",
    });
    expect(json.status).toBe("succeeded");
    expect(json.results.some((r: { type: string }) => r.type === "image/png")).toBe(true);
    const path = new URL((await (await share(alice.apiKey, json.id)).json<{ url: string }>()).url).pathname;
    const data = await (await open(path, true)).json<{ results: { type: string; data: string }[] }>();
    expect(data.results.find((r) => r.type === "image/png")?.data).toMatch(/^iVBORw0KGgo/);
    expect(await (await open(path)).text()).toContain('<img src="data:image/png;base64,iVBORw0KGgo');
  });
});
