// The response bodies of the API as zod schemas: what the OpenAPI document promises. Types the code
// already had are checked against them below, so a field changed on one side fails `npm run typecheck`.
import { z } from "zod";
import type { SandboxInfo } from "../durable/sandboxes.ts";
import type { HistoryItem } from "../executions/history.ts";
import type { UserStats } from "../executions/metrics.ts";
import {
  executionResultSchema,
  interpreterErrorSchema,
  interpreterResultSchema,
  KINDS,
  LANGUAGES,
  STATUSES,
} from "../executions/types.ts";
import type { AnthropicTool, OpenAiTool } from "../mcp/function-calling.ts";
import type { FileEntry } from "../sandbox/files.ts";
import type { KeptArtifacts } from "../artifacts/keep.ts";
import { artifactSchema } from "../artifacts/types.ts";
import type { ContextInfo } from "../interpreter/contexts.ts";
import { STATEFUL_LANGUAGES } from "../interpreter/wire.ts";
import type { ShareSnapshot, SharedFile } from "../shares/snapshot.ts";
import type { ShareInfo } from "../shares/store.ts";
import { PACKAGE_MANAGERS, type InstallResult } from "../sandbox/packages.ts";
import type { ImportResult } from "../volume/archive.ts";
import type { VolumeInfo } from "../volume/ledger.ts";
import type { PersistedFile } from "../volume/sandbox-files.ts";
import type { StoredFile } from "../volume/store.ts";
import type { Schedule } from "../schedules/types.ts";
import type { DeliveryView, WebhookView } from "../webhooks/store.ts";

const isoDate = z.string().describe("ISO 8601 date and time (UTC).");

export const healthSchema = z.object({
  ok: z.literal(true),
  version: z.string(),
  sandboxBackend: z.enum(["e2b", "e2b-local"]),
});

// ── Executions ──────────────────────────────────────────────────────────────────────────────────

export const historyItemSchema = executionResultSchema
  .omit({ results: true, error: true, scheduleId: true, kept: true })
  .extend({
    kind: z.enum(KINDS),
    scheduleId: z.string().nullable().describe("The schedule that started it (trigger `schedule`); null otherwise."),
    code: z.string(),
    error: z
      .string()
      .nullable()
      .describe(
        "Why it did not succeed: a stateful run's exception as `Name: value`, or the error's message (status `error`).",
      ),
    results: z
      .array(
        z.union([
          interpreterResultSchema,
          z.object({
            type: z.string(),
            isMainResult: z.boolean(),
            size: z.number().int().describe("Bytes of the payload."),
            url: z.string().describe("`GET` it (with your key) for the payload: larger than 64 KiB."),
          }),
        ]),
      )
      .optional()
      .describe("A stateful run's results: inline up to 64 KiB each, larger ones as a URL."),
    exception: interpreterErrorSchema.optional().describe("A stateful run's exception, in full."),
  })
  .meta({ id: "HistoryItem" });

export const historyPageSchema = z.object({
  items: z.array(historyItemSchema),
  nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last one."),
});

/** An execution still running: `Prefer: respond-async`'s 202, and `GET …/:id` until it ends. */
export const runningExecutionSchema = executionResultSchema
  .pick({ id: true, language: true, conversationId: true, createdAt: true, trigger: true, scheduleId: true })
  .extend({ status: z.literal("running") })
  .meta({ id: "RunningExecution" });

export const cancelledSchema = z.object({ id: z.string(), cancelled: z.literal(true) });

/** The Server-Sent Events of `Accept: text/event-stream` (start, stdout, stderr, then end or error). */
export const EXECUTION_EVENTS_DESCRIPTION =
  "Server-Sent Events: `start` {id, sandboxId, conversationId, language}, any number of `stdout` / `stderr` {data}, then `end` {result: ExecutionResult} or `error` {error: {code, message, requestId}}.";

// ── Stats and volume ────────────────────────────────────────────────────────────────────────────

const languageStatsSchema = z.object({
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  timedOut: z.number().int(),
  cancelled: z.number().int(),
  errors: z.number().int(),
  averageDuration: z.number(),
});

const userStatsSchema = z.object({
  totalExecutions: z.number().int(),
  successfulExecutions: z.number().int(),
  failedExecutions: z.number().int(),
  successRate: z.number(),
  averageDuration: z.number(),
  byLanguage: z.partialRecord(z.enum(LANGUAGES), languageStatsSchema),
  recentErrors: z.array(
    z.object({
      executionId: z.string(),
      language: z.enum(LANGUAGES),
      status: z.enum(STATUSES),
      message: z.string(),
      at: isoDate,
    }),
  ),
});

