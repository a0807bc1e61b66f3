// UserSpace: one Durable Object per user, the one place that serialises a user's state. A thin RPC
// front over its parts: sandboxes (durable/sandboxes.ts), runs (executions/runner.ts), metrics,
// the history outbox and the volume ledger. Every RPC method returns an Outcome; callers unwrap.
import { DurableObject } from "cloudflare:workers";
import { KeyBook } from "../auth/key-book.ts";
import { checkRunSandbox, type KeptArtifacts, keepArtifacts, readArtifact, type RunPlace } from "../artifacts/keep.ts";
import type { Artifact } from "../artifacts/types.ts";
import { limits } from "../config.ts";
import { ApiError, ERROR_STATUS } from "../errors.ts";
import { ExecutionMetrics, type UserStats } from "../executions/metrics.ts";
import { HistoryOutbox } from "../executions/outbox.ts";
import type { Position } from "../executions/replay.ts";
import { ExecutionRunner, type RunningExecution, toApiError } from "../executions/runner.ts";
import type { ExecutionRequest, ExecutionResult } from "../executions/types.ts";
import { CodeContexts, type ContextInfo } from "../interpreter/contexts.ts";
import { deleteUserResults } from "../interpreter/stored-results.ts";
import type { StatefulLanguage } from "../interpreter/wire.ts";
import type { AuthedUser } from "../types.ts";
import { listFiles, readFile, removeFile, writeFile, type FileEntry } from "../sandbox/files.ts";
import type { InstallBody, InstallResult } from "../sandbox/packages.ts";
import { deleteVolume, volumeKey } from "../volume/keys.ts";
import { VolumeLedger, type Commit, type Reservation, type VolumeInfo } from "../volume/ledger.ts";
import { persistFromSandbox, restoreToSandbox, type PersistedFile } from "../volume/sandbox-files.ts";
import { emitScheduleEvent } from "../schedules/events.ts";
import { WebhookPresence } from "../webhooks/events.ts";
import { type Schedule, type ScheduleInput, Scheduler } from "../schedules/scheduler.ts";
import { ScheduleStore } from "../schedules/store.ts";
import { McpSessions } from "../mcp/sessions.ts";
import { TerminalSessions } from "../terminal/sessions.ts";
import { type IssuedTicket, TicketBook } from "../terminal/tickets.ts";
import { capture, type Outcome } from "./outcome.ts";
import { CREATE, LOOK, SandboxPool, type SandboxInfo } from "./sandboxes.ts";

export type { SandboxInfo };

/** History is copied to D1 in batches this long after a run (reads flush at once, see flushHistory). */
const HISTORY_BATCH_MS = 1_000;
/** …and retried this long after D1 refused a copy. */
const HISTORY_RETRY_MS = 10_000;

/** What erasing a user's object removed. */
export interface ErasedUserSpace {
  cancelledExecutions: number;
  sandboxes: number;
  volumeFiles: number;
  volumeBytes: number;
}

