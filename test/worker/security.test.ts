// Every API response carries the security headers (strict CSP, nosniff, no framing, no referrer, no
// powerful features): successes, errors from each layer, streams and file bodies alike.
import { describe, expect, it } from "vitest";
import { API_SECURITY_HEADERS } from "../../src/middleware/security-headers.ts";
import { call, createUser, OWNER_TOKEN } from "./helpers.ts";

/** The headers as sent, checked against the policy and against its essentials on their own. */
function expectSecurityHeaders(res: Response): void {
  for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) expect(res.headers.get(name), name).toBe(value);
  // Spelled out too, so that weakening the policy in one place fails here.
  const csp = (res.headers.get("Content-Security-Policy") ?? "").split(";").map((d) => d.trim());
  expect(csp).toEqual(expect.arrayContaining(["default-src 'none'", "frame-ancestors 'none'", "sandbox"]));
  expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(res.headers.get("X-Frame-Options")).toBe("DENY");
  expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
  expect(res.headers.get("Permissions-Policy")).toMatch(/(^|, )camera=\(\)/);
  expect(res.headers.get("Permissions-Policy")).toMatch(/(^|, )microphone=\(\)/);
  expect(res.headers.get("Permissions-Policy")).toMatch(/(^|, )geolocation=\(\)/);
  expect(res.headers.get("X-Request-Id")).toBeTruthy();
}

describe("security headers", () => {
  it("on a public route and on owner routes", async () => {
    const health = await call("/api/health");
    expect(health.status).toBe(200);
    expectSecurityHeaders(health);
    const created = await call("/api/v1/admin/users", { key: OWNER_TOKEN, json: { name: "headers" } });
    expect(created.status).toBe(201);
    expectSecurityHeaders(created);
  });

  it("on errors from auth, validation, body limits and unknown routes", async () => {
    const { apiKey } = await createUser();
    const unauthorized = await call("/api/v1/stats");
    expect(unauthorized.status).toBe(401);
    expectSecurityHeaders(unauthorized);
    const invalid = await call("/api/v1/executions", { key: apiKey, json: { language: "cobol", code: "x" } });
    expect(invalid.status).toBe(400);
    expectSecurityHeaders(invalid);
    const tooLarge = await call("/api/v1/executions", {
      key: apiKey,
      json: { language: "shell", code: "x".repeat(2 * 1024 * 1024) },
    });
    expect(tooLarge.status).toBe(413);
    expectSecurityHeaders(tooLarge);
    const unknown: [path: string, key: string | undefined][] = [
      ["/api/v1/nope", apiKey],
      ["/api/v1/admin/nope", OWNER_TOKEN],
      ["/not-a-page-or-asset", apiKey],
    ];
    for (const [path, key] of unknown) {
      const res = await call(path, { key });
      expect(res.status, path).toBe(404);
      expectSecurityHeaders(res);
      await res.body?.cancel();
    }
  });

  it("on a streamed run and on a volume file's body, ranged and unchanged", async () => {
    const { apiKey } = await createUser();
    const stream = await call("/api/v1/executions", {
      key: apiKey,
      json: { language: "shell", code: "echo hi" },
      headers: { Accept: "text/event-stream" },
    });
    expect(stream.headers.get("Content-Type")).toContain("text/event-stream");
    expectSecurityHeaders(stream);
    expect(await stream.text()).toContain("event: end");

    // HTML a user stored: served as data, and were it ever opened as a page, the CSP would keep it inert.
    const html = "<script>alert(1)</script>";
    const put = await call("/api/v1/volume/files/page.html", {
      key: apiKey,
      method: "PUT",
      body: html,
      headers: { "Content-Type": "text/html" },
    });
    expect(put.status).toBe(201);
    expectSecurityHeaders(put);
    const get = await call("/api/v1/volume/files/page.html", { key: apiKey });
    expect(await get.text()).toBe(html);
    expectSecurityHeaders(get);
    const ranged = await call("/api/v1/volume/files/page.html", { key: apiKey, headers: { Range: "bytes=0-7" } });
    expect(ranged.status).toBe(206);
    expectSecurityHeaders(ranged);
    await ranged.body?.cancel();
    const etag = get.headers.get("ETag") ?? "";
    const unchanged = await call("/api/v1/volume/files/page.html", { key: apiKey, headers: { "If-None-Match": etag } });
    expect(unchanged.status).toBe(304);
    expectSecurityHeaders(unchanged);
  });
});
