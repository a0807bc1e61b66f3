// The OpenAPI document: a valid OpenAPI 3.1 document, covering every route the Hono app mounts (so a route
// added without `doc()` fails here), and the typed client's generated types are current (`npm run openapi`).
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { CLIENT_TYPES_PATH, clientTypes } from "../../scripts/openapi-client.ts";
import { createApp } from "../../src/app.ts";
import { ERROR_STATUS } from "../../src/error-codes.ts";
import { buildDocument, mountedRoutes } from "../../src/openapi/document.ts";
import { doc, json } from "../../src/openapi/registry.ts";
import { z } from "zod";

type Operation = { operationId: string; security: unknown[]; responses: Record<string, any> };
const document = buildDocument(createApp()) as { paths: Record<string, Record<string, Operation>> };
const operations = Object.entries(document.paths).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({ method, path, op })),
);

describe("the OpenAPI document", () => {
  it("passes the OpenAPI 3.1 schema validator", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("documents every route the app mounts", () => {
    const undocumented = mountedRoutes(createApp())
      .filter((route) => !route.doc)
      .map((route) => `${route.method} ${route.path}`);
    expect(undocumented, "add doc({...}) to these routes (see src/openapi/registry.ts)").toEqual([]);
    expect(operations.length).toBeGreaterThanOrEqual(30);
  });

  it("catches a route mounted without doc()", () => {
    const app = new Hono()
      .get("/documented", doc({ operationId: "a", summary: "a", tags: [], auth: "none", responses: {}, errors: [] }))
      .get("/forgotten", (c) => c.text("x"));
    expect(
      mountedRoutes(app)
        .filter((r) => !r.doc)
        .map((r) => r.path),
    ).toEqual(["/forgotten"]);
  });

  it("has unique operation ids and a security scheme on every authenticated route", () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, op } of operations) {
      const user = path.startsWith("/api/v1/") || path === "/mcp";
      // The terminal's WebSocket: a browser cannot send `Authorization` there, so a one-time ticket instead.
      const ticket = /^\/api\/v1\/sandboxes\/\{conversationId\}\/terminal$/.test(path);
      const scheme = path.startsWith("/api/v1/admin")
        ? "ownerToken"
        : ticket
          ? "terminalTicket"
          : user
            ? "userKey"
            : null;
      expect(op.security, path).toEqual(scheme ? [{ [scheme]: [] }] : []);
    }
  });

  it("gives each error status exactly the codes of that status, in the one error shape", () => {
    for (const { path, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        // MCP's transport failures are the protocol's JSON-RPC errors (what MCP clients read), not the API's shape.
        if (path === "/mcp" && response.content["application/json"].schema.$ref === "#/components/schemas/JsonRpcError")
          continue;
        const codes: string[] = response.content["application/json"].schema.properties.error.properties.code.enum;
        expect(codes.length, `${path} ${status}`).toBeGreaterThan(0);
        for (const code of codes) expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS], code).toBe(Number(status));
      }
      expect(Object.keys(op.responses), path).toContain("500");
    }
  });

  it("describes requests with the very schemas that validate them", () => {
    const run = document.paths["/api/v1/executions"]?.post as any;
    const body = run.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["language", "code"]);
    expect(body.properties.language.enum).toEqual(["python", "node", "shell"]);
    const list = document.paths["/api/v1/sandboxes/{conversationId}/files"]?.get as any;
    expect(list.parameters.map((p: any) => `${p.in}:${p.name}:${p.required}`)).toEqual([
      "path:conversationId:true",
      "query:path:false",
    ]);
  });

  it("refuses two different schemas under one component name", () => {
    const a = z.object({ x: z.string() }).meta({ id: "Clash" });
    const b = z.object({ y: z.string() }).meta({ id: "Clash" });
    const meta = { summary: "s", tags: [], auth: "none" as const, errors: [] };
    const app = new Hono()
      .get("/a", doc({ ...meta, operationId: "a", responses: { 200: json(a) } }))
      .get("/b", doc({ ...meta, operationId: "b", responses: { 200: json(b) } }));
    expect(() => buildDocument(app)).toThrow(/Clash/);
  });
});

describe("the typed client", () => {
  it("client/api.ts is what `npm run openapi` generates from the document (commit the regenerated file)", async () => {
    expect(await readFile(CLIENT_TYPES_PATH, "utf8")).toBe(await clientTypes());
  });
});
