// Copies between a conversation's sandbox and the volume, run inside the user's Durable Object:
// persisting reserves quota exactly as an upload does; restoring streams the R2 object into the sandbox.
import { typeFromName } from "./content-type.ts";
import { ApiError } from "../errors.ts";
import type { Sandbox } from "../sandbox/e2b.ts";
import { readFile, writeFile } from "../sandbox/files.ts";
import { storeFile, type LedgerPort, type StoredFile } from "./store.ts";

export interface PersistedFile extends StoredFile {
  path: string;
}

/** Sandbox file → volume: the same reserve / stream / settle path as `PUT /api/v1/volume/files/<name>`. */
export async function persistFromSandbox(
  sandbox: Sandbox,
  bucket: R2Bucket,
  ledger: LedgerPort,
  userId: string,
  path: string,
  name: string,
): Promise<PersistedFile> {
  // Reading first turns a missing file, a directory or a forbidden path into the API's errors.
  const body = await readFile(sandbox, path);
  let size: number;
  try {
    const info = await sandbox.files.getInfo(path);
    if (info.type === "dir")
      throw new ApiError("invalid_request", `path: '${path}' is a directory; persist files one at a time`);
    size = info.size;
  } catch (err) {
    await body.cancel().catch(() => {});
    throw err;
  }
  const stored = await storeFile(bucket, ledger, userId, name, size, body, {
    httpMetadata: { contentType: typeFromName(name) },
  });
  return { ...stored, path };
}

/** Volume file → sandbox path (parents created; a cut-short copy never replaces a good file). */
export async function restoreToSandbox(
  sandbox: Sandbox,
  object: R2ObjectBody,
  name: string,
  path: string,
): Promise<{ name: string; path: string; size: number }> {
  const written = await writeFile(sandbox, path, object.body, object.size);
  return { name, path: written.path, size: written.size };
}
