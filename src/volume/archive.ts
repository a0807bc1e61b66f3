// Volume export (a tar streamed from R2) and import (a tar staged in R2, checked, then stored all or none).
import { ApiError } from "../errors.ts";
import { checkName } from "./names.ts";
import type { LedgerPort } from "./store.ts";
import { putExactly } from "./store.ts";
import { readTar, TAR_END, TarError, tarHeader, tarPadding } from "./tar.ts";
import { listVolume, volumeKey, volumePrefix } from "./keys.ts";

/** Where imports wait until they are checked; outside `volumes/`, so neither listed nor counted. */
export const STAGING_PREFIX = "staging/";

/** Every file of the volume as one tar, streamed object by object with backpressure. */
export function exportVolume(bucket: R2Bucket, userId: string): ReadableStream<Uint8Array> {
  const parts = exportParts(bucket, userId);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await parts.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await parts.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

async function* exportParts(bucket: R2Bucket, userId: string): AsyncGenerator<Uint8Array> {
  const prefix = volumePrefix(userId);
  for await (const listed of listVolume(bucket, userId)) {
    const object = await bucket.get(listed.key);
    if (!object) continue; // deleted since the listing
    yield tarHeader({ name: object.key.slice(prefix.length), size: object.size, mtime: object.uploaded });
    const reader = object.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
    yield tarPadding(object.size);
  }
  yield TAR_END;
}

export interface ImportResult {
  files: { name: string; size: number }[];
  totalBytes: number;
}

interface Staged {
  name: string;
  size: number;
  key: string;
}

/**
 * Reads the whole tar into staging first, checking every name and that the sum can never exceed the
 * quota; then reserves the exact room, and only then moves the files into the volume. Any failure
 * before the move stores nothing; a failure during the move puts back what it had replaced.
 */
export async function importVolume(
  bucket: R2Bucket,
  ledger: LedgerPort,
  userId: string,
  body: ReadableStream<Uint8Array>,
  quotaBytes: number,
): Promise<ImportResult> {
  const stagingDir = `${STAGING_PREFIX}${userId}/${crypto.randomUUID()}/`;
  const stagedKeys: string[] = [];
  try {
    // Later entries of the same name win, as when a tar is extracted.
    const staged = new Map<string, Staged>();
    let stagedBytes = 0;
    try {
      for await (const entry of readTar(body)) {
        if (entry.type === "directory") continue;
        const raw = entry.name.replace(/^(\.\/)+/, "");
        if (entry.type !== "file") {
          throw new ApiError(
            "invalid_request",
            `body: tar entry '${raw.slice(0, 200)}' is not a regular file (type '${entry.type}'); only files can be imported`,
          );
        }
        const name = checkName(raw, `tar entry '${raw.slice(0, 200)}'`);
        stagedBytes += entry.size - (staged.get(name)?.size ?? 0);
        if (stagedBytes > quotaBytes) {
          throw new ApiError(
            "quota_exceeded",
            `Volume quota exceeded: the archive holds more than the whole quota (${quotaBytes} bytes). Nothing was stored.`,
          );
        }
        const key = `${stagingDir}${stagedKeys.length}`;
        stagedKeys.push(key);
        // A TarError from the entry's body reaches here as the cause of putExactly's 400; R2 failing
        // is 503, not the archive's fault.
        await putExactly(bucket, key, entry.body, entry.size, undefined, `the archive entry '${name.slice(0, 200)}'`);
        staged.set(name, { name, size: entry.size, key });
      }
    } catch (err) {
      throw tarProblem(err) ?? err;
    }

    const entries = [...staged.values()];
    if (!entries.length) return { files: [], totalBytes: 0 };
    const reservations = await ledger.reserve(entries.map(({ name, size }) => ({ name, size })));
    let putBack: () => Promise<void>;
    try {
      putBack = await moveIn(
        bucket,
        userId,
        entries,
        reservations.map((r) => r.existed),
        stagingDir,
        stagedKeys,
      );
    } catch (err) {
      await ledger.release(reservations.map((r) => r.id)).catch(() => {});
      throw err;
    }
    if (!(await ledger.commit(entries.map((e, i) => ({ id: reservations[i]!.id, name: e.name, size: e.size }))))) {
      // The reservation lapsed and the volume filled meanwhile: the ledger still counts what was there, so restore it.
      await putBack();
      throw new ApiError(
        "quota_exceeded",
        "Volume quota exceeded: the import took so long that its reservation lapsed, and the volume filled up meanwhile; nothing was stored and the volume was put back as it was.",
      );
    }
    return { files: entries.map(({ name, size }) => ({ name, size })), totalBytes: stagedBytes };
  } finally {
    for (let i = 0; i < stagedKeys.length; i += 1000)
      await bucket.delete(stagedKeys.slice(i, i + 1000)).catch(() => {});
  }
}

/** The archive's fault as the client's 400, wherever the reader's TarError surfaced (directly, or as a cause). */
function tarProblem(err: unknown): ApiError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof TarError) return new ApiError("invalid_request", `body: not a valid tar archive (${e.message})`);
  }
  return undefined;
}

/**
 * Copies staged files into place; what it replaced is kept aside first so a failure can put it back.
 * Returns that putting back, for when the ledger refuses the commit afterwards (the backups live in
 * staging until the import ends).
 */
async function moveIn(
  bucket: R2Bucket,
  userId: string,
  entries: Staged[],
  existed: boolean[],
  stagingDir: string,
  stagedKeys: string[],
): Promise<() => Promise<void>> {
  const backups = new Map<string, string>();
  const moved: Staged[] = [];
  const putBack = async () => {
    for (const entry of moved) {
      const backup = backups.get(entry.name);
      if (backup) await copy(bucket, backup, volumeKey(userId, entry.name)).catch(() => {});
      else await bucket.delete(volumeKey(userId, entry.name)).catch(() => {});
    }
  };
  try {
    for (const [i, entry] of entries.entries()) {
      if (!existed[i]) continue;
      const backup = `${stagingDir}backup/${i}`;
      stagedKeys.push(backup);
      if (await copy(bucket, volumeKey(userId, entry.name), backup)) backups.set(entry.name, backup);
    }
    for (const entry of entries) {
      if (!(await copy(bucket, entry.key, volumeKey(userId, entry.name))))
        throw new Error(`staged ${entry.key} vanished`);
      moved.push(entry);
    }
  } catch (err) {
    await putBack();
    throw new ApiError(
      "internal_error",
      "The import failed while storing the files; the volume was put back as it was.",
      { cause: err },
    );
  }
  return putBack;
}

async function copy(bucket: R2Bucket, from: string, to: string): Promise<boolean> {
  const object = await bucket.get(from);
  if (!object) return false;
  await bucket.put(to, object.body, { httpMetadata: object.httpMetadata });
  return true;
}
