// The `execution.completed` event: sent once per finished run (every terminal status) from the runner.
// It carries the result without the full outputs (their first bytes), and where to fetch the rest;
// never the code or its envs.
import type { ExecutionKind, ExecutionResult } from "../executions/types.ts";
import { cutToBytes } from "../text.ts";
import { emitEvent, type WebhookPresence } from "./events.ts";

/** How much of each output stream the event carries. */
export const OUTPUT_PREVIEW_BYTES = 4096;

export function executionCompletedData(
  kind: ExecutionKind,
  result: ExecutionResult,
  error: string | undefined,
): Record<string, unknown> {
  const stdout = cutToBytes(result.stdout, OUTPUT_PREVIEW_BYTES);
  const stderr = cutToBytes(result.stderr, OUTPUT_PREVIEW_BYTES);
  return {
    id: result.id,
    kind,
    status: result.status,
    exitCode: result.exitCode,
    durationMs: result.durationMs,
    language: result.language,
    conversationId: result.conversationId,
    sandboxId: result.sandboxId,
    createdAt: result.createdAt,
    trigger: result.trigger,
    ...(result.scheduleId ? { scheduleId: result.scheduleId } : {}),
    stdout,
    stderr,
    // Whether stdout/stderr here are cut (the full ones, up to OUTPUT_LIMIT_BYTES, are at `url`).
    outputTruncated: result.truncated || stdout.length < result.stdout.length || stderr.length < result.stderr.length,
    ...(error ? { error: cutToBytes(error, 1024) } : {}),
    url: `/api/v1/executions/${result.id}`,
  };
}

/** Emits `execution.completed`; a failure is logged, never thrown into the run that ended. */
export async function emitExecutionCompleted(
  env: Env,
  userId: string,
  kind: ExecutionKind,
  result: ExecutionResult,
  error: string | undefined,
  presence?: WebhookPresence,
): Promise<void> {
  try {
    await emitEvent(env, userId, "execution.completed", executionCompletedData(kind, result, error), presence);
  } catch (err) {
    console.error(`webhooks: execution.completed for ${result.id} could not be stored`, err);
  }
}
