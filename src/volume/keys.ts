// Where a user's volume lives in R2: the key layout `volumes/<userId>/<name>`, walking and deleting it.

export function volumePrefix(userId: string): string {
  return `volumes/${userId}/`;
}

export function volumeKey(userId: string, name: string): string {
  return volumePrefix(userId) + name;
}

/** Every object under the user's prefix, page by page (R2 lists at most 1000 at a time). */
export async function* listVolume(bucket: R2Bucket, userId: string, prefix = ""): AsyncGenerator<R2Object> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: volumePrefix(userId) + prefix, cursor, include: ["httpMetadata"] });
    yield* page.objects;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Deletes every object under the user's prefix (R2 deletes up to 1000 keys a call); counts what went. */
export function deleteVolume(bucket: R2Bucket, userId: string): Promise<{ files: number; bytes: number }> {
  return deletePrefix(bucket, volumePrefix(userId));
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
