// Where a user's volume lives in R2: the key layout `volumes/<userId>/<name>`, walking and deleting it. Kept
// artifacts live beside it, `artifacts/<userId>/<executionId>/<path>`, and count in the same quota.

export function volumePrefix(userId: string): string {
  return `volumes/${userId}/`;
}

export function volumeKey(userId: string, name: string): string {
  return volumePrefix(userId) + name;
}

export function artifactsPrefix(userId: string): string {
  return `artifacts/${userId}/`;
}

export function artifactKey(userId: string, executionId: string, path: string): string {
  return `${artifactsPrefix(userId)}${executionId}/${path}`;
}

/**
 * The ledger names kept artifacts under: they start with "/", which no volume name can (volume/names.ts),
 * so the two never collide, and one ledger keeps the quota for both.
 */
export const ARTIFACT_LEDGER_PREFIX = "/artifacts/";

export function artifactLedgerName(executionId: string, path: string): string {
  return `${ARTIFACT_LEDGER_PREFIX}${executionId}/${path}`;
}

/** The R2 key of a ledger name: a volume file's, or a kept artifact's. */
export function ledgerKey(userId: string, name: string): string {
  return name.startsWith(ARTIFACT_LEDGER_PREFIX)
    ? artifactsPrefix(userId) + name.slice(ARTIFACT_LEDGER_PREFIX.length)
    : volumeKey(userId, name);
}

/** Every object under the user's prefix, page by page (R2 lists at most 1000 at a time). */
export function listVolume(bucket: R2Bucket, userId: string, prefix = ""): AsyncGenerator<R2Object> {
  return listPrefix(bucket, volumePrefix(userId) + prefix);
}

/** Every object whose key starts with `prefix`, page by page. */
export async function* listPrefix(bucket: R2Bucket, prefix: string): AsyncGenerator<R2Object> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, include: ["httpMetadata"] });
    yield* page.objects;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Deletes the user's volume and kept artifacts (both count in the quota); counts what went. */
export async function deleteVolume(bucket: R2Bucket, userId: string): Promise<{ files: number; bytes: number }> {
  const volume = await deletePrefix(bucket, volumePrefix(userId));
  const artifacts = await deletePrefix(bucket, artifactsPrefix(userId));
  return { files: volume.files + artifacts.files, bytes: volume.bytes + artifacts.bytes };
}

/** Deletes every object whose key starts with `prefix`, page by page; counts what went. */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key));
    files += page.objects.length;
    bytes += page.objects.reduce((sum, o) => sum + o.size, 0);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { files, bytes };
}
