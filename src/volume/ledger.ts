// The volume ledger, kept in the user's Durable Object: which files the volume holds and their sizes,
// and the bytes promised to uploads in flight, so that concurrent writers never overrun the quota.
import { ApiError } from "../errors.ts";
import { ARTIFACT_LEDGER_PREFIX, artifactsPrefix, listPrefix, listVolume, volumeKey, volumePrefix } from "./keys.ts";
import type { LedgerPort } from "./store.ts";

/** A reservation outlives its upload by this much at most; then its bytes are given back. */
export const RESERVATION_TTL_MS = 2 * 60 * 60_000;
/** A refusal first re-reads R2 when the last reconciliation is older than this, so drift never locks a user out. */
const RECONCILE_ON_REFUSAL_AFTER_MS = 60_000;

export interface Reservation {
  id: string;
  name: string;
  size: number;
  /** The name held a file already: only the difference counts. */
  existed: boolean;
}

export interface Commit {
  id: string;
  name: string;
  size: number;
  /**
   * The object was written over the name's previous file, which is therefore gone whatever the
   * outcome: a refused commit forgets the name too (the caller deletes the object). Not set by an
   * import, which keeps a backup and puts the previous file back.
   */
  inPlace?: boolean;
}

/** A volume's usage, as `GET /api/v1/volume` and the stats show it. */
export interface VolumeInfo {
  usedBytes: number;
  quotaBytes: number;
  usagePercent: number;
  fileCount: number;
  /** Bytes held by uploads in progress: they count against the quota until they settle. */
  reservedBytes: number;
}

type ReservationRow = { id: string; name: string; size: number; credit: number; expires_at: number };

/**
 * One per Durable Object. A reservation holds `size - credit` bytes, where `credit` is the size of
 * the file it replaces; at most one upload per name is in flight, which is what keeps the credit
 * honest (a delete meanwhile turns the credit to 0, so the bytes stay held). Reservations made
 * together (an import) form a batch that commits at once, so they are held as one net amount.
 * Invariant: used + Σ per batch max(0, Σ (size − credit)) ≤ quota, checked synchronously on every reserve.
 */
export class VolumeLedger {
  private readonly sql: SqlStorage;
  private readonly bucket: R2Bucket;
  /** The owner of the volume (and of the Durable Object the ledger lives in). */
  private readonly userId: string;
  private readonly quotaBytes: () => number;
  /** Names changed while a reconciliation or a pruning works from an R2 listing: the listing is older than they are. */
  private readonly touchedSinceListing = new Set<Set<string>>();
  /** Retention deletes in flight: a reservation for one of their names waits, so its upload lands after the delete. */
  private readonly deleting = new Set<{ names: Set<string>; done: Promise<void> }>();
  private reconciling: Promise<void> | undefined;

