// `npm run bench`: a warm execution through the Worker (wrangler dev → UserSpace DO → e2b SDK) against
// the same e2b SDK call made directly on e2b-local, in the same run, interleaved.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "e2b";
import { startLocalStack } from "../scripts/local-stack.ts";
import { CODE_ENV, inlineCommand } from "../src/sandbox/languages.ts";
import type { Language } from "../src/executions/types.ts";
import { ms, percentile, printTable } from "./stats.ts";

const N = Number(process.env.BENCH_N ?? 100);
const cases: [Language, string][] = [
  ["shell", "true"],
  ["python", "print(1)"],
  ["node", "1"],
];

const persistTo = await mkdtemp(join(tmpdir(), "phoenix-bench-"));
const stack = await startLocalStack({ persistTo });
try {
  const user = await stack.createUser("bench");
  const opts = { apiKey: stack.e2b.apiKey, apiUrl: stack.e2b.url, sandboxUrl: stack.e2b.url };
  const direct = await Sandbox.create("base", opts);

  /** Server-Timing phases of the last requests, to show where the Worker path spends its time. */
  const phases: Record<string, number[]> = {};
  const viaWorker = async (language: Language, code: string, extra: Record<string, unknown> = {}) => {
    const t = performance.now();
    const res = await fetch(`${stack.url}/api/v1/executions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ language, code, ...extra }),
    });
    const body = (await res.json()) as { status: string };
    if (body.status !== "succeeded") throw new Error(`worker run failed: ${JSON.stringify(body)}`);
    const elapsed = performance.now() - t;
    for (const metric of (res.headers.get("Server-Timing") ?? "").split(",")) {
      const [name, ...params] = metric.trim().split(";");
      const dur = params.find((p) => p.startsWith("dur="));
      if (name && dur) (phases[name] ??= []).push(Number(dur.slice(4)));
    }
    (phases.client ??= []).push(elapsed);
    return elapsed;
  };
  const healthFloor = async () => {
    const t = performance.now();
    await (await fetch(`${stack.url}/api/health`)).text();
    return performance.now() - t;
  };
  const viaSdk = async (language: Language, code: string) => {
    const t = performance.now();
    await direct.commands.run(inlineCommand(language), { envs: { [CODE_ENV]: code, PYTHONUNBUFFERED: "1" } });
    return performance.now() - t;
  };

  const rows = [];
  let workerRuns = 0;
  const floor: number[] = [];
  for (let i = 0; i < N; i++) floor.push(await healthFloor());
  const breakdown = [];
  for (const [language, code] of cases) {
    for (const k of Object.keys(phases)) delete phases[k];
    for (let i = 0; i < 5; i++) {
      await viaWorker(language, code);
      await viaSdk(language, code);
    }
    workerRuns += 5;
    const w: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < N; i++) {
      w.push(await viaWorker(language, code));
      d.push(await viaSdk(language, code));
    }
    workerRuns += N;
    const target = language === "shell" ? 1.5 : language === "python" ? 1.25 : NaN;
    rows.push({
      case: `${language}: ${code}`,
      "direct p50": ms(percentile(d, 0.5)),
      "direct p95": ms(percentile(d, 0.95)),
      "worker p50": ms(percentile(w, 0.5)),
      "worker p95": ms(percentile(w, 0.95)),
      "ratio p50": (percentile(w, 0.5) / percentile(d, 0.5)).toFixed(2),
      "ratio p95": (percentile(w, 0.95) / percentile(d, 0.95)).toFixed(2),
      target: Number.isNaN(target) ? "-" : `≤ ${target}`,
    });
    const p50 = (name: string) => (phases[name]?.length ? ms(percentile(phases[name]!, 0.5)) : "-");
    breakdown.push({
      case: `${language}: ${code}`,
      "client p50": p50("client"),
      "Worker (server) p50": p50("total"),
      "auth (D1) p50": p50("auth"),
      "DO + sandbox p50": p50("run"),
      "in DO: sandbox + code p50": p50("code"),
    });
  }
  // The artifact manifest's cost: the same warm run with and without it, interleaved.
  const manifestRows = [];
  for (const [language, code] of cases) {
    const off: number[] = [];
    const on: number[] = [];
    for (let i = 0; i < 5; i++) await viaWorker(language, code, { artifacts: true });
    for (let i = 0; i < N; i++) {
      off.push(await viaWorker(language, code, { artifacts: false }));
      on.push(await viaWorker(language, code, { artifacts: true }));
    }
    workerRuns += 5 + 2 * N;
    const [p50off, p50on] = [percentile(off, 0.5), percentile(on, 0.5)];
    manifestRows.push({
      case: `${language}: ${code}`,
      "without p50": ms(p50off),
      "with p50": ms(p50on),
      "without p95": ms(percentile(off, 0.95)),
      "with p95": ms(percentile(on, 0.95)),
      "added p50": ms(p50on - p50off),
      "added %": `${(((p50on - p50off) / p50off) * 100).toFixed(1)}%`,
    });
  }
  console.log(`\nWarm executions, ${N} each, ms (direct = the same e2b SDK call on e2b-local, no Worker):\n`);
  printTable(rows);
  console.log(`\nWhere the Worker path's time goes (Server-Timing, p50 ms; workerd's clock moves in whole ms):\n`);
  printTable(breakdown);
  console.log(`\nThe artifact manifest ("artifacts": true) on a warm run through the Worker, ${N} each, ms:\n`);
  printTable(manifestRows);
  console.log(
    `\nFloor of the local dev server: GET /api/health (no auth, no Durable Object) p50 ${ms(percentile(floor, 0.5))} ms, p95 ${ms(percentile(floor, 0.95))} ms.`,
  );
  const sandboxes = await Sandbox.list({
    ...opts,
    query: { metadata: { app: "phoenix", userId: user.id } },
  }).nextItems();
  console.log(`\n${workerRuns} executions in conversation "default" created ${sandboxes.length} sandbox(es).`);
  await direct.kill();
} finally {
  await stack.stop();
  await rm(persistTo, { recursive: true, force: true });
}
