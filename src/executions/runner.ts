// Runs a user's executions and package installs inside their Durable Object: the per-user
// concurrency slots, cancel, one retry on a sandbox lost before the code started, and recording
// (metrics, history outbox) — output already produced is kept even when the run ends in error.
import { limits } from "../config.ts";
import { CREATE, type SandboxPool } from "../durable/sandboxes.ts";
import { type Manifest, readManifest, snapshotCommand, takeSnapshot } from "../artifacts/manifest.ts";
import { ApiError } from "../errors.ts";
import { newId } from "../ids.ts";
import { type CellOutcome, runCell } from "../interpreter/cell.ts";
import { checkInterpreterTemplate, CodeContexts, noContext } from "../interpreter/contexts.ts";
import { storeResults } from "../interpreter/stored-results.ts";
import { isStateful } from "../interpreter/wire.ts";
import {
  interpreterTemplate,
  runCode,
  type RunOutcome,
  type RunOutput,
  type Sandbox,
  sandboxUnavailable,
} from "../sandbox/e2b.ts";
import { type InstallBody, type InstallResult, installJob, toInstallResult } from "../sandbox/packages.ts";
import type { WebhookPresence } from "../webhooks/events.ts";
import { emitExecutionCompleted } from "../webhooks/execution-event.ts";
import type { ExecutionMetrics } from "./metrics.ts";
import type { HistoryOutbox } from "./outbox.ts";
import { type Position, RunLogs } from "./replay.ts";
import { type SlotWait, Slots } from "./slots.ts";
import type { ExecutionEvent, ExecutionKind, ExecutionRequest, ExecutionResult } from "./types.ts";

export interface RunnerParts {
  env: Env;
  userId: string;
  sandboxes: SandboxPool;
  metrics: ExecutionMetrics;
  history: HistoryOutbox;
  /** The interpreter contexts stateful runs go to. */
  contexts: CodeContexts;
  /** Called after every recorded run: history is waiting for the alarm to copy it. */
  recorded: () => void;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Whether the user has webhooks (spares a D1 read per run when they have none). */
  webhooks?: WebhookPresence;
  /** Copies a run's artifacts to R2 under the quota (`keepArtifacts`); throws the ApiError to show (507). */
  keepArtifacts?: (sandbox: Sandbox, result: ExecutionResult) => Promise<{ artifacts: number; bytes: number }>;
}

/** `kill` ends the process of a plain run, or interrupts the cell of a stateful one (its context lives on). */
type RunControl = { cancelled: boolean; kill?: () => Promise<void>; running: RunningExecution };

/** What is known of an execution still running (GET /api/v1/executions/:id answers it until the end). */
export interface RunningExecution {
  id: string;
  status: "running";
  language: ExecutionRequest["language"];
  conversationId: string;
  createdAt: string;
}

/** How often a queued run's stream checks that its reader is still there. */
const QUEUE_HEARTBEAT_MS = 1_000;

/** One run: an execution as the client sent it, or a package install as the shell command it is. */
type Job = ExecutionRequest & { kind: ExecutionKind };

export class ExecutionRunner {
  private readonly parts: RunnerParts;
  private readonly slots: Slots;
  /** Each execution in progress, by id: whether it was cancelled, and how to kill its process. */
  private readonly runs = new Map<string, RunControl>();
  /** Every run's events, for clients that resume a stream (executions/replay.ts). */
  private readonly logs = new RunLogs();

  constructor(parts: RunnerParts) {
    this.parts = parts;
    this.slots = new Slots(
      () => limits(parts.env).maxConcurrentExecutions,
      () => limits(parts.env).maxQueuedExecutions,
    );
  }

  /** Runs code in the conversation's sandbox and records it; an error is thrown as the ApiError to show. */
  execute(req: ExecutionRequest): Promise<ExecutionResult> {
    return this.run({ ...req, kind: "run" });
  }

  /**
   * Starts a run and answers at once with its id (`Prefer: respond-async`); it goes on here and ends
   * like any other (history, metrics, the `execution.completed` webhook). A run refused before it
   * starts (the concurrency limit, a conversation of the wrong kind) is thrown, as for `execute`.
   */
  async start(req: ExecutionRequest): Promise<RunningExecution> {
    let admit: (running: RunningExecution) => void = () => {};
    const admitted = new Promise<RunningExecution>((resolve) => (admit = resolve));
    const done = this.run({ ...req, kind: "run" }, undefined, { waitMs: req.waitMs ?? 0 }, admit);
    // Admitted (it has its id and its slot), or refused before that: whichever comes first.
    const running = await Promise.race([
      admitted,
      done.then(() => {
        throw new Error("unreachable: a run ends only after it was admitted");
      }),
    ]);
    this.parts.waitUntil(done.catch(() => {}));
    return running;
  }

  /** The execution, if it is running here. */
  inProgress(executionId: string): RunningExecution | undefined {
    return this.runs.get(executionId)?.running;
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
    // A reader that goes away while the run waits for a slot takes it out of the queue.
    const left = new AbortController();
    const write = (line: string) => {
      if (readerGone) return;
      writer.write(encoder.encode(line)).catch(() => {
        readerGone = true;
        left.abort();
      });
    };
    /** While queued, an empty line now and then: only a write finds out that the reader went away. */
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    const emit = (event: ExecutionEvent) => {
      first(event);
      if (event.type !== "queued" && heartbeat !== undefined) clearInterval(heartbeat);
      write(`${JSON.stringify(event)}\n`);
    };
    const wait: SlotWait = {
      waitMs: req.waitMs ?? 0,
      signal: left.signal,
      onQueued: (position) => {
        heartbeat ??= setInterval(() => write("\n"), QUEUE_HEARTBEAT_MS);
        emit({ type: "queued", position });
      },
    };
    const done = this.run({ ...req, kind: "run" }, emit, wait).then(
      (result) => emit({ type: "end", result }),
      (err: unknown) => emit({ type: "error", error: toApiError(err).toJSON() }),
    );
    this.parts.waitUntil(
      done.finally(() => {
        if (heartbeat !== undefined) clearInterval(heartbeat);
        return writer.close().catch(() => {});
      }),
    );
    const opening = await firstEvent;
    if (opening.type === "error") {
      readable.cancel().catch(() => {});
      throw ApiError.from(opening.error);
    }
    return readable;
  }