export const volumeInfoSchema = z
  .object({
    usedBytes: z.number().int(),
    quotaBytes: z.number().int(),
    usagePercent: z.number(),
    fileCount: z.number().int(),
    reservedBytes: z.number().int().describe("Bytes held by uploads in progress (they count against the quota)."),
  })
  .meta({ id: "VolumeInfo" });

export const statsSchema = z.object({
  user: userStatsSchema,
  volume: volumeInfoSchema,
  sandboxes: z.object({ active: z.number().int() }),
});

export const volumeListSchema = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      size: z.number().int(),
      etag: z.string(),
      modifiedAt: isoDate,
      contentType: z.string().nullable(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const storedFileSchema = z
  .object({
    name: z.string(),
    size: z.number().int(),
    etag: z.string(),
    modifiedAt: isoDate,
    replaced: z.boolean().describe("True when the name held a file before (only the difference counted)."),
  })
  .meta({ id: "StoredFile" });

export const importResultSchema = z.object({
  files: z.array(z.object({ name: z.string(), size: z.number().int() })),
  totalBytes: z.number().int(),
});

// ── Sandboxes ───────────────────────────────────────────────────────────────────────────────────

export const sandboxInfoSchema = z
  .object({
    conversationId: z.string(),
    sandboxId: z.string(),
    template: z.string(),
    startedAt: isoDate,
    lastUsedAt: isoDate,
    expiresAt: isoDate,
  })
  .meta({ id: "SandboxInfo" });

export const sandboxListSchema = z.object({ items: z.array(sandboxInfoSchema) });

export const terminalTicketSchema = z
  .object({
    ticket: z
      .string()
      .describe("One use, within a minute: `GET …/terminal?ticket=<ticket>` with `Upgrade: websocket`."),
    expiresAt: isoDate.describe("Unused by then, the ticket is void."),
    url: z.string().describe("The WebSocket URL to open (`wss://…/terminal?ticket=…`; `ws://` on plain HTTP)."),
  })
  .meta({ id: "TerminalTicket" });

const fileEntrySchema = z.object({
  name: z.string(),
  path: z.string(),
  type: z.enum(["file", "dir", "symlink"]),
  size: z.number().int(),
  modifiedAt: isoDate.nullable(),
});

export const fileListSchema = z.object({ path: z.string(), items: z.array(fileEntrySchema) });

export const fileWrittenSchema = z.object({ path: z.string(), size: z.number().int() });

export const installResultSchema = z.object({
  id: z.string().describe("The install's id in the history, where it is recorded as kind `install`."),
  manager: z.enum(PACKAGE_MANAGERS),
  packages: z.array(z.string()),
  status: z.enum(["succeeded", "failed", "timed_out", "cancelled"]),
  exitCode: z.number().int().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  durationMs: z.number(),
  sandboxId: z.string().nullable(),
});

export const persistedFileSchema = storedFileSchema.extend({ path: z.string() }).meta({ id: "PersistedFile" });

export const restoredFileSchema = z.object({ name: z.string(), path: z.string(), size: z.number().int() });

// ── Admin (owner) ───────────────────────────────────────────────────────────────────────────────

export const createdUserSchema = z.object({
  id: z.string(),
  name: z.string(),
  apiKey: z.string().describe("Shown once: only its hash is stored."),
  keyId: z.string(),
  createdAt: isoDate,
});

export const userListSchema = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string(), createdAt: isoDate, activeKeys: z.number().int() })),
});

export const issuedKeySchema = z.object({
  id: z.string(),
  userId: z.string(),
  apiKey: z.string().describe("Shown once: only its hash is stored."),
  prefix: z.string(),
  createdAt: isoDate,
});

export const keyListSchema = z.object({
  items: z.array(z.object({ id: z.string(), prefix: z.string(), createdAt: isoDate, revokedAt: isoDate.nullable() })),
});

export const deletedUserSchema = z.union([
  z.object({
    id: z.string(),
    name: z.string(),
    history: z.enum(["delete", "anonymise"]),
    removed: z.object({
      keys: z.number().int(),
      activeKeysRevoked: z.number().int(),
      sandboxes: z.number().int(),
      cancelledExecutions: z.number().int(),
      volumeFiles: z.number().int(),
      volumeBytes: z.number().int(),
      executions: z.number().int(),
    }),
    deletedAt: isoDate,
  }),
  z.object({ id: z.string(), alreadyDeleted: z.literal(true), deletedAt: isoDate }),
]);

const durations = {
  averageDurationMs: z.number(),
  p50DurationMs: z.number(),
  p95DurationMs: z.number(),
};

export const adminStatsSchema = z.object({
  totals: z.object({
    executions: z.number().int(),
    failed: z.number().int(),
    errors: z.number().int(),
    errorRate: z.number().describe("Percent of executions that did not succeed."),
    ...durations,
  }),
  perUser: z.array(
    z.object({
      userId: z.string(),
      name: z.string().nullable().describe("Null for a deleted user's anonymised history."),
      executions: z.number().int(),
      errorRate: z.number(),
      ...durations,
    }),
  ),
  perLanguage: z.partialRecord(
    z.enum(LANGUAGES),
    z.object({ executions: z.number().int(), errorRate: z.number(), ...durations }),
  ),
});

