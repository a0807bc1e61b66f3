// Where a user's volume lives in R2, and the shape its usage is reported in.

export function volumePrefix(userId: string): string {
  return `volumes/${userId}/`;
}

export function volumeKey(userId: string, name: string): string {
  return volumePrefix(userId) + name;
}

export interface VolumeInfo {
  usedBytes: number;
  quotaBytes: number;
  usagePercent: number;
  fileCount: number;
  /** Bytes held by uploads in progress: they count against the quota until they settle. */
  reservedBytes: number;
}

export function volumeInfo(
  usedBytes: number,
  fileCount: number,
  reservedBytes: number,
  quotaBytes: number,
): VolumeInfo {
  const usagePercent = quotaBytes ? Math.round((usedBytes / quotaBytes) * 1000) / 10 : 0;
  return { usedBytes, quotaBytes, usagePercent, fileCount, reservedBytes };
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