  /**
   * The events of run `executionId` after `after`, then live until it ends (JSON lines); undefined
   * when this object no longer holds its log (the caller answers from history).
   */
  follow(executionId: string, after: Position | undefined): ReadableStream<Uint8Array> | undefined {
    return this.logs.follow(executionId, after);
  }

  /**
   * Cancels a running execution: its process is killed (a stateful run's cell is interrupted, its
   * context keeping its state) now, or as soon as it starts if it is still waiting for its sandbox.
   * False when it is not running here (finished, or never was).
   */
  async cancel(executionId: string): Promise<boolean> {
    const run = this.runs.get(executionId);
    if (!run) return false;
    run.cancelled = true;
    await run.kill?.();
    return true;
  }

  /** Cancels every execution in progress (the user is being deleted); how many there were. */
  async cancelAll(): Promise<number> {
    const ids = [...this.runs.keys()];
    await Promise.all(ids.map((id) => this.cancel(id)));
    return ids.length;
  }

  /** Whether a run would be refused now for the concurrency cap (the scheduler waits instead). */
  busy(): boolean {
    const { running, queued } = this.slots.load;
    return queued > 0 || running >= limits(this.parts.env).maxConcurrentExecutions;
  }

  private checkInterpreter(conversationId: string, template: string): void {
    checkInterpreterTemplate(this.parts.sandboxes.templateOf(conversationId), template, conversationId);
  }

  private async run(
    req: Job,
    emit?: (event: ExecutionEvent) => void,
    wait: SlotWait = { waitMs: req.waitMs ?? 0 },
    admitted?: (running: RunningExecution) => void,
  ): Promise<ExecutionResult> {
    const { env, sandboxes } = this.parts;
    const config = limits(env);
    const template = req.stateful || req.contextId !== undefined ? interpreterTemplate(env) : undefined;
    if (template) this.checkInterpreter(req.conversationId, template);
    const freeSlot = await this.slots.acquire(wait);
    const release = sandboxes.hold(req.conversationId);
    const id = req.id ?? newId("exe");
    const record = this.logs.open(id);
    const publish = (event: ExecutionEvent) => {
      record(event);
      emit?.(event);
    };
    const createdAt = new Date();
    const base = {
      id,
      language: req.language,
      conversationId: req.conversationId,
      createdAt: createdAt.toISOString(),
      trigger: req.trigger ?? "api",
      ...(req.scheduleId ? { scheduleId: req.scheduleId } : {}),
    };
    const running: RunningExecution = { ...base, status: "running" };
    const control: RunControl = { cancelled: false, running };
    this.runs.set(id, control);
    admitted?.(running);
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
          publish({ type: "start", id, sandboxId, conversationId: req.conversationId, language: req.language });
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
          onStdout: (data: string) => publish({ type: "stdout", data }),
          onStderr: (data: string) => publish({ type: "stderr", data }),
          onStarted: (kill: () => Promise<void>) => {
            started = true;
            control.kill = kill;
            if (control.cancelled) void kill().catch(() => {});
          },
        };
        let outcome: RunOutcome | CellOutcome;
        if (control.cancelled) outcome = { kind: "cancelled", stdout: "", stderr: "", truncated: false };
        else if (template && isStateful(req.language)) {
          const { context, isDefault } = await this.parts.contexts.forRun(
            req.conversationId,
            sandbox,
            req.language,
            req.contextId,
          );
          outcome = await runCell(sandbox, context, runOptions);
          // The server lost the context (before any code ran): an explicit one is a 404, the
          // default is found or made afresh, once.
          if (outcome.kind === "sandbox_lost" && CodeContexts.isGone(outcome.error)) {
            this.parts.contexts.forget(req.conversationId, context.id);
            if (!isDefault) throw noContext(req.conversationId, context.id);
            if (attempt === 0) continue;
          }
        } else outcome = await runCode(sandbox, runOptions);
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
      this.runs.delete(id);
      release();
      freeSlot();
    }
    const raised = result.error ? `${result.error.name}: ${result.error.value}` : undefined;
    this.parts.metrics.count(
      result,
      failure?.message ?? (result.status === "succeeded" ? undefined : (raised ?? result.stderr)),
    );
    // Large results (images) go to R2 first; the history row keeps their keys.
    const stored = result.results?.length
      ? await storeResults(this.parts.env.VOLUMES, this.parts.userId, result.id, result.results)
      : undefined;
    // Copied to D1 by the alarm, in a batch, off the response path.
    this.parts.history.add(this.parts.userId, req.kind, req.code, result, failure?.message ?? raised, stored);
    this.parts.recorded();
    record(failure ? { type: "error", error: failure.toJSON() } : { type: "end", result });
    // The one place every finished run (HTTP, SSE, MCP, schedules) tells the user's webhooks.
    this.parts.waitUntil(
      emitExecutionCompleted(env, this.parts.userId, req.kind, result, failure?.message ?? raised, this.parts.webhooks),
    );
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

/** A failure that is not an ApiError is the sandbox's. */
export function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : sandboxUnavailable("Execution failed", err);
}
