// /api/v1/sandboxes/:conversationId/contexts: the interpreter contexts of a conversation's sandbox
// (create, list, restart, delete), through the caller's Durable Object, which knows only theirs.
import { Hono } from "hono";
import { z } from "zod";
import { unwrap } from "../durable/outcome.ts";
import { STATEFUL_LANGUAGES } from "../interpreter/wire.ts";
import { sandboxPathSchema } from "../sandbox/files.ts";
import { doc, empty, json } from "../openapi/registry.ts";
import { contextInfoSchema, contextListSchema } from "../openapi/schemas.ts";
import type { AppEnv } from "../types.ts";
import { conversationIdSchema, conversationParam, validate } from "../validation.ts";

/** Context ids are the interpreter server's (E2B: kernel UUIDs); anything else names no context. */
export const contextIdSchema = z
  .string({ error: "must be a string" })
  .regex(/^[A-Za-z0-9_-]{1,128}$/, "must be a context id returned by POST …/contexts or GET …/contexts");

const createSchema = z.object({
  language: z.enum(STATEFUL_LANGUAGES, { error: `must be one of ${STATEFUL_LANGUAGES.join(", ")}` }),
  cwd: sandboxPathSchema.optional(),
});

const contextParam = z.object({
  conversationId: conversationIdSchema,
  id: z.string().describe("The context's id (from POST …/contexts or GET …/contexts)."),
});

export const contextRoutes = new Hono<AppEnv>()
  .post(
    "/:conversationId/contexts",
    doc({
      operationId: "createContext",
      summary: "Create an interpreter context",
      description:
        "A fresh python or node context (its own variables) in the conversation's interpreter sandbox, started if it has none. Run in it with `contextId`. A conversation holding a plain sandbox (from a non-stateful run) is a 409: close it first.",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 201: json(contextInfoSchema, "Created.") },
      errors: [
        "payload_too_large",
        "conflict",
        "rate_limited",
        "sandbox_unavailable",
        "sandbox_busy",
        "sandbox_timeout",
      ],
    }),
    validate("param", conversationParam),
    validate("json", createSchema),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { language, cwd } = c.req.valid("json");
      return c.json(unwrap(await c.var.userSpace.createContext(conversationId, language, cwd)), 201);
    },
  )
  .get(
    "/:conversationId/contexts",
    doc({
      operationId: "listContexts",
      summary: "List the conversation's interpreter contexts",
      description:
        "Its default contexts (one per language, used by stateful runs) and those you created; none without an interpreter sandbox.",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 200: json(contextListSchema) },
      errors: ["sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("param", conversationParam),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      return c.json({ items: unwrap(await c.var.userSpace.listContexts(conversationId)) });
    },
  )
  .post(
    "/:conversationId/contexts/:id/restart",
    doc({
      operationId: "restartContext",
      summary: "Restart an interpreter context",
      description: "Its variables are gone; the context and its id stay.",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 200: json(contextInfoSchema, "Restarted.") },
      errors: ["not_found", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("param", contextParam),
    async (c) => {
      const { conversationId, id } = c.req.valid("param");
      return c.json(unwrap(await c.var.userSpace.restartContext(conversationId, id)));
    },
  )
  .delete(
    "/:conversationId/contexts/:id",
    doc({
      operationId: "deleteContext",
      summary: "Delete an interpreter context",
      description: "Stops its kernel. A default context is replaced by a fresh one on the next stateful run.",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 204: empty("Deleted.") },
      errors: ["not_found", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("param", contextParam),
    async (c) => {
      const { conversationId, id } = c.req.valid("param");
      unwrap(await c.var.userSpace.removeContext(conversationId, id));
      return c.body(null, 204);
    },
  );
