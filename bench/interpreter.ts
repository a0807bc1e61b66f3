// npm run bench:interpreter — a warm stateful cell (`1 + 1`) through @e2b/code-interpreter's runCode on
// e2b-local's code-interpreter-v1 template vs the same code spawned fresh with `commands.run` (the
// stateless floor), alternating in batches in the same run; plus Sandbox.create of the template; then,
// through the Worker (the local stack: wrangler dev + its own e2b-local), a warm stateful run of the
// same cell against a warm stateless `print(1+1)` run, alternating the same way.
import { Sandbox } from "@e2b/code-interpreter";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, parentPort } from "node:worker_threads";
import { startE2bLocal } from "e2b-local";
import { startLocalStack } from "../scripts/local-stack.ts";
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
    await throughWorker(Number(process.env.BENCH_WORKER_N ?? 40), BATCH, WARMUP);
  } finally {
    const p = next("closed");
    worker.postMessage({ t: "close" });
    await p;
    await worker.terminate();
  }
}

/**
 * Through the Worker: POST /api/v1/executions, a warm stateful `1 + 1` (its own conversation, an
 * interpreter sandbox) against a warm stateless `print(1+1)` (another conversation, a base sandbox).
 */
async function throughWorker(N: number, BATCH: number, WARMUP: number) {
  const persistTo = await mkdtemp(join(tmpdir(), "phoenix-bench-interp-"));
  const stack = await startLocalStack({ persistTo });
  try {
    const user = await stack.createUser("bench-interpreter");
    const run = async (body: Record<string, unknown>, expected: (r: Record<string, unknown>) => boolean) => {
      const t0 = performance.now();
      const res = await fetch(`${stack.url}/api/v1/executions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const result = (await res.json()) as Record<string, unknown>;
      const elapsed = performance.now() - t0;
      if (!expected(result)) throw new Error(`unexpected result ${JSON.stringify(result)}`);
      return elapsed;
    };
    const stateful = () =>
      run(
        { language: "python", code: "1 + 1", stateful: true, conversationId: "bench-stateful" },
        (r) => (r.results as { data: string }[] | undefined)?.[0]?.data === "2",
      );
    const stateless = () =>
      run({ language: "python", code: "print(1+1)", conversationId: "bench-plain" }, (r) => r.stdout === "2\n");
    for (let i = 0; i < WARMUP; i++) {
      await stateful();
      await stateless();
    }
    const cell: number[] = [];
    const plain: number[] = [];
    while (cell.length < N) {
      const n = Math.min(BATCH, N - cell.length);
      for (let i = 0; i < n; i++) cell.push(await stateful());
      for (let i = 0; i < n; i++) plain.push(await stateless());
    }
    console.log(
      `\nThrough the Worker (wrangler dev → UserSpace DO → SDK → e2b-local), POST /api/v1/executions, n=${N}, ms:\n`,
    );
    printTable([
      {
        run: 'stateful python "1 + 1"',
        p50: ms(percentile(cell, 0.5)),
        p95: ms(percentile(cell, 0.95)),
        "vs stateless": 'python "print(1+1)"',
        "stateless p50": ms(percentile(plain, 0.5)),
        "stateless p95": ms(percentile(plain, 0.95)),
        ratio: `${(percentile(cell, 0.5) / percentile(plain, 0.5)).toFixed(2)}x`,
      },
    ]);
  } finally {
    await stack.stop();
    await rm(persistTo, { recursive: true, force: true });
  }
}
