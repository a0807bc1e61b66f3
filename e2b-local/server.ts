// e2b-local: E2B's control-plane REST API and envd's Connect-RPC/HTTP protocol on one port.
// startE2bLocal reads the options, starts the HTTP server and routes each request: envd requests are
// recognised by their `E2b-Sandbox-Id` header (the SDK sends it when `sandboxUrl` points here) and go
// to envd.ts; everything else is the control-plane API (api.ts). Sandboxes live in registry.ts.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS, ISOLATION_KINDS, SANDBOX_PATH, USER_UID, detectIsolation } from "./sandbox.ts";
import type { Isolation, IsolationKind, Limits } from "./sandbox.ts";
import { HttpError, sendJson } from "./http.ts";
import { Registry } from "./registry.ts";
import { apiHandler } from "./api.ts";
import { envdHandler } from "./envd.ts";
import { portHandler, portTarget, upgradeHandler } from "./ports.ts";

export { ENVD_VERSION } from "./api.ts";

/** The default API key (E2B_LOCAL_API_KEY overrides). Hex after `e2b_` so format checks pass. */
export const DEFAULT_API_KEY = "e2b_10ca1000000000000000000000000000000000";
/** Also accepted when no E2B_LOCAL_API_KEY is configured (the name the issue uses). */
const LEGACY_DEFAULT_KEY = "e2b_local";

export type E2bLocalOptions = {
  host?: string;
  port?: number;
  dataDir?: string;
  apiKey?: string;
  log?: (line: string) => void;
  /** spare pre-started sandboxes kept ready for Sandbox.create (default 2) */
  poolSize?: number;
  limits?: Partial<Limits>;
  /** force one isolation (default: env E2B_LOCAL_ISOLATION, else bwrap when it works, else unshare) */
  isolation?: IsolationKind;
};

export type E2bLocal = {
  url: string;
  port: number;
  apiKey: string;
  close(): Promise<void>;
  /** for the benchmark: spawn argv n times inside the sandbox directly (no server), durations in ms */
  benchFloor(sandboxId: string, argv: string[], n: number): Promise<number[]>;
  isolation: Isolation;
};

function pickIsolation(asked: string | undefined): Isolation {
  if (asked !== undefined && !ISOLATION_KINDS.includes(asked as IsolationKind)) {
    throw new Error(
      `e2b-local: unknown isolation ${JSON.stringify(asked)} (E2B_LOCAL_ISOLATION / isolation: bwrap or unshare)`,
    );
  }
  const isolation = detectIsolation(asked as IsolationKind | undefined);
  if (!isolation) {
    throw new Error(
      asked === "bwrap"
        ? "e2b-local: isolation bwrap was asked for but bubblewrap does not work here. Install it (Debian/Ubuntu: `apt-get install bubblewrap`)."
        : asked === "unshare"
          ? "e2b-local: isolation unshare was asked for but `unshare` (util-linux) cannot create the sandbox namespaces here (it needs root: mount, pivot_root). Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`)."
          : "e2b-local: no usable sandbox isolation found: neither bubblewrap nor `unshare` (util-linux, as root) can create the sandbox namespaces here. Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`).",
    );
  }
  return isolation;
}

export async function startE2bLocal(opts: E2bLocalOptions = {}): Promise<E2bLocal> {
  const host = opts.host ?? process.env.E2B_LOCAL_HOST ?? "127.0.0.1";
  const port = opts.port ?? (process.env.E2B_LOCAL_PORT ? Number(process.env.E2B_LOCAL_PORT) : 49982);
  const envKey = process.env.E2B_LOCAL_API_KEY;
  const apiKey = opts.apiKey ?? envKey ?? DEFAULT_API_KEY;
  const apiKeys = !opts.apiKey && !envKey ? [apiKey, LEGACY_DEFAULT_KEY] : [apiKey];
  const dataDir =
    opts.dataDir ??
    process.env.E2B_LOCAL_DATA_DIR ??
    join(tmpdir(), `e2b-local-${process.pid}-${randomBytes(3).toString("hex")}`);
  const log = opts.log ?? (() => {});
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const isolation = pickIsolation(opts.isolation ?? (process.env.E2B_LOCAL_ISOLATION || undefined));
  await mkdir(dataDir, { recursive: true, mode: 0o711 });

  const registry = new Registry({ dataDir, isolation, limits, poolSize: opts.poolSize ?? 2, log });
  const handleApi = apiHandler({ registry, apiKeys, limits });
  const handleEnvd = envdHandler({ registry, limits });
  const handlePort = portHandler({ registry, log });

  const server = createServer({ noDelay: true, keepAliveTimeout: 30_000, requestTimeout: 0 }, (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      sendJson(res, 400, { code: 400, message: "bad url" });
      return;
    }
    const sid = req.headers["e2b-sandbox-id"];
    // a server listening on a port inside a sandbox (ports.ts); envd's own port stays envd's
    const target = portTarget(req);
    const p = target
      ? handlePort(req, res, target)
      : typeof sid === "string" && sid
        ? handleEnvd(req, res, url, sid)
        : url.pathname === "/health"
          ? Promise.resolve(void res.writeHead(204).end())
          : handleApi(req, res, url);
    p.catch((e) => {
      req.resume();
      if (e instanceof HttpError) sendJson(res, e.status, e.body);
      else {
        log(`error: ${(e as Error)?.stack ?? e}`);
        sendJson(res, 500, { code: 500, message: (e as Error)?.message ?? "internal error" });
      }
    });
  });
  server.on("clientError", (_e, socket) => socket.destroy());
  const handleUpgrade = upgradeHandler({ registry, log });
  server.on("upgrade", (req, socket, head) => void handleUpgrade(req, socket, head).catch(() => socket.destroy()));

  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(port, host, () => res());
  });
  const actualPort = (server.address() as AddressInfo).port;
  registry.fillPool();
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    apiKey,
    isolation,
    async benchFloor(sandboxId, argv, n) {
      const rec = registry.get(sandboxId);
      if (!rec) throw new Error("no such sandbox");
      const env = { PATH: SANDBOX_PATH, HOME: "/home/user", USER: "user", LOGNAME: "user", ...rec.envVars };
      return rec.box.benchFloor(argv, n, env, "/home/user", USER_UID);
    },
    async close() {
      server.close();
      server.closeAllConnections();
      await registry.close();
      if (!opts.dataDir && !process.env.E2B_LOCAL_DATA_DIR)
        await rm(dataDir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
