import { inject } from "vitest";
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
