// The shapes of an execution, shared by the routes, the Durable Object and the history.
import type { Artifact } from "../artifacts/types.ts";
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
  /** Run in the conversation's persistent code-interpreter context for the language (python, node). */
  stateful?: boolean;
  /** List the files the run created, modified or deleted under /home/user (`artifacts` on the result). */
  artifacts?: boolean;
  /** Copy the run's artifacts to R2 when it ends, under the volume quota (implies `artifacts`). */
  keepArtifacts?: boolean;
}

/** One display output or the last expression's value of a stateful run, in its richest MIME type. */
export interface InterpreterResult {
  /** e.g. `text/plain`, `text/html`, `image/png` (data base64), `image/svg+xml`, `application/json`. */
  type: string;
  /** The representation as text: base64 for images and PDF, JSON text for `application/json`. */
  data: string;
  isMainResult: boolean;
}

/** The exception a stateful run raised (its traceback as the interpreter printed it). */
export interface InterpreterError {
  name: string;
  value: string;
  traceback: string;
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
  /** Stateful runs only: display outputs and the last expression's value. */
  results?: InterpreterResult[];
  /** Stateful runs only, when the code raised (the status is then `failed`). */
  error?: InterpreterError;
  /** Files under /home/user the run created, modified or deleted (at most 100); when asked for or on by default. */
  artifacts?: Artifact[];
  /** More than 100 files changed: `artifacts` lists the first 100. */
  artifactsTruncated?: boolean;
  /** `keepArtifacts`: how many files (and bytes) were copied to R2. */
  kept?: { artifacts: number; bytes: number };
}

/** Events of a live execution, in order: start, any stdout/stderr, then end or error. */
export type ExecutionEvent =
  | { type: "start"; id: string; sandboxId: string; conversationId: string; language: Language }
  | { type: "stdout"; data: string }
  | { type: "stderr"; data: string }
  | { type: "end"; result: ExecutionResult }
  | { type: "error"; error: ApiErrorData };
