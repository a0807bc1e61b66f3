// Execution history in D1: one row per run, paged newest first with an opaque cursor.
import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { executions, type ExecutionRow } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { type HistoryResult, type StoredResult, toHistoryResult } from "../interpreter/stored-results.ts";
import type { Artifact } from "../artifacts/types.ts";
import { cutToBytes } from "../text.ts";
import type { ExecutionKind, ExecutionResult, ExecutionStatus, InterpreterError, Language, Trigger } from "./types.ts";

/** Each stream is kept in history up to this many bytes (the API response carries more). */
export const HISTORY_OUTPUT_BYTES = 64 * 1024;

/**
 * The D1 row of one execution of `code` by `userId` (outputs bounded to HISTORY_OUTPUT_BYTES); a
 * stateful run's results as `stored` (interpreter/stored-results.ts), `lost` when some could not be.
 */
export function toExecutionRow(
  userId: string,
  kind: ExecutionKind,
  code: string,
  result: ExecutionResult,
  error: string | undefined,
  stored?: { stored: StoredResult[]; lost: boolean },
) {
  const stdout = cutToBytes(result.stdout, HISTORY_OUTPUT_BYTES);
  const stderr = cutToBytes(result.stderr, HISTORY_OUTPUT_BYTES);
  return {
    id: result.id,
    userId,
    kind,
    conversationId: result.conversationId,
    language: result.language,
    code,
    status: result.status,
    exitCode: result.exitCode,
    stdout,
    stderr,
    truncated:
      result.truncated ||
      stdout.length < result.stdout.length ||
      stderr.length < result.stderr.length ||
      Boolean(stored?.lost),
    durationMs: result.durationMs,
    sandboxId: result.sandboxId,
    error: error ?? null,
    createdAt: Date.parse(result.createdAt),
    trigger: result.trigger,
    scheduleId: result.scheduleId ?? null,
    artifacts: result.artifacts
      ? JSON.stringify({ artifacts: result.artifacts, truncated: result.artifactsTruncated ?? false })
      : null,
    results: stored?.stored ?? result.results ?? null,
    exception: result.error ?? null,
  } satisfies typeof executions.$inferInsert;
}

export interface HistoryFilters {
  conversationId?: string | undefined;
  language?: Language | undefined;
  kind?: ExecutionKind | undefined;
  status?: ExecutionStatus | undefined;
  trigger?: Trigger | undefined;
  scheduleId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/**
 * History keeps a stateful run's exception as its `error` message and in full as `exception`; its
 * results inline up to INLINE_RESULT_BYTES each, larger ones as a URL.
 */
export interface HistoryItem extends Omit<ExecutionResult, "error" | "results" | "scheduleId" | "kept"> {
  kind: ExecutionKind;
  scheduleId: string | null;
  code: string;
  error: string | null;
  results?: HistoryResult[];
  exception?: InterpreterError;
}

export function toHistoryItem(row: ExecutionRow): HistoryItem {
  return {
    id: row.id,
    language: row.language,
    conversationId: row.conversationId,
    status: row.status,
    exitCode: row.exitCode,
    stdout: row.stdout,
    stderr: row.stderr,
    truncated: row.truncated,
    durationMs: row.durationMs,
    sandboxId: row.sandboxId,
    createdAt: new Date(row.createdAt).toISOString(),
    kind: row.kind,
    code: row.code,
    error: row.error,
    trigger: row.trigger,
    scheduleId: row.scheduleId,
    ...(row.results ? { results: row.results.map((r, i) => toHistoryResult(row.id, r, i)) } : {}),
    ...(row.exception ? { exception: row.exception } : {}),
    ...(row.artifacts ? manifestOf(row.artifacts) : {}),
  };
}

function manifestOf(json: string): Pick<HistoryItem, "artifacts" | "artifactsTruncated"> {
  const { artifacts, truncated } = JSON.parse(json) as { artifacts: Artifact[]; truncated: boolean };
  return { artifacts, ...(truncated ? { artifactsTruncated: true } : {}) };
}

function encodeCursor(row: ExecutionRow): string {
  return btoa(`${row.createdAt}:${row.id}`).replace(/=+$/, "");
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  let text: string;
  try {
    text = atob(cursor);
  } catch {
    throw new ApiError("invalid_request", "cursor: not a cursor returned by this API");
  }
  const match = text.match(/^(\d+):(exe_[0-9a-z]+)$/);
  if (!match) throw new ApiError("invalid_request", "cursor: not a cursor returned by this API");
  return { createdAt: Number(match[1]), id: match[2]! };
}

export async function listExecutions(db: Db, userId: string, filters: HistoryFilters) {
  const where: (SQL | undefined)[] = [eq(executions.userId, userId)];
  if (filters.conversationId) where.push(eq(executions.conversationId, filters.conversationId));
  if (filters.language) where.push(eq(executions.language, filters.language));
  if (filters.kind) where.push(eq(executions.kind, filters.kind));
  if (filters.status) where.push(eq(executions.status, filters.status));
  if (filters.trigger) where.push(eq(executions.trigger, filters.trigger));
  if (filters.scheduleId) where.push(eq(executions.scheduleId, filters.scheduleId));
  if (filters.cursor) {
    const after = decodeCursor(filters.cursor);
    where.push(
      or(
        lt(executions.createdAt, after.createdAt),
        and(eq(executions.createdAt, after.createdAt), lt(executions.id, after.id)),
      ),
    );
  }
  const rows = await db
    .select()
    .from(executions)
    .where(and(...where))
    .orderBy(desc(executions.createdAt), desc(executions.id))
    .limit(filters.limit + 1);
  const page = rows.slice(0, filters.limit);
  const last = page.at(-1);
  return {
    items: page.map(toHistoryItem),
    nextCursor: rows.length > filters.limit && last ? encodeCursor(last) : null,
  };
}

/** One execution of `userId`; another user's is indistinguishable from a missing one. */
export async function getExecution(db: Db, userId: string, id: string): Promise<HistoryItem> {
  return toHistoryItem(await getExecutionRow(db, userId, id));
}

/** The D1 row of one execution of `userId` (404 for another user's, as for a missing one). */
export async function getExecutionRow(db: Db, userId: string, id: string): Promise<ExecutionRow> {
  const row = await db
    .select()
    .from(executions)
    .where(and(eq(executions.id, id), eq(executions.userId, userId)))
    .get();
  if (!row) throw new ApiError("not_found", `No execution ${id}.`);
  return row;
}
