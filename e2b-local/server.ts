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
import { ServerError } from "./errors.ts";
import { sendError, sendJson } from "./http.ts";
import { pickIsolation } from "./isolation.ts";
import type { Isolation, IsolationKind } from "./isolation.ts";
import { Cgroups } from "./cgroups.ts";
import { probeDisk } from "./disk.ts";
import { cleanLeftovers } from "./leftovers.ts";
import { probeEgress } from "./network.ts";
import { DEFAULT_LIMITS } from "./sandbox.ts";
import type { BoxHost, Limits } from "./sandbox.ts";
import { SANDBOX_PATH, USER_UID } from "./view.ts";
import { Registry } from "./registry.ts";
import { apiHandler } from "./api.ts";
import { envdHandler, signedFilesHandler } from "./envd.ts";
import { portHandler, portTarget, upgradeHandler } from "./ports.ts";
import { findTemplate } from "./templates.ts";

export { ENVD_VERSION } from "./api.ts";

/** A fresh random API key, for a server started without one. Hex after `e2b_` so SDK format checks pass. */
export const randomApiKey = () => `e2b_${randomBytes(20).toString("hex")}`;

/** A positive number from env var `name` times `unit`, or undefined when unset. */
function envNumber(name: string, unit: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`e2b-local: ${name} must be a positive number, not ${raw}`);
  return value * unit;
}

/** Limits from the environment (E2B_LOCAL_MEMORY_MB, _CPUS, _PIDS, _DISK_MB), below the options. */
function envLimits(): Partial<Limits> {
  const limits: Partial<Limits> = {
    memoryBytes: envNumber("E2B_LOCAL_MEMORY_MB", 1024 * 1024),
    cpus: envNumber("E2B_LOCAL_CPUS", 1),
    pids: envNumber("E2B_LOCAL_PIDS", 1),
    diskBytes: envNumber("E2B_LOCAL_DISK_MB", 1024 * 1024),
  };
  for (const key of Object.keys(limits) as Array<keyof Limits>) if (limits[key] === undefined) delete limits[key];
  return limits;
}

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
  /** the limits each sandbox gets */
  limits: Limits;
  /** one sentence per limit this host cannot enforce (also logged at start); empty when all are */
  notEnforced: string[];
};

export async function startE2bLocal(opts: E2bLocalOptions = {}): Promise<E2bLocal> {
  const host = opts.host ?? process.env.E2B_LOCAL_HOST ?? "127.0.0.1";
  const port = opts.port ?? (process.env.E2B_LOCAL_PORT ? Number(process.env.E2B_LOCAL_PORT) : 49982);
  // no public default: without a configured key, a random one (printed by main.ts, read by the tests)
  const apiKey = opts.apiKey || process.env.E2B_LOCAL_API_KEY || randomApiKey();
  const apiKeys = [apiKey];
  const dataDir =
    opts.dataDir ??
    process.env.E2B_LOCAL_DATA_DIR ??
    join(tmpdir(), `e2b-local-${process.pid}-${randomBytes(3).toString("hex")}`);
  const log = opts.log ?? (() => {});
  const limits: Limits = { ...DEFAULT_LIMITS, ...envLimits(), ...opts.limits };
  const isolation = pickIsolation(opts.isolation ?? (process.env.E2B_LOCAL_ISOLATION || undefined));
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  const cleaned = cleanLeftovers(dataDir);
  if (cleaned) log(`cleaned ${cleaned} data folder(s) left by e2b-local servers that are gone`);

  // what this host can enforce; whatever it cannot is said in one line, and e2b-local runs on
  const problems: string[] = [];
  const cgroups = Cgroups.setup(limits, problems);
  const disk = probeDisk(problems);
  const egress = probeEgress();
  if (typeof egress === "string") problems.push(egress);
  if (problems.length)
    (opts.log ?? console.warn)(`e2b-local: limits NOT enforced on this host: ${problems.join("; ")}`);
  const boxHost: BoxHost = {
    dataDir,
    isolation,
    limits,
    cgroups,
    disk,
    egress: typeof egress === "string" ? null : egress,
  };

  const registry = new Registry({
    host: boxHost,
    poolSize: opts.poolSize ?? 2,
    log,
    restart: async (rec) => findTemplate(rec.templateID)?.start?.(rec),
  });
  const handleApi = apiHandler({ registry, apiKeys, limits });
  const handleEnvd = envdHandler({ registry, limits });
  const handleSignedFiles = signedFilesHandler({ registry, limits });
  const handlePort = portHandler({ registry, log });

  const server = createServer({ noDelay: true, keepAliveTimeout: 30_000, requestTimeout: 0 }, (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      sendJson(res, 400, { code: 400, message: "bad url" });
      return;
    }
    const sandboxId = req.headers["e2b-sandbox-id"];
    // a server listening on a port inside a sandbox (ports.ts); envd's own port stays envd's
    const target = portTarget(req);
    const handled = target
      ? handlePort(req, res, target)
      : typeof sandboxId === "string" && sandboxId
        ? handleEnvd(req, res, url, sandboxId)
        : url.pathname === "/health"
          ? Promise.resolve(void res.writeHead(204).end())
          : url.pathname === "/files" && url.searchParams.has("signature")
            ? handleSignedFiles(req, res, url)
            : handleApi(req, res, url);
    handled.catch((e) => {
      req.resume();
      if (e instanceof ServerError) sendError(res, e);
      else {
        log(`error: ${(e as Error)?.stack ?? e}`);
        sendJson(res, 500, { code: 500, message: (e as Error)?.message ?? "internal error" });
      }
    });
  });
  server.on("clientError", (_e, socket) => socket.destroy());
  const handleUpgrade = upgradeHandler({ registry, log });
  server.on("upgrade", (req, socket, head) => void handleUpgrade(req, socket, head).catch(() => socket.destroy()));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  registry.fillPool();
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    apiKey,
    isolation,
    limits,
    notEnforced: problems,
    async benchFloor(sandboxId, argv, n) {
      const sandbox = registry.get(sandboxId);
      if (!sandbox) throw new Error("no such sandbox");
      const env = { PATH: SANDBOX_PATH, HOME: "/home/user", USER: "user", LOGNAME: "user", ...sandbox.envVars };
      return sandbox.box.agent.benchFloor(argv, n, env, "/home/user", USER_UID);
    },
    async close() {
      server.close();
      server.closeAllConnections();
      await registry.close();
      await cgroups.close();
      if (!opts.dataDir && !process.env.E2B_LOCAL_DATA_DIR)
        await rm(dataDir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
