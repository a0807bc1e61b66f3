// /api/v1/schedules: code that runs on a cron expression (in a time zone) or once at a given time,
// kept and fired by the user's Durable Object (schedules/scheduler.ts); plus run now.
import { Hono } from "hono";
import { z } from "zod";
import { unwrap } from "../durable/outcome.ts";
import type { AppEnv } from "../types.ts";
import { conversationIdSchema, validate } from "../validation.ts";
import { executeSchema } from "./executions.ts";

const run = executeSchema.shape;

/** The schedule's own fields; the run's are an execution's (routes/executions.ts). */
const timing = {
  name: z.string({ error: "must be a string" }).trim().min(1, "must not be empty").max(100).nullable().optional(),
  cron: z.string({ error: "must be a string such as '0 9 * * 1-5'" }).max(200).optional(),
  timezone: z.string({ error: "must be an IANA time zone name" }).max(64).optional(),
  at: z.string({ error: "must be an ISO 8601 time" }).max(64).optional(),
  enabled: z.boolean({ error: "must be a boolean" }).optional(),
};

const createSchema = z.strictObject({
  ...timing,
  language: run.language,
  code: run.code,
  conversationId: conversationIdSchema.optional(),
  stateful: z.boolean({ error: "must be a boolean" }).optional(),
  timeoutMs: run.timeoutMs,
  envs: run.envs.unwrap().optional(),
});

const patchSchema = z.strictObject({
  ...createSchema.shape,
  language: run.language.optional(),
  code: run.code.optional(),
});

const idParam = z.object({ id: z.string().max(64) });

export const scheduleRoutes = new Hono<AppEnv>()
  .post("/", validate("json", createSchema), async (c) => {
    return c.json(unwrap(await c.var.userSpace.createSchedule(c.req.valid("json"))), 201);
  })
  .get("/", async (c) => {
    // At most MAX_SCHEDULES_PER_USER: one page.
    return c.json({ items: unwrap(await c.var.userSpace.listSchedules()), nextCursor: null });
  })
  .get("/:id", validate("param", idParam), async (c) => {
    return c.json(unwrap(await c.var.userSpace.getSchedule(c.req.valid("param").id)));
  })
  .patch("/:id", validate("param", idParam), validate("json", patchSchema), async (c) => {
    return c.json(unwrap(await c.var.userSpace.updateSchedule(c.req.valid("param").id, c.req.valid("json"))));
  })
  .delete("/:id", validate("param", idParam), async (c) => {
    const { id } = c.req.valid("param");
    unwrap(await c.var.userSpace.deleteSchedule(id));
    return c.json({ id, deleted: true });
  })
  // Runs it now and answers with the execution, as POST /api/v1/executions does.
  .post("/:id/run", validate("param", idParam), async (c) => {
    return c.json(unwrap(await c.var.userSpace.runSchedule(c.req.valid("param").id)));
  });
