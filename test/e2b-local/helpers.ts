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
