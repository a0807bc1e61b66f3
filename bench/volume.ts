// `npm run bench:volume`: a 50 MiB file up and down through Phoenix (wrangler dev → auth → UserSpace DO
// reservation → R2) against the same bytes put/got on the R2 binding directly by a bare Worker that
// does nothing else (its own `wrangler dev`, same local R2), interleaved in one run; plus peak memory.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, ROOT, startLocalStack } from "../scripts/local-stack.ts";
import { ms, percentile, printTable } from "./stats.ts";

const N = Number(process.env.BENCH_N ?? 7);
const SIZE = Number(process.env.BENCH_MIB ?? 50) * 1024 * 1024;
const MiB = 1024 * 1024;

/** The Worker's processes: workerd children of the `wrangler dev` we started. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents)
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
  };
  walk(root);
  return found;
}

function rssBytes(pid: number): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const bytes = new Uint8Array(SIZE).map((_, i) => (i * 2654435761) >>> 24);
const expected = createHash("sha256").update(bytes).digest("hex");

/** The baseline: the R2 binding and nothing else — no auth, no Durable Object, no checks — served
 * like Phoenix serves a file (with its length) by a dev server set up like Phoenix's. */
const BARE_WORKER = `export default {
  async fetch(request, env) {
    if (request.method === "PUT") return Response.json({ size: (await env.VOLUMES.put("bench/blob.bin", request.body)).size });
    const object = await env.VOLUMES.get("bench/blob.bin");
    return new Response(object.body, { headers: { "Content-Length": String(object.size), "Content-Type": "application/octet-stream" } });
  },
};`;

/** `wrangler dev` of the bare Worker, written into a temp dir (nothing of it is kept). */
async function startBareWorker(dir: string): Promise<{ url: string; stop: () => void }> {
  await writeFile(join(dir, "bare.js"), BARE_WORKER);
  await writeFile(
    join(dir, "wrangler.toml"),
    `name = "r2-bare"\nmain = "bare.js"\ncompatibility_date = "2026-11-01"\ncompatibility_flags = ["nodejs_compat"]\n[[r2_buckets]]\nbinding = "VOLUMES"\nbucket_name = "bare"\n`,
  );
  const port = await freePort();
  const wrangler = fileURLToPath(new URL("../node_modules/wrangler/bin/wrangler.js", import.meta.url));
  const child = spawn(
    process.execPath,
    [
      wrangler,
      "dev",
      "--config",
      join(dir, "wrangler.toml"),
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      "0",
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
      "--persist-to",
      join(dir, "state"),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      stdio: "ignore",
      detached: true,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 90_000; ; ) {
    if (Date.now() > deadline) throw new Error("the bare R2 Worker did not start");
    if (
      await fetch(url, { method: "HEAD" }).then(
        () => true,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, stop: () => process.kill(-child.pid!, "SIGTERM") };
}

const persistTo = await mkdtemp(join(tmpdir(), "phoenix-bench-volume-"));
const bareDir = await mkdtemp(join(tmpdir(), "phoenix-bench-r2-"));
const stack = await startLocalStack({ persistTo });
const bare = await startBareWorker(bareDir);
try {
  const user = await stack.createUser("bench-volume");
  const auth = { Authorization: `Bearer ${user.apiKey}` };
  const workerd = descendants(stack.wranglerPid!).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd");
    } catch {
      return false;
    }
  });
  const workerRss = () => workerd.reduce((sum, pid) => sum + rssBytes(pid), 0);

  const drain = async (body: ReadableStream<Uint8Array> | null, hash = false) => {
    const h = hash ? createHash("sha256") : undefined;
    let n = 0;
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      h?.update(chunk);
    }
    if (n !== SIZE) throw new Error(`read ${n} bytes, expected ${SIZE}`);
    if (h && h.digest("hex") !== expected) throw new Error("the file came back different");
  };

  const timed = async (fn: () => Promise<void>) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  const workerPut = () =>
    timed(async () => {
      const res = await fetch(`${stack.url}/api/v1/volume/files/bench/blob.bin`, {
        method: "PUT",
        headers: auth,
        body: bytes,
      });
      if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    });
  const workerGet = (hash = false) =>
    timed(async () => {
      const res = await fetch(`${stack.url}/api/v1/volume/files/bench/blob.bin`, { headers: auth });
      if (res.status !== 200) throw new Error(`GET ${res.status}`);
      await drain(res.body, hash);
    });
  const directPut = () =>
    timed(async () => {
      const res = await fetch(bare.url, { method: "PUT", body: bytes });
      if (res.status !== 200) throw new Error(`bare PUT ${res.status}`);
      await res.arrayBuffer();
    });
  const directGet = () =>
    timed(async () => {
      await drain((await fetch(bare.url)).body);
    });

  // Warm-up, and a check that the bytes survive the round trip.
  await workerPut();
  await workerGet(true);
  await directPut();
  await directGet();

  const baseline = workerRss();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, workerRss())), 10);
  const samples = { wp: [] as number[], wg: [] as number[], dp: [] as number[], dg: [] as number[] };
  for (let i = 0; i < N; i++) {
    samples.wp.push(await workerPut());
    samples.dp.push(await directPut());
    samples.wg.push(await workerGet());
    samples.dg.push(await directGet());
  }
  clearInterval(sampler);

  const row = (what: string, w: number[], d: number[]) => ({
    case: what,
    "direct p50 ms": ms(percentile(d, 0.5)),
    "worker p50 ms": ms(percentile(w, 0.5)),
    "worker MiB/s": (SIZE / MiB / (percentile(w, 0.5) / 1000)).toFixed(0),
    "ratio p50": (percentile(w, 0.5) / percentile(d, 0.5)).toFixed(2),
    "ratio p95": (percentile(w, 0.95) / percentile(d, 0.95)).toFixed(2),
    target: "≤ 1.5",
  });
  console.log(
    `\n${SIZE / MiB} MiB file, ${N} runs each, interleaved (direct = a bare Worker doing only R2 put/get on the same local R2):\n`,
  );
  printTable([row("upload (PUT)", samples.wp, samples.dp), row("download (GET)", samples.wg, samples.dg)]);
  console.log(
    `\nworkerd RSS (${workerd.length} process${workerd.length === 1 ? "" : "es"} of wrangler dev): ` +
      `${(baseline / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB during the runs ` +
      `(+${((peak - baseline) / MiB).toFixed(0)} MiB for a ${SIZE / MiB} MiB file; sampled every 10 ms).`,
  );
} finally {
  bare.stop();
  await stack.stop();
  await rm(persistTo, { recursive: true, force: true });
  await rm(bareDir, { recursive: true, force: true });
}