export class UserSpace extends DurableObject<Env> {
  /**
   * Whose object this is. It is only ever addressed by `idFromName(userId)` (durable/stub.ts), so the
   * runtime hands that name back as `ctx.id.name` (Workers, March 2026; alarms included): derived
   * rather than passed into each method, it cannot disagree with the address. Stored as well, so an
   * object woken by a runtime that does not pass the name still knows its user.
   */
  private readonly userId: string;
  private readonly sandboxes: SandboxPool;
  private readonly runner: ExecutionRunner;
  private readonly history: HistoryOutbox;
  private readonly metrics: ExecutionMetrics;
  private readonly volume: VolumeLedger;
  private readonly keys: KeyBook;
  private readonly schedules: Scheduler;
  private readonly mcpSessions: McpSessions;
  private readonly contexts: CodeContexts;
  private readonly webhooks = new WebhookPresence();
  /** When the alarm this object set is due (epoch ms), or null when it set none since the last one fired. */
  private alarmAt: number | null = null;
  private readonly tickets: TicketBook;
  private readonly terminals: TerminalSessions;
  /** The last copy of history to D1 failed: retry at a gentler pace. */
  private historyFailing = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    this.userId = ownerOf(ctx);
    const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise);
    this.history = new HistoryOutbox(sql, env);
    this.metrics = new ExecutionMetrics(sql);
    this.sandboxes = new SandboxPool(sql, env, this.userId, { changed: () => this.schedule(), waitUntil });
    this.contexts = new CodeContexts(sql, env, this.sandboxes);
    this.runner = new ExecutionRunner({
      env,
      userId: this.userId,
      sandboxes: this.sandboxes,
      metrics: this.metrics,
      history: this.history,
      contexts: this.contexts,
      recorded: () => waitUntil(this.afterRun()),
      waitUntil,
      webhooks: this.webhooks,
      keepArtifacts: (sandbox, result) =>
        keepArtifacts(sandbox, env.VOLUMES, this.volume.port(), this.userId, result.id, result.artifacts ?? []),
    });
    this.keys = new KeyBook(sql, env, this.userId);
    this.volume = new VolumeLedger(sql, env.VOLUMES, this.userId, () => limits(this.env).volumeQuotaBytes);
    this.mcpSessions = new McpSessions(sql);
    this.tickets = new TicketBook(sql, this.userId);
    this.terminals = new TerminalSessions(sql, this.sandboxes, env);
    this.schedules = new Scheduler({
      env,
      store: new ScheduleStore(sql),
      execute: (req) => this.runner.execute(req),
      busy: () => this.runner.busy(),
      changed: () => this.schedule(),
      emit: (type, data) => emitScheduleEvent(env, this.userId, type, data, this.webhooks),
      waitUntil,
    });
  }

  // ── API keys (auth/key-book.ts, middleware/auth.ts) ──────────────────────────────────────────

  /** Who a key naming this user stands for (its SHA-256), or null: unknown or revoked. */
  authenticate(keyHash: string): Promise<Outcome<AuthedUser | null>> {
    return capture(() => this.keys.check(keyHash));
  }

  /** Refuses keys of this user from now on (before the owner routes mark them revoked in D1). */
  revokeKeys(keys: { keyHash: string; keyId: string }[]): Promise<Outcome<void>> {
    return capture(() => {
      for (const key of keys) this.keys.revoke(key.keyHash, key.keyId);
    });
  }

  // ── Webhooks (webhooks/events.ts) ─────────────────────────────────────────────────────────────

  /** A webhook of this user was created (routes/webhooks.ts, after D1 has it): events look it up again. */
  webhookCreated(): Promise<Outcome<void>> {
    return capture(() => this.webhooks.created());
  }

  // ── Executions (executions/runner.ts) ───────────────────────────────────────────────────────

  /** Runs code in the conversation's sandbox and records it; the JSON API. */
  execute(req: ExecutionRequest): Promise<Outcome<ExecutionResult>> {
    return captureSandbox(() => this.runner.execute(req));
  }

  /** Runs code and streams its events (one JSON line each); a failure before it starts is an error outcome. */
  executeStream(req: ExecutionRequest): Promise<Outcome<ReadableStream<Uint8Array>>> {
    return captureSandbox(() => this.runner.stream(req));
  }

  /**
   * The events of an execution after a position (executions/replay.ts), then live until it ends; null
   * when this object no longer holds its log (finished a while ago, or the object restarted).
   */
  followExecution(executionId: string, after?: Position): Promise<Outcome<ReadableStream<Uint8Array> | null>> {
    return capture(() => this.runner.follow(executionId, after) ?? null);
  }

  // ── Asynchronous runs (Prefer: respond-async; webhooks/) ─────────────────────────────────────

  /** Starts a run and answers with its id at once; the result goes to history and the webhooks. */
  executeAsync(req: ExecutionRequest): Promise<Outcome<RunningExecution>> {
    return captureSandbox(() => this.runner.start(req));
  }

  /**
   * The execution if it is running here; otherwise null, once history is copied to D1 (so a run that
   * just ended is found there: it leaves the running set and enters the outbox in one step).
   */
  runningExecution(executionId: string): Promise<Outcome<RunningExecution | null>> {
    const running = this.runner.inProgress(executionId);
    if (running) return Promise.resolve({ ok: true, value: running });
    return this.flushHistory().then((flushed) => (flushed.ok ? { ok: true, value: null } : flushed));
  }

  /** Cancels a running execution; false when it is not running here (finished, or never was). */
  cancel(executionId: string): Promise<Outcome<boolean>> {
    return captureSandbox(() => this.runner.cancel(executionId));
  }

  /**
   * Copies this user's pending history to D1. History reads call it first, so a client always sees
   * its own finished executions; when D1 refuses, the alarm retries and the read is a 503.
   */
  flushHistory(): Promise<Outcome<void>> {
    return capture(
      () => this.copyHistory(),
      (err) =>
        // Nothing is lost (the runs wait here), but a partial history would mislead.
        new ApiError(
          "storage_unavailable",
          "Execution history cannot be brought up to date right now; retry shortly.",
          {
            cause: err,
          },
        ),
    );
  }

  stats(): Promise<Outcome<{ user: UserStats; volume: VolumeInfo; sandboxes: { active: number } }>> {
    return capture(async () => {
      await this.volume.ready();
      return {
        user: this.metrics.snapshot(),
        volume: this.volume.info(),
        sandboxes: { active: this.sandboxes.count() },
      };
    });
  }

  // ── Sandboxes (durable/sandboxes.ts) ────────────────────────────────────────────────────────

  /** The user's sandboxes that E2B still runs; records of ones it no longer has are dropped. */
  liveSandboxes(): Promise<Outcome<SandboxInfo[]>> {
    return captureSandbox(() => this.sandboxes.refresh());
  }

  sandboxInfo(conversationId: string): Promise<Outcome<SandboxInfo>> {
    return captureSandbox(() => this.sandboxes.info(conversationId));
  }

  /** Kills the conversation's sandbox; the next execution there starts a fresh one. */
  closeSandbox(conversationId: string): Promise<Outcome<SandboxInfo>> {
    return captureSandbox(() => this.sandboxes.close(conversationId));
  }

  /** Ids of the sandboxes this object tracks: the cron's orphan reaper spares these. */
  trackedSandboxIds(): Promise<Outcome<string[]>> {
    return capture(() => this.sandboxes.trackedIds());
  }

  listSandboxFiles(conversationId: string, path: string): Promise<Outcome<FileEntry[]>> {
    return captureSandbox(() => this.sandboxes.use(conversationId, LOOK, (sandbox) => listFiles(sandbox, path)));
  }

  readSandboxFile(conversationId: string, path: string): Promise<Outcome<ReadableStream<Uint8Array>>> {
    return captureSandbox(() => this.sandboxes.use(conversationId, LOOK, (sandbox) => readFile(sandbox, path)));
  }

  /** Deletes a file or folder of the conversation's sandbox (which must exist). */
  removeSandboxFile(conversationId: string, path: string): Promise<Outcome<void>> {
    return captureSandbox(() => this.sandboxes.use(conversationId, LOOK, (sandbox) => removeFile(sandbox, path)));
  }

  /** Streams `body` into a file, starting the conversation's sandbox if it has none. */
  async writeSandboxFile(
    conversationId: string,
    path: string,
    body: ReadableStream<Uint8Array>,
  ): Promise<Outcome<{ path: string; size: number }>> {
    const outcome = await captureSandbox(() =>
      this.sandboxes.use(conversationId, CREATE, (sandbox) => writeFile(sandbox, path, body)),
    );
    if (!outcome.ok) body.cancel().catch(() => {});
    return outcome;
  }

  /** Installs packages in the conversation's sandbox: a run like an execution (slot, timeout, history). */
  installSandboxPackages(conversationId: string, body: InstallBody): Promise<Outcome<InstallResult>> {
    return captureSandbox(() => this.runner.install(conversationId, body));
  }

  // ── Interpreter contexts (interpreter/contexts.ts) ──────────────────────────────────────────

  /** Creates an explicit context in the conversation's interpreter sandbox (started if needed). */
  createContext(conversationId: string, language: StatefulLanguage, cwd?: string): Promise<Outcome<ContextInfo>> {
    return captureSandbox(() => this.contexts.create(conversationId, language, cwd));
  }

  /** The conversation's contexts, its default ones included. */
  listContexts(conversationId: string): Promise<Outcome<ContextInfo[]>> {
    return captureSandbox(() => this.contexts.list(conversationId));
  }

  restartContext(conversationId: string, id: string): Promise<Outcome<ContextInfo>> {
    return captureSandbox(() => this.contexts.restart(conversationId, id));
  }

  removeContext(conversationId: string, id: string): Promise<Outcome<void>> {
    return captureSandbox(() => this.contexts.remove(conversationId, id));
  }

  // ── Volume (volume/ledger.ts) ───────────────────────────────────────────────────────────────

  volumeInfo(): Promise<Outcome<VolumeInfo>> {
    return capture(async () => {
      await this.volume.ready();
      return this.volume.info();
    });
  }

  reserveVolume(entries: { name: string; size: number }[]): Promise<Outcome<Reservation[]>> {
    return capture(() => this.volume.reserve(entries));
  }

  commitVolume(commits: Commit[]): Promise<Outcome<boolean>> {
    return capture(() => this.volume.commit(commits));
  }

  releaseVolume(ids: string[]): Promise<Outcome<void>> {
    return capture(() => this.volume.release(ids));
  }

  forgetVolumeFiles(names: string[]): Promise<Outcome<void>> {
    return capture(() => this.volume.forget(names));
  }

  /** Copies a file of the conversation's sandbox into the volume, under the quota; no sandbox is a 404. */
  persistFile(conversationId: string, path: string, name: string): Promise<Outcome<PersistedFile>> {
    return captureSandbox(() =>
      this.sandboxes.use(conversationId, LOOK, (sandbox) =>
        persistFromSandbox(sandbox, this.env.VOLUMES, this.volume.port(), this.userId, path, name),
      ),
    );
  }

  /** Copies a volume file into the conversation's sandbox, starting one if it has none. */
  restoreFile(
    conversationId: string,
    name: string,
    path: string,
  ): Promise<Outcome<{ name: string; path: string; size: number }>> {
    return captureSandbox(async () => {
      const object = await this.env.VOLUMES.get(volumeKey(this.userId, name));
      if (!object) throw new ApiError("not_found", `name: no file '${name}' in your volume`);
      try {
        return await this.sandboxes.use(conversationId, CREATE, (sandbox) =>
          restoreToSandbox(sandbox, object, name, path),
        );
      } finally {
        object.body.cancel().catch(() => {});
      }
    });
  }

  /** The cron's pass: deletes files older than `cutoff` (null keeps them), then reconciles from R2. */
  maintainVolume(cutoff: number | null): Promise<Outcome<{ deleted: number; volume: VolumeInfo }>> {
    return capture(async () => {
      const deleted = cutoff === null ? 0 : await this.volume.prune(cutoff);
      await this.volume.reconcile();
      return { deleted, volume: this.volume.info() };
    });
  }

  // ── Schedules (schedules/scheduler.ts) ──────────────────────────────────────────────────────

  listSchedules(): Promise<Outcome<Schedule[]>> {
    return capture(() => this.schedules.list());
  }

  getSchedule(id: string): Promise<Outcome<Schedule>> {
    return capture(() => this.schedules.get(id));
  }

  createSchedule(input: ScheduleInput): Promise<Outcome<Schedule>> {
    return capture(async () => {
      const created = this.schedules.create(input);
      await this.schedule();
      return created;
    });
  }

  updateSchedule(id: string, patch: ScheduleInput): Promise<Outcome<Schedule>> {
    return capture(async () => {
      const updated = this.schedules.update(id, patch);
      await this.schedule();
      return updated;
    });
  }

  deleteSchedule(id: string): Promise<Outcome<void>> {
    return capture(() => this.schedules.remove(id));
  }

  /** Runs a schedule now and answers with its execution (like `execute`). */
  runSchedule(id: string): Promise<Outcome<ExecutionResult>> {
    return captureSandbox(() => this.schedules.runNow(id));
  }

  // ── MCP sessions (mcp/sessions.ts) ───────────────────────────────────────────────────────────

  openMcpSession(sessionId: string): Promise<Outcome<void>> {
    return capture(() => this.mcpSessions.open(sessionId, Date.now()));
  }

  /** Whether the session is live; every MCP request after `initialize` asks. */
  useMcpSession(sessionId: string): Promise<Outcome<boolean>> {
    return capture(() => this.mcpSessions.use(sessionId, Date.now()));
  }

  /** Ends the session and closes its own conversation's sandbox (one chat, one sandbox); false when not live. */
  closeMcpSession(sessionId: string): Promise<Outcome<boolean>> {
    return captureSandbox(async () => {
      if (!this.mcpSessions.close(sessionId)) return false;
      if (this.sandboxes.templateOf(sessionId) !== null) {
        await this.sandboxes.close(sessionId).catch((err: unknown) => {
          // Already gone at the provider: nothing left to close.
          if (!(err instanceof ApiError && err.code === "not_found")) throw err;
        });
      }
      return true;
    });
  }

  // ── Web terminal (terminal/) ────────────────────────────────────────────────────────────────

  /** A one-time ticket for the conversation's terminal WebSocket (routes/terminal.ts). */
  issueTerminalTicket(conversationId: string): Promise<Outcome<IssuedTicket>> {
    return capture(() => this.tickets.issue(conversationId, Date.now()));
  }

  /**
   * The terminal's WebSocket, forwarded by the Worker as `GET /terminal?conversationId=…&ticket=…` with
   * `Upgrade: websocket`: the ticket is spent, then the socket is bridged to the conversation's shell. A
   * refusal is the API error's status with its data as JSON (`{code, message}`), which the Worker renders.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const conversationId = url.searchParams.get("conversationId") ?? "";
    const ticket = url.searchParams.get("ticket") ?? "";
    const outcome = await captureSandbox(async () => {
      if (url.pathname !== "/terminal") throw new ApiError("not_found", `No route ${url.pathname}.`);
      await this.tickets.redeem(ticket, conversationId, Date.now());
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        throw new ApiError("upgrade_required", "The terminal is a WebSocket: send `Upgrade: websocket`.");
      }
      const { 0: client, 1: server } = new WebSocketPair();
      await this.terminals.attach(conversationId, server);
      return client;
    });
    if (outcome.ok) return new Response(null, { status: 101, webSocket: outcome.value });
    return Response.json(outcome.error, { status: ERROR_STATUS[outcome.error.code] });
  }

  // ── Artifacts (artifacts/keep.ts) ───────────────────────────────────────────────────────────

  /** Copies a run's artifacts from its sandbox (still alive) to R2 under the quota: 507 keeps nothing. */
  keepRunArtifacts(run: RunPlace, artifacts: Artifact[]): Promise<Outcome<KeptArtifacts>> {
    return captureSandbox(() =>
      this.sandboxes.use(run.conversationId, LOOK, (sandbox) =>
        keepArtifacts(
          checkRunSandbox(sandbox, run),
          this.env.VOLUMES,
          this.volume.port(),
          this.userId,
          run.executionId,
          artifacts,
        ),
      ),
    );
  }

  /** One of a run's artifacts, streamed from its sandbox while that sandbox lives. */
  readRunArtifact(run: RunPlace, path: string): Promise<Outcome<{ body: ReadableStream<Uint8Array>; size: number }>> {
    return captureSandbox(() =>
      this.sandboxes.use(run.conversationId, LOOK, (sandbox) => readArtifact(checkRunSandbox(sandbox, run), path)),
    );
  }

  // ── The alarm: history to D1, idle sandboxes ────────────────────────────────────────────────

  /** Copies history to D1 and kills the sandboxes idle too long, then waits for the next one to be due. */
  // ── Deleting the user (routes/admin.ts) ─────────────────────────────────────────────────────

  /**
   * Erases everything this object holds for its user: runs in progress are cancelled, every sandbox
   * is killed, the volume's files are deleted from R2, and the object's own storage (ledger, outbox,
   * counters) is wiped. The caller has revoked the user's keys first, so nothing new arrives.
   */
  erase(): Promise<Outcome<ErasedUserSpace>> {
    return capture(async () => {
      const cancelled = await this.runner.cancelAll();
      await this.terminals.closeAll();
      const conversations = this.sandboxes.list().map((sandbox) => sandbox.conversationId);
      let sandboxes = 0;
      for (const conversationId of conversations) {
        try {
          await this.sandboxes.close(conversationId);
          sandboxes++;
        } catch (err) {
          // Already gone at the provider; the orphan reaper would also catch one we failed to kill.
          if (!(err instanceof ApiError && err.code === "not_found")) throw err;
        }
      }
      // The spare too (SPARE_SANDBOX), one being started included, before the storage that tracks it goes.
      if (await this.sandboxes.dropSpare()) sandboxes++;
      const volume = await deleteVolume(this.env.VOLUMES, this.userId);
      // History's large results (interpreter/stored-results.ts) go with the user, whatever the history mode.
      await deleteUserResults(this.env.VOLUMES, this.userId);
      await this.ctx.storage.deleteAlarm();
      this.alarmAt = null;
      await this.ctx.storage.deleteAll();
      // D1 still answers for the user's (revoked) keys until the owner route deletes them.
      this.keys.ensureTable();
      this.tickets.ensureTable();
      this.terminals.ensureTable();
      return { cancelledExecutions: cancelled, sandboxes, volumeFiles: volume.files, volumeBytes: volume.bytes };
    });
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    // Schedules first: their runs start now and go on after the alarm (schedules/scheduler.ts).
    this.schedules.fireDue(Date.now());
    await this.copyHistory().catch(() => {});
    await this.sandboxes.reap(Date.now());
    await this.schedule();
  }

  private async copyHistory(): Promise<void> {
    try {
      await this.history.flush();
      this.historyFailing = false;
    } catch (err) {
      console.error("history: D1 refused the copy; retrying from the alarm", err);
      this.historyFailing = true;
      await this.schedule();
      throw err;
    }
  }

  /** Sets the alarm for the next idle sandbox, or sooner for history still to copy to D1 or a schedule due. */
  private async schedule(): Promise<void> {
    const now = Date.now();
    const idle = this.sandboxes.nextIdleAt(now);
    const retry =
      this.history.pending() > 0 ? now + (this.historyFailing ? HISTORY_RETRY_MS : HISTORY_BATCH_MS) : Infinity;
    const scheduled = this.schedules.nextDueAt();
    if (idle === Infinity && retry === Infinity && scheduled === Infinity) return;
    const due = Math.min(Math.max(idle, now + 1000), retry, scheduled);
    if (this.alarmAt !== null) {
      const current = await this.ctx.storage.getAlarm();
      if (current !== null && current <= due) {
        this.alarmAt = current;
        return;
      }
    }
    await this.ctx.storage.setAlarm(due);
    this.alarmAt = due;
  }

  /**
   * After a run its history waits here, so the alarm must come within HISTORY_BATCH_MS; when the one
   * already set does, `schedule()` would change nothing, and its queries are skipped (once per run).
   */
  private afterRun(): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= Date.now() + HISTORY_BATCH_MS) return Promise.resolve();
    return this.schedule();
  }
}

/** The user id this object is addressed by (see UserSpace.userId), kept in its storage too. */
function ownerOf(ctx: DurableObjectState): string {
  const sql = ctx.storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS owner (id INTEGER PRIMARY KEY CHECK (id = 1), user_id TEXT NOT NULL)`);
  const stored = sql.exec<{ user_id: string }>(`SELECT user_id FROM owner`).toArray()[0]?.user_id;
  const named = ctx.id.name;
  if (named !== undefined && named !== stored) sql.exec(`INSERT OR REPLACE INTO owner VALUES (1, ?)`, named);
  const userId = named ?? stored;
  if (!userId) throw new Error("UserSpace must be addressed by idFromName(userId)");
  return userId;
}

/** Sandbox work over RPC: a failure that is not an ApiError is the sandbox's. */
function captureSandbox<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  return capture(fn, toApiError);
}
