// A run's artifact manifest: which files under the sandbox's working directory it created, modified or
// deleted. A listing of paths, sizes and mtimes is taken just before the code (in the same command for
// plain runs) and compared with a fresh one when it ends, inside the sandbox, so only the changes travel.
import type { Sandbox } from "../sandbox/e2b.ts";
import type { Artifact } from "./types.ts";
import { SANDBOX_HOME } from "../sandbox/files.ts";

export type { Artifact };

/** Entries a result lists at most; beyond, `artifactsTruncated: true`. */
export const MAX_ARTIFACTS = 100;

/** Directories never looked into: caches and installed packages, which no one means as a run's output. */
export const IGNORED_DIRS = [
  "__pycache__",
  "node_modules",
  ".cache",
  ".npm",
  ".local",
  ".ipython",
  ".config",
  ".jupyter",
  ".git",
  ".venv",
  "venv",
  "site-packages",
  ".pytest_cache",
  ".mypy_cache",
] as const;

export interface Manifest {
  artifacts: Artifact[];
  truncated: boolean;
}

/** Where the listing taken before a run waits for its comparison (the sandbox's own /tmp). */
function snapshotPath(executionId: string): string {
  return `/tmp/.phoenix-artifacts-${executionId.replace(/[^0-9A-Za-z_]/g, "")}`;
}

/** GNU find over the working directory: `size<TAB>mtime<TAB>path` per regular file, caches pruned. */
function listing(): string {
  const pruned = IGNORED_DIRS.map((name) => `-name '${name}'`).join(" -o ");
  return `find ${SANDBOX_HOME} -xdev -type d \\( ${pruned} \\) -prune -o -type f -printf '%s\\t%T@\\t%P\\n' 2>/dev/null`;
}

/**
 * Shell that records the listing before a run; its failure never stops the code (`;` after it).
 * A plain run puts it in front of its own command, so it costs no round trip.
 */
export function snapshotCommand(executionId: string): string {
  return `${listing()} > ${snapshotPath(executionId)}`;
}

/** Compares with the listing taken before; prints `change<TAB>size<TAB>path`, at most MAX_ARTIFACTS + 1 lines. */
const COMPARE = [
  `{ p = $0; sub(/^[^\\t]*\\t[^\\t]*\\t/, "", p) }`,
  `FILENAME == before { b[p] = $1 "\\t" $2; next }`,
  `{ seen[p] = 1; if (!(p in b)) print "created\\t" $1 "\\t" p; else if (b[p] != $1 "\\t" $2) print "modified\\t" $1 "\\t" p }`,
  `END { for (p in b) if (!(p in seen)) print "deleted\\t0\\t" p }`,
].join(" ");

export function compareCommand(executionId: string): string {
  const before = snapshotPath(executionId);
  return `[ -f ${before} ] || exit 3; ${listing()} | awk -F '\\t' -v before=${before} '${COMPARE}' ${before} - | head -n ${MAX_ARTIFACTS + 1}; rm -f ${before}`;
}

/** The compare command's output as a manifest, sorted by path; unparsable lines (a newline in a name) are skipped. */
export function parseManifest(output: string): Manifest {
  const artifacts: Artifact[] = [];
  let lines = 0;
  for (const line of output.split("\n")) {
    if (!line) continue;
    lines++;
    const first = line.indexOf("\t");
    const second = line.indexOf("\t", first + 1);
    if (first < 0 || second < 0) continue;
    const change = line.slice(0, first);
    const size = Number(line.slice(first + 1, second));
    const path = line.slice(second + 1);
    if ((change !== "created" && change !== "modified" && change !== "deleted") || !Number.isFinite(size) || !path)
      continue;
    if (artifacts.length < MAX_ARTIFACTS) artifacts.push({ path, size, change });
  }
  artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { artifacts, truncated: lines > MAX_ARTIFACTS };
}

/** Takes the listing before a run in its own command (stateful runs, whose code is not a shell command). */
export async function takeSnapshot(sandbox: Sandbox, executionId: string): Promise<boolean> {
  try {
    await sandbox.commands.run(snapshotCommand(executionId), { timeoutMs: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** The run's manifest, or null when it cannot be known (no listing before, the sandbox gone). */
export async function readManifest(sandbox: Sandbox, executionId: string): Promise<Manifest | null> {
  try {
    const result = await sandbox.commands.run(compareCommand(executionId), { timeoutMs: 30_000 });
    return parseManifest(result.stdout);
  } catch {
    return null;
  }
}
