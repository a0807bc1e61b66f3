// What a share shows, frozen when it is made: the run's language, code, output, rich results, status,
// timing and the artifacts kept with it. Built field by field from the history row, so nothing private
// (the user, the conversation, the sandbox, envs, keys) can ride along.
import type { Artifact } from "../artifacts/types.ts";
import type { ExecutionRow } from "../db/schema.ts";
import type { ExecutionStatus, InterpreterResult, Language } from "../executions/types.ts";
import { loadResults } from "../interpreter/stored-results.ts";

/** A share keeps its run's rich results up to this many bytes of data (it is one D1 row). */
const SNAPSHOT_RESULTS_BYTES = 1024 * 1024;

export interface SharedFile {
  path: string;
  size: number;
}

export interface ShareSnapshot {
  language: Language;
  code: string;
  status: ExecutionStatus;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  createdAt: string;
  /** A stateful run's exception (`Name: value`); other failures' messages are Phoenix's own and stay private. */
  error: string | null;
  /** Rich results of a stateful run (charts as base64 images, HTML, …): its artifacts for sharing. */
  results: InterpreterResult[];
  /** The files the run changed (names and sizes only). */
  changes: Artifact[];
  /** Artifacts kept in R2 with the share: downloadable from the share's page. */
  files: SharedFile[];
}

export async function snapshotOf(bucket: R2Bucket, row: ExecutionRow, files: SharedFile[]): Promise<ShareSnapshot> {
  const manifest = row.artifacts ? (JSON.parse(row.artifacts) as { artifacts: Artifact[] }) : undefined;
  return {
    language: row.language,
    code: row.code,
    status: row.status,
    exitCode: row.exitCode,
    stdout: row.stdout,
    stderr: row.stderr,
    truncated: row.truncated,
    durationMs: row.durationMs,
    createdAt: new Date(row.createdAt).toISOString(),
    error: row.status === "failed" && row.error ? row.error : null,
    results: row.results ? await loadResults(bucket, row.results, SNAPSHOT_RESULTS_BYTES) : [],
    changes: (manifest?.artifacts ?? []).map(({ path, size, change }) => ({ path, size, change })),
    files,
  };
}
