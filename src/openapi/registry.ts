// The API contract's declarations: `doc()` marks a route with what the OpenAPI document says about it.
//
// How to add a route to the contract:
// 1. Put `doc({ operationId, summary, tags, auth, responses, errors })` first in the route's handlers:
//    `.get("/x", doc({...}), validate("query", schema), handler)`; the document finds it in the Hono app.
// 2. Parameters and JSON bodies come from the route's own `validate(...)` middlewares: never repeat them.
// 3. Responses: `json(zodSchema)`, `binary(type)`, `empty()`; give a new body shape a zod schema (derive its
//    TS type with z.infer). `errors`: every code the handler can throw (auth, validation, 500 are added).
// 4. Run `npm run openapi` (the typed client); test/unit/openapi.test.ts fails on any undocumented route.
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import type { ErrorCode } from "../error-codes.ts";

/**
 * Who may call the route: anyone, a user's API key, the deployment's owner token, or a one-time terminal
 * ticket in the query (the WebSocket a browser opens cannot carry `Authorization`).
 */
export type Auth = "none" | "user" | "owner" | "ticket";

/** One response body: JSON validated by a zod schema, other bytes, or nothing. */
export type BodySpec =
  | { kind: "json"; schema: z.ZodType }
  | { kind: "binary"; contentType: string }
  | { kind: "text"; contentType: string; schema?: z.ZodType }
  | { kind: "empty" };

export interface ResponseSpec {
  description: string;
  body: BodySpec;
  /** Other media types the same status can answer with (by `Accept`), by type: what the text is. */
  alternatives?: Record<string, string>;
  /** Response headers worth knowing, by name: their description. */
  headers?: Record<string, string>;
}

export interface RouteDoc {
  /** A stable camelCase name: client generators make method names of it. */
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  auth: Auth;
  /**
   * Success (and 3xx) responses by status. Error statuses come from `errors`; one given here too adds its
   * media types to that error's JSON (e.g. an HTML page for a browser).
   */
  responses: Record<number, ResponseSpec>;
  /** Every code the route can answer with, beyond those added for auth, validation and `internal_error`. */
  errors: ErrorCode[];
  /** A body `validate("json", …)` does not read: streamed bytes (file uploads, tar archives). */
  rawBody?: { contentType: string; description: string; required: boolean };
  /** A `*` wildcard in the route's path: its parameter name and description. */
  wildcard?: { name: string; description: string };
  /** Request headers the route reads, by name: their description. */
  headers?: Record<string, string>;
  /** For an `app.all()` route: the methods it answers. */
  methods?: ("get" | "post" | "put" | "delete")[];
  /** `:param`s not checked by a `validate("param", …)`: their descriptions (they are strings). */
  params?: Record<string, string>;
  /**
   * A JSON body the handler parses itself, without `validate("json", …)`: the MCP endpoint's JSON-RPC,
   * or a body that may be left out (which `validate` refuses). Required unless said otherwise.
   */
  jsonBody?: { schema: z.ZodType; required?: boolean; description: string };
}

export const DOC = Symbol.for("phoenix.openapi.doc");
export const VALIDATED = Symbol.for("phoenix.openapi.validated");

/** What `validate()` tags its middleware with, so the document reads the very schema that validates. */
export interface Validated {
  target: string;
  schema: z.ZodType;
}

/** A no-op middleware that carries the route's documentation. */
export function doc(route: RouteDoc): MiddlewareHandler {
  const middleware: MiddlewareHandler = (_c, next) => next();
  return Object.assign(middleware, { [DOC]: route });
}

export const json = (schema: z.ZodType, description = "OK"): ResponseSpec => ({
  description,
  body: { kind: "json", schema },
});

export const binary = (contentType: string, description: string, headers?: Record<string, string>): ResponseSpec => ({
  description,
  body: { kind: "binary", contentType },
  ...(headers ? { headers } : {}),
});

export const empty = (description: string, headers?: Record<string, string>): ResponseSpec => ({
  description,
  body: { kind: "empty" },
  ...(headers ? { headers } : {}),
});
