// The webhooks API itself: creating endpoints (the secret once), bad targets, limits, and users kept apart.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.ts";
import { checkTarget } from "../../src/webhooks/targets.ts";
import { call, createUser, type ErrorBody, execute, OWNER_TOKEN } from "./helpers.ts";
import { eventually, receiverHook, subscribedHook } from "./webhook-helpers.ts";

async function create(key: string, json: unknown): Promise<Response> {
  return call("/api/v1/webhooks", { key, json });
}

describe("webhooks API", () => {
  it("creates an endpoint with a whsec_ secret of at least 24 random bytes, shown only at creation", async () => {
    const { apiKey } = await createUser("secret keeper");
    const { hook, webhook } = await subscribedHook(apiKey);
    expect(webhook).toMatchObject({ id: expect.stringMatching(/^whk_/), url: hook.url, events: ["*"] });
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(atob(webhook.secret.slice("whsec_".length)).length).toBeGreaterThanOrEqual(24);

    // Deliveries exist to look through too.
    expect((await call(`/api/v1/webhooks/${webhook.id}/test`, { key: apiKey, method: "POST" })).status).toBe(202);
    await eventually(async () => ((await hook.received()).length > 0 ? true : undefined), "the test event");
    const secretBody = webhook.secret.slice("whsec_".length);
    for (const path of [
      "/api/v1/webhooks",
      `/api/v1/webhooks/${webhook.id}`,
      `/api/v1/webhooks/${webhook.id}/deliveries`,
    ]) {
      const res = await call(path, { key: apiKey });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain(secretBody);
      expect(text).not.toContain('"secret"');
    }
    // Not even the database holds it in the clear (it is encrypted under WEBHOOK_SECRETS_KEY).
    const row = await env.DB.prepare("SELECT * FROM webhooks WHERE id = ?").bind(webhook.id).first();
    expect(JSON.stringify(row)).not.toContain(secretBody);
    // Each endpoint has its own secret.
    const second = (await (await create(apiKey, { url: hook.url })).json()) as { secret: string };
    expect(second.secret).not.toBe(webhook.secret);
  });

  it("lists, reads and deletes endpoints; events and description are kept", async () => {
    const { apiKey } = await createUser("lister");
    const hook = await receiverHook();
    const res = await create(apiKey, {
      url: hook.url,
      events: ["execution.completed", "schedule.disabled", "execution.completed"],
      description: "CI notifier",
    });
    expect(res.status).toBe(201);
    const made = (await res.json()) as { id: string; createdAt: string };
    const list = (await (await call("/api/v1/webhooks", { key: apiKey })).json()) as { items: unknown[] };
    expect(list.items).toEqual([
      {
        id: made.id,
        url: hook.url,
        events: ["execution.completed", "schedule.disabled"],
        description: "CI notifier",
        createdAt: made.createdAt,
        disabledAt: null,
        disabledReason: null,
      },
    ]);
    expect((await call(`/api/v1/webhooks/${made.id}`, { key: apiKey, method: "DELETE" })).status).toBe(204);
    expect((await call(`/api/v1/webhooks/${made.id}`, { key: apiKey })).status).toBe(404);
    expect((await call(`/api/v1/webhooks/${made.id}`, { key: apiKey, method: "DELETE" })).status).toBe(404);
    // Nothing is sent to a deleted endpoint.
    await execute(apiKey, { language: "shell", code: "true" });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await hook.received()).toHaveLength(0);
  });

  it("refuses bad targets and bad fields with a 400 naming the field", async () => {
    const { apiKey } = await createUser("bad urls");
    const cases: [unknown, string][] = [
      [{ url: "not a url" }, "url:"],
      [{ url: "ftp://example.com/hook" }, "url:"],
      [{ url: "https://10.1.2.3/hook" }, "url:"],
      [{ url: "https://192.168.0.10/hook" }, "url:"],
      [{ url: "https://169.254.169.254/latest/meta-data" }, "url:"],
      [{ url: "https://[fe80::1]/hook" }, "url:"],
      [{ url: "https://[::ffff:10.0.0.1]/hook" }, "url:"],
      [{ url: "http://172.16.0.1/hook" }, "url:"],
      [{ url: "https://user:pw@example.com/hook" }, "url:"],
      [{}, "url:"],
      [{ url: "https://example.com/hook", events: ["nope"] }, "events.0:"],
      [{ url: "https://example.com/hook", events: [] }, "events:"],
      [{ url: "https://example.com/hook", description: 5 }, "description:"],
    ];
    for (const [body, field] of cases) {
      const res = await create(apiKey, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const { error } = (await res.json()) as ErrorBody;
      expect(error.code).toBe("invalid_request");
      expect(error.message.startsWith(field), `${JSON.stringify(body)}: ${error.message}`).toBe(true);
    }
    expect((await call("/api/v1/webhooks", { key: apiKey })).status).toBe(200);
    expect(((await (await call("/api/v1/webhooks", { key: apiKey })).json()) as { items: unknown[] }).items).toEqual(
      [],
    );
  });

  it("in production (WEBHOOK_ALLOW_LOCAL_HTTP unset) only https to public hosts is allowed", () => {
    const production = { ...env, WEBHOOK_ALLOW_LOCAL_HTTP: "false" };
    const refused = (url: string) => {
      try {
        checkTarget(production, url);
      } catch (err) {
        return err instanceof ApiError && err.code === "invalid_request" && err.message.startsWith("url:");
      }
      return false;
    };
    for (const url of [
      "http://127.0.0.1:8080/hook",
      "http://example.com/hook",
      "https://127.0.0.1/hook",
      "https://localhost/hook",
      "https://2130706433/hook", // 127.0.0.1 written as a number
      "https://[::1]/hook",
      "https://10.0.0.1/hook",
      "https://printer.local/hook",
      "https://intranet/hook",
    ]) {
      expect(refused(url), url).toBe(true);
    }
    expect(checkTarget(production, "https://hooks.example.com/phoenix?x=1")).toBe(
      "https://hooks.example.com/phoenix?x=1",
    );
    expect(checkTarget(production, "https://93.184.215.14/hook")).toBe("https://93.184.215.14/hook");
    // The local mode the tests run in allows loopback over http, and nothing private besides.
    expect(checkTarget(env, "http://127.0.0.1:9/hook")).toBe("http://127.0.0.1:9/hook");
  });

  it("user B never sees A's webhooks or deliveries, and A's runs never go to B's endpoint", async () => {
    const a = await createUser("alice");
    const b = await createUser("bob");
    const { hook: hookA, webhook } = await subscribedHook(a.apiKey);
    const { hook: hookB } = await subscribedHook(b.apiKey);
    await execute(a.apiKey, { language: "shell", code: "echo from alice" });
    await eventually(async () => ((await hookA.received()).length > 0 ? true : undefined), "A's event");
    const [delivery] = (
      (await (await call(`/api/v1/webhooks/${webhook.id}/deliveries`, { key: a.apiKey })).json()) as {
        items: { id: string }[];
      }
    ).items;
    expect(delivery).toBeDefined();

    const listB = (await (await call("/api/v1/webhooks", { key: b.apiKey })).json()) as { items: { id: string }[] };
    expect(listB.items.map((w) => w.id)).not.toContain(webhook.id);
    const asB = [
      ["GET", `/api/v1/webhooks/${webhook.id}`],
      ["GET", `/api/v1/webhooks/${webhook.id}/deliveries`],
      ["POST", `/api/v1/webhooks/${webhook.id}/test`],
      ["POST", `/api/v1/webhooks/${webhook.id}/deliveries/${delivery!.id}/retry`],
      ["DELETE", `/api/v1/webhooks/${webhook.id}`],
    ];
    for (const [method, path] of asB) {
      const res = await call(path!, { key: b.apiKey, method: method! });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.text()).not.toContain(hookA.url);
    }
    // Still A's, untouched.
    expect((await call(`/api/v1/webhooks/${webhook.id}`, { key: a.apiKey })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await hookB.received()).toHaveLength(0);
    expect(await hookA.received()).toHaveLength(1);
  });

  it("deleting a user erases their endpoints, events, deliveries and attempts", async () => {
    const user = await createUser("leaving");
    const { hook, webhook } = await subscribedHook(user.apiKey);
    await execute(user.apiKey, { language: "shell", code: "true" });
    await eventually(async () => ((await hook.received()).length > 0 ? true : undefined), "the event");
    const res = await call(`/api/v1/admin/users/${user.id}`, { key: OWNER_TOKEN, method: "DELETE" });
    expect(res.status).toBe(200);
    for (const [table, column, value] of [
      ["webhooks", "user_id", user.id],
      ["webhook_events", "user_id", user.id],
      ["webhook_deliveries", "user_id", user.id],
      ["webhook_deliveries", "webhook_id", webhook.id],
    ] as const) {
      const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`)
        .bind(value)
        .first<{ n: number }>();
      expect(row?.n, table).toBe(0);
    }
    const attempts = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM webhook_attempts WHERE delivery_id NOT IN (SELECT id FROM webhook_deliveries)",
    ).first<{ n: number }>();
    expect(attempts?.n).toBe(0);
  });

  it("caps endpoints per user, and needs an API key", async () => {
    const { apiKey } = await createUser("many hooks");
    const hook = await receiverHook();
    for (let i = 0; i < Number(env.MAX_WEBHOOKS_PER_USER); i++) {
      expect((await create(apiKey, { url: hook.url })).status).toBe(201);
    }
    const over = await create(apiKey, { url: hook.url });
    expect(over.status).toBe(409);
    expect(((await over.json()) as ErrorBody).error.message).toMatch(/At most/);
    expect((await call("/api/v1/webhooks")).status).toBe(401);
  });
});
