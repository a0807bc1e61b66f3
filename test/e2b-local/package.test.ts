// e2b-local as an E2B user gets it: `npm pack` of the e2b-local workspace (its prepack compiles dist/),
// installed from the tarball into an empty folder (offline: the package has no dependencies), its
// `e2b-local` bin started on an ephemeral port, and the unmodified SDKs driving it with the URL and key the
// bin prints, through the E2B_* env vars as the package README says. Every file the package loads at run
// time is used (agent.py by any command, sudo.py by sudo, port-relay.py and interpreter/ by the code
// interpreter), so a tarball missing one fails here.
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { realpathSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { Sandbox } from "e2b";
import { Sandbox as CodeSandbox } from "@e2b/code-interpreter";

const ROOT = join(import.meta.dirname, "../..");
const run = promisify(execFile);

/** The environment of a user's shell: none of the npm_* settings of the `npm exec` running the tests. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // E2B_LOCAL_ISOLATION passes, so `E2B_LOCAL_ISOLATION=unshare` runs this on the fallback too
    if (!/^npm_/i.test(k) && (!k.startsWith("E2B_") || k === "E2B_LOCAL_ISOLATION")) env[k] = v;
  }
  // `npm` and the bin's `#!/usr/bin/env node` find this Node (22), whatever the host's own is
  env.PATH = `${dirname(process.execPath)}${delimiter}${env.PATH ?? ""}`;
  return { ...env, ...extra };
}

let work = "";
let app = "";
let server: ChildProcess | undefined;
let output = "";
let url = "";
let apiKey = "";

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "e2b-local-package-"));
  const packed = await run("npm", ["pack", "--workspace", "e2b-local", "--pack-destination", work, "--json"], {
    cwd: ROOT,
    env: userEnv(),
  });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  app = join(work, "app");
  await mkdir(app);
  await run("npm", ["install", "--prefix", app, "--offline", "--no-audit", "--no-fund", join(work, filename)], {
    cwd: app,
    env: userEnv(),
  });

  server = spawn(join(app, "node_modules/.bin/e2b-local"), [], {
    cwd: app,
    env: userEnv({ E2B_LOCAL_PORT: "0", E2B_LOCAL_DATA_DIR: join(work, "data") }),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const started = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d;
      const m = /E2B_API_URL=(\S+) E2B_SANDBOX_URL=\1 E2B_API_KEY=(\S+)/.exec(output);
      if (!m) return;
      [url, apiKey] = [m[1]!, m[2]!];
      resolve();
    };
    server!.stdout!.on("data", onData);
    server!.stderr!.on("data", onData);
    server!.on("exit", (code) => reject(new Error(`e2b-local exited with ${code} before it listened:\n${output}`)));
    server!.on("error", reject);
  });
  await started;
  vi.stubEnv("E2B_API_URL", url);
  vi.stubEnv("E2B_SANDBOX_URL", url);
  vi.stubEnv("E2B_API_KEY", apiKey);
}, 180_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  // still running when a test failed before stopping it: SIGTERM, so it unmounts its sandboxes' disks
  if (server?.pid && server.exitCode === null && server.signalCode === null) {
    const exited = once(server, "exit");
    process.kill(server.pid, "SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    if (server.exitCode === null && server.signalCode === null) process.kill(-server.pid, "SIGKILL");
  }
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

it("installs from the tarball as plain files with JavaScript only, and prints where it listens", async () => {
  // the bin runs the installed copy, not this repository's sources
  const bin = realpathSync(join(app, "node_modules/.bin/e2b-local"));
  expect(bin).toBe(join(realpathSync(app), "node_modules/e2b-local/dist/main.js"));
  const installed = await readdir(join(app, "node_modules/e2b-local/dist"), { recursive: true });
  expect(installed.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  // an ephemeral port (E2B_LOCAL_PORT=0) and a fresh random key
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(apiKey).toMatch(/^e2b_[0-9a-f]{40}$/);
  // the programmatic entry resolves from the installed package too
  const { stdout } = await run(
    process.execPath,
    ["--input-type=module", "-e", 'const m = await import("e2b-local"); console.log(typeof m.startE2bLocal)'],
    { cwd: app, env: userEnv() },
  );
  expect(stdout.trim()).toBe("function");
});

it("runs commands, sudo and files for the unmodified e2b SDK, then kills the sandbox", async () => {
  const sb = await Sandbox.create();
  try {
    const r = await sb.commands.run("echo hello from $(whoami) in $PWD");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("hello from user in /home/user\n");
    expect((await sb.commands.run("sudo whoami")).stdout).toBe("root\n");
    await sb.files.write("/home/user/note.txt", "packed");
    expect(await sb.files.read("/home/user/note.txt")).toBe("packed");
    expect((await sb.commands.run("cat note.txt")).stdout).toBe("packed");
  } finally {
    await sb.kill();
  }
  expect(await sb.isRunning()).toBe(false);
  expect((await Sandbox.list().nextItems()).map((s) => s.sandboxId)).not.toContain(sb.sandboxId);
});

it("runs the code interpreter template (Python and JavaScript) for @e2b/code-interpreter", async () => {
  const sb = await CodeSandbox.create();
  try {
    expect((await sb.runCode("x = 41\nx + 1")).text).toBe("42");
    expect((await sb.runCode("[1, 2].map((n) => n * 2)", { language: "js" })).text).toBe("[ 2, 4 ]");
  } finally {
    await sb.kill();
  }
}, 120_000);

it("stops on SIGTERM, killing its sandboxes", async () => {
  const sb = await Sandbox.create();
  const exited = once(server!, "exit");
  process.kill(server!.pid!, "SIGTERM");
  const [code] = await exited;
  expect(code).toBe(0);
  expect(output).toMatch(/SIGTERM: stopping, killing all sandboxes/);
  await expect(sb.commands.run("true")).rejects.toThrow();
});
