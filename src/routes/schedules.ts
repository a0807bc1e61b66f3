// /api/v1/schedules: code that runs on a cron expression (in a time zone) or once at a given time,
// kept and fired by the user's Durable Object (schedules/scheduler.ts); plus run now.
import { Hono } from "hono";
import { z } from "zod";
import { unwrap } from "../durable/outcome.ts";
import { executionResultSchema } from "../executions/types.ts";
import { doc, empty, json } from "../openapi/registry.ts";
import { scheduleListSchema, scheduleSchema } from "../openapi/schemas.ts";
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

const meta = { tags: ["schedules"], auth: "user" as const };
/** What a run of the schedule can fail with: the runner's refusals (as POST /api/v1/executions). */
const RUN_ERRORS = ["sandbox_unavailable", "sandbox_busy", "sandbox_timeout"] as const;

export const scheduleRoutes = new Hono<AppEnv>()
  .post(
    "/",
    doc({
      ...meta,
      operationId: "createSchedule",
      summary: "Create a schedule",
      description:
        "Give exactly one of `cron` (repeating, read in `timezone`, UTC unless given) and `at` (one-shot, an ISO 8601 time in the future).",
      responses: { 201: json(scheduleSchema, "Created.") },
      errors: ["conflict", "payload_too_large"],
    }),
    validate("json", createSchema),
    async (c) => {
      return c.json(unwrap(await c.var.userSpace.createSchedule(c.req.valid("json"))), 201);
    },
  )
  .get(
    "/",
    doc({
      ...meta,
      operationId: "listSchedules",
      summary: "Your schedules",
      responses: { 200: json(scheduleListSchema) },
      errors: [],
    }),
    async (c) => {
      // At most MAX_SCHEDULES_PER_USER: one page.
      return c.json({ items: unwrap(await c.var.userSpace.listSchedules()), nextCursor: null });
    },
  )
  .get(
    "/:id",
    doc({
      ...meta,
      operationId: "getSchedule",
      summary: "A schedule",
      responses: { 200: json(scheduleSchema) },
      errors: ["not_found"],
    }),
    validate("param", idParam),
    async (c) => {
      return c.json(unwrap(await c.var.userSpace.getSchedule(c.req.valid("param").id)));
    },
  )
  .patch(
    "/:id",
    doc({
      ...meta,
      operationId: "updateSchedule",
      summary: "Change a schedule",
      description:
        "Changes the given fields; `cron` replaces `at` and the other way round. Re-enabling clears the failure streak.",
      responses: { 200: json(scheduleSchema) },
      errors: ["not_found", "payload_too_large"],
    }),
    validate("param", idParam),
    validate("json", patchSchema),
    async (c) => {
      return c.json(unwrap(await c.var.userSpace.updateSchedule(c.req.valid("param").id, c.req.valid("json"))));
    },
  )
  .delete(
    "/:id",
    doc({
      ...meta,
      operationId: "deleteSchedule",
      summary: "Delete a schedule",
      description: "A run in progress finishes (and is kept in history).",
      responses: { 204: empty("Deleted.") },
      errors: ["not_found"],
    }),
    validate("param", idParam),
    async (c) => {
      const { id } = c.req.valid("param");
      unwrap(await c.var.userSpace.deleteSchedule(id));
      return c.body(null, 204);
    },
  )
  // Runs it now and answers with the execution, as POST /api/v1/executions does.
  .post(
    "/:id/run",
    doc({
      ...meta,
      operationId: "runSchedule",
      summary: "Run a schedule now",
      description:
        "Runs it now, enabled or not, and answers with the finished execution (trigger `schedule`). 409 while its previous run goes on; 429 within a minute of its previous start, or at the concurrency cap.",
      responses: { 200: json(executionResultSchema, "The finished execution (whatever its status).") },
      errors: ["not_found", "conflict", "rate_limited", "payload_too_large", ...RUN_ERRORS],
    }),
    validate("param", idParam),
    async (c) => {
      return c.json(unwrap(await c.var.userSpace.runSchedule(c.req.valid("param").id)));
    },
  );