  constructor(sql: SqlStorage, bucket: R2Bucket, userId: string, quotaBytes: () => number) {
    this.sql = sql;
    this.bucket = bucket;
    this.userId = userId;
    this.quotaBytes = quotaBytes;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS volume_files (name TEXT PRIMARY KEY, size INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS volume_reservations (
        id TEXT PRIMARY KEY, batch TEXT NOT NULL, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
        credit INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS volume_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1), user_id TEXT NOT NULL, reconciled_at INTEGER NOT NULL);
    `);
  }

  /** First use of this volume in this object: count what R2 already holds. */
  async ready(): Promise<void> {
    const meta = this.meta();
    if (meta && meta.user_id === this.userId) return;
    await this.reconcile();
  }

  info(): VolumeInfo {
    this.expire(Date.now());
    const files = this.sql
      // Kept artifacts count in the bytes but are not files of the volume.
      .exec<{ used: number | null; n: number | null }>(
        `SELECT SUM(size) AS used, SUM(name NOT LIKE '${ARTIFACT_LEDGER_PREFIX}%') AS n FROM volume_files`,
      )
      .one();
    const usedBytes = files.used ?? 0;
    const quotaBytes = this.quotaBytes();
    const usagePercent = quotaBytes ? Math.round((usedBytes / quotaBytes) * 1000) / 10 : 0;
    return { usedBytes, quotaBytes, usagePercent, fileCount: files.n ?? 0, reservedBytes: this.reservedBytes() };
  }

  /** The ledger as a writer inside the Durable Object uses it (volume/store.ts); the Worker's is over RPC. */
  port(): LedgerPort {
    return {
      reserve: (entries) => this.reserve(entries),
      commit: async (commits) => this.commit(commits),
      release: async (ids) => this.release(ids),
    };
  }

  /**
   * Holds room for these uploads (all or none): 409 when a name already has an upload in flight,
   * 507 when they would not fit. A refusal first reconciles from R2 if that was not done lately.
   */
  async reserve(entries: { name: string; size: number }[]): Promise<Reservation[]> {
    await this.ready();
    const refusal = this.refusal(entries);
    if (
      refusal?.code === "quota_exceeded" &&
      Date.now() - (this.meta()?.reconciled_at ?? 0) > RECONCILE_ON_REFUSAL_AFTER_MS
    ) {
      await this.reconcile();
    }
    // A retention delete of one of these names finishes first, or it could land after this upload.
    for (;;) {
      const deletion = [...this.deleting].find((d) => entries.some((e) => d.names.has(e.name)));
      if (!deletion) break;
      await deletion.done.catch(() => {});
    }
    // Checked again after any await (nothing awaits from here on): other reservations may have landed meanwhile.
    const final = this.refusal(entries);
    if (final) throw final;
    const expiresAt = Date.now() + RESERVATION_TTL_MS;
    const batch = crypto.randomUUID();
    return entries.map(({ name, size }) => {
      const id = crypto.randomUUID();
      const current = this.fileSize(name);
      this.sql.exec(
        `INSERT INTO volume_reservations VALUES (?, ?, ?, ?, ?, ?)`,
        id,
        batch,
        name,
        size,
        current ?? 0,
        expiresAt,
      );
      return { id, name, size, existed: current !== undefined };
    });
  }

  /**
   * Records stored objects at their real size and gives back their reservations. A commit whose
   * reservation expired is checked against the quota again; false means it does not fit and the
   * caller must delete what it stored (and put back what it replaced, unless it wrote `inPlace`:
   * then the previous file is gone and is forgotten here, so usage matches R2 once the caller deletes).
   */
  commit(commits: Commit[]): boolean {
    this.expire(Date.now());
    const held = commits.map((c) => this.reservation(c.id));
    if (held.some((r) => !r)) {
      const late = commits.filter((_, i) => !held[i]);
      const growth = late.reduce((sum, c) => sum + c.size - (this.fileSize(c.name) ?? 0), 0);
      if (this.usedBytes() + this.reservedBytes() + growth > this.quotaBytes()) {
        this.release(commits.map((c) => c.id));
        this.forget(commits.filter((c) => c.inPlace).map((c) => c.name));
        return false;
      }
    }
    for (const c of commits) {
      this.sql.exec(`DELETE FROM volume_reservations WHERE id = ?`, c.id);
      this.sql.exec(`INSERT OR REPLACE INTO volume_files VALUES (?, ?)`, c.name, c.size);
      this.touch(c.name);
    }
    return true;
  }

  /** Gives back reservations whose uploads failed or were aborted. */
  release(ids: string[]): void {
    for (const id of ids) this.sql.exec(`DELETE FROM volume_reservations WHERE id = ?`, id);
  }

  /** Files deleted from R2. An upload in flight to one of these names loses its credit (see class). */
  forget(names: string[]): void {
    for (const name of names) {
      this.sql.exec(`DELETE FROM volume_files WHERE name = ?`, name);
      this.sql.exec(`UPDATE volume_reservations SET credit = 0 WHERE name = ?`, name);
      this.touch(name);
    }
  }

  /** Rebuilds the file table from the R2 listing, leaving alone the names being written meanwhile. */
  reconcile(): Promise<void> {
    this.reconciling ??= this.listAndReplace().finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  /**
   * Deletes files not modified since `cutoff` (retention). The listing ages while it is used: a name
   * written since (committed) or being written (reserved) is skipped, and an upload that starts while
   * a delete is in flight waits for it, so retention never deletes a newer version than it listed.
   */
  async prune(cutoff: number): Promise<number> {
    const userId = this.userId;
    await this.ready();
    const touched = new Set<string>();
    this.touchedSinceListing.add(touched);
    try {
      const stale: string[] = [];
      for await (const object of listVolume(this.bucket, userId)) {
        if (object.uploaded.getTime() < cutoff) stale.push(object.key.slice(volumePrefix(userId).length));
      }
      let deleted = 0;
      for (let i = 0; i < stale.length; i += 1000) {
        // Synchronous from this check to the delete's registration: no reservation can slip in between.
        const batch = stale.slice(i, i + 1000).filter((name) => !touched.has(name) && !this.pending(name));
        if (!batch.length) continue;
        const deletion = {
          names: new Set(batch),
          done: this.bucket.delete(batch.map((name) => volumeKey(userId, name))).then(() => this.forget(batch)),
        };
        this.deleting.add(deletion);
        try {
          await deletion.done;
        } finally {
          this.deleting.delete(deletion);
        }
        deleted += batch.length;
      }
      return deleted;
    } finally {
      this.touchedSinceListing.delete(touched);
    }
  }

  private async listAndReplace(): Promise<void> {
    const userId = this.userId;
    const touched = new Set<string>();
    this.touchedSinceListing.add(touched);
    try {
      const listed = new Map<string, number>();
      const prefix = volumePrefix(userId);
      for await (const object of listVolume(this.bucket, userId))
        listed.set(object.key.slice(prefix.length), object.size);
      // Kept artifacts share the quota, under ledger names no volume file can have (volume/keys.ts).
      const kept = artifactsPrefix(userId);
      for await (const object of listPrefix(this.bucket, kept))
        listed.set(ARTIFACT_LEDGER_PREFIX + object.key.slice(kept.length), object.size);
      const settled = (name: string) => !touched.has(name) && !this.pending(name);
      for (const { name } of this.sql.exec<{ name: string }>(`SELECT name FROM volume_files`).toArray()) {
        if (!listed.has(name) && settled(name)) this.sql.exec(`DELETE FROM volume_files WHERE name = ?`, name);
      }
      for (const [name, size] of listed) {
        if (settled(name)) this.sql.exec(`INSERT OR REPLACE INTO volume_files VALUES (?, ?)`, name, size);
      }
      this.sql.exec(`INSERT OR REPLACE INTO volume_meta VALUES (1, ?, ?)`, userId, Date.now());
    } finally {
      this.touchedSinceListing.delete(touched);
    }
  }

  private refusal(entries: { name: string; size: number }[]): ApiError | undefined {
    this.expire(Date.now());
    for (const { name } of entries) {
      if (this.pending(name))
        return new ApiError("conflict", `name: another upload to '${name}' is in progress; retry when it finishes.`);
    }
    const quota = this.quotaBytes();
    // One batch commits at once, so a file it shrinks makes room for one it grows.
    const growth = Math.max(
      0,
      entries.reduce((sum, e) => sum + e.size - (this.fileSize(e.name) ?? 0), 0),
    );
    const used = this.usedBytes();
    const reserved = this.reservedBytes();
    if (used + reserved + growth <= quota) return undefined;
    const inFlight = reserved ? ` and ${reserved} bytes held by uploads in progress` : "";
    return new ApiError(
      "quota_exceeded",
      `Volume quota exceeded: ${growth} more bytes do not fit (${used} of ${quota} bytes used${inFlight}). Nothing was stored.`,
    );
  }

  private touch(name: string): void {
    for (const set of this.touchedSinceListing) set.add(name);
  }

  private expire(now: number): void {
    this.sql.exec(`DELETE FROM volume_reservations WHERE expires_at <= ?`, now);
  }

  private pending(name: string): boolean {
    return this.sql.exec(`SELECT 1 FROM volume_reservations WHERE name = ?`, name).toArray().length > 0;
  }

  private reservation(id: string): ReservationRow | undefined {
    return this.sql.exec<ReservationRow>(`SELECT * FROM volume_reservations WHERE id = ?`, id).toArray()[0];
  }

  private fileSize(name: string): number | undefined {
    return this.sql.exec<{ size: number }>(`SELECT size FROM volume_files WHERE name = ?`, name).toArray()[0]?.size;
  }

  private usedBytes(): number {
    return this.sql.exec<{ used: number | null }>(`SELECT SUM(size) AS used FROM volume_files`).one().used ?? 0;
  }

  private reservedBytes(): number {
    return (
      this.sql
        .exec<{ held: number | null }>(
          `SELECT SUM(held) AS held FROM (SELECT MAX(0, SUM(size - credit)) AS held FROM volume_reservations GROUP BY batch)`,
        )
        .one().held ?? 0
    );
  }

  private meta(): { user_id: string; reconciled_at: number } | undefined {
    return this.sql
      .exec<{ user_id: string; reconciled_at: number }>(`SELECT * FROM volume_meta WHERE id = 1`)
      .toArray()[0];
  }
}
