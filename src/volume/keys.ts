// Where a user's volume lives in R2: the key layout `volumes/<userId>/<name>`, and walking it.

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
