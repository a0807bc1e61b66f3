// Shares in D1: made with a random token (only its SHA-256 is stored), listed and revoked by their
// owner, found by token for the public page while neither revoked nor expired.
import { and, desc, eq, gt, isNull, or } from "drizzle-orm";
import { hashApiKey, randomSecret } from "../auth/keys.ts";
import type { Db } from "../db/index.ts";
import { type ShareRow, shares } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import type { Language } from "../executions/types.ts";
import { newId } from "../ids.ts";
import type { ShareSnapshot } from "./snapshot.ts";

/** SHA-256 hex, as API keys are stored. */
export const hashShareToken = hashApiKey;

/** What the owner sees of a share (the token is shown once, when it is made). */
export interface ShareInfo {
  id: string;
  executionId: string;
  language: Language;
  createdAt: string;
  expiresAt: string;
  files: number;
}

function infoOf(row: ShareRow): ShareInfo {
  const snapshot = JSON.parse(row.snapshot) as ShareSnapshot;
  return {
    id: row.id,
    executionId: row.executionId,
    language: snapshot.language,
    createdAt: new Date(row.createdAt).toISOString(),
    expiresAt: new Date(row.expiresAt).toISOString(),
    files: snapshot.files.length,
  };
}

export async function createShare(
  db: Db,
  userId: string,
  executionId: string,
  snapshot: ShareSnapshot,
  expiresAt: number,
): Promise<{ token: string; info: ShareInfo }> {
  const token = randomSecret();
  const row: ShareRow = {
    id: newId("shr"),
    tokenHash: await hashShareToken(token),
    userId,
    executionId,
    snapshot: JSON.stringify(snapshot),
    createdAt: Date.now(),
    expiresAt,
    revokedAt: null,
  };
  await db.insert(shares).values(row);
  return { token, info: infoOf(row) };
}

/** The caller's live shares (not revoked, not expired), newest first. */
export async function listShares(db: Db, userId: string, limit: number): Promise<ShareInfo[]> {
  const rows = await db
    .select()
    .from(shares)
    .where(and(eq(shares.userId, userId), isNull(shares.revokedAt), gt(shares.expiresAt, Date.now())))
    .orderBy(desc(shares.createdAt), desc(shares.id))
    .limit(limit);
  return rows.map(infoOf);
}

/** Revokes one of the caller's shares, named by its token or its id; anyone else's is a 404. */
export async function revokeShare(db: Db, userId: string, tokenOrId: string): Promise<void> {
  const hash = await hashShareToken(tokenOrId);
  const revoked = await db
    .update(shares)
    .set({ revokedAt: Date.now() })
    .where(
      and(
        eq(shares.userId, userId),
        isNull(shares.revokedAt),
        or(eq(shares.tokenHash, hash), eq(shares.id, tokenOrId)),
      ),
    )
    .returning({ id: shares.id });
  if (revoked.length === 0) throw new ApiError("not_found", "No share with this token or id.");
}

/** The live share a token opens, or null: revoked, expired and unknown tokens look the same. */
export async function findShare(db: Db, token: string): Promise<ShareRow | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const row = await db
    .select()
    .from(shares)
    .where(and(eq(shares.tokenHash, await hashShareToken(token)), isNull(shares.revokedAt)))
    .get();
  if (!row || row.expiresAt <= Date.now()) return null;
  return row;
}