// ── Drift checks: each existing type and its schema must accept each other ──────────────────────

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type SchemaChecks = [
  Check<Same<z.infer<typeof historyItemSchema>, HistoryItem>>,
  Check<Same<z.infer<typeof userStatsSchema>, UserStats>>,
  Check<Same<z.infer<typeof volumeInfoSchema>, VolumeInfo>>,
  Check<Same<z.infer<typeof storedFileSchema>, StoredFile>>,
  Check<Same<z.infer<typeof persistedFileSchema>, PersistedFile>>,
  Check<Same<z.infer<typeof importResultSchema>, ImportResult>>,
  Check<Same<z.infer<typeof sandboxInfoSchema>, SandboxInfo>>,
  Check<Same<z.infer<typeof fileEntrySchema>, FileEntry>>,
  Check<Same<z.infer<typeof installResultSchema>, InstallResult>>,
];

// ── Schedules, webhooks, tools, MCP ─────────────────────────────────────────────────────────────

const scheduleEventSchema = z.object({
  type: z.enum(["schedule.run_skipped", "schedule.disabled"]),
  at: isoDate,
  data: z.record(z.string(), z.unknown()),
});

export const scheduleSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    cron: z.string().nullable().describe("5 fields, read in `timezone`; null for a one-shot."),
    timezone: z.string().describe("IANA time zone name the cron expression is read in."),
    at: isoDate.nullable().describe("A one-shot's time; null for a cron schedule."),
    language: z.enum(LANGUAGES),
    code: z.string(),
    conversationId: z.string(),
    stateful: z.boolean(),
    timeoutMs: z.number().int().nullable().describe("Null: EXECUTION_TIMEOUT_MS at the time of each run."),
    envs: z.record(z.string(), z.string()),
    enabled: z.boolean(),
    nextRunAt: isoDate.nullable().describe("Null when disabled, or a one-shot that has run."),
    lastRun: z.object({ executionId: z.string(), status: z.enum(STATUSES), at: isoDate }).nullable(),
    running: z.object({ executionId: z.string(), startedAt: isoDate }).nullable(),
    consecutiveFailures: z.number().int(),
    disabledReason: z.string().nullable().describe("Why the scheduler disabled it (a failure streak)."),
    events: z.array(scheduleEventSchema).describe("What the scheduler did on its own, newest first."),
    createdAt: isoDate,
    updatedAt: isoDate,
  })
  .meta({ id: "Schedule" });

export const scheduleListSchema = z.object({
  items: z.array(scheduleSchema),
  nextCursor: z.null().describe("Always null: every schedule (at most MAX_SCHEDULES_PER_USER) is on one page."),
});

export const webhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()).describe("The event types sent to it; `*` for every one."),
    description: z.string().nullable(),
    createdAt: isoDate,
    disabledAt: isoDate.nullable().describe("Set when the receiver answered 410 Gone; nothing more is sent."),
    disabledReason: z.string().nullable(),
  })
  .meta({ id: "Webhook" });

export const createdWebhookSchema = webhookSchema.extend({
  secret: z.string().describe("The signing secret (Standard Webhooks). Shown once: keep it."),
});

export const webhookListSchema = z.object({
  items: z.array(webhookSchema),
  nextCursor: z.null().describe("Always null: every endpoint is on one page."),
});

const webhookAttemptSchema = z.object({
  attempt: z.number().int(),
  statusCode: z.number().int().nullable().describe("The receiver's HTTP status; null when it did not answer."),
  error: z.string().nullable(),
  durationMs: z.number(),
  at: isoDate,
});

export const webhookDeliverySchema = z
  .object({
    id: z.string(),
    webhookId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(["pending", "succeeded", "failed"]),
    attemptCount: z.number().int(),
    nextRetryAt: isoDate.nullable().describe("When the next automatic attempt is due; null once it ended."),
    createdAt: isoDate,
    updatedAt: isoDate,
    attempts: z.array(webhookAttemptSchema).describe("Every attempt, oldest first."),
  })
  .meta({ id: "WebhookDelivery" });

export const webhookDeliveryPageSchema = z.object({
  items: z.array(webhookDeliverySchema),
  nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last one."),
});

const toolParametersSchema = z.record(z.string(), z.unknown()).describe("The tool's input as a JSON Schema.");

const openAiToolSchema = z.object({
  type: z.literal("function"),
  function: z.object({ name: z.string(), description: z.string(), parameters: toolParametersSchema }),
});

const anthropicToolSchema = z.object({
  name: z.string(),
  description: z.string(),
  input_schema: toolParametersSchema,
});

