// Sandbox metrics (`getMetrics`): every SAMPLE_MS each running sandbox gets a sample of what its
// processes use, read from its cgroups (CPU time, memory charged, page cache; cgroups.ts) and its
// disk (statfs of its disk). Kept for KEEP_MS; the API answers those within [start, end].
import { statfsSync } from "node:fs";
import type { Cgroups } from "./cgroups.ts";
import type { Limits } from "./sandbox.ts";
import { boxPaths } from "./view.ts";

export const SAMPLE_MS = 2_000;
const KEEP_MS = 60 * 60 * 1000;

export type MetricSample = {
  timestamp: string;
  timestampUnix: number;
  cpuCount: number;
  cpuUsedPct: number;
  memUsed: number;
  memTotal: number;
  memCache: number;
  diskUsed: number;
  diskTotal: number;
};

/** One sandbox's samples and the CPU counter of the last one (for the next one's percentage). */
export type Metrics = { samples: MetricSample[]; last: { at: number; cpuNs: number; box: string } | null };

export const newMetrics = (): Metrics => ({ samples: [], last: null });

/** Take one sample of box `boxId` (folder `boxDir`) now. */
export function sample(metrics: Metrics, cgroups: Cgroups, limits: Limits, boxId: string, boxDir: string): void {
  const now = Date.now();
  const use = cgroups.usage(boxId);
  const cpuCount = Math.max(1, Math.ceil(limits.cpus));
  let cpuUsedPct = 0;
  const last = metrics.last;
  // (a resumed sandbox is a new box: its counters start again)
  if (use.cpuNs !== null && last && last.box === boxId && now > last.at) {
    const used = Math.max(0, use.cpuNs - last.cpuNs);
    cpuUsedPct = Math.min(100, (used / ((now - last.at) * 1e6 * cpuCount)) * 100);
  }
  if (use.cpuNs !== null) metrics.last = { at: now, cpuNs: use.cpuNs, box: boxId };
  let diskUsed = 0;
  let diskTotal = limits.diskBytes;
  try {
    const fs = statfsSync(boxPaths(boxDir).disk);
    diskTotal = fs.blocks * fs.bsize;
    diskUsed = (fs.blocks - fs.bfree) * fs.bsize;
  } catch {
    /* the disk is gone: the sandbox is ending */
  }
  // Whole seconds, as E2B reports them: the SDK rounds a range's `start`/`end` to seconds, so a sample
  // stamped 12.6 s would fall outside `start: <that sample's own time>`.
  const second = Math.floor(now / 1000);
  // One sample a second at most (a late timer can fire twice within one): the newer one stands.
  if (metrics.samples.at(-1)?.timestampUnix === second) metrics.samples.pop();
  metrics.samples.push({
    timestamp: new Date(second * 1000).toISOString(),
    timestampUnix: second,
    cpuCount,
    cpuUsedPct: Math.round(cpuUsedPct * 100) / 100,
    memUsed: use.memBytes ?? 0,
    memTotal: limits.memoryBytes,
    memCache: use.cacheBytes ?? 0,
    diskUsed,
    diskTotal,
  });
  while (metrics.samples.length && metrics.samples[0]!.timestampUnix * 1000 < now - KEEP_MS) metrics.samples.shift();
}

/** The samples within [start, end] (Unix seconds, either may be absent). */
export function samplesBetween(metrics: Metrics, start?: number, end?: number): MetricSample[] {
  return metrics.samples.filter(
    (s) => (start === undefined || s.timestampUnix >= start) && (end === undefined || s.timestampUnix <= end),
  );
}
