// npm run bench:e2b-local — warm-sandbox latency through the real e2b SDK vs the floor
// (the same `/bin/bash -l -c <cmd>` spawned directly by the in-sandbox agent, in the same
// isolation, with no server, HTTP or relaying), plus Sandbox.create p50.
import { Sandbox } from "e2b";
import { Worker, isMainThread, parentPort } from "node:worker_threads";
import { startE2bLocal } from "../e2b-local/server.ts";

// The server runs in its own thread (its own event loop, as in real use where the SDK client is
// another process), the SDK client in the main thread.
if (!isMainThread) {
  const srv = await startE2bLocal({ port: 0 });
  parentPort!.postMessage({ t: "ready", url: srv.url, apiKey: srv.apiKey, isolation: srv.isolation.kind });
  parentPort!.on("message", async (m: { t: string; id?: string; argv?: string[]; n?: number }) => {
    if (m.t === "floor") parentPort!.postMessage({ t: "floor", ms: await srv.benchFloor(m.id!, m.argv!, m.n!) });
    if (m.t === "close") {
      await srv.close();
      parentPort!.postMessage({ t: "closed" });
    }
  });
} else {
  await main();
}

async function main() {

const N = Number(process.env.BENCH_N ?? 60);
const CREATES = Number(process.env.BENCH_CREATES ?? 40);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const f = (x: number) => x.toFixed(1).padStart(8);

const worker = new Worker(new URL(import.meta.url));
const next = (t: string) =>
  new Promise<any>((resolve) => {
    const h = (m: any) => {
      if (m.t === t) {
        worker.off("message", h);
        resolve(m);
      }
    };
    worker.on("message", h);
  });
const ready = await next("ready");
const srv = {
  url: ready.url as string,
  apiKey: ready.apiKey as string,
  isolation: { kind: ready.isolation as string },
  async benchFloor(id: string, argv: string[], n: number): Promise<number[]> {
    const p = next("floor");
    worker.postMessage({ t: "floor", id, argv, n });
    return (await p).ms;
  },
  async close() {
    const p = next("closed");
    worker.postMessage({ t: "close" });
    await p;
    await worker.terminate();
  },
};
const conn = { apiUrl: srv.url, sandboxUrl: srv.url, apiKey: srv.apiKey };
try {
  // let the spare pool fill before measuring creates
  await new Promise((r) => setTimeout(r, 500));
  const createMs: number[] = [];
  for (let i = 0; i < CREATES; i++) {
    const t0 = performance.now();
    const sb = await Sandbox.create(conn);
    createMs.push(performance.now() - t0);
    await sb.kill();
    await new Promise((r) => setTimeout(r, 60)); // the pool refills between creates, as between real requests
  }

  // back to back, no pause: drains the spare pool, so this includes cold starts (bwrap + agent)
  const burstMs: number[] = [];
  const burst: Sandbox[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    burst.push(await Sandbox.create(conn));
    burstMs.push(performance.now() - t0);
  }
  await Promise.all(burst.map((b) => b.kill()));
  await new Promise((r) => setTimeout(r, 500));

  const sb = await Sandbox.create(conn);
  const rows: string[] = [];
  for (const cmd of ["true", "python3 -c 'print(1)'", "node -e '1'"]) {
    for (let i = 0; i < 5; i++) await sb.commands.run(cmd); // warm up
    const sdk: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await sb.commands.run(cmd);
      sdk.push(performance.now() - t0);
    }
    await srv.benchFloor(sb.sandboxId, ["/bin/bash", "-l", "-c", cmd], 5);
    const floor = await srv.benchFloor(sb.sandboxId, ["/bin/bash", "-l", "-c", cmd], N);
    rows.push(
      `${cmd.padEnd(24)}${f(pct(sdk, 50))}${f(pct(sdk, 95))}${f(pct(floor, 50))}${f(pct(floor, 95))}${(pct(sdk, 50) / pct(floor, 50)).toFixed(2).padStart(8)}x`,
    );
  }
  await sb.kill();

  console.log(`e2b-local bench (${srv.isolation.kind}, n=${N}, ms)`);
  console.log(`${"command".padEnd(24)}${"sdk p50".padStart(8)}${"sdk p95".padStart(8)}${"flr p50".padStart(8)}${"flr p95".padStart(8)}${"ratio".padStart(9)}`);
  for (const r of rows) console.log(r);
  console.log(`Sandbox.create          p50 ${pct(createMs, 50).toFixed(1)} ms, p95 ${pct(createMs, 95).toFixed(1)} ms (n=${CREATES}, spare pool of 2)`);
  console.log(`Sandbox.create burst    p50 ${pct(burstMs, 50).toFixed(1)} ms, max ${Math.max(...burstMs).toFixed(1)} ms (10 back to back, sandboxes kept: pool drained)`);
} finally {
  await srv.close();
}
}
