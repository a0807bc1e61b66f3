// POST /api/v1/executions (JSON or SSE), GET /api/v1/executions, GET /api/v1/executions/:id.
import { admitRun } from "../executions/admission.ts";
import { Hono } from "hono";
import { endTime, setMetric, startTime } from "hono/timing";
import { z } from "zod";
import { limits, MAX_QUEUE_WAIT_SECONDS } from "../config.ts";
import { getDb } from "../db/index.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { getExecution, getExecutionRow, listExecutions } from "../executions/history.ts";
import { contentTypeOf, payloadOf } from "../interpreter/stored-results.ts";
import { downloadHeaders } from "../downloads.ts";
import { contextIdSchema } from "./contexts.ts";
import { eventsFromResult, parsePosition } from "../executions/replay.ts";
import { resultOf, streamExecution } from "../executions/sse.ts";
import { preferences } from "../prefer.ts";
import {
  executionResultSchema,
  KINDS,
  LANGUAGES,
  STATUSES,
  TRIGGERS,
  type ExecutionRequest,
} from "../executions/types.ts";
import { binary, doc, json } from "../openapi/registry.ts";
import {
  cancelledSchema,
  EXECUTION_EVENTS_DESCRIPTION,
  historyItemSchema,
  historyPageSchema,
  runningExecutionSchema,
} from "../openapi/schemas.ts";
import type { AppEnv } from "../types.ts";
import { conversationIdSchema, validate } from "../validation.ts";

const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be a valid environment variable name");

/** Code and env values travel to the sandbox in environment variables, where a NUL byte cannot go. */
const noNul = (s: string) => !s.includes("\u0000");
const NUL_MESSAGE = "must not contain NUL bytes (\\u0000)";

export const executeSchema = z.object({
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
  contextId: contextIdSchema.optional(),
  artifacts: z.boolean({ error: "must be a boolean" }).optional(),
  keepArtifacts: z.boolean({ error: "must be a boolean" }).optional(),
});

