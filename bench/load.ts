// `npm run bench:load`: N users × M concurrent clients for T seconds through the Worker (wrangler dev →
// UserSpace → e2b-local), then the same load made directly on e2b-local with the e2b SDK, in one run.
// Loopback only, bounded in time. Prints throughput, latency percentiles, errors by code and whether
// history kept a row for every successful run.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "e2b";
import { startLocalStack } from "../scripts/local-stack.ts";
import { CODE_ENV, inlineCommand } from "../src/sandbox/languages.ts";
import { ms, percentile, printTable } from "./stats.ts";

const USERS = Number(process.env.BENCH_USERS ?? 20);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const SECONDS = Math.min(Number(process.env.BENCH_SECONDS ?? 20), 120);
const CODE = "print(1)";

interface Tally {
  latencies: number[];
  errors: Record<string, number>;
  ok: number;
  elapsedMs: number;
}

/** Runs `clients` loops of `once()` until `seconds` have passed; each loop starts its next run when one ends. */
async function drive(clients: number, once: (client: number) => Promise<string | null>): Promise<Tally> {
  const tally: Tally = { latencies: [], errors: {}, ok: 0, elapsedMs: 0 };
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        const error = await once(client).catch((err: unknown) => `thrown: ${(err as Error).message.slice(0, 60)}`);
        if (error) tally.errors[error] = (tally.errors[error] ?? 0) + 1;
        else {
          tally.ok++;
          tally.latencies.push(performance.now() - t);
        }
      }
    }),
  );
  tally.elapsedMs = performance.now() - start;
  return tally;
}

const row = (path: string, t: Tally) => ({
  path,
  runs: t.ok,
  "runs/s": (t.ok / (t.elapsedMs / 1000)).toFixed(1),
  "p50 ms": ms(percentile(t.latencies, 0.5)),
  "p95 ms": ms(percentile(t.latencies, 0.95)),
  "p99 ms": ms(percentile(t.latencies, 0.99)),
  errors: Object.values(t.errors).reduce((a, b) => a + b, 0),
});

const persistTo = await mkdtemp(join(tmpdir(), "phoenix-bench-load-"));
const stack = await startLocalStack({ persistTo, vars: { MAX_CONCURRENT_EXECUTIONS: String(CLIENTS) } });
try {
  const users = await Promise.all(Array.from({ length: USERS }, (_, i) => stack.createUser(`load-${i}`)));
  const run = async (apiKey: string): Promise<string | null> => {
    const res = await fetch(`${stack.url}/api/v1/executions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ language: "python", code: CODE }),
    });
    const body = (await res.json()) as { status?: string; error?: { code: string } };
    if (!res.ok) return `${res.status} ${body.error?.code ?? "?"}`;
    return body.status === "succeeded" ? null : `200 ${body.status}`;
  };
  // Warm: each user's conversation sandbox exists before the clock starts, as it does for the direct path.
  await Promise.all(users.map((u) => run(u.apiKey)));

  console.log(`\n${USERS} users × ${CLIENTS} clients, python ${JSON.stringify(CODE)}, ${SECONDS} s per path…`);
  const viaWorker = await drive(USERS * CLIENTS, (client) => run(users[client % USERS]!.apiKey));

  const opts = { apiKey: stack.e2b.apiKey, apiUrl: stack.e2b.url, sandboxUrl: stack.e2b.url };
  const sandboxes = await Promise.all(users.map(() => Sandbox.create("base", opts)));
  const command = inlineCommand("python");
  await Promise.all(sandboxes.map((s) => s.commands.run(command, { envs: { [CODE_ENV]: CODE } })));
  const direct = await drive(USERS * CLIENTS, async (client) => {
    const result = await sandboxes[client % USERS]!.commands.run(command, {
      envs: { [CODE_ENV]: CODE, PYTHONUNBUFFERED: "1" },
    });
    return result.exitCode === 0 ? null : `exit ${result.exitCode}`;
  });
  await Promise.all(sandboxes.map((s) => s.kill()));

  // History completeness: every successful run through the Worker has its row (the warm-up runs too).
  let rows = 0;
  for (const user of users) {
    let cursor: string | null = null;
    do {
      const query: string = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const res = await fetch(`${stack.url}/api/v1/executions?${query}`, {
        headers: { Authorization: `Bearer ${user.apiKey}` },
      });
      const page = (await res.json()) as { items: { status: string }[]; nextCursor: string | null };
      rows += page.items.filter((i) => i.status === "succeeded").length;
      cursor = page.nextCursor;
    } while (cursor);
  }
  const expected = viaWorker.ok + USERS;

  console.log("");
  printTable([row("direct: e2b SDK on e2b-local", direct), row("Phoenix: Worker → DO → e2b-local", viaWorker)]);
  const ratio = viaWorker.ok / viaWorker.elapsedMs / (direct.ok / direct.elapsedMs);
  const fivexx = Object.entries(viaWorker.errors)
    .filter(([code]) => code.startsWith("5"))
    .reduce((a, [, n]) => a + n, 0);
  console.log("");
  printTable([
    { measure: "throughput ratio (Phoenix / direct)", value: ratio.toFixed(2), target: "≥ 0.8" },
    { measure: "5xx answers", value: fivexx, target: "0" },
    { measure: "history rows / successful runs", value: `${rows} / ${expected}`, target: "equal" },
  ]);
  const errors = Object.entries({ ...viaWorker.errors }).map(([code, n]) => ({ path: "Phoenix", error: code, n }));
  for (const [code, n] of Object.entries(direct.errors)) errors.push({ path: "direct", error: code, n });
  if (errors.length) {
    console.log("\nErrors by code:\n");
    printTable(errors);
  }
} finally {
  await stack.stop();
  await rm(persistTo, { recursive: true, force: true });
}
