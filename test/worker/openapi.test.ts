// GET /api/openapi.json and GET /docs from the Worker: the document is the app's own (built in workerd
// too), and the /docs page gets its own CSP while every API response keeps the API's.
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { API_SECURITY_HEADERS, DOCS_SECURITY_HEADERS } from "../../src/middleware/security-headers.ts";
import { buildDocument } from "../../src/openapi/document.ts";
import { call } from "./helpers.ts";

describe("GET /api/openapi.json", () => {
  it("serves the OpenAPI 3.1 document of the app, without auth, as data", async () => {
    const res = await call("/api/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(res.headers.get("Content-Security-Policy")).toBe(API_SECURITY_HEADERS["Content-Security-Policy"]);
    const document = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(document).toEqual(JSON.parse(JSON.stringify(buildDocument(createApp()))));
    expect(Object.keys(document.paths)).toContain("/api/v1/executions");
  });
});

describe("GET /docs", () => {
  it("is an HTML page under the docs policy, loading scripts from this origin only", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.headers.get("Content-Security-Policy")).toBe(DOCS_SECURITY_HEADERS["Content-Security-Policy"]);
    expect(res.headers.get("X-Frame-Options")).toBe("DENY");
    const html = await res.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(source, "no other origin").toMatch(/^\/[^/]/);
    expect(html).not.toMatch(/<script>|<style>|https?:\/\//);
  });
});
