// Keeping a run's artifacts: copies the files it created or modified from its sandbox to R2
// (`artifacts/<userId>/<executionId>/<path>`) under the volume quota, all or nothing.
import { ApiError } from "../errors.ts";
import type { Sandbox } from "../sandbox/e2b.ts";
import { readFile, SANDBOX_HOME } from "../sandbox/files.ts";
import { artifactKey, artifactLedgerName } from "../volume/keys.ts";
import type { LedgerPort } from "../volume/store.ts";
import { putExactly } from "../volume/store.ts";
import type { Artifact } from "./types.ts";

export interface KeptArtifacts {
  /** Files copied. */
  artifacts: number;
  bytes: number;
}

/** The sandbox path of an artifact (its manifest path is relative to the working directory). */
export function artifactPath(path: string): string {
  return `${SANDBOX_HOME}/${path}`;
}

/**
 * Copies every artifact the run created or modified, as it is now in the sandbox (files gone since are
 * skipped). One reservation holds room for all of them first: 507 and nothing kept when they do not fit.
 */
export async function keepArtifacts(
  sandbox: Sandbox,
  bucket: R2Bucket,
  ledger: LedgerPort,
  userId: string,
  executionId: string,
  artifacts: Artifact[],
): Promise<KeptArtifacts> {
  const files: { path: string; size: number }[] = [];
  for (const artifact of artifacts) {
    if (artifact.change === "deleted") continue;
    const info = await sandbox.files.getInfo(artifactPath(artifact.path)).catch(() => null);
    if (info && info.type !== "dir") files.push({ path: artifact.path, size: info.size });
  }
  if (files.length === 0) return { artifacts: 0, bytes: 0 };
  const reservations = await ledger.reserve(
    files.map((f) => ({ name: artifactLedgerName(executionId, f.path), size: f.size })),
  );
  const written: string[] = [];
  try {
    const commits = [];
    for (const [i, file] of files.entries()) {
      const key = artifactKey(userId, executionId, file.path);
      const body = await readFile(sandbox, artifactPath(file.path));
      const object = await putExactly(bucket, key, body, file.size, undefined, `artifact '${file.path}'`);
      written.push(key);
      commits.push({ id: reservations[i]!.id, name: reservations[i]!.name, size: object.size, inPlace: true });
    }
    if (!(await ledger.commit(commits))) {
      throw new ApiError("quota_exceeded", "Volume quota exceeded while the artifacts were copied; nothing was kept.");
    }
  } catch (err) {
    if (written.length) await bucket.delete(written).catch(() => {});
    await ledger.release(reservations.map((r) => r.id)).catch(() => {});
    throw err;
  }
  return { artifacts: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) };
}

/** Where a run happened, as its history row says: the artifacts are there while that sandbox lives. */
export interface RunPlace {
  executionId: string;
  conversationId: string;
  sandboxId: string | null;
}

/** The run's sandbox if it is still the conversation's; otherwise its files are out of reach. */
export function checkRunSandbox(sandbox: Sandbox, run: RunPlace): Sandbox {
  if (run.sandboxId && sandbox.sandboxId === run.sandboxId) return sandbox;
  throw new ApiError(
    "not_found",
    `The sandbox of execution ${run.executionId} is gone (closed, expired or replaced), so its artifacts are no longer available unless they were kept.`,
  );
}

/** One artifact's bytes from the run's sandbox, with its size. */
export async function readArtifact(
  sandbox: Sandbox,
  path: string,
): Promise<{ body: ReadableStream<Uint8Array>; size: number }> {
  const body = await readFile(sandbox, artifactPath(path));
  const info = await sandbox.files.getInfo(artifactPath(path)).catch(() => null);
  return { body, size: info?.size ?? -1 };
}
