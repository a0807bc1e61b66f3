// Owner and user authentication, API key lifecycle, and the error shape.
import pkg from "../../package.json" with { type: "json" };
import { describe, expect, it } from "vitest";
import { call, createUser, OWNER_TOKEN, type ErrorBody } from "./helpers.ts";

describe("owner routes", () => {
  it("creates a user whose key is shown once and stored only hashed", async () => {
    const res = await call("/api/v1/admin/users", { key: OWNER_TOKEN, json: { name: "ada" } });
    expect(res.status).toBe(201);
    const user = await res.json<{ id: string; apiKey: string; name: string }>();
    expect(user.name).toBe("ada");
    // The key names its user (checked by the user's Durable Object), then 32 random bytes.
    expect(user.apiKey).toMatch(/^phx_usr_[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
    expect(user.apiKey.startsWith(`phx_${user.id}.`)).toBe(true);

    const { env } = await import("cloudflare:test");
    const stored = await env.DB.prepare("SELECT * FROM api_keys WHERE user_id = ?").bind(user.id).all();
    expect(JSON.stringify(stored.results)).not.toContain(user.apiKey);

    const list = await call("/api/v1/admin/users", { key: OWNER_TOKEN });
    const users = await list.json<{ items: { id: string; activeKeys: number }[] }>();
    expect(users.items.find((u) => u.id === user.id)?.activeKeys).toBe(1);
    expect(JSON.stringify(users)).not.toContain(user.apiKey);
  });

  it("refuses a wrong owner token and no credentials with 401", async () => {
    for (const key of ["wrong-token", undefined]) {
      const res = await call("/api/v1/admin/users", { key });
      expect(res.status).toBe(401);
      const body = await res.json<ErrorBody>();
      expect(body.error.code).toBe("unauthorized");
      expect(body.error.requestId).toBe(res.headers.get("X-Request-Id"));
    }
  });

  it("refuses a valid user key with 403 on every owner route, and changes nothing", async () => {
    const user = await createUser();
    const keys = await (await call(`/api/v1/admin/users/${user.id}/keys`, { key: OWNER_TOKEN })).json<{
      items: { id: string }[];
    }>();
    const keyId = keys.items[0]!.id;
    const routes: [string, string, unknown?][] = [
      ["POST", "/api/v1/admin/users", { name: "intruder" }],
      ["GET", "/api/v1/admin/users"],
      ["POST", `/api/v1/admin/users/${user.id}/keys`, {}],
      ["GET", `/api/v1/admin/users/${user.id}/keys`],
      ["DELETE", `/api/v1/admin/keys/${keyId}`],
      ["GET", "/api/v1/admin/stats"],
    ];
    for (const [method, path, json] of routes) {
      const res = await call(path, { key: user.apiKey, method, json });
      expect(res.status, `${method} ${path}`).toBe(403);
      const body = await res.json<ErrorBody>();
      expect(body.error.code).toBe("forbidden");
      expect(body.error.message).toBe("Owner routes need the owner token; a user API key cannot use them.");
    }
    // The DELETE above revoked nothing: the user's key still works.
    expect((await call("/api/v1/stats", { key: user.apiKey })).status).toBe(200);
    const after = await (await call("/api/v1/admin/users", { key: OWNER_TOKEN })).json<{ items: { name: string }[] }>();
    expect(after.items.map((u) => u.name)).not.toContain("intruder");
  });

  it("refuses a revoked user key on owner routes with 401, like any unknown token", async () => {
    const user = await createUser();
    const keys = await (await call(`/api/v1/admin/users/${user.id}/keys`, { key: OWNER_TOKEN })).json<{
      items: { id: string }[];
    }>();
    await call(`/api/v1/admin/keys/${keys.items[0]!.id}`, { key: OWNER_TOKEN, method: "DELETE" });
    const res = await call("/api/v1/admin/users", { key: user.apiKey });
    expect(res.status).toBe(401);
    expect((await res.json<ErrorBody>()).error.code).toBe("unauthorized");
  });

  it("issues a second key and revokes the first; the revoked key stops working at once", async () => {
    const user = await createUser();
    const issued = await call(`/api/v1/admin/users/${user.id}/keys`, { key: OWNER_TOKEN, method: "POST" });
    expect(issued.status).toBe(201);
    const second = await issued.json<{ id: string; apiKey: string }>();

    expect((await call("/api/v1/executions", { key: user.apiKey })).status).toBe(200);
    const beforeRevoke = Date.now();
    const revoke = await call(`/api/v1/admin/keys/${user.keyId}`, { key: OWNER_TOKEN, method: "DELETE" });
    expect(revoke.status).toBe(204);
    expect((await call("/api/v1/executions", { key: user.apiKey })).status).toBe(401);
    expect((await call("/api/v1/executions", { key: second.apiKey })).status).toBe(200);

    const again = await call(`/api/v1/admin/keys/${user.keyId}`, { key: OWNER_TOKEN, method: "DELETE" });
    expect(again.status).toBe(404);
    const missing = await call(`/api/v1/admin/users/usr_nobody/keys`, { key: OWNER_TOKEN, method: "POST" });
    expect(missing.status).toBe(404);
    expect((await call(`/api/v1/admin/users/usr_nobody/keys`, { key: OWNER_TOKEN })).status).toBe(404);
    const listed = await (await call(`/api/v1/admin/users/${user.id}/keys`, { key: OWNER_TOKEN })).json<{
      items: { id: string; revokedAt: string | null }[];
    }>();
    const revokedAt = Date.parse(listed.items.find((k) => k.id === user.keyId)?.revokedAt ?? "");
    expect(revokedAt).toBeGreaterThanOrEqual(beforeRevoke);
    expect(revokedAt).toBeLessThanOrEqual(Date.now());
    expect(listed.items.find((k) => k.id === second.id)?.revokedAt).toBeNull();
  });

  it("validates the user name", async () => {
    const res = await call("/api/v1/admin/users", { key: OWNER_TOKEN, json: { name: "" } });
    expect(res.status).toBe(400);
    expect((await res.json<ErrorBody>()).error.message).toContain("name");
  });
});

describe("user routes", () => {
  it("need a valid key", async () => {
    for (const key of [undefined, "phx_notakey", OWNER_TOKEN]) {
      const res = await call("/api/v1/stats", { key });
      expect(res.status).toBe(401);
    }
  });

  it("health needs no key, names the version and the backend", async () => {
    const res = await call("/api/health", { headers: { "X-Request-Id": "probe-1" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, version: pkg.version, sandboxBackend: "e2b-local" });
    expect(res.headers.get("X-Request-Id")).toBe("probe-1");
    const minted = await call("/api/health", { headers: { "X-Request-Id": "not ok!" } });
    expect(minted.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("every API response says where the Worker spent its time (Server-Timing)", async () => {
    const user = await createUser("timing");
    const res = await call("/api/v1/executions", { key: user.apiKey, json: { language: "shell", code: "true" } });
    expect(res.status).toBe(200);
    const timing = res.headers.get("Server-Timing") ?? "";
    for (const metric of ["auth", "run", "code", "total"])
      expect(timing).toMatch(new RegExp(`(^|,\\s*)${metric};dur=\\d`));
    const refused = await call("/api/v1/stats");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("Server-Timing")).toMatch(/(^|,\s*)total;dur=\d/);
  });

  it("unknown routes are a JSON 404, for users and for the owner", async () => {
    const res = await call("/api/v1/nope", { key: (await createUser()).apiKey });
    expect(res.status).toBe(404);
    expect((await res.json<ErrorBody>()).error.code).toBe("not_found");
    const owner = await call("/api/v1/admin/nope", { key: OWNER_TOKEN });
    expect(owner.status).toBe(404);
    expect((await owner.json<ErrorBody>()).error.code).toBe("not_found");
  });
});

describe("keys that name their user", () => {
  it("refuses a key whose user part was changed to another user, on user and owner routes", async () => {
    const a = await createUser("a");
    const b = await createUser("b");
    expect((await call("/api/v1/stats", { key: b.apiKey })).status).toBe(200);
    const forged = a.apiKey.replace(a.id, b.id);
    for (const path of ["/api/v1/stats", "/api/v1/executions", "/api/v1/admin/users"]) {
      const res = await call(path, { key: forged });
      expect(res.status, path).toBe(401);
      expect((await res.json<ErrorBody>()).error.code).toBe("unauthorized");
    }
    // A well-formed key naming a user that does not exist.
    const ghost = await call("/api/v1/stats", { key: a.apiKey.replace(a.id, "usr_0000000000000000000000000") });
    expect(ghost.status).toBe(401);
  });

  it("still takes keys issued before keys named their user (checked in D1), and revokes them at once", async () => {
    const { env } = await import("cloudflare:test");
    const { hashApiKey } = await import("../../src/auth/keys.ts");
    const user = await createUser("legacy");
    const legacy = `phx_${"L".repeat(43)}`;
    await env.DB.prepare("INSERT INTO api_keys (id, user_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)")
      .bind("key_legacy", user.id, await hashApiKey(legacy), legacy.slice(0, 10), Date.now())
      .run();
    expect((await call("/api/v1/stats", { key: legacy })).status).toBe(200);
    const revoke = await call("/api/v1/admin/keys/key_legacy", { key: OWNER_TOKEN, method: "DELETE" });
    expect(revoke.status).toBe(204);
    expect((await call("/api/v1/stats", { key: legacy })).status).toBe(401);
    expect((await call("/api/v1/stats", { key: user.apiKey })).status).toBe(200);
  });

  it("shows owners a prefix that tells a user's keys apart", async () => {
    const user = await createUser();
    await call(`/api/v1/admin/users/${user.id}/keys`, { key: OWNER_TOKEN, method: "POST" });
    const listed = await (await call(`/api/v1/admin/users/${user.id}/keys`, { key: OWNER_TOKEN })).json<{
      items: { prefix: string }[];
    }>();
    expect(listed.items).toHaveLength(2);
    expect(new Set(listed.items.map((k) => k.prefix)).size).toBe(2);
    expect(user.apiKey.startsWith(listed.items[0]!.prefix)).toBe(true);
  });
});
