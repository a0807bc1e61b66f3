// A user's one spare sandbox (SPARE_SANDBOX, off by default): started in the background while the user
// is active, so that their next new conversation starts warm; taken by it, then replaced.
import {
  baseTemplate,
  connectSandbox,
  createSandbox,
  killSandbox,
  type Sandbox,
  SANDBOX_APP,
  setSandboxTimeout,
} from "../sandbox/e2b.ts";

/**
 * The `conversationId` in a spare's E2B metadata: not a valid conversation id, so it names no one's.
 * E2B cannot change metadata after create, so a taken spare keeps it; the Durable Object's own record
 * says whose it is, and the orphan reaper and the listings go by that record and `userId`, not by it.
 */
export const SPARE_CONVERSATION = "(spare)";

type SpareRow = {
  sandbox_id: string;
  template: string;
  started_at: number;
  /** When the user was last active: the spare is reaped that long after, like an idle sandbox. */
  active_at: number;
  expires_at: number;
};

/** A spare handed to a conversation: connected (so known alive) with a fresh TTL. */
export interface TakenSpare {
  sandbox: Sandbox;
  startedAt: number;
}

export interface SpareParts {
  /** Read at each use: tests swap the pool's env. */
  env: () => Env;
  userId: string;
  ttlMs: () => number;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Called when a spare was recorded, so the owner can set the idle-reaping alarm. */
  changed: () => Promise<void>;
}

/**
 * At most one spare per user, of the base template (E2B_TEMPLATE). It is no conversation's: it does
 * not count against MAX_SANDBOXES_PER_USER and takes no execution slot, and none is kept while the
 * user is at that cap. SandboxPool decides when (activity, room); this class only keeps the one.
 */
export class SpareSandbox {
  private readonly sql: SqlStorage;
  private readonly parts: SpareParts;
  /** The spare being created: a take waits for it (it started first), a drop kills it once made. */
  private starting: Promise<void> | null = null;
  /** The spare being handed over (no longer recorded as the spare, not yet as a conversation's). */
  private taking: string | null = null;

  constructor(sql: SqlStorage, parts: SpareParts) {
    this.sql = sql;
    this.parts = parts;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS spare_sandbox (
        id INTEGER PRIMARY KEY CHECK (id = 1), sandbox_id TEXT NOT NULL, template TEXT NOT NULL,
        started_at INTEGER NOT NULL, active_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    `);
  }

  /**
   * The user is active: keep one spare ready when the var is on and `room()` says the user is below
   * the cap; otherwise none (one left over is killed; with the var off, reaped when idle). Never waits:
   * the work goes to waitUntil.
   */
  keep(room: () => boolean): void {
    const env = this.parts.env();
    // Off (production's default): no read on this per-run path. A spare left from when it was on is
    // no longer kept active, so the idle alarm reaps it (reap).
    if (env.SPARE_SANDBOX !== "true" && this.starting === null) return;
    const row = this.row();
    if (env.SPARE_SANDBOX !== "true" || (row && row.template !== baseTemplate(env)) || !room()) {
      if (row || this.starting !== null) this.parts.waitUntil(this.drop());
      return;
    }
    if (this.starting !== null) return;
    if (!row) {
      this.starting = this.start().finally(() => {
        this.starting = null;
      });
      this.parts.waitUntil(this.starting);
      return;
    }
    const now = Date.now();
    const ttl = this.parts.ttlMs();
    // Like a conversation's sandbox (SandboxPool.touch): E2B's TTL is stretched once half of it is spent.
    if (row.expires_at - now < ttl / 2) {
      this.sql.exec(`UPDATE spare_sandbox SET active_at = ?, expires_at = ?`, now, now + ttl);
      this.parts.waitUntil(setSandboxTimeout(env, row.sandbox_id, ttl).catch(() => {}));
    } else {
      this.sql.exec(`UPDATE spare_sandbox SET active_at = ?`, now);
    }
  }

  /**
   * Hands the spare to a conversation that needs a `template` sandbox, or null: none, another
   * template, or one E2B lost (connect fails) — then the caller creates one, and the user sees no error.
   */
  async take(template: string): Promise<TakenSpare | null> {
    const env = this.parts.env();
    if (template !== baseTemplate(env)) return null;
    if (this.starting !== null) await this.starting;
    const row = this.row();
    if (!row || row.template !== template) return null;
    // Claimed before any await: a concurrent take finds none.
    this.sql.exec(`DELETE FROM spare_sandbox`);
    this.taking = row.sandbox_id;
    try {
      return { sandbox: await connectSandbox(env, row.sandbox_id, this.parts.ttlMs()), startedAt: row.started_at };
    } catch {
      // Gone, or unreachable: no longer ours either way (a live one left behind is an orphan to reap).
      this.parts.waitUntil(killSandbox(env, row.sandbox_id).catch(() => false));
      return null;
    } finally {
      // The caller records it for its conversation before its next await.
      this.taking = null;
    }
  }

  /** Kills the spare (one being created, once it is); true when one was killed. */
  async drop(): Promise<boolean> {
    if (this.starting !== null) await this.starting;
    const row = this.row();
    if (!row) return false;
    this.sql.exec(`DELETE FROM spare_sandbox`);
    return killSandbox(this.parts.env(), row.sandbox_id).catch((err: unknown) => {
      console.error(`killing spare ${row.sandbox_id}`, err);
      return false;
    });
  }

  /** Kills the spare if the user has not been active since `cutoff`; true when one was killed. */
  async reap(cutoff: number): Promise<boolean> {
    const row = this.row();
    if (!row || row.active_at > cutoff || this.starting !== null) return false;
    return this.drop();
  }

  /** When the user was last active while the spare was kept (epoch ms), or null when there is none. */
  activeAt(): number | null {
    return this.row()?.active_at ?? null;
  }

  /** The spare's id, or null. */
  id(): string | null {
    return this.row()?.sandbox_id ?? null;
  }

  /** What the orphan reaper must spare: the spare, and one being handed to a conversation (it may be old). */
  tracked(): string[] {
    return [this.id(), this.taking].filter((id) => id !== null);
  }

  private async start(): Promise<void> {
    const env = this.parts.env();
    const ttl = this.parts.ttlMs();
    const template = baseTemplate(env);
    const metadata = { app: SANDBOX_APP, userId: this.parts.userId, conversationId: SPARE_CONVERSATION } as const;
    let sandbox: Sandbox;
    try {
      sandbox = await createSandbox(env, metadata, ttl, template);
    } catch (err) {
      // Only a head start is lost: the next new conversation creates its sandbox as without a spare.
      console.error("starting a spare sandbox", err);
      return;
    }
    try {
      const now = Date.now();
      this.sql.exec(
        `INSERT OR REPLACE INTO spare_sandbox VALUES (1, ?, ?, ?, ?, ?)`,
        sandbox.sandboxId,
        template,
        now,
        now,
        now + ttl,
      );
    } catch (err) {
      // The object's storage was erased meanwhile (the user deleted): nothing may track it, so it goes.
      console.error("recording a spare sandbox", err);
      await killSandbox(env, sandbox.sandboxId).catch(() => false);
      return;
    }
    await this.parts.changed();
  }

  private row(): SpareRow | undefined {
    return this.sql.exec<SpareRow>(`SELECT * FROM spare_sandbox`).toArray()[0];
  }
}
