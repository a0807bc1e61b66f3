// The shapes of an execution, shared by the routes, the Durable Object and the history; the zod schemas
// are what the OpenAPI document says a response is, and the types are derived from them.
import { z } from "zod";
import { artifactSchema } from "../artifacts/types.ts";
import type { ApiErrorData } from "../error-codes.ts";

export const LANGUAGES = ["python", "node", "shell"] as const;
export type Language = (typeof LANGUAGES)[number];

/** What a history row records: code a client ran, or a package install (recorded as the shell command it ran). */
export const KINDS = ["run", "install"] as const;
export type ExecutionKind = (typeof KINDS)[number];

/** What started an execution: a client's API request, one of the user's schedules, or an MCP tool call. */
export const TRIGGERS = ["api", "schedule", "mcp"] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const STATUSES = ["succeeded", "failed", "timed_out", "cancelled", "error"] as const;
export type ExecutionStatus = (typeof STATUSES)[number];

/** What a client asks to run; the user is the Durable Object's own (it runs nothing for anyone else). */
export interface ExecutionRequest {
  language: Language;
  code: string;
  conversationId: string;
  timeoutMs: number;
  envs: Record<string, string>;
  /** Run in the conversation's persistent code-interpreter context for the language (python, node). */
  stateful?: boolean;
  /** How long the run may wait for a free slot (`Prefer: wait=<s>`); 0 or absent: 429 when none is free. */
  waitMs?: number;
  /** What started it; `api` when unset. */
  trigger?: Trigger;
  /** The schedule that started it (trigger `schedule`). */
  scheduleId?: string;
  /** The id the run will have, chosen by the scheduler so it knows a run that ends in error; routes never set it. */
  id?: string;
  /** Run in this explicit context of the conversation's sandbox (implies stateful). */
  contextId?: string;
  /** List the files the run created, modified or deleted under /home/user (`artifacts` on the result). */
  artifacts?: boolean;
  /** Copy the run's artifacts to R2 when it ends, under the volume quota (implies `artifacts`). */
  keepArtifacts?: boolean;
}

/** One display output or the last expression's value of a stateful run, in its richest MIME type. */
export const interpreterResultSchema = z.object({
  type: z
    .string()
    .describe("e.g. `text/plain`, `text/html`, `image/png` (data base64), `image/svg+xml`, `application/json`."),
  data: z.string().describe("The representation as text: base64 for images and PDF, JSON text for `application/json`."),
  isMainResult: z.boolean(),
});
export type InterpreterResult = z.infer<typeof interpreterResultSchema>;

/** The exception a stateful run raised (its traceback as the interpreter printed it). */
export const interpreterErrorSchema = z.object({ name: z.string(), value: z.string(), traceback: z.string() });
export type InterpreterError = z.infer<typeof interpreterErrorSchema>;

/** An execution's result: the response of `POST /api/v1/executions` and the `end` event's payload. */
export const executionResultSchema = z
  .object({
    id: z.string(),
    language: z.enum(LANGUAGES),
    conversationId: z.string(),
    status: z.enum(STATUSES),
    exitCode: z.number().int().nullable(),
    stdout: z.string(),
    stderr: z.string(),
    truncated: z.boolean(),
    durationMs: z.number(),
    sandboxId: z.string().nullable(),
    createdAt: z.string(),
    trigger: z.enum(TRIGGERS).describe("What started it: an API request, a schedule, or an MCP tool call."),
    scheduleId: z.string().optional().describe("Runs started by a schedule only."),
    results: z
      .array(interpreterResultSchema)
      .optional()
      .describe("Stateful runs only: display outputs and the last expression's value."),
    error: interpreterErrorSchema.optional().describe("Stateful runs only, when the code raised (status `failed`)."),
    artifacts: z
      .array(artifactSchema)
      .optional()
      .describe("Files under /home/user the run created, modified or deleted (at most 100), when asked for."),
    artifactsTruncated: z
      .boolean()
      .optional()
      .describe("More than 100 files changed: `artifacts` lists the first 100."),
    kept: z
      .object({ artifacts: z.number().int(), bytes: z.number().int() })
      .optional()
      .describe("`keepArtifacts`: how many files (and bytes) were copied to R2."),
  })
  .meta({ id: "ExecutionResult" });
export type ExecutionResult = z.infer<typeof executionResultSchema>;

/** Events of a live execution, in order: `queued` while it waits for a slot, start, any stdout/stderr, then end or error. */
export type ExecutionEvent =
  | { type: "queued"; position: number }
  | { type: "start"; id: string; sandboxId: string; conversationId: string; language: Language }
  | { type: "stdout"; data: string }
  | { type: "stderr"; data: string }
  | { type: "end"; result: ExecutionResult }
  | { type: "error"; error: ApiErrorData };
