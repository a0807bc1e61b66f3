// Shared by the e2b-local tests: the SDK connection to the test server, a sandbox that is always
// killed, markers, polling, and a host-side search for leftover processes and open handles.
import { inject } from "vitest";
import { readdir, readFile, readlink } from "node:fs/promises";
import { Sandbox } from "e2b";
import type { SandboxOpts } from "e2b";

export const conn = () => ({
  apiUrl: inject("e2bLocalUrl"),
  sandboxUrl: inject("e2bLocalUrl"),
  apiKey: inject("e2bLocalApiKey"),
});

/** Create a sandbox, run fn, always kill it. */
export async function withSandbox<T>(fn: (sb: Sandbox) => Promise<T>, opts: SandboxOpts = {}): Promise<T> {
  const sb = await Sandbox.create({ ...conn(), ...opts });
  try {
    return await fn(sb);
  } finally {
    await sb.kill().catch(() => {});
  }
}

/** Poll `check` until it returns a truthy value (a test's own timeout bounds the wait); returns it. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  intervalMs = 20,
): Promise<Exclude<T, false | null | undefined | 0 | "">> {
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | null | undefined | 0 | "">;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const marker = () => `mk${Math.random().toString(36).slice(2, 10)}`;

/** Host-side: pids whose command line contains `s`, and pids holding an fd below `dir`. */
export async function hostLeftovers(s: string, dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid) || pid === String(process.pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(s)) found.push(`${pid}: ${cmd.replace(/\0/g, " ")}`);
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      if (target.startsWith(dir)) found.push(`${pid} fd ${fd} -> ${target}`);
    }
  }
  return found;
}
