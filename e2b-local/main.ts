#!/usr/bin/env node
// The `e2b-local` command (the package's bin; `npm run e2b-local` in Phoenix): run e2b-local in the foreground.
// Env: E2B_LOCAL_HOST, _PORT, _DATA_DIR, _API_KEY (random when unset), _ISOLATION, and the per-sandbox
// limits _MEMORY_MB, _CPUS, _PIDS, _DISK_MB (see README.md).
import { startE2bLocal } from "./server.ts";

const stamp = () => new Date().toISOString();
let srv: Awaited<ReturnType<typeof startE2bLocal>> | undefined;
try {
  srv = await startE2bLocal({ log: (line) => console.log(`${stamp()} ${line}`) });
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
const s = srv;
console.log(`${stamp()} e2b-local listening on ${s.url} (isolation: ${s.isolation.kind})`);
console.log(`  E2B_API_URL=${s.url} E2B_SANDBOX_URL=${s.url} E2B_API_KEY=${s.apiKey}`);
const MiB = 1024 * 1024;
const { memoryBytes, cpus, pids, diskBytes } = s.limits;
console.log(
  `  per sandbox: memory ${memoryBytes / MiB} MiB, ${cpus} CPU, ${pids} pids, disk ${diskBytes / MiB} MiB` +
    (s.notEnforced.length ? " (not all enforced here, see above)" : ""),
);
let stopping = false;
const stop = async (sig: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${stamp()} ${sig}: stopping, killing all sandboxes`);
  await s.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
