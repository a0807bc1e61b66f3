// /api/v1/sandboxes/:conversationId/contexts: the interpreter contexts of a conversation's sandbox
// (create, list, restart, delete), through the caller's Durable Object, which knows only theirs.
import { Hono } from "hono";
import { z } from "zod";
import { unwrap } from "../durable/outcome.ts";
import { STATEFUL_LANGUAGES } from "../interpreter/wire.ts";
import { sandboxPathSchema } from "../sandbox/files.ts";
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

const contextParam = z.object({ conversationId: conversationIdSchema, id: z.string() });

export const contextRoutes = new Hono<AppEnv>()
  .post(
    "/:conversationId/contexts",
    validate("param", conversationParam),
    validate("json", createSchema),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { language, cwd } = c.req.valid("json");
      return c.json(unwrap(await c.var.userSpace.createContext(conversationId, language, cwd)), 201);
    },
  )
  .get("/:conversationId/contexts", validate("param", conversationParam), async (c) => {
    const { conversationId } = c.req.valid("param");
    return c.json({ items: unwrap(await c.var.userSpace.listContexts(conversationId)) });
  })
  .post("/:conversationId/contexts/:id/restart", validate("param", contextParam), async (c) => {
    const { conversationId, id } = c.req.valid("param");
    return c.json(unwrap(await c.var.userSpace.restartContext(conversationId, id)));
  })
  .delete("/:conversationId/contexts/:id", validate("param", contextParam), async (c) => {
    const { conversationId, id } = c.req.valid("param");
    unwrap(await c.var.userSpace.removeContext(conversationId, id));
    return c.body(null, 204);
  });
