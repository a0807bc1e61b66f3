// A user's live sandboxes, one per conversation, kept in their Durable Object: opened at most once
// under concurrent first requests, reused warm, replaced when E2B lost them, and reaped when idle;
// plus, while the user is active and SPARE_SANDBOX is on, one spare a new conversation starts in.
import { limits } from "../config.ts";
import { ApiError } from "../errors.ts";
import {
  baseTemplate,
  connectSandbox,
  createSandbox,
  killSandbox,
  listPhoenixSandboxes,
  type Sandbox,
  SANDBOX_APP,
  sandboxEndsAt,
  sandboxUnavailable,
} from "../sandbox/e2b.ts";
import { SpareSandbox } from "./spare.ts";

export interface SandboxInfo {
  conversationId: string;
  sandboxId: string;
  template: string;
  startedAt: string;
  lastUsedAt: string;
  expiresAt: string;
}

/**
 * How to open a conversation's sandbox. `create: false` only looks: a conversation without a live
 * sandbox is a 404 and nothing is started (reads, listings, persist).
 */
export interface OpenOptions {
  create: boolean;
  /** The template a sandbox created by this open gets (default E2B_TEMPLATE). */
  template?: string;
}

/** Open the conversation's sandbox, starting one if it has none. */
export const CREATE: OpenOptions = { create: true };
/** Open the conversation's sandbox only if it has one. */
export const LOOK: OpenOptions = { create: false };

/** E2B's own TTL outlives our idle timeout by this much, so E2B only reaps what we lost track of. */
const TTL_MARGIN_MS = 5 * 60_000;

type SandboxRow = {
  conversation_id: string;
  sandbox_id: string;
  template: string;
  started_at: number;
  last_used_at: number;
  expires_at: number;
};

export class SandboxPool {
  private readonly sql: SqlStorage;
  private env: Env;
  private readonly userId: string;
  /** Called when a sandbox was added, so the owner can set the idle-reaping alarm. */
  private readonly changed: () => Promise<void>;
  private readonly waitUntil: (promise: Promise<unknown>) => void;
  /** Connected SDK handles, so a warm execution costs one round trip to E2B. */
  private readonly live = new Map<string, Sandbox>();
  /** Sandboxes being created or connected: concurrent first requests share one. */
  private readonly opening = new Map<string, { sandbox: Promise<Sandbox>; create: boolean }>();
  /** Work in progress per conversation: the reaper leaves those sandboxes alone. */
  private readonly inUse = new Map<string, number>();
  /** The one spare sandbox a new conversation takes instead of waiting for a create. */
  private readonly spare: SpareSandbox;

