// Runs a user's executions and package installs inside their Durable Object: the per-user
// concurrency slots, cancel, one retry on a sandbox lost before the code started, and recording
// (metrics, history outbox) — output already produced is kept even when the run ends in error.
import { limits } from "../config.ts";
import { CREATE, type SandboxPool } from "../durable/sandboxes.ts";
import { type Manifest, readManifest, snapshotCommand, takeSnapshot } from "../artifacts/manifest.ts";
import { ApiError } from "../errors.ts";
import { newId } from "../ids.ts";
import {
  type CellOutcome,
  interpreterTemplate,
  runCell,
  runCode,
  type RunOutcome,
  type RunOutput,
  type Sandbox,
  sandboxUnavailable,
} from "../sandbox/e2b.ts";
import { type InstallBody, type InstallResult, installJob, toInstallResult } from "../sandbox/packages.ts";
import type { ExecutionMetrics } from "./metrics.ts";
import type { HistoryOutbox } from "./outbox.ts";
import type { ExecutionEvent, ExecutionKind, ExecutionRequest, ExecutionResult } from "./types.ts";

export interface RunnerParts {
  env: Env;
  userId: string;
  sandboxes: SandboxPool;
  metrics: ExecutionMetrics;
  history: HistoryOutbox;
  /** Called after every recorded run: history is waiting for the alarm to copy it. */
  recorded: () => void;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Copies a run's artifacts to R2 under the quota (`keepArtifacts`); throws the ApiError to show (507). */
  keepArtifacts?: (sandbox: Sandbox, result: ExecutionResult) => Promise<{ artifacts: number; bytes: number }>;
}

/** `stateful`: a cell in an interpreter context, which the SDK gives no way to interrupt from here. */
type RunControl = { cancelled: boolean; kill?: () => Promise<void>; stateful?: boolean };

/** One run: an execution as the client sent it, or a package install as the shell command it is. */
type Job = ExecutionRequest & { kind: ExecutionKind };

export class ExecutionRunner {
  private readonly parts: RunnerParts;
  private running = 0;
  /** Each execution in progress, by id: whether it was cancelled, and how to kill its process. */
  private readonly runs = new Map<string, RunControl>();

  constructor(parts: RunnerParts) {
    this.parts = parts;
  }

  /** Runs code in the conversation's sandbox and records it; an error is thrown as the ApiError to show. */
  execute(req: ExecutionRequest): Promise<ExecutionResult> {
    return this.run({ ...req, kind: "run" });
  }

  /**
   * Installs packages as a shell run of kind `install`: it takes a concurrency slot like an
   * execution, is cut at its timeout (INSTALL_TIMEOUT_MS at most) and is recorded in history and stats.
   */
  async install(conversationId: string, body: InstallBody): Promise<InstallResult> {
    const ceiling = limits(this.parts.env).installTimeoutMs;
    const { code, envs } = installJob(body);
    const timeoutMs = Math.min(body.timeoutMs ?? ceiling, ceiling);
    const result = await this.run({ kind: "install", language: "shell", conversationId, code, envs, timeoutMs });
    return toInstallResult(body, result);
  }

