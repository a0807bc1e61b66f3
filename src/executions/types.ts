// The shapes of an execution, shared by the routes, the Durable Object and the history.
import type { ApiErrorData } from "../error-codes.ts";

export const LANGUAGES = ["python", "node", "shell"] as const;
export type Language = (typeof LANGUAGES)[number];

/** What a history row records: code a client ran, or a package install (recorded as the shell command it ran). */
export const KINDS = ["run", "install"] as const;
export type ExecutionKind = (typeof KINDS)[number];

export const STATUSES = ["succeeded", "failed", "timed_out", "cancelled", "error"] as const;
export type ExecutionStatus = (typeof STATUSES)[number];

/** What a client asks to run; the user is the Durable Object's own (it runs nothing for anyone else). */
export interface ExecutionRequest {
  language: Language;
  code: string;
  conversationId: string;
  timeoutMs: number;
  envs: Record<string, string>;
}

export interface ExecutionResult {
  id: string;
  language: Language;
  conversationId: string;
  status: ExecutionStatus;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  sandboxId: string | null;
  createdAt: string;
}

/** Events of a live execution, in order: start, any stdout/stderr, then end or error. */
export type ExecutionEvent =
  | { type: "start"; id: string; sandboxId: string; conversationId: string; language: Language }
  | { type: "stdout"; data: string }
  | { type: "stderr"; data: string }
  | { type: "end"; result: ExecutionResult }
  | { type: "error"; error: ApiErrorData };
