// UserSpace: one Durable Object per user. Owns that user's live sandboxes (one per conversation),
// the concurrency limit and the idle-reaping alarm, and fronts its metrics, history outbox and volume ledger.
import { DurableObject } from "cloudflare:workers";
import { limits } from "../config.ts";
import { capture, type Outcome } from "./outcome.ts";
import { ApiError } from "../errors.ts";
import { ExecutionMetrics, type UserStats } from "../executions/metrics.ts";
import { HistoryOutbox } from "../executions/outbox.ts";
import type { ExecutionEvent, ExecutionRequest, ExecutionResult } from "../executions/types.ts";
import { newId } from "../ids.ts";
import { listFiles, readFile, writeFile, type FileEntry } from "../sandbox/files.ts";
import { installPackages, type InstallBody, type InstallResult } from "../sandbox/packages.ts";
import {
  connectSandbox,
  createSandbox,
  killSandbox,
  listPhoenixSandboxes,
  runCode,
  type RunOutcome,
  sandboxEndsAt,
  SANDBOX_APP,
  sandboxUnavailable,
  type Sandbox,
} from "../sandbox/e2b.ts";
import { VolumeLedger, type Commit, type Reservation } from "../volume/quota.ts";
import { persistFromSandbox, restoreToSandbox, type PersistedFile } from "../volume/sandbox-files.ts";
import type { LedgerPort } from "../volume/store.ts";
import { volumeKey, type VolumeInfo } from "../volume/usage.ts";

export interface SandboxInfo {
  conversationId: string;
  sandboxId: string;
  template: string;
  startedAt: string;
  lastUsedAt: string;
  expiresAt: string;
}

/** E2B's own TTL outlives our idle timeout by this much, so E2B only reaps what we lost track of. */
const TTL_MARGIN_MS = 5 * 60_000;
/** History is copied to D1 in batches this long after a run (reads flush at once, see flushHistory). */
const HISTORY_BATCH_MS = 1_000;
/** …and retried this long after D1 refused a copy. */
const HISTORY_RETRY_MS = 10_000;

type SandboxRow = {
  conversation_id: string;
  sandbox_id: string;
  template: string;
  started_at: number;
  last_used_at: number;
  expires_at: number;
};

