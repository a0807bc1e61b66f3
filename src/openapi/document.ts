// Builds the OpenAPI 3.1 document from the Hono app itself: every route's `doc()` (src/openapi/registry.ts)
// and the zod schemas of its `validate()` middlewares, converted by zod's own JSON Schema generator.
import type { Hono } from "hono";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../error-codes.ts";
import { VERSION } from "../routes/health.ts";
import { DOC, type ResponseSpec, type RouteDoc, VALIDATED, type Validated } from "./registry.ts";

type JsonSchema = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: any app, whatever its env and schema types.
type AnyApp = Hono<any, any, any>;

export const OPENAPI_PATH = "/api/openapi.json";

/** A route as Hono mounted it, with the documentation and validators found among its handlers. */
export interface MountedRoute {
  method: string;
  path: string;
  doc: RouteDoc | undefined;
  validators: Validated[];
}

/**
 * Every route of the app. Not routes: `app.use()` middlewares and `app.all(".../*")` fallbacks, i.e. an
 * ALL entry whose path ends in `*` or that a method's route shares (a lone `app.all("/x")` is a route).
 */
export function mountedRoutes(app: AnyApp): MountedRoute[] {
  const byKey = new Map<string, MountedRoute>();
  const specific = new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => r.path));
  for (const { method, path, handler } of app.routes) {
    if (method === "ALL" && (path.endsWith("*") || specific.has(path))) continue;
    const key = `${method} ${path}`;
    let route = byKey.get(key);
    if (!route) {
      route = { method, path, doc: undefined, validators: [] };
      byKey.set(key, route);
    }
    // A sub-app with its own error handler wraps each handler; the original is kept under this key.
    const inner = (handler as unknown as Record<string, unknown>).__COMPOSED_HANDLER ?? handler;
    const tagged = inner as unknown as Record<symbol, unknown>;
    if (tagged[DOC]) route.doc = tagged[DOC] as RouteDoc;
    if (tagged[VALIDATED]) route.validators.push(tagged[VALIDATED] as Validated);
  }
  return [...byKey.values()];
}

/** `/a/:id/files/*` → `/a/{id}/files/{name}` (regex constraints dropped). */
function openapiPath(path: string, wildcard: string | undefined): string {
  return path
    .replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?\??/g, "{$1}")
    .replace(/\*$/, wildcard ? `{${wildcard}}` : "*")
    .replace(/(.)\/$/, "$1");
}

/** Collects the named schemas (`.meta({ id })`) of every conversion into `components.schemas`. */
class SchemaConverter {
  readonly components: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: "input" | "output"): JsonSchema {
    const converted = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
    const { $schema: _, $defs, ...rest } = converted;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      const fixed = rewriteRefs(def) as JsonSchema;
      const known = this.components[id];
      if (known && JSON.stringify(known) !== JSON.stringify(fixed)) {
        throw new Error(`Two different schemas are named ${id}: give one another id.`);
      }
      this.components[id] = fixed;
    }
    return rewriteRefs(rest) as JsonSchema;
  }
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === "$ref" && typeof v === "string" ? v.replace("#/$defs/", "#/components/schemas/") : rewriteRefs(v),
      ]),
    );
  }
  return value;
}

const SECURITY_SCHEME = { user: "userKey", owner: "ownerToken", ticket: "terminalTicket" } as const;

/** The codes every route of this kind can answer with, whatever it declares. */
function implicitErrors(route: MountedRoute, doc: RouteDoc): ErrorCode[] {
  const codes: ErrorCode[] = ["internal_error"];
  if (doc.auth !== "none") codes.push("unauthorized");
  if (doc.auth === "owner") codes.push("forbidden");
  if (route.validators.length) codes.push("invalid_request");
  return codes;
}

function errorBody(codes: ErrorCode[]): JsonSchema {
  return {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "string", enum: codes },
          message: { type: "string", description: "For a person: names the field or header at fault." },
          requestId: { type: "string", description: "Also in the `X-Request-Id` header; quote it in reports." },
        },
        required: ["code", "message", "requestId"],
        additionalProperties: false,
      },
    },
    required: ["error"],
    additionalProperties: false,
  };
}

function response(spec: ResponseSpec, converter: SchemaConverter): JsonSchema {
  const out: JsonSchema = { description: spec.description };
  const body = spec.body;
  if (body.kind === "json") out.content = { "application/json": { schema: converter.convert(body.schema, "output") } };
  if (body.kind === "binary") out.content = { [body.contentType]: { schema: { type: "string", format: "binary" } } };
  if (body.kind === "text") {
    out.content = {
      [body.contentType]: { schema: body.schema ? converter.convert(body.schema, "output") : { type: "string" } },
    };
  }
  for (const [type, description] of Object.entries(spec.alternatives ?? {})) {
    out.content = { ...(out.content as JsonSchema), [type]: { schema: { type: "string", description } } };
  }
  if (spec.headers) {
    out.headers = Object.fromEntries(
      Object.entries(spec.headers).map(([name, description]) => [name, { description, schema: { type: "string" } }]),
    );
  }
  return out;
}