  /**
   * Runs code and reports it as it happens (`start`, `stdout`, `stderr`, then `end` or `error`),
   * one JSON event per line. A failure before the code starts (rate limit, no sandbox) is thrown
   * instead, so the client gets a proper HTTP status. The run goes on and is recorded even if the
   * reader goes away.
   */
  async stream(req: ExecutionRequest): Promise<ReadableStream<Uint8Array>> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    let readerGone = false;
    let first: (event: ExecutionEvent) => void = () => {};
    const firstEvent = new Promise<ExecutionEvent>((resolve) => (first = resolve));
    const emit = (event: ExecutionEvent) => {
      first(event);
      if (readerGone) return;
      writer.write(encoder.encode(`${JSON.stringify(event)}\n`)).catch(() => {
        readerGone = true;
      });
    };
    const done = this.run({ ...req, kind: "run" }, emit).then(
      (result) => emit({ type: "end", result }),
      (err: unknown) => emit({ type: "error", error: toApiError(err).toJSON() }),
    );
    this.parts.waitUntil(done.finally(() => writer.close().catch(() => {})));
    const opening = await firstEvent;
    if (opening.type === "error") {
      readable.cancel().catch(() => {});
      throw ApiError.from(opening.error);
    }
    return readable;
  }

  /**
   * Cancels a running execution: its process is killed now, or as soon as it starts if it is still
   * waiting for its sandbox. False when it is not running here (finished, or never was).
   */
  async cancel(executionId: string): Promise<boolean> {
    const run = this.runs.get(executionId);
    if (!run) return false;
    if (run.stateful) {
      throw new ApiError(
        "conflict",
        `Execution ${executionId} is a stateful run, which cannot be cancelled; it ends at its timeoutMs (the context keeps its state).`,
      );
    }
    run.cancelled = true;
    await run.kill?.();
    return true;
  }

  /** Cancels every execution in progress (the user is being deleted); how many there were. */
  async cancelAll(): Promise<number> {
    const ids = [...this.runs.keys()];
    // Stateful runs end with their sandboxes, which the caller kills next.
    await Promise.all(ids.filter((id) => !this.runs.get(id)?.stateful).map((id) => this.cancel(id)));
    return ids.length;
  }

  private checkInterpreter(conversationId: string, template: string): void {
    checkInterpreterTemplate(this.parts.sandboxes.templateOf(conversationId), template, conversationId);
  }

  private async run(req: Job, emit?: (event: ExecutionEvent) => void): Promise<ExecutionResult> {
    const { env, sandboxes } = this.parts;
    const config = limits(env);
    if (this.running >= config.maxConcurrentExecutions) {
      throw new ApiError(
        "rate_limited",
        `At most ${config.maxConcurrentExecutions} executions and package installs may run at once per user; retry when one finishes.`,
        { retryAfterSeconds: 1 },
      );
    }
    const template = req.stateful ? interpreterTemplate(env) : undefined;
    if (template) this.checkInterpreter(req.conversationId, template);
    this.running++;
    const release = sandboxes.hold(req.conversationId);
    const id = newId("exe");
    const control: RunControl = { cancelled: false, ...(template ? { stateful: true } : {}) };
    this.runs.set(id, control);
    const createdAt = new Date();
    const base = { id, language: req.language, conversationId: req.conversationId, createdAt: createdAt.toISOString() };
    let sandboxId: string | null = null;
    /** What the code printed before its sandbox was lost: history keeps it. */
    let produced: RunOutput = { stdout: "", stderr: "", truncated: false };
    let result: ExecutionResult;
    let failure: ApiError | undefined;
    let keepFailure: ApiError | undefined;
    // The file manifest: asked for, or on by default (ARTIFACTS_BY_DEFAULT); package installs have none.
    const listing = req.kind === "run" && (req.artifacts ?? req.keepArtifacts ?? ARTIFACTS_BY_DEFAULT);
    try {
      for (let attempt = 0; ; attempt++) {
        const sandbox = await sandboxes.open(req.conversationId, template ? { create: true, template } : CREATE);
        // Another request may have started a plain sandbox for the conversation meanwhile.
        if (template) this.checkInterpreter(req.conversationId, template);
        sandboxId = sandbox.sandboxId;
        // A stateful run's state lives in its sandbox: it is never retried in a fresh one.
        let started = Boolean(template);
        if (attempt === 0)
          emit?.({ type: "start", id, sandboxId, conversationId: req.conversationId, language: req.language });
        // A plain run takes the listing in its own command; a cell is no shell command, so it costs a call.
        if (listing && template && !control.cancelled) await takeSnapshot(sandbox, id);
        const runOptions = {
          ...(listing && !template ? { prelude: snapshotCommand(id) } : {}),
          language: req.language,
          code: req.code,
          executionId: id,
          timeoutMs: req.timeoutMs,
          envs: req.envs,
          outputLimitBytes: config.outputLimitBytes,
          onStdout: (data: string) => emit?.({ type: "stdout", data }),
          onStderr: (data: string) => emit?.({ type: "stderr", data }),
          onStarted: (kill: () => Promise<void>) => {
            started = true;
            control.kill = kill;
            if (control.cancelled) void kill().catch(() => {});
          },
        };
        const outcome: RunOutcome | CellOutcome = control.cancelled
          ? { kind: "cancelled", stdout: "", stderr: "", truncated: false }
          : template
            ? await runCell(sandbox, runOptions)
            : await runCode(sandbox, runOptions);
        if (outcome.kind === "sandbox_lost") {
          produced = { stdout: outcome.stdout, stderr: outcome.stderr, truncated: outcome.truncated };
          const alive = await sandbox.isRunning().catch(() => false);
          if (alive) throw sandboxUnavailable("The sandbox did not run the code", outcome.error);
          sandboxes.forget(req.conversationId, sandbox.sandboxId);
          // E2B expired or killed it before the code started: a fresh sandbox, once. Code that
          // had started is never run twice.
          if (attempt === 0 && !started) continue;
          throw new ApiError(
            "sandbox_unavailable",
            "The sandbox stopped while running the code (closed, expired or killed).",
            { cause: outcome.error },
          );
        }
        sandboxes.touch(req.conversationId, sandbox);
        const ran = {
          ...base,
          stdout: outcome.stdout,
          stderr: outcome.stderr,
          truncated: outcome.truncated,
          durationMs: Date.now() - createdAt.getTime(),
          sandboxId,
          ...(listing ? manifestFields(await readManifest(sandbox, id)) : {}),
        };
        if (outcome.kind === "completed") {
          // No process of its own: a stateful run has no exit code; an exception is its failure.
          const { results, error } = outcome;
          result = {
            ...ran,
            status: error ? "failed" : "succeeded",
            exitCode: null,
            results,
            ...(error ? { error } : {}),
          };
        } else if (outcome.kind === "exited") {
          result = { ...ran, status: outcome.exitCode === 0 ? "succeeded" : "failed", exitCode: outcome.exitCode };
        } else {
          result = { ...ran, status: outcome.kind, exitCode: null };
        }
        if (req.keepArtifacts && this.parts.keepArtifacts) {
          // The run stands (and is recorded) whatever happens to the copy; its failure is the answer (507).
          try {
            result.kept = await this.parts.keepArtifacts(sandbox, result);
          } catch (err) {
            keepFailure = toApiError(err);
          }
        }
        break;
      }
    } catch (err) {
      failure = toApiError(err);
      result = {
        ...base,
        status: "error",
        exitCode: null,
        ...produced,
        durationMs: Date.now() - createdAt.getTime(),
        sandboxId,
      };
    } finally {
      this.running--;
      this.runs.delete(id);
      release();
    }
    const raised = result.error ? `${result.error.name}: ${result.error.value}` : undefined;
    this.parts.metrics.count(
      result,
      failure?.message ?? (result.status === "succeeded" ? undefined : (raised ?? result.stderr)),
    );
    // Copied to D1 by the alarm, in a batch, off the response path.
    this.parts.history.add(this.parts.userId, req.kind, req.code, result, failure?.message ?? raised);
    this.parts.recorded();
    if (failure) throw failure;
    if (keepFailure) {
      throw new ApiError(
        keepFailure.code,
        `Execution ${id} ran (${result.status}; see GET /api/v1/executions/${id}), but its artifacts were not kept: ${keepFailure.message}`,
      );
    }
    return result;
  }
}

/**
 * Whether results list artifacts without being asked: the manifest costs a warm plain run one more
 * sandbox call (the comparison after the code), measured by `npm run bench` (see the README).
 */
export const ARTIFACTS_BY_DEFAULT = false;

function manifestFields(manifest: Manifest | null): Pick<ExecutionResult, "artifacts" | "artifactsTruncated"> {
  if (!manifest) return { artifacts: [] };
  return { artifacts: manifest.artifacts, ...(manifest.truncated ? { artifactsTruncated: true } : {}) };
}

/** Stateful runs need an interpreter sandbox; a conversation holding another kind is a 409. */
function checkInterpreterTemplate(current: string | null, template: string, conversationId: string): void {
  if (current === null || current === template) return;
  throw new ApiError(
    "conflict",
    `Conversation '${conversationId}' already has a '${current}' sandbox, which cannot run stateful code (that needs '${template}'). Close it (DELETE /api/v1/sandboxes/${conversationId}) or use another conversation.`,
  );
}

/** A failure that is not an ApiError is the sandbox's. */
export function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : sandboxUnavailable("Execution failed", err);
}