  constructor(
    sql: SqlStorage,
    env: Env,
    userId: string,
    hooks: { changed: () => Promise<void>; waitUntil: (promise: Promise<unknown>) => void },
  ) {
    this.sql = sql;
    this.env = env;
    this.userId = userId;
    this.changed = hooks.changed;
    this.waitUntil = hooks.waitUntil;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS sandboxes (
        conversation_id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL, template TEXT NOT NULL,
        started_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    `);
    this.spare = new SpareSandbox(sql, {
      env: () => this.env,
      userId,
      ttlMs: () => this.ttlMs(),
      waitUntil: hooks.waitUntil,
      changed: hooks.changed,
    });
  }

  /**
   * The conversation's sandbox: cached, else reconnected, else created (unless `create` is false:
   * then a 404) — at most one open per conversation at a time.
   */
  open(conversationId: string, { create, template }: OpenOptions): Promise<Sandbox> {
    const cached = this.live.get(conversationId);
    if (cached) return Promise.resolve(cached);
    const pending = this.opening.get(conversationId);
    if (pending) {
      // A look-only open ends in a 404 when there is no sandbox; one that may create tries again.
      return create && !pending.create
        ? pending.sandbox.catch(() => this.open(conversationId, { create, template }))
        : pending.sandbox;
    }
    const sandbox = this.connectOrCreate(conversationId, create, template).finally(() =>
      this.opening.delete(conversationId),
    );
    this.opening.set(conversationId, { sandbox, create });
    return sandbox;
  }

  /**
   * Runs `fn` on the conversation's sandbox, held against the idle reaper, then marks it used. A
   * cached handle is checked first when creating, so a sandbox E2B dropped is replaced instead of
   * failed on; a look-only use that finds it gone is a 404.
   */
  async use<T>(conversationId: string, options: OpenOptions, fn: (sandbox: Sandbox) => Promise<T>): Promise<T> {
    const release = this.hold(conversationId);
    try {
      const cached = this.live.has(conversationId);
      let sandbox = await this.open(conversationId, options);
      if (cached && options.create && !(await sandbox.isRunning().catch(() => false))) {
        this.forget(conversationId, sandbox.sandboxId);
        sandbox = await this.open(conversationId, options);
      }
      try {
        const value = await fn(sandbox);
        this.touch(conversationId, sandbox);
        return value;
      } catch (err) {
        if (err instanceof ApiError) throw err;
        if (await sandbox.isRunning().catch(() => false)) throw sandboxUnavailable("The sandbox did not answer", err);
        this.forget(conversationId, sandbox.sandboxId);
        throw options.create
          ? sandboxUnavailable("The sandbox stopped; a retry starts a fresh one", err)
          : noSandbox(conversationId);
      }
    } finally {
      release();
    }
  }

  /** Marks the sandbox used now, and stretches E2B's TTL in the background once half of it is spent. */
  touch(conversationId: string, sandbox: Sandbox): void {
    const now = Date.now();
    const ttl = this.ttlMs();
    const row = this.row(conversationId);
    if (row && row.expires_at - now < ttl / 2) {
      this.sql.exec(
        `UPDATE sandboxes SET last_used_at = ?, expires_at = ? WHERE conversation_id = ?`,
        now,
        now + ttl,
        conversationId,
      );
      this.waitUntil(sandbox.setTimeout(ttl).catch(() => {}));
    } else {
      this.sql.exec(`UPDATE sandboxes SET last_used_at = ? WHERE conversation_id = ?`, now, conversationId);
    }
    // The user is active: the spare, if kept, stays (or is started) for their next new conversation.
    this.spare.keep(() => this.roomForSpare());
  }

  /** Keeps the conversation's sandbox from the idle reaper until the returned release is called. */
  hold(conversationId: string): () => void {
    this.inUse.set(conversationId, (this.inUse.get(conversationId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const using = (this.inUse.get(conversationId) ?? 1) - 1;
      if (using > 0) this.inUse.set(conversationId, using);
      else this.inUse.delete(conversationId);
    };
  }

  /** Drops the record of a sandbox that is gone (or about to be killed); the next open starts afresh. */
  forget(conversationId: string, sandboxId: string): void {
    if (this.live.get(conversationId)?.sandboxId === sandboxId) this.live.delete(conversationId);
    this.sql.exec(`DELETE FROM sandboxes WHERE conversation_id = ? AND sandbox_id = ?`, conversationId, sandboxId);
  }

  /** The sandboxes this object tracks, most recently used first, as the API shows them. */
  list(): SandboxInfo[] {
    return this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes ORDER BY last_used_at DESC`).toArray().map(toSandboxInfo);
  }