function operation(route: MountedRoute, doc: RouteDoc, converter: SchemaConverter): JsonSchema {
  const parameters: JsonSchema[] = [];
  const documented = new Set<string>();
  let requestBody: JsonSchema | undefined;
  for (const { target, schema } of route.validators) {
    if (target === "json") {
      requestBody = { required: true, content: { "application/json": { schema: converter.convert(schema, "input") } } };
      continue;
    }
    const where = target === "param" ? "path" : target;
    const object = converter.convert(schema, "input") as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...propertySchema } = property;
      documented.add(name);
      parameters.push({
        name,
        in: where,
        required: where === "path" || (object.required ?? []).includes(name),
        ...(typeof description === "string" ? { description } : {}),
        schema: propertySchema,
      });
    }
  }
  for (const [, name] of route.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (!name || documented.has(name)) continue;
    const description = doc.params?.[name];
    parameters.push({
      name,
      in: "path",
      required: true,
      schema: { type: "string" },
      ...(description ? { description } : {}),
    });
  }
  if (doc.wildcard) {
    parameters.push({
      name: doc.wildcard.name,
      in: "path",
      required: true,
      description: doc.wildcard.description,
      schema: { type: "string" },
    });
  }
  for (const [name, description] of Object.entries(doc.headers ?? {})) {
    parameters.push({ name, in: "header", required: false, description, schema: { type: "string" } });
  }
  if (doc.jsonBody) {
    requestBody = {
      required: doc.jsonBody.required ?? true,
      description: doc.jsonBody.description,
      content: { "application/json": { schema: converter.convert(doc.jsonBody.schema, "input") } },
    };
  }
  if (doc.rawBody) {
    requestBody = {
      required: doc.rawBody.required,
      description: doc.rawBody.description,
      content: { [doc.rawBody.contentType]: { schema: { type: "string", format: "binary" } } },
    };
  }

  const responses: Record<string, JsonSchema> = {};
  for (const [status, spec] of Object.entries(doc.responses)) responses[status] = response(spec, converter);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...doc.errors, ...implicitErrors(route, doc)])) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    codes.sort();
    // The same status documented in `responses` too: its media types answer alongside the JSON error.
    const also = responses[String(status)];
    responses[String(status)] = {
      description: `Error: ${codes.map((c) => `\`${c}\``).join(", ")}.${also ? ` ${also.description}` : ""}`,
      ...(status === 429 || status === 503 ? { headers: { "Retry-After": { schema: { type: "string" } } } } : {}),
      content: { "application/json": { schema: errorBody(codes) }, ...(also?.content as JsonSchema | undefined) },
    };
  }
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: doc.tags,
    security: doc.auth === "none" ? [] : [{ [SECURITY_SCHEME[doc.auth]]: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every documented route of `app`. */
export function buildDocument(app: AnyApp): JsonSchema {
  const converter = new SchemaConverter();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of mountedRoutes(app)) {
    const doc = route.doc;
    if (!doc) continue;
    const path = openapiPath(route.path, doc.wildcard?.name);
    if (route.method === "ALL" && !doc.methods)
      throw new Error(`${route.path}: an app.all() route's doc() needs methods`);
    const methods = route.method === "ALL" ? (doc.methods ?? []) : [route.method.toLowerCase()];
    for (const method of methods) {
      paths[path] = { ...paths[path], [method]: operation(route, doc, converter) };
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Phoenix",
      version: VERSION,
      description:
        "Runs untrusted Python, Node.js and shell code in isolated E2B sandboxes. Every error is `{error: {code, message, requestId}}`.",
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "executions", description: "Run code; history." },
      { name: "shares", description: "Read-only public links to a run." },
      { name: "sandboxes", description: "A conversation's live sandbox: files, packages." },
      { name: "volume", description: "Your persistent files (R2)." },
      { name: "stats", description: "Usage counters." },
      { name: "admin", description: "Owner only: users, keys, usage across users." },
      { name: "meta", description: "Health, this document." },
      { name: "schedules", description: "Code that runs on a cron expression or once, later." },
      { name: "webhooks", description: "Your endpoints for signed event deliveries; their deliveries." },
      { name: "tools", description: "Phoenix's MCP tools as function-calling definitions." },
      { name: "mcp", description: "The Model Context Protocol endpoint (Streamable HTTP)." },
    ],
    paths,
    components: {
      schemas: converter.components,
      securitySchemes: {
        userKey: { type: "http", scheme: "bearer", description: "A user's API key (`Authorization: Bearer phx_…`)." },
        ownerToken: { type: "http", scheme: "bearer", description: "The deployment's OWNER_TOKEN secret." },
        terminalTicket: {
          type: "apiKey",
          in: "query",
          name: "ticket",
          description: "A one-time terminal ticket (`POST /api/v1/sandboxes/{conversationId}/terminal/tickets`).",
        },
      },
    },
  };
}
