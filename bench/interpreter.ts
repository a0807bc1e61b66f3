// npm run bench:interpreter — a warm stateful cell (`1 + 1`) through @e2b/code-interpreter's runCode on
// e2b-local's code-interpreter-v1 template vs the same code spawned fresh with `commands.run` (the
// stateless floor), alternating in batches in the same run; plus Sandbox.create of the template.
import { Sandbox } from "@e2b/code-interpreter";
import { isMainThread, parentPort } from "node:worker_threads";
import { startE2bLocal } from "../e2b-local/server.ts";
import { ms, percentile, printTable, serverThread } from "./stats.ts";

// The server runs in its own thread (its own event loop, as in real use where the SDK client is
// another process), the SDK client in the main thread.
if (!isMainThread) {
  const srv = await startE2bLocal({ port: 0 });
  parentPort!.postMessage({ t: "ready", url: srv.url, apiKey: srv.apiKey, isolation: srv.isolation.kind });
  parentPort!.on("message", async (m: { t: string }) => {
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
  const CREATES = Number(process.env.BENCH_CREATES ?? 3);
  /** runCode and floor runs alternate in batches this size, so both see the same machine load */
  const BATCH = 10;
  const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);

  const { worker, next } = serverThread(import.meta.url);
  const ready = await next("ready");
  const conn = { apiUrl: ready.url as string, sandboxUrl: ready.url as string, apiKey: ready.apiKey as string };
  try {
    const createMs: number[] = [];
    for (let i = 0; i < CREATES; i++) {
      const t0 = performance.now();
      const s = await Sandbox.create(conn);
      createMs.push(performance.now() - t0);
      await s.kill();
    }

    const sb = await Sandbox.create(conn);
    const cases = [
      { name: "python `1 + 1`", run: () => sb.runCode("1 + 1"), floor: "python3 -c '1 + 1'" },
      {
        name: "javascript `1 + 1`",
        run: () => sb.runCode("1 + 1", { language: "javascript" }),
        floor: "node -e '1 + 1'",
      },
    ];
    const rows: Record<string, string>[] = [];
    for (const c of cases) {
      for (let i = 0; i < WARMUP; i++) {
        const ex = await c.run();
        if (ex.text !== "2") throw new Error(`unexpected result ${JSON.stringify(ex.toJSON())}`);
        await sb.commands.run(c.floor);
      }
      const cell: number[] = [];
      const floor: number[] = [];
      while (cell.length < N) {
        const n = Math.min(BATCH, N - cell.length);
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await c.run();
          cell.push(performance.now() - t0);
        }
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await sb.commands.run(c.floor);
          floor.push(performance.now() - t0);
        }
      }
      rows.push({
        cell: c.name,
        "runCode p50": ms(percentile(cell, 0.5)),
        "runCode p95": ms(percentile(cell, 0.95)),
        floor: c.floor,
        "floor p50": ms(percentile(floor, 0.5)),
        "floor p95": ms(percentile(floor, 0.95)),
        ratio: `${(percentile(cell, 0.5) / percentile(floor, 0.5)).toFixed(2)}x`,
        target: c.name.startsWith("python") ? "≤ 0.3x" : "-",
      });
    }
    await sb.kill();

    console.log(
      `code interpreter bench (e2b-local, ${ready.isolation}, n=${N}, ms; floor = the same code spawned fresh by commands.run, bash -l -c)\n`,
    );
    printTable(rows);
    console.log(
      `\nSandbox.create("code-interpreter-v1") until the default Python kernel answers: p50 ${ms(percentile(createMs, 0.5))}, max ${ms(Math.max(...createMs))} (n=${CREATES}).`,
    );
  } finally {
    const p = next("closed");
    worker.postMessage({ t: "close" });
    await p;
    await worker.terminate();
  }
}
