// POST /api/v1/executions (JSON or SSE), GET /api/v1/executions, GET /api/v1/executions/:id.
import { Hono } from "hono";
import { endTime, setMetric, startTime } from "hono/timing";
import { z } from "zod";
import { limits, MAX_CODE_BYTES } from "../config.ts";
import { getDb } from "../db/index.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { getExecution, listExecutions } from "../executions/history.ts";
import { utf8Length } from "../text.ts";
import { streamExecution } from "../executions/sse.ts";
import { KINDS, LANGUAGES, STATUSES, type ExecutionRequest } from "../executions/types.ts";
import type { AppEnv } from "../types.ts";
import { conversationIdSchema, validate } from "../validation.ts";

const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be a valid environment variable name");

/** Code and env values travel to the sandbox in environment variables, where a NUL byte cannot go. */
const noNul = (s: string) => !s.includes("\u0000");
const NUL_MESSAGE = "must not contain NUL bytes (\\u0000)";

const executeSchema = z.object({
  language: z.enum(LANGUAGES, { error: `must be one of ${LANGUAGES.join(", ")}` }),
  code: z.string({ error: "must be a string" }).min(1, "must not be empty").refine(noNul, NUL_MESSAGE),
  conversationId: conversationIdSchema.default("default"),
  timeoutMs: z.number().int().positive().optional(),
  envs: z
    .record(
      envNameSchema,
      z
        .string()
        .max(32 * 1024)
        .refine(noNul, NUL_MESSAGE),
    )
    .refine((envs) => Object.keys(envs).length <= 64, "at most 64 variables")
    .default({}),
  stateful: z.boolean({ error: "must be a boolean" }).default(false),
  artifacts: z.boolean({ error: "must be a boolean" }).optional(),
  keepArtifacts: z.boolean({ error: "must be a boolean" }).optional(),
});

const listSchema = z.object({
  conversationId: conversationIdSchema.optional(),
  language: z.enum(LANGUAGES).optional(),
  kind: z.enum(KINDS).optional(),
  status: z.enum(STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const executionRoutes = new Hono<AppEnv>()
  .post("/", validate("json", executeSchema), async (c) => {
    const body = c.req.valid("json");
    const config = limits(c.env);
    if (utf8Length(body.code) > MAX_CODE_BYTES) {
      throw new ApiError("payload_too_large", `code: must be at most ${MAX_CODE_BYTES} bytes`);
    }
    if (body.stateful && body.language === "shell") {
      throw new ApiError(
        "invalid_request",
        "stateful: only python and node keep state between runs; run shell code without stateful",
      );
    }
    const timeoutMs = body.timeoutMs ?? config.executionTimeoutMs;
    if (timeoutMs > config.executionTimeoutMs) {
      throw new ApiError("invalid_request", `timeoutMs: must be at most ${config.executionTimeoutMs}`);
    }
    const request: ExecutionRequest = {
      language: body.language,
      code: body.code,
      conversationId: body.conversationId,
      timeoutMs,
      envs: body.envs,
      ...(body.stateful ? { stateful: true } : {}),
      ...(body.artifacts !== undefined ? { artifacts: body.artifacts } : {}),
      ...(body.keepArtifacts ? { keepArtifacts: true } : {}),
    };
    const space = c.var.userSpace;
    if (c.req.header("Accept")?.includes("text/event-stream")) {
      return streamExecution(c, unwrap(await space.executeStream(request)));
    }
    startTime(c, "run", "Durable Object and sandbox");
    const result = unwrap(await space.execute(request));
    endTime(c, "run");
    setMetric(c, "code", result.durationMs, "sandbox acquisition and the code itself");
    return c.json(result);
  })
  .get("/", validate("query", listSchema), async (c) => {
    const filters = c.req.valid("query");
    unwrap(await c.var.userSpace.flushHistory());
    return c.json(await listExecutions(getDb(c.env), c.var.user.id, filters));
  })
  .get("/:id", async (c) => {
    unwrap(await c.var.userSpace.flushHistory());
    return c.json(await getExecution(getDb(c.env), c.var.user.id, c.req.param("id")));
  })
  // Stops a running execution (the executor page's Stop). It then ends with status `cancelled`.
  .post("/:id/cancel", async (c) => {
    const id = c.req.param("id");
    if (unwrap(await c.var.userSpace.cancel(id))) return c.json({ id, cancelled: true }, 202);
    // Not running: someone else's or unknown is a 404, one of the caller's that already ended a 409.
    unwrap(await c.var.userSpace.flushHistory());
    const done = await getExecution(getDb(c.env), c.var.user.id, id);
    throw new ApiError("conflict", `Execution ${id} already ended (${done.status}).`);
  });
