// A user's volume at a glance, summed from the R2 listing of `volumes/<userId>/`.
import { limits } from "../config.ts";

export function volumePrefix(userId: string): string {
  return `volumes/${userId}/`;
}

export interface VolumeInfo {
  usedBytes: number;
  quotaBytes: number;
  usagePercent: number;
  fileCount: number;
}

export async function volumeInfo(env: Env, userId: string): Promise<VolumeInfo> {
  let usedBytes = 0;
  let fileCount = 0;
  let cursor: string | undefined;
  do {
    const page = await env.VOLUMES.list({ prefix: volumePrefix(userId), cursor });
    for (const object of page.objects) {
      usedBytes += object.size;
      fileCount++;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  const quotaBytes = limits(env).volumeQuotaBytes;
  return { usedBytes, quotaBytes, usagePercent: quotaBytes ? Math.round((usedBytes / quotaBytes) * 1000) / 10 : 0, fileCount };
}
