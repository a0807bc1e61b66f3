// A user's API keys as their Durable Object knows them: a key that names its user is checked here, in
// the object every request of that user reaches anyway, instead of in D1 on each request. D1 stays the
// record (the owner's lists and audit); a key this object has not met yet is looked up there once.
import { and, eq } from "drizzle-orm";
import { getDb } from "../db/index.ts";
import { apiKeys, users } from "../db/schema.ts";
import type { AuthedUser } from "../types.ts";

export class KeyBook {
  private readonly sql: SqlStorage;
  private readonly env: Env;
  private readonly userId: string;

  constructor(sql: SqlStorage, env: Env, userId: string) {
    this.sql = sql;
    this.env = env;
    this.userId = userId;
    this.ensureTable();
  }

  /** (Again after the object's storage was erased.) */
  ensureTable(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS auth_keys (
      key_hash TEXT PRIMARY KEY, key_id TEXT NOT NULL, name TEXT NOT NULL, revoked INTEGER NOT NULL)`);
  }

  /** The caller a key (by its SHA-256) stands for, or null when it is unknown or revoked. */
  async check(keyHash: string): Promise<AuthedUser | null> {
    const known = this.read(keyHash);
    if (known !== undefined) return known;
    const row = await getDb(this.env)
      .select({ keyId: apiKeys.id, name: users.name, revokedAt: apiKeys.revokedAt })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(and(eq(apiKeys.keyHash, keyHash), eq(apiKeys.userId, this.userId)))
      .get();
    // Unknown keys are not remembered: a guess costs a D1 read, not a row here.
    if (!row) return null;
    // OR IGNORE: a revocation that arrived while D1 answered has written its row first, and wins.
    this.sql.exec(
      "INSERT OR IGNORE INTO auth_keys (key_hash, key_id, name, revoked) VALUES (?, ?, ?, ?)",
      keyHash,
      row.keyId,
      row.name,
      row.revokedAt === null ? 0 : 1,
    );
    return this.read(keyHash) ?? null;
  }

  /** Refuses the key from now on; the owner route calls this before it marks the key revoked in D1. */
  revoke(keyHash: string, keyId: string): void {
    this.sql.exec(
      `INSERT INTO auth_keys (key_hash, key_id, name, revoked) VALUES (?, ?, '', 1)
       ON CONFLICT (key_hash) DO UPDATE SET revoked = 1`,
      keyHash,
      keyId,
    );
  }

  private read(keyHash: string): AuthedUser | null | undefined {
    const row = this.sql
      .exec<{ key_id: string; name: string; revoked: number }>(
        "SELECT key_id, name, revoked FROM auth_keys WHERE key_hash = ?",
        keyHash,
      )
      .toArray()[0];
    if (!row) return undefined;
    return row.revoked ? null : { id: this.userId, name: row.name, keyId: row.key_id };
  }
}