  count(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM sandboxes`).one().n;
  }

  /** Ids of the sandboxes this object tracks, the spare included: the cron's orphan reaper spares these. */
  trackedIds(): string[] {
    const ids = this.sql
      .exec<{ sandbox_id: string }>(`SELECT sandbox_id FROM sandboxes`)
      .toArray()
      .map((r) => r.sandbox_id);
    return [...ids, ...this.spare.tracked()];
  }

  /** The spare sandbox's id, or null when none is kept (SPARE_SANDBOX). */
  spareId(): string | null {
    return this.spare.id();
  }

  /** Kills the spare sandbox (user deletion); true when there was one. */
  dropSpare(): Promise<boolean> {
    return this.spare.drop();
  }

  /** The sandboxes E2B still runs; records of ones it no longer has are dropped. */
  async refresh(): Promise<SandboxInfo[]> {
    const asked = Date.now();
    const running = await listPhoenixSandboxes(this.env, { userId: this.userId }).catch((err: unknown) => {
      throw sandboxUnavailable("Could not list sandboxes", err);
    });
    const ids = new Set(running.map((s) => s.sandboxId));
    for (const row of this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes`).toArray()) {
      // Created or in use while E2B was being asked: live whatever the listing said.
      if (ids.has(row.sandbox_id) || row.started_at >= asked || this.inUse.has(row.conversation_id)) continue;
      this.forget(row.conversation_id, row.sandbox_id);
    }
    return this.list();
  }

  /** The conversation's sandbox with the expiry E2B reports; a 404 when there is none (any more). */
  async info(conversationId: string): Promise<SandboxInfo> {
    const row = this.row(conversationId);
    if (!row) throw noSandbox(conversationId);
    const endsAt = await sandboxEndsAt(this.env, row.sandbox_id).catch((err: unknown) => {
      throw sandboxUnavailable("Could not look up the sandbox", err);
    });
    if (endsAt === null) {
      if (!this.inUse.has(conversationId)) this.forget(conversationId, row.sandbox_id);
      throw noSandbox(conversationId);
    }
    return { ...toSandboxInfo(row), expiresAt: new Date(endsAt).toISOString() };
  }

  /** Kills the conversation's sandbox; the next open there starts a fresh one. */
  async close(conversationId: string): Promise<SandboxInfo> {
    const row = this.row(conversationId);
    if (!row) throw noSandbox(conversationId);
    const killed = await killSandbox(this.env, row.sandbox_id).catch((err: unknown) => {
      throw sandboxUnavailable("Could not close the sandbox", err);
    });
    this.forget(conversationId, row.sandbox_id);
    if (!killed) throw noSandbox(conversationId);
    return toSandboxInfo(row);
  }

  /**
   * Kills the sandboxes idle longer than the idle timeout (none in use or being opened), and the spare
   * once the user has been inactive that long; returns how many.
   */
  async reap(now: number): Promise<number> {
    const cutoff = now - limits(this.env).sandboxIdleTimeoutMs;
    const stale = this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes WHERE last_used_at <= ?`, cutoff).toArray();
    let killed = (await this.spare.reap(cutoff)) ? 1 : 0;
    for (const row of stale) {
      // Work in progress keeps its sandbox even past the idle mark.
      if (this.inUse.has(row.conversation_id) || this.opening.has(row.conversation_id)) continue;
      // Forgotten first, so a run arriving while the kill is in flight starts a fresh sandbox.
      this.forget(row.conversation_id, row.sandbox_id);
      try {
        if (await killSandbox(this.env, row.sandbox_id)) killed++;
      } catch (err) {
        console.error(`reaping ${row.sandbox_id}`, err);
      }
    }
    return killed;
  }

  /** When the next sandbox becomes idle enough to reap (epoch ms), or Infinity when none is live. */
  nextIdleAt(now: number): number {
    // A sandbox in use counts as used now: it is touched when its work ends.
    const lastUses = this.sql
      .exec<{ conversation_id: string; last_used_at: number }>(`SELECT conversation_id, last_used_at FROM sandboxes`)
      .toArray()
      .map((r) => (this.inUse.has(r.conversation_id) ? now : r.last_used_at));
    const spareActive = this.spare.activeAt();
    if (spareActive !== null) lastUses.push(spareActive);
    return lastUses.length ? Math.min(...lastUses) + limits(this.env).sandboxIdleTimeoutMs : Infinity;
  }

  /** The template of the conversation's recorded sandbox, or null when it has none. */
  templateOf(conversationId: string): string | null {
    return this.row(conversationId)?.template ?? null;
  }

  private async connectOrCreate(conversationId: string, create: boolean, template?: string): Promise<Sandbox> {
    const ttl = this.ttlMs();
    const row = this.row(conversationId);
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
    await this.makeRoom(conversationId);
    const chosen = template ?? baseTemplate(this.env);
    // The spare first (only a base-template one exists): a new conversation starts warm.
    const spare = await this.spare.take(chosen);
    let sandbox: Sandbox;
    if (spare) sandbox = spare.sandbox;
    else {
      const metadata = { app: SANDBOX_APP, userId: this.userId, conversationId } as const;
      sandbox = await createSandbox(this.env, metadata, ttl, chosen);
    }
    const now = Date.now();
    this.sql.exec(
      `INSERT OR REPLACE INTO sandboxes VALUES (?, ?, ?, ?, ?, ?)`,
      conversationId,
      sandbox.sandboxId,
      chosen,
      spare?.startedAt ?? now,
      now,
      now + ttl,
    );
    this.live.set(conversationId, sandbox);
    await this.changed();
    // A user starting a conversation is active: a spare for the next one (or none, at the cap).
    this.spare.keep(() => this.roomForSpare());
    return sandbox;
  }

  /**
   * Whether the user is below MAX_SANDBOXES_PER_USER, counting conversations' sandboxes being created:
   * a spare would otherwise be one sandbox more than the cap allows.
   */
  private roomForSpare(): boolean {
    const recorded = new Set(
      this.sql
        .exec<{ conversation_id: string }>(`SELECT conversation_id FROM sandboxes`)
        .toArray()
        .map((r) => r.conversation_id),
    );
    const creating = [...this.opening].filter(([c, o]) => o.create && !recorded.has(c)).length;
    return recorded.size + creating < limits(this.env).maxSandboxesPerUser;
  }

  /**
   * Keeps the user within MAX_SANDBOXES_PER_USER before a new sandbox is created: the least recently
   * used idle ones are closed; when every live one is busy, 429. Sandboxes still being created for
   * other conversations count, so concurrent first opens cannot overshoot together.
   */
  private async makeRoom(conversationId: string): Promise<void> {
    const max = limits(this.env).maxSandboxesPerUser;
    const rows = this.sql
      .exec<SandboxRow>(`SELECT * FROM sandboxes WHERE conversation_id != ? ORDER BY last_used_at`, conversationId)
      .toArray();
    const recorded = new Set(rows.map((r) => r.conversation_id));
    const creating = [...this.opening].filter(([c, o]) => c !== conversationId && o.create && !recorded.has(c)).length;
    const excess = rows.length + creating + 1 - max;
    if (excess <= 0) return;
    const idle = rows.filter((r) => !this.inUse.has(r.conversation_id) && !this.opening.has(r.conversation_id));
    if (idle.length < excess) {
      throw new ApiError(
        "rate_limited",
        `At most ${max} sandboxes may be live at once per user and all are busy; retry when one is idle, or close one (DELETE /api/v1/sandboxes/:conversationId).`,
        { retryAfterSeconds: 1 },
      );
    }
    // Forgotten at once (before any await), so no other open counts or picks them meanwhile.
    const closing = idle.slice(0, excess);
    for (const row of closing) this.forget(row.conversation_id, row.sandbox_id);
    await Promise.all(
      closing.map((row) =>
        killSandbox(this.env, row.sandbox_id).catch((err) => console.error(`closing idle ${row.sandbox_id}`, err)),
      ),
    );
  }

  private row(conversationId: string): SandboxRow | undefined {
    return this.sql.exec<SandboxRow>(`SELECT * FROM sandboxes WHERE conversation_id = ?`, conversationId).toArray()[0];
  }

  private ttlMs(): number {
    return limits(this.env).sandboxIdleTimeoutMs + TTL_MARGIN_MS;
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

export function noSandbox(conversationId: string): ApiError {
  return new ApiError(
    "not_found",
    `Conversation '${conversationId}' has no sandbox; running code or writing a file there starts one.`,
  );
}
