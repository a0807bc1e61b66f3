// npm run bench:e2b-local — warm-sandbox latency through the real e2b SDK vs the floor
// (the same `/bin/bash -l -c <cmd>` spawned directly by the in-sandbox agent, in the same
// isolation, with no server, HTTP or relaying), plus Sandbox.create p50, a PTY's keystroke → echo
// round trip and pause / resume times (e2b-local-pty.ts).
import { Sandbox } from "e2b";
import { isMainThread, parentPort } from "node:worker_threads";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { startE2bLocal } from "e2b-local";
import { END_OK, envelope } from "e2b-local/connect";
import { ms, percentile, printTable, serverThread } from "./stats.ts";
import { benchPtyAndPause } from "./e2b-local-pty.ts";

// The server runs in its own thread (its own event loop, as in real use where the SDK client is
// another process), the SDK client in the main thread.
if (!isMainThread) {
  const srv = await startE2bLocal({ port: 0 });
  const stub = await startStub();
  parentPort!.postMessage({
    t: "ready",
    url: srv.url,
    apiKey: srv.apiKey,
    isolation: srv.isolation.kind,
    stubUrl: stub.url,
  });
  parentPort!.on("message", async (m: { t: string; id?: string; argv?: string[]; n?: number }) => {
    if (m.t === "floor") parentPort!.postMessage({ t: "floor", ms: await srv.benchFloor(m.id!, m.argv!, m.n!) });
    if (m.t === "close") {
      stub.close();
      await srv.close();
      parentPort!.postMessage({ t: "closed" });
    }
  });
} else {
  await main();
}

/**
 * What the SDK and loopback HTTP cost by themselves: a stub that answers `Sandbox.create` and
 * answers every `process.Process/Start` at once with `start` then `end` (exit 0), no sandbox.
 */
async function startStub(): Promise<{ url: string; close(): void }> {
  const created = JSON.stringify({
    sandboxID: "stub",
    templateID: "base",
    clientID: "stub",
    envdVersion: "0.6.13",
    envdAccessToken: "stub",
  });
  const server = createServer({ noDelay: true }, (req, res) => {
    req.resume();
    req.on("end", () => {
      if (!req.headers["e2b-sandbox-id"]) {
        res.writeHead(201, { "content-type": "application/json" }).end(created);
        return;
      }
      res.writeHead(200, { "content-type": "application/connect+json" });
      res.write(envelope({ event: { start: { pid: 1 } } }));
      setImmediate(() =>
        res.end(
          Buffer.concat([envelope({ event: { end: { exitCode: 0, exited: true, status: "exit status 0" } } }), END_OK]),
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

async function main() {
  const N = Number(process.env.BENCH_N ?? 60);
  const CREATES = Number(process.env.BENCH_CREATES ?? 40);
  /** SDK runs and floor runs alternate in batches this size, so both see the same machine load */
  const BATCH = 10;
  /** untimed runs first: a warm sandbox and a warm server (and JIT), as in real use */
  const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);

  const { worker, next } = serverThread(import.meta.url);
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
    const rows: Record<string, string>[] = [];
    for (const cmd of ["true", "python3 -c 'print(1)'", "node -e '1'"]) {
      // the floor: the same `/bin/bash -l -c <cmd>` the SDK sends, spawned by the agent itself
      const argv = ["/bin/bash", "-l", "-c", cmd];
      for (let i = 0; i < WARMUP; i++) await sb.commands.run(cmd); // warm up
      await srv.benchFloor(sb.sandboxId, argv, 5);
      const sdk: number[] = [];
      const floor: number[] = [];
      while (sdk.length < N) {
        const n = Math.min(BATCH, N - sdk.length);
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await sb.commands.run(cmd);
          sdk.push(performance.now() - t0);
        }
        floor.push(...(await srv.benchFloor(sb.sandboxId, argv, n)));
      }
      rows.push({
        command: cmd,
        "sdk p50": ms(percentile(sdk, 0.5)),
        "sdk p95": ms(percentile(sdk, 0.95)),
        "floor p50": ms(percentile(floor, 0.5)),
        "floor p95": ms(percentile(floor, 0.95)),
        ratio: `${(percentile(sdk, 0.5) / percentile(floor, 0.5)).toFixed(2)}x`,
        target: cmd === "true" ? "≤ 2x" : "-",
      });
    }
    await sb.kill();

    const stubConn = { apiUrl: ready.stubUrl, sandboxUrl: ready.stubUrl, apiKey: srv.apiKey };
    const stub = await Sandbox.create(stubConn);
    for (let i = 0; i < 20; i++) await stub.commands.run("true");
    const stubMs: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await stub.commands.run("true");
      stubMs.push(performance.now() - t0);
    }

    console.log(
      `e2b-local bench (${srv.isolation.kind}, n=${N}, ms; floor = the same bash -l -c spawned by the in-sandbox agent, no server)\n`,
    );
    printTable(rows);
    console.log(
      `\nThe SDK and loopback HTTP alone (commands.run against a stub that answers start + end at once, no sandbox): p50 ${ms(percentile(stubMs, 0.5))}, p95 ${ms(percentile(stubMs, 0.95))}.\n`,
    );
    printTable([
      {
        "Sandbox.create": `spare pool of 2, n=${CREATES}`,
        p50: ms(percentile(createMs, 0.5)),
        "p95 / max": `p95 ${ms(percentile(createMs, 0.95))}`,
        target: "p50 < 50",
      },
      {
        "Sandbox.create": "burst of 10 back to back (pool drained)",
        p50: ms(percentile(burstMs, 0.5)),
        "p95 / max": `max ${ms(Math.max(...burstMs))}`,
        target: "-",
      },
    ]);
    console.log("");
    printTable(await benchPtyAndPause(conn, N));
  } finally {
    await srv.close();
  }
}