export const functionToolsSchema = z.union([
  z.object({ format: z.literal("openai"), tools: z.array(openAiToolSchema) }),
  z.object({ format: z.literal("anthropic"), tools: z.array(anthropicToolSchema) }),
]);

const jsonRpcMessageSchema = z
  .looseObject({ jsonrpc: z.literal("2.0") })
  .describe("A JSON-RPC 2.0 message: a request (method, params, id), a notification, or a response.");

export const jsonRpcBodySchema = z.union([jsonRpcMessageSchema, z.array(jsonRpcMessageSchema)]);

/** MCP's transport-level failures: a JSON-RPC error with no id (the protocol's shape, not the API's). */
export const jsonRpcErrorSchema = z
  .object({
    jsonrpc: z.literal("2.0"),
    error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }),
    id: z.null(),
  })
  .meta({ id: "JsonRpcError" });

export type ScheduleWebhookToolChecks = [
  Check<Same<z.infer<typeof scheduleSchema>, Schedule>>,
  Check<Same<z.infer<typeof webhookSchema>, WebhookView>>,
  Check<Same<z.infer<typeof webhookDeliverySchema>, DeliveryView>>,
  Check<Same<z.infer<typeof openAiToolSchema>, OpenAiTool>>,
  Check<Same<z.infer<typeof anthropicToolSchema>, AnthropicTool>>,
];

// ── Contexts, results, events, artifacts, shares ────────────────────────────────────────────────

export const contextInfoSchema = z
  .object({
    id: z.string().describe("The interpreter's id for the context: pass it as `contextId` to run in it."),
    language: z.enum(STATEFUL_LANGUAGES),
    cwd: z.string().describe("Its working directory in the sandbox."),
    createdAt: isoDate,
    default: z
      .boolean()
      .describe("The conversation's default context for its language (stateful runs without `contextId`)."),
  })
  .meta({ id: "CodeContext" });

export const contextListSchema = z.object({ items: z.array(contextInfoSchema) });

export const keptArtifactsSchema = z.object({
  executionId: z.string(),
  artifacts: z.number().int().describe("Files copied to R2 (files gone from the sandbox since the run are skipped)."),
  bytes: z.number().int().describe("Their bytes, counted against the volume quota."),
});

export const createdShareSchema = z.object({
  token: z.string().describe("The share's only credential: shown once (only its hash is stored)."),
  url: z.string().describe("The public page: `/s/<token>`."),
  expiresAt: isoDate,
  id: z.string().describe("The share's id (`shr_…`): revoke it by id or by token."),
  executionId: z.string(),
});

const shareInfoSchema = z
  .object({
    id: z.string(),
    executionId: z.string(),
    language: z.enum(LANGUAGES),
    createdAt: isoDate,
    expiresAt: isoDate,
    files: z.number().int().describe("Artifacts kept with the share."),
  })
  .meta({ id: "Share" });

export const shareListSchema = z.object({
  items: z.array(shareInfoSchema).describe("Live shares (neither revoked nor expired), newest first, at most 200."),
  nextCursor: z.null().describe("Always null: one page."),
});

const sharedFileSchema = z.object({ path: z.string(), size: z.number().int() });

/** What `GET /s/:token` answers with `Accept: application/json`: the frozen snapshot, nothing private. */
export const sharedRunSchema = z
  .object({
    language: z.enum(LANGUAGES),
    code: z.string(),
    status: z.enum(STATUSES),
    exitCode: z.number().int().nullable(),
    stdout: z.string(),
    stderr: z.string(),
    truncated: z.boolean(),
    durationMs: z.number(),
    createdAt: isoDate,
    error: z.string().nullable().describe("A failed stateful run's exception as `Name: value`; null otherwise."),
    results: z.array(interpreterResultSchema).describe("A stateful run's rich results (up to 1 MiB in all)."),
    changes: z.array(artifactSchema).describe("The files the run changed (names and sizes)."),
    files: z
      .array(sharedFileSchema.extend({ url: z.string().describe("`GET` it (no key): the file's bytes.") }))
      .describe("Artifacts kept with the share."),
    expiresAt: isoDate,
  })
  .meta({ id: "SharedRun" });

export type ContextSchemaChecks = [
  Check<Same<z.infer<typeof contextInfoSchema>, ContextInfo>>,
  Check<Same<Omit<z.infer<typeof keptArtifactsSchema>, "executionId">, KeptArtifacts>>,
  Check<Same<z.infer<typeof shareInfoSchema>, ShareInfo>>,
  Check<Same<z.infer<typeof sharedFileSchema>, SharedFile>>,
  Check<Same<Omit<z.infer<typeof sharedRunSchema>, "files" | "expiresAt">, Omit<ShareSnapshot, "files">>>,
];
