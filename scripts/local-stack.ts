// The whole local stack in one call: e2b-local, D1 migrations, `wrangler dev`, and a ready user.
// Used by `npm start`, the browser tests and the benchmarks.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { startE2bLocal, type E2bLocal } from "e2b-local";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WRANGLER = fileURLToPath(new URL("../node_modules/wrangler/bin/wrangler.js", import.meta.url));

export interface StackOptions {
  /** Worker port; 0 picks a free one. */
  port?: number;
  /** e2b-local port; 0 picks a free one. */
  e2bPort?: number;
  /** Where Miniflare keeps D1/R2/DO state (wrangler's `--persist-to`). */
  persistTo?: string;
  /** The owner token; a random one when absent. */
  ownerToken?: string;
  /** Sandboxes e2b-local keeps started ahead of creates (its default when absent; 0: every create starts one). */
  e2bPoolSize?: number;
  /** e2b-local's API key (handed to the Worker as E2B_API_KEY); a random one when absent. */
  e2bApiKey?: string;
  /** The key webhook signing secrets are encrypted with (kept across restarts by `npm start`). */
  webhookSecretsKey?: string;
  /** Extra vars for the Worker (e.g. limits). */
  vars?: Record<string, string>;
  /** Where e2b-local and wrangler write their lines. */
  log?: (line: string) => void;
}

export interface Stack {
  url: string;
  ownerToken: string;
  e2b: E2bLocal;
  wranglerPid: number | undefined;
  /** Creates a user through the owner API and returns its id and fresh API key. */
  createUser(name: string): Promise<{ id: string; apiKey: string }>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

function run(args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: quietEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve();
      else {
        log(output);
        reject(new Error(`wrangler ${args.join(" ")} exited with ${code}`));
      }
    });
  });
}

function quietEnv(): NodeJS.ProcessEnv {
  return { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "", NO_COLOR: "1" };
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`wrangler dev did not answer on ${url} within ${timeoutMs} ms`);
}

export async function startLocalStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? (() => {});
  const e2b = await startE2bLocal({
    port: opts.e2bPort ?? 0,
    apiKey: opts.e2bApiKey,
    log,
    ...(opts.e2bPoolSize === undefined ? {} : { poolSize: opts.e2bPoolSize }),
  });
  const ownerToken = opts.ownerToken ?? randomBytes(24).toString("base64url");
  const persist = opts.persistTo ? ["--persist-to", opts.persistTo] : [];
  let wrangler: ChildProcess | undefined;
  const stop = async () => {
    if (wrangler && wrangler.exitCode === null) {
      const exited = once(wrangler, "exit");
      process.kill(-wrangler.pid!, "SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (wrangler.exitCode === null) process.kill(-wrangler.pid!, "SIGKILL");
    }
    await e2b.close();
  };
  try {
    await run(["d1", "migrations", "apply", "phoenix", "--local", ...persist], log);
    const port = opts.port || (await freePort());
    const vars = {
      OWNER_TOKEN: ownerToken,
      E2B_API_KEY: e2b.apiKey,
      E2B_API_URL: e2b.url,
      E2B_SANDBOX_URL: e2b.url,
      // Webhooks to receivers on this machine (http://127.0.0.1:…), never allowed in production.
      WEBHOOK_ALLOW_LOCAL_HTTP: "true",
      // A fresh stack (tests) gets a random key; `npm start` passes the one kept in .dev.vars.
      WEBHOOK_SECRETS_KEY: opts.webhookSecretsKey ?? randomBytes(32).toString("base64url"),
      ...opts.vars,
    };
    // Request lines cost the dev server a round trip to Node per request; PHOENIX_VERBOSE=1 brings them back.
    const logLevel = process.env.PHOENIX_VERBOSE === "1" ? "info" : "warn";
    const args = [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      "0",
      "--log-level",
      logLevel,
      "--show-interactive-dev-session=false",
      // GET /__scheduled?cron=… fires a cron trigger by hand (the README shows how).
      "--test-scheduled",
      ...persist,
    ];
    for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
    wrangler = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: quietEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const forward = (d: Buffer) =>
      d
        .toString()
        .split("\n")
        .filter(Boolean)
        .forEach((l) => {
          log(`[wrangler] ${l}`);
        });
    wrangler.stdout!.on("data", forward);
    wrangler.stderr!.on("data", forward);
    const url = `http://127.0.0.1:${port}`;
    await waitForHealth(url, wrangler, 90_000);
    return {
      url,
      ownerToken,
      e2b,
      wranglerPid: wrangler.pid,
      async createUser(name) {
        const res = await fetch(`${url}/api/v1/admin/users`, {
          method: "POST",
          headers: { Authorization: `Bearer ${ownerToken}`, "Content-Type": "application/json" },
          body: JSON.stringify({ name }),
        });
        if (res.status !== 201) throw new Error(`creating a user: ${res.status} ${await res.text()}`);
        return (await res.json()) as { id: string; apiKey: string };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