export class UserSpace extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Connected SDK handles, so a warm execution costs one round trip to E2B. */
  private readonly live = new Map<string, Sandbox>();
  /** Sandboxes being created or connected: concurrent first requests share one. */
  private readonly opening = new Map<string, { sandbox: Promise<Sandbox>; create: boolean }>();
  private running = 0;
  /** Each execution in progress, by id: whether it was cancelled, and how to kill its process. */
  private readonly runs = new Map<string, { cancelled: boolean; kill?: () => Promise<void> }>();
  /** Executions in progress per conversation: the reaper leaves those sandboxes alone. */
  private readonly inUse = new Map<string, number>();
  private alarmSet = false;
  /** The last copy of history to D1 failed: retry at a gentler pace. */
  private historyFailing = false;
  private readonly history: HistoryOutbox;
  private readonly metrics: ExecutionMetrics;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.history = new HistoryOutbox(this.sql, env);
    this.metrics = new ExecutionMetrics(this.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS sandboxes (
        conversation_id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL, template TEXT NOT NULL,
        started_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    `);
  }

  // ── Executions ────────────────────────────────────────────────────────────────────────────

  /** Runs code in the conversation's sandbox and records it; the JSON API. */
  async execute(req: ExecutionRequest): Promise<Outcome<ExecutionResult>> {
    return captureSandbox(() => this.run(req));
  }

  /**
   * Runs code and reports it as it happens (`start`, `stdout`, `stderr`, then `end` or `error`),
   * one JSON event per line. A failure before the code starts (rate limit, no sandbox) is an error
   * outcome instead, so the client gets a proper HTTP status. The run goes on and is recorded even
   * if the reader goes away.
   */
  async executeStream(req: ExecutionRequest): Promise<Outcome<ReadableStream<Uint8Array>>> {
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
    const done = this.run(req, emit).then(
      (result) => emit({ type: "end", result }),
      (err: unknown) => emit({ type: "error", error: toApiError(err).toJSON() }),
    );
    this.ctx.waitUntil(done.finally(() => writer.close().catch(() => {})));
    const opening = await firstEvent;
    if (opening.type === "error") {
      readable.cancel().catch(() => {});
      return { ok: false, error: opening.error };
    }
    return { ok: true, value: readable };
  }

  /**
   * Cancels a running execution: its process is killed now, or as soon as it starts if it is still
   * waiting for its sandbox. False when it is not running here (finished, or never was).
   */
  async cancel(executionId: string): Promise<Outcome<boolean>> {
    return captureSandbox(async () => {
      const run = this.runs.get(executionId);
      if (!run) return false;
      run.cancelled = true;
      await run.kill?.();
      return true;
    });
  }

  private async run(req: ExecutionRequest, emit?: (event: ExecutionEvent) => void): Promise<ExecutionResult> {
    const config = limits(this.env);
    if (this.running >= config.maxConcurrentExecutions) {
      throw new ApiError(
        "rate_limited",
        `At most ${config.maxConcurrentExecutions} executions may run at once per user; retry when one finishes.`,
        { retryAfterSeconds: 1 },
      );
    }
    this.running++;
    const release = this.hold(req.conversationId);
    const id = newId("exe");
    const control: { cancelled: boolean; kill?: () => Promise<void> } = { cancelled: false };
    this.runs.set(id, control);
    const createdAt = new Date();
    const base = { id, language: req.language, conversationId: req.conversationId, createdAt: createdAt.toISOString() };
    let sandboxId: string | null = null;
    let result: ExecutionResult;
    let failure: ApiError | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const sandbox = await this.sandboxFor(req.conversationId, req.userId);
        sandboxId = sandbox.sandboxId;
        let started = false;
        if (attempt === 0)
          emit?.({ type: "start", id, sandboxId, conversationId: req.conversationId, language: req.language });
        const outcome: RunOutcome = control.cancelled
          ? { kind: "cancelled", stdout: "", stderr: "", truncated: false }
          : await runCode(sandbox, {
              language: req.language,
              code: req.code,
              executionId: id,
              timeoutMs: req.timeoutMs,
              envs: req.envs,
              outputLimitBytes: config.outputLimitBytes,
              onStdout: (data) => emit?.({ type: "stdout", data }),
              onStderr: (data) => emit?.({ type: "stderr", data }),
              onStarted: (kill) => {
                started = true;
                control.kill = kill;
                if (control.cancelled) void kill().catch(() => {});
              },
            });
        if (outcome.kind === "sandbox_lost") {
          const alive = await sandbox.isRunning().catch(() => false);
          if (alive) throw sandboxUnavailable("The sandbox did not run the code", outcome.error);
          this.forget(req.conversationId, sandbox.sandboxId);
          // E2B expired or killed it before the code started: a fresh sandbox, once. Code that
          // had started is never run twice.
          if (attempt === 0 && !started) continue;
          throw new ApiError(
            "sandbox_unavailable",
            "The sandbox stopped while running the code (closed, expired or killed).",
            {
              cause: outcome.error,
            },
          );
        }
        this.touch(req.conversationId, sandbox);
        result = {
          ...base,
          status: outcome.kind === "exited" ? (outcome.exitCode === 0 ? "succeeded" : "failed") : outcome.kind,
          exitCode: outcome.kind === "exited" ? outcome.exitCode : null,
          stdout: outcome.stdout,
          stderr: outcome.stderr,
          truncated: outcome.truncated,
          durationMs: Date.now() - createdAt.getTime(),
          sandboxId,
        };
        break;
      }
    } catch (err) {
      failure = toApiError(err);
      result = {
        ...base,
        status: "error",
        exitCode: null,
        stdout: "",
        stderr: "",
        truncated: false,
        durationMs: Date.now() - createdAt.getTime(),
        sandboxId,
      };
    } finally {
      this.running--;
      this.runs.delete(id);
      release();
    }
    this.metrics.count(result, failure?.message ?? (result.status === "succeeded" ? undefined : result.stderr));
    this.history.add(req, result, failure?.message);
    // Copied to D1 by the alarm, in a batch, off the response path.
    this.ctx.waitUntil(this.scheduleReaping());
    if (failure) throw failure;
    return result;
  }

  /**
   * Copies this user's pending history to D1. History reads call it first, so a client always
   * sees its own finished executions; on failure the alarm retries.
   */
  async flushHistory(): Promise<void> {
    try {
      await this.history.flush();
      this.historyFailing = false;
    } catch (err) {
      console.error("history: D1 refused the copy; retrying from the alarm", err);
      this.historyFailing = true;
      await this.scheduleReaping();
      throw err;
    }
  }

  // ── Sandboxes ─────────────────────────────────────────────────────────────────────────────

  /**
   * The conversation's sandbox: cached, else reconnected, else created — at most once at a time.
   * With `create` false a conversation without a live sandbox is a 404 instead.
   */
  private sandboxFor(conversationId: string, userId: string, create = true): Promise<Sandbox> {
    const cached = this.live.get(conversationId);
    if (cached) return Promise.resolve(cached);
    const pending = this.opening.get(conversationId);
    if (pending) {
      // A look-only open ends in a 404 when there is no sandbox; one that may create tries again.
      return create && !pending.create
        ? pending.sandbox.catch(() => this.sandboxFor(conversationId, userId, true))
        : pending.sandbox;
    }
    const sandbox = this.open(conversationId, userId, create).finally(() => this.opening.delete(conversationId));
    this.opening.set(conversationId, { sandbox, create });
    return sandbox;
  }

  private async open(conversationId: string, userId: string, create: boolean): Promise<Sandbox> {
    const ttl = this.ttlMs();
    const row = this.sandboxRow(conversationId);
    if (row) {
      try {
        const sandbox = await connectSandbox(this.env, row.sandbox_id, ttl);
        this.live.set(conversationId, sandbox);
        return sandbox;
      } catch {
        this.forget(conversationId, row.sandbox_id);
      }
    }
    if (!create) throw noSandbox(conversationId);
    const sandbox = await createSandbox(this.env, { app: SANDBOX_APP, userId, conversationId }, ttl);
    const now = Date.now();
    this.sql.exec(
      `INSERT OR REPLACE INTO sandboxes VALUES (?, ?, ?, ?, ?, ?)`,
      conversationId,
      sandbox.sandboxId,
      this.env.E2B_TEMPLATE || "base",
      now,
      now,
      now + ttl,
    );
    this.live.set(conversationId, sandbox);
    await this.scheduleReaping();
    return sandbox;
  }

  /** Marks the sandbox used now, and stretches E2B's TTL in the background once half of it is spent. */
  private touch(conversationId: string, sandbox: Sandbox): void {
    const now = Date.now();
    const ttl = this.ttlMs();
    const row = this.sandboxRow(conversationId);
    if (row && row.expires_at - now < ttl / 2) {
      this.sql.exec(
        `UPDATE sandboxes SET last_used_at = ?, expires_at = ? WHERE conversation_id = ?`,
        now,
        now + ttl,
        conversationId,
      );
      this.ctx.waitUntil(sandbox.setTimeout(ttl).catch(() => {}));
    } else {
      this.sql.exec(`UPDATE sandboxes SET last_used_at = ? WHERE conversation_id = ?`, now, conversationId);
    }
  }

  /** Keeps the conversation's sandbox from the idle reaper until the returned release is called. */
  private hold(conversationId: string): () => void {
    this.inUse.set(conversationId, (this.inUse.get(conversationId) ?? 0) + 1);
    return () => {
      const using = (this.inUse.get(conversationId) ?? 1) - 1;
      if (using > 0) this.inUse.set(conversationId, using);
      else this.inUse.delete(conversationId);
    };
  }

  private forget(conversationId: string, sandboxId: string): void {
    if (this.live.get(conversationId)?.sandboxId === sandboxId) this.live.delete(conversationId);
    this.sql.exec(`DELETE FROM sandboxes WHERE conversation_id = ? AND sandbox_id = ?`, conversationId, sandboxId);
  }

  private sandboxRow(conversationId: string): SandboxRow | undefined {
    return this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes WHERE conversation_id = ?`, conversationId).toArray()[0];
  }

  private ttlMs(): number {
    return limits(this.env).sandboxIdleTimeoutMs + TTL_MARGIN_MS;
  }

  /** The user's live sandboxes, as the API shows them. */
  async listSandboxes(): Promise<SandboxInfo[]> {
    return this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes ORDER BY last_used_at DESC`).toArray().map(toSandboxInfo);
  }

  // ── Sandbox info, close, files and packages (routes/sandboxes.ts, sandbox/files.ts, sandbox/packages.ts) ──

  /** The user's sandboxes that E2B still runs; rows of ones it no longer has are dropped. */
  async liveSandboxes(userId: string): Promise<Outcome<SandboxInfo[]>> {
    return captureSandbox(async () => {
      const asked = Date.now();
      const running = await listPhoenixSandboxes(this.env, { userId }).catch((err: unknown) => {
        throw sandboxUnavailable("Could not list sandboxes", err);
      });
      const ids = new Set(running.map((s) => s.sandboxId));
      for (const row of this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes`).toArray()) {
        // Created or in use while E2B was being asked: live whatever the listing said.
        if (ids.has(row.sandbox_id) || row.started_at >= asked || this.inUse.has(row.conversation_id)) continue;
        this.forget(row.conversation_id, row.sandbox_id);
      }
      return this.listSandboxes();
    });
  }

  async sandboxInfo(conversationId: string): Promise<Outcome<SandboxInfo>> {
    return captureSandbox(async () => {
      const row = this.sandboxRow(conversationId);
      if (!row) throw noSandbox(conversationId);
      const endsAt = await sandboxEndsAt(this.env, row.sandbox_id).catch((err: unknown) => {
        throw sandboxUnavailable("Could not look up the sandbox", err);
      });
      if (endsAt === null) {
        if (!this.inUse.has(conversationId)) this.forget(conversationId, row.sandbox_id);
        throw noSandbox(conversationId);
      }
      return { ...toSandboxInfo(row), expiresAt: new Date(endsAt).toISOString() };
    });
  }

  /** Kills the conversation's sandbox; the next execution there starts a fresh one. */
  async closeSandbox(conversationId: string): Promise<Outcome<SandboxInfo>> {
    return captureSandbox(async () => {
      const row = this.sandboxRow(conversationId);
      if (!row) throw noSandbox(conversationId);
      const killed = await killSandbox(this.env, row.sandbox_id).catch((err: unknown) => {
        throw sandboxUnavailable("Could not close the sandbox", err);
      });
      this.forget(conversationId, row.sandbox_id);
      if (!killed) throw noSandbox(conversationId);
      return toSandboxInfo(row);
    });
  }

  async listSandboxFiles(conversationId: string, path: string): Promise<Outcome<FileEntry[]>> {
    return captureSandbox(() => this.withSandbox(conversationId, null, (sandbox) => listFiles(sandbox, path)));
  }

  async readSandboxFile(conversationId: string, path: string): Promise<Outcome<ReadableStream<Uint8Array>>> {
    return captureSandbox(() => this.withSandbox(conversationId, null, (sandbox) => readFile(sandbox, path)));
  }

  /** Streams `body` into a file, starting the conversation's sandbox if it has none. */
  async writeSandboxFile(
    conversationId: string,
    userId: string,
    path: string,
    body: ReadableStream<Uint8Array>,
  ): Promise<Outcome<{ path: string; size: number }>> {
    const outcome = await captureSandbox(() =>
      this.withSandbox(conversationId, userId, (sandbox) => writeFile(sandbox, path, body)),
    );
    if (!outcome.ok) body.cancel().catch(() => {});
    return outcome;
  }

  async installSandboxPackages(
    conversationId: string,
    userId: string,
    body: InstallBody,
  ): Promise<Outcome<InstallResult>> {
    const outputLimit = limits(this.env).outputLimitBytes;
    return captureSandbox(() =>
      this.withSandbox(conversationId, userId, (sandbox) => installPackages(sandbox, body, outputLimit)),
    );
  }

  /** Ids of the sandboxes this object tracks: the cron's orphan reaper spares these. */
  async trackedSandboxIds(): Promise<string[]> {
    return this.sql
      .exec<{ sandbox_id: string }>(`SELECT sandbox_id FROM sandboxes`)
      .toArray()
      .map((r) => r.sandbox_id);
  }

  /**
   * Runs `fn` on the conversation's sandbox, held against the idle reaper, then marks it used.
   * `userId` null means only look: no sandbox is started, and one found gone is a 404. Otherwise a
   * cached handle is checked first, so a sandbox E2B dropped is replaced instead of failed on.
   */
  private async withSandbox<T>(
    conversationId: string,
    userId: string | null,
    fn: (sandbox: Sandbox) => Promise<T>,
  ): Promise<T> {
    const release = this.hold(conversationId);
    try {
      const cached = this.live.has(conversationId);
      let sandbox = await this.sandboxFor(conversationId, userId ?? "", userId !== null);
      if (cached && userId !== null && !(await sandbox.isRunning().catch(() => false))) {
        this.forget(conversationId, sandbox.sandboxId);
        sandbox = await this.sandboxFor(conversationId, userId);
      }
      try {
        const value = await fn(sandbox);
        this.touch(conversationId, sandbox);
        return value;
      } catch (err) {
        if (err instanceof ApiError) throw err;
        if (await sandbox.isRunning().catch(() => false)) throw sandboxUnavailable("The sandbox did not answer", err);
        this.forget(conversationId, sandbox.sandboxId);
        throw userId === null
          ? noSandbox(conversationId)
          : sandboxUnavailable("The sandbox stopped; a retry starts a fresh one", err);
      }
    } finally {
      release();
    }
  }

  /** Kills the sandboxes idle longer than the idle timeout, then waits for the next one to be due. */
  override async alarm(): Promise<void> {
    this.alarmSet = false;
    await this.flushHistory().catch(() => {});
    const idle = limits(this.env).sandboxIdleTimeoutMs;
    const cutoff = Date.now() - idle;
    const stale = this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes WHERE last_used_at <= ?`, cutoff).toArray();
    for (const row of stale) {
      // A run in progress keeps its sandbox even past the idle mark.
      if (this.inUse.has(row.conversation_id) || this.opening.has(row.conversation_id)) continue;
      // Forgotten first, so a run arriving while the kill is in flight starts a fresh sandbox.
      this.forget(row.conversation_id, row.sandbox_id);
      await killSandbox(this.env, row.sandbox_id).catch((err) => console.error(`reaping ${row.sandbox_id}`, err));
    }
    await this.scheduleReaping();
  }

  /** Sets the alarm for the next idle sandbox, or sooner for history still to copy to D1. */
  private async scheduleReaping(): Promise<void> {
    const now = Date.now();
    // A sandbox in use counts as used now: it is touched when its run ends.
    const lastUses = this.sql
      .exec<{ conversation_id: string; last_used_at: number }>(`SELECT conversation_id, last_used_at FROM sandboxes`)
      .toArray()
      .map((r) => (this.inUse.has(r.conversation_id) ? now : r.last_used_at));
    const retry =
      this.history.pending() > 0 ? now + (this.historyFailing ? HISTORY_RETRY_MS : HISTORY_BATCH_MS) : Infinity;
    if (lastUses.length === 0 && retry === Infinity) return;
    const due = Math.min(Math.max(Math.min(...lastUses) + limits(this.env).sandboxIdleTimeoutMs, now + 1000), retry);
    if (this.alarmSet) {
      const current = await this.ctx.storage.getAlarm();
      if (current !== null && current <= due) return;
    }
    await this.ctx.storage.setAlarm(due);
    this.alarmSet = true;
  }

  // ── Metrics (executions/metrics.ts) ──────────────────────────────────────────────────────

  async stats(): Promise<{ user: UserStats; sandboxes: { active: number } }> {
    const active = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM sandboxes`).one().n;
    return { user: this.metrics.snapshot(), sandboxes: { active } };
  }

  // ── Volume (the ledger lives in volume/quota.ts; these only expose it) ───────────────────────

  private ledger: VolumeLedger | undefined;

  private get volume(): VolumeLedger {
    this.ledger ??= new VolumeLedger(this.sql, this.env.VOLUMES, () => limits(this.env).volumeQuotaBytes);
    return this.ledger;
  }

  async volumeInfo(userId: string): Promise<VolumeInfo> {
    await this.volume.ready(userId);
    return this.volume.info();
  }

  async reserveVolume(userId: string, entries: { name: string; size: number }[]): Promise<Outcome<Reservation[]>> {
    return capture(() => this.volume.reserve(userId, entries));
  }

  async commitVolume(commits: Commit[]): Promise<boolean> {
    return this.volume.commit(commits);
  }

  async releaseVolume(ids: string[]): Promise<void> {
    this.volume.release(ids);
  }

  async forgetVolumeFiles(names: string[]): Promise<void> {
    this.volume.forget(names);
  }

  /** Copies a file of the conversation's sandbox into the volume, under the quota; no sandbox is a 404. */
  async persistFile(
    conversationId: string,
    userId: string,
    path: string,
    name: string,
  ): Promise<Outcome<PersistedFile>> {
    const ledger: LedgerPort = {
      reserve: (entries) => this.volume.reserve(userId, entries),
      commit: async (commits) => this.volume.commit(commits),
      release: async (ids) => this.volume.release(ids),
    };
    return captureSandbox(() =>
      this.withSandbox(conversationId, null, (sandbox) =>
        persistFromSandbox(sandbox, this.env.VOLUMES, ledger, userId, path, name),
      ),
    );
  }

  /** Copies a volume file into the conversation's sandbox, starting one if it has none. */
  async restoreFile(
    conversationId: string,
    userId: string,
    name: string,
    path: string,
  ): Promise<Outcome<{ name: string; path: string; size: number }>> {
    return captureSandbox(async () => {
      const object = await this.env.VOLUMES.get(volumeKey(userId, name));
      if (!object) throw new ApiError("not_found", `name: no file '${name}' in your volume`);
      try {
        return await this.withSandbox(conversationId, userId, (sandbox) =>
          restoreToSandbox(sandbox, object, name, path),
        );
      } finally {
        object.body.cancel().catch(() => {});
      }
    });
  }

  /** The cron's pass: deletes files older than `cutoff` (null keeps them), then reconciles from R2. */
  async maintainVolume(userId: string, cutoff: number | null): Promise<{ deleted: number; volume: VolumeInfo }> {
    const deleted = cutoff === null ? 0 : await this.volume.prune(userId, cutoff);
    await this.volume.reconcile(userId);
    return { deleted, volume: this.volume.info() };
  }
}

function toSandboxInfo(row: SandboxRow): SandboxInfo {
  return {
    conversationId: row.conversation_id,
    sandboxId: row.sandbox_id,
    template: row.template,
    startedAt: new Date(row.started_at).toISOString(),
    lastUsedAt: new Date(row.last_used_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
  };
}

function noSandbox(conversationId: string): ApiError {
  return new ApiError(
    "not_found",
    `Conversation '${conversationId}' has no sandbox; running code or writing a file there starts one.`,
  );
}

function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : sandboxUnavailable("Execution failed", err);
}

/** Sandbox work over RPC: a failure that is not an ApiError is the sandbox's. */
function captureSandbox<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  return capture(fn, toApiError);
}
