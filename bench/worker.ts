// `npm run bench`: a warm execution through the Worker (wrangler dev → UserSpace DO → e2b SDK) against
// the same e2b SDK call made directly on e2b-local, in the same run, interleaved; then the first run of
// a new conversation with and without a spare sandbox (SPARE_SANDBOX) against a warm run.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "e2b";
import { type Stack, startLocalStack } from "../scripts/local-stack.ts";
import { CODE_ENV, inlineCommand } from "../src/sandbox/languages.ts";
import type { Language } from "../src/executions/types.ts";
import { ms, percentile, printTable } from "./stats.ts";

const N = Number(process.env.BENCH_N ?? 100);
/**
 * e2b-local keeps sandboxes started ahead of creates (a pool, default 2), so a create there costs a few ms;
 * BENCH_E2B_POOL=0 makes every create start one, nearer a provider's cold create (for the spare's rows).
 */
const POOL = process.env.BENCH_E2B_POOL ? { e2bPoolSize: Number(process.env.BENCH_E2B_POOL) } : {};
const cases: [Language, string][] = [
  ["shell", "true"],
  ["python", "print(1)"],
  ["node", "1"],
];

const persistTo = await mkdtemp(join(tmpdir(), "phoenix-bench-"));
const sparePersistTo = await mkdtemp(join(tmpdir(), "phoenix-bench-spare-"));
const stack = await startLocalStack({ persistTo, ...POOL });
let spareStack: Stack | undefined;
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
  // The first run of a new conversation (a new conversation id each time): on this stack (no spare), and
  // on a second one with SPARE_SANDBOX=true, against a warm run; interleaved. Each new conversation is
  // closed after its run (untimed), so the user stays below MAX_SANDBOXES_PER_USER (at the cap there is no
  // spare, and a new conversation would first close an old one). Before each run with the spare on, the
  // bench waits (untimed) for the spare to be ready, as between the requests of a person or an agent.
  spareStack = await startLocalStack({ persistTo: sparePersistTo, vars: { SPARE_SANDBOX: "true" }, ...POOL });
  const noSpareUser = await stack.createUser("bench-new-conversations");
  const spareUser = await spareStack.createUser("bench-spare");
  const spareE2b = { apiKey: spareStack.e2b.apiKey, apiUrl: spareStack.e2b.url, sandboxUrl: spareStack.e2b.url };
  const timedRun = async (on: Stack, key: string, language: Language, code: string, conversationId: string) => {
    const t = performance.now();
    const res = await fetch(`${on.url}/api/v1/executions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ language, code, conversationId }),
    });
    const body = (await res.json()) as { status: string; sandboxId: string };
    const elapsed = performance.now() - t;
    if (body.status !== "succeeded") throw new Error(`worker run failed: ${JSON.stringify(body)}`);
    return { elapsed, sandboxId: body.sandboxId };
  };
  const close = async (on: Stack, key: string, conversationId: string) => {
    const res = await fetch(`${on.url}/api/v1/sandboxes/${conversationId}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${key}` },
    });
    if (res.status !== 204) throw new Error(`closing ${conversationId}: ${res.status} ${await res.text()}`);
  };
  /** The spare's id once it runs (none is listed while it starts; taken ones are closed at once). */
  const spareReady = async (): Promise<string | null> => {
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline) {
      const listed = await Sandbox.list({
        ...spareE2b,
        query: { metadata: { app: "phoenix", userId: spareUser.id, conversationId: "(spare)" } }, // SPARE_CONVERSATION
      }).nextItems();
      if (listed.length === 1) return listed[0]!.sandboxId;
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  };
  // A first run on the spare stack: the user is active, so their first spare starts.
  await timedRun(spareStack, spareUser.apiKey, "shell", "true", "warm");
  const newConversationRows = [];
  let taken = 0;
  let newRuns = 0;
  for (const [language, code] of cases) {
    const off: number[] = [];
    const on: number[] = [];
    const warm: number[] = [];
    for (let i = -3; i < N; i++) {
      const conversationId = `new-${language}-${i + 3}`;
      const spare = await spareReady();
      const withSpare = await timedRun(spareStack, spareUser.apiKey, language, code, conversationId);
      await close(spareStack, spareUser.apiKey, conversationId);
      // Its replacement starts in the background: ready before the next timed run shares the CPU.
      await spareReady();
      const without = await timedRun(stack, noSpareUser.apiKey, language, code, conversationId);
      await close(stack, noSpareUser.apiKey, conversationId);
      const warmRun = await timedRun(stack, noSpareUser.apiKey, language, code, "warm");
      if (i < 0) continue; // warm-up: the first spare, the "warm" conversation's sandbox
      on.push(withSpare.elapsed);
      off.push(without.elapsed);
      warm.push(warmRun.elapsed);
      newRuns++;
      if (spare !== null && withSpare.sandboxId === spare) taken++;
    }
    const [p50warm, p50off, p50on] = [percentile(warm, 0.5), percentile(off, 0.5), percentile(on, 0.5)];
    newConversationRows.push({
      case: `${language}: ${code}`,
      "warm p50": ms(p50warm),
      "new, no spare p50": ms(p50off),
      "new, spare p50": ms(p50on),
      "warm p95": ms(percentile(warm, 0.95)),
      "new, no spare p95": ms(percentile(off, 0.95)),
      "new, spare p95": ms(percentile(on, 0.95)),
      "no spare / warm p50": (p50off / p50warm).toFixed(2),
      "spare / warm p50": (p50on / p50warm).toFixed(2),
    });
  }
  console.log(`\nWarm executions, ${N} each, ms (direct = the same e2b SDK call on e2b-local, no Worker):\n`);
  printTable(rows);
  console.log(`\nWhere the Worker path's time goes (Server-Timing, p50 ms; workerd's clock moves in whole ms):\n`);
  printTable(breakdown);
  console.log(`\nThe artifact manifest ("artifacts": true) on a warm run through the Worker, ${N} each, ms:\n`);
  printTable(manifestRows);
  console.log(
    `\nThe first run of a new conversation (a new conversation id each time), ${N} each, ms: without a spare sandbox, with one (SPARE_SANDBOX=true, a second local stack), and a warm run (same conversation) as the baseline; e2b-local's pool of sandboxes started ahead: ${POOL.e2bPoolSize ?? "its default"}:\n`,
  );
  printTable(newConversationRows);
  console.log(`\nWith the spare on, ${taken} of ${newRuns} new conversations started in the spare.`);
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
  await spareStack?.stop();
  await stack.stop();
  await rm(persistTo, { recursive: true, force: true });
  await rm(sparePersistTo, { recursive: true, force: true });
}
