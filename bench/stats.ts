// Small helpers the benchmarks share: percentiles, a printed table, and the server thread.
import { Worker } from "node:worker_threads";

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] ?? NaN;
}

export function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const headers = Object.keys(rows[0]!);
  const cells = rows.map((r) => headers.map((h) => String(r[h])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const c of cells) console.log(line(c));
}

export const ms = (n: number) => n.toFixed(1);

/**
 * The benchmark's server half in a worker thread (this same file, run again), so the measuring loop and
 * the server never share an event loop; `next(t)` waits for the worker's next message of type `t`.
 */
export function serverThread(file: string | URL): {
  worker: Worker;
  next: (t: string) => Promise<any>;
} {
  const worker = new Worker(new URL(file));
  const next = (t: string) =>
    new Promise<any>((resolve) => {
      const onMessage = (message: any) => {
        if (message.t === t) {
          worker.off("message", onMessage);
          resolve(message);
        }
      };
      worker.on("message", onMessage);
    });
  return { worker, next };
}