const listSchema = z.object({
  conversationId: conversationIdSchema.optional(),
  language: z.enum(LANGUAGES).optional(),
  kind: z.enum(KINDS).optional(),
  status: z.enum(STATUSES).optional(),
  trigger: z.enum(TRIGGERS).optional(),
  scheduleId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** `Prefer: wait=<s>` in ms (at most MAX_QUEUE_WAIT_SECONDS), else the configured default. */
function preferredWait(header: string | undefined, fallbackMs: number): number {
  const wait = preferences(header).get("wait");
  if (wait === undefined) return fallbackMs;
  if (!/^\d{1,6}$/.test(wait)) {
    throw new ApiError(
      "invalid_request",
      `Prefer: wait must be a whole number of seconds (at most ${MAX_QUEUE_WAIT_SECONDS})`,
    );
  }
  return Math.min(Number(wait), MAX_QUEUE_WAIT_SECONDS) * 1000;
}

const eventsQuery = z.object({
  after: z.string().max(40).optional().describe("The id of the last event received (as `Last-Event-ID`)."),
});

export const executionRoutes = new Hono<AppEnv>()
  .post(
    "/",
    doc({
      operationId: "runCode",
      summary: "Run code",
      description:
        "Runs `code` in the conversation's sandbox (started on first use) and answers with the result; with `Accept: text/event-stream`, streams it as Server-Sent Events instead.",
      tags: ["executions"],
      auth: "user",
      headers: {
        Prefer:
          "`wait=<seconds>` (at most 300): at the concurrency cap, wait that long in the queue for a slot instead of a 429. `respond-async`: answer 202 at once; the result comes by `GET /api/v1/executions/:id` and by webhook.",
      },
      responses: {
        200: {
          description: "The finished execution (whatever its status), or its event stream.",
          body: { kind: "json", schema: executionResultSchema },
          alternatives: { "text/event-stream": EXECUTION_EVENTS_DESCRIPTION },
        },
        202: {
          ...json(runningExecutionSchema, "Started (`Prefer: respond-async`)."),
          headers: { Location: "Where to read the execution.", "Preference-Applied": "`respond-async`" },
        },
      },
      errors: [
        "payload_too_large",
        "not_found",
        "conflict",
        "rate_limited",
        "sandbox_unavailable",
        "sandbox_busy",
        "sandbox_timeout",
        "quota_exceeded",
      ],
    }),
    validate("json", executeSchema),
    async (c) => {
      const body = c.req.valid("json");
      const config = limits(c.env);
      if (body.contextId !== undefined && body.language === "shell") {
        throw new ApiError("invalid_request", "contextId: contexts run python or node code, not shell");
      }
      const timeoutMs = admitRun(c.env, body);
      const waitMs = preferredWait(c.req.header("Prefer"), config.queueWaitMs);
      const request: ExecutionRequest = {
        language: body.language,
        code: body.code,
        conversationId: body.conversationId,
        timeoutMs,
        envs: body.envs,
        // An explicit context is stateful by nature.
        ...(body.stateful || body.contextId !== undefined ? { stateful: true } : {}),
        ...(body.contextId !== undefined ? { contextId: body.contextId } : {}),
        ...(body.artifacts !== undefined ? { artifacts: body.artifacts } : {}),
        ...(body.keepArtifacts ? { keepArtifacts: true } : {}),
        ...(waitMs > 0 ? { waitMs } : {}),
      };
      const space = c.var.userSpace;
      if (preferences(c.req.header("Prefer")).has("respond-async")) {
        // The run goes on in the user's Durable Object; its result comes by GET …/:id and by webhook.
        const running = unwrap(await space.executeAsync(request));
        c.header("Preference-Applied", "respond-async");
        c.header("Location", `/api/v1/executions/${running.id}`);
        return c.json(running, 202);
      }
      if (c.req.header("Accept")?.includes("text/event-stream")) {
        return streamExecution(c, unwrap(await space.executeStream(request)));
      }
      // A run that may wait for a slot goes through the event stream even for a JSON client: when the
      // client goes away, the stream is cancelled and the run leaves the queue.
      if (waitMs > 0) return c.json(await resultOf(unwrap(await space.executeStream(request))));
      startTime(c, "run", "Durable Object and sandbox");
      const result = unwrap(await space.execute(request));
      endTime(c, "run");
      setMetric(c, "code", result.durationMs, "sandbox acquisition and the code itself");
      return c.json(result);
    },
  )
  .get(
    "/",
    doc({
      operationId: "listExecutions",
      summary: "List your executions",
      description: "Newest first, a page at a time; filters combine.",
      tags: ["executions"],
      auth: "user",
      responses: { 200: json(historyPageSchema) },
      errors: [],
    }),
    validate("query", listSchema),
    async (c) => {
      const filters = c.req.valid("query");
      unwrap(await c.var.userSpace.flushHistory());
      return c.json(await listExecutions(getDb(c.env), c.var.user.id, filters));
    },
  )
  .get(
    "/:id",
    doc({
      operationId: "getExecution",
      summary: "Get one execution",
      tags: ["executions"],
      auth: "user",
      params: { id: "The execution's id (`exe_…`)." },
      responses: {
        200: json(
          z.union([historyItemSchema, runningExecutionSchema]),
          "The execution, or what is known while it runs.",
        ),
      },
      errors: ["not_found", "storage_unavailable"],
    }),
    async (c) => {
      // Still running (an asynchronous run): what is known so far; else history, brought up to date.
      const running = unwrap(await c.var.userSpace.runningExecution(c.req.param("id")));
      if (running) return c.json(running);
      return c.json(await getExecution(getDb(c.env), c.var.user.id, c.req.param("id")));
    },
  )
  // A stateful run's result payload as bytes of its type (history shows large ones as this URL).
  .get(
    "/:id/results/:index",
    doc({
      operationId: "getExecutionResult",
      summary: "One result of a stateful run, as bytes of its type",
      description: "History shows a result larger than 64 KiB as `{type, isMainResult, size, url}`: this is the URL.",
      tags: ["executions"],
      auth: "user",
      params: { id: "The execution's id (`exe_…`).", index: "The result's position in `results` (0-based)." },
      responses: { 200: binary("*/*", "The payload, with the result's own Content-Type (e.g. `image/png`).") },
      errors: ["not_found", "storage_unavailable"],
    }),
    async (c) => {
      const id = c.req.param("id");
      const index = c.req.param("index");
      unwrap(await c.var.userSpace.flushHistory());
      const row = await getExecutionRow(getDb(c.env), c.var.user.id, id);
      const result = /^\d{1,4}$/.test(index) ? row.results?.[Number(index)] : undefined;
      if (!result) throw new ApiError("not_found", `Execution ${id} has no result ${index}.`);
      const contentType = contentTypeOf(result.type);
      const name = `${id}-result-${index}`;
      const headers = { "Content-Type": contentType, ...downloadHeaders(name, contentType) };
      if (!("key" in result)) return c.body(payloadOf(result), 200, headers);
      const object = await c.env.VOLUMES.get(result.key);
      if (!object) throw new ApiError("not_found", `The payload of result ${index} of execution ${id} is gone.`);
      return c.body(object.body, 200, { ...headers, "Content-Length": String(object.size) });
    },
  )
  // Resumes a run's event stream (SSE): every event after `Last-Event-ID` (or `?after=`), then live
  // until the run ends; from the stored result once the run's live log is gone.
  .get(
    "/:id/events",
    doc({
      operationId: "resumeExecutionEvents",
      summary: "Resume a run's event stream",
      description:
        "Every SSE event after `Last-Event-ID` (or `?after=`), then the live ones until `end`; without an id, the whole stream. Event ids are positions in the output (`<stdout chars>.<stderr chars>`).",
      tags: ["executions"],
      auth: "user",
      params: { id: "The execution's id (`exe_…`)." },
      headers: { "Last-Event-ID": "The id of the last event received." },
      responses: {
        200: { description: "The run's events.", body: { kind: "text", contentType: "text/event-stream" } },
      },
      errors: ["not_found", "storage_unavailable"],
    }),
    validate("query", eventsQuery),
    async (c) => {
      const id = c.req.param("id");
      const raw = c.req.valid("query").after ?? c.req.header("Last-Event-ID");
      const after = raw === undefined || raw === "" ? undefined : parsePosition(raw);
      if (raw && !after) {
        throw new ApiError("invalid_request", "after: must be an event id of this run's stream (`<n>.<n>`)");
      }
      const space = c.var.userSpace;
      const live = unwrap(await space.followExecution(id, after));
      if (live) return streamExecution(c, live, after);
      unwrap(await space.flushHistory());
      const stored = await getExecution(getDb(c.env), c.var.user.id, id);
      return streamExecution(c, eventsFromResult(stored, after), after);
    },
  )
  // Stops a running execution (the executor page's Stop). It then ends with status `cancelled`.
  .post(
    "/:id/cancel",
    doc({
      operationId: "cancelExecution",
      summary: "Stop a running execution",
      description: "It then ends with status `cancelled`. A stateful run cannot be cancelled (409).",
      tags: ["executions"],
      auth: "user",
      params: { id: "The execution's id (`exe_…`)." },
      responses: { 202: json(cancelledSchema, "Stopping.") },
      errors: ["not_found", "conflict"],
    }),
    async (c) => {
      const id = c.req.param("id");
      if (unwrap(await c.var.userSpace.cancel(id))) return c.json({ id, cancelled: true }, 202);
      // Not running: someone else's or unknown is a 404, one of the caller's that already ended a 409.
      unwrap(await c.var.userSpace.flushHistory());
      const done = await getExecution(getDb(c.env), c.var.user.id, id);
      throw new ApiError("conflict", `Execution ${id} already ended (${done.status}).`);
    },
  );
