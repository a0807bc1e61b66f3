// The control-plane REST API (what the SDK calls with `apiUrl`): create, connect, list, get, kill
// and set the timeout of sandboxes, behind the X-API-KEY check. Requests are dispatched through one
// route table (method + path pattern -> handler).
import type { IncomingMessage, ServerResponse } from "node:http";
import { httpError } from "./errors.ts";
import { MAX_RPC_BODY, keyEquals, readBody, sendJson } from "./http.ts";
import type { Lifecycle, Registry, SandboxRec } from "./registry.ts";
import type { Limits } from "./sandbox.ts";
import { findTemplate, prepareSandbox, sandboxExtras } from "./templates.ts";
import { listPage, parseListQuery } from "./api-list.ts";
import { samplesBetween } from "./metrics.ts";

export const ENVD_VERSION = "0.6.13";
const DEFAULT_TIMEOUT_S = 300;
const MAX_TIMEOUT_S = 24 * 3600;

export type ApiOptions = {
  registry: Registry;
  /** X-API-KEY values accepted */
  apiKeys: string[];
  limits: Limits;
};

function timeoutSeconds(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw httpError(400, "timeout must be a non-negative number of seconds");
  return Math.min(value, MAX_TIMEOUT_S);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const buf = await readBody(req, MAX_RPC_BODY);
  if (buf.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(buf.toString("utf8"));
  } catch {
    throw httpError(400, "invalid JSON body");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw httpError(400, "body must be a JSON object");
  return value as Record<string, unknown>;
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw httpError(400, `${what} must be an object`);
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value as object)) {
    if (typeof entry !== "string") throw httpError(400, `${what}.${key} must be a string`);
    out[key] = entry;
  }
  return out;
}

/** `autoPause` / `autoPauseMemory` / `autoResume: {enabled}` of a create request. */
function lifecycleOf(body: Record<string, unknown>): Lifecycle {
  if (body.autoPause !== undefined && typeof body.autoPause !== "boolean")
    throw httpError(400, "autoPause must be a boolean");
  const onTimeout = body.autoPause === true ? "pause" : "kill";
  if (body.autoPauseMemory === true)
    throw httpError(
      400,
      "e2b-local pauses filesystem only (processes restart on resume): onTimeout keepMemory: true is not supported",
    );
  const resume = body.autoResume as { enabled?: unknown } | undefined;
  if (resume !== undefined && (typeof resume !== "object" || resume === null || typeof resume.enabled !== "boolean"))
    throw httpError(400, "autoResume must be { enabled: boolean }");
  const autoResume = resume?.enabled === true;
  if (autoResume && onTimeout !== "pause") throw httpError(400, "autoResume needs autoPause");
  return { onTimeout, autoResume };
}

const identityJson = (sandbox: SandboxRec) => ({
  sandboxID: sandbox.id,
  templateID: sandbox.templateID,
  alias: sandbox.alias,
  clientID: "e2b-local",
});

/** The answer to create and connect. */
const sandboxJson = (sandbox: SandboxRec) => ({
  ...identityJson(sandbox),
  envdVersion: ENVD_VERSION,
  envdAccessToken: sandbox.token,
  ...sandboxExtras(sandbox),
});

/** The answer to get and list. */
function detailJson(sandbox: SandboxRec, limits: Limits) {
  return {
    ...identityJson(sandbox),
    metadata: sandbox.metadata,
    startedAt: sandbox.startedAt.toISOString(),
    endAt: sandbox.endAt.toISOString(),
    state: sandbox.paused ? "paused" : "running",
    lifecycle: { onTimeout: sandbox.lifecycle.onTimeout, autoResume: sandbox.lifecycle.autoResume },
    cpuCount: Math.max(1, Math.ceil(limits.cpus)),
    memoryMB: Math.round(limits.memoryBytes / 1024 / 1024),
    diskSizeMB: Math.round(limits.diskBytes / 1024 / 1024),
    envdVersion: ENVD_VERSION,
  };
}

/** What a handler gets: the request, the response, the URL and the path pattern's named parts. */
type Call = { req: IncomingMessage; res: ServerResponse; url: URL; params: Record<string, string> };
type Route = { method: string; pattern: RegExp; handler: (call: Call) => Promise<void> };

/** `/sandboxes/:id/connect` -> a RegExp whose named groups are the `:name` parts (one path segment each). */
function pathPattern(path: string): RegExp {
  const source = path.replace(/[.]/g, "\\.").replace(/:([A-Za-z]+)/g, "(?<$1>[^/]+)");
  return new RegExp(`^${source}$`);
}

function routes({ registry, limits }: ApiOptions): Route[] {
  const table: Route[] = [];
  const add = (method: string, paths: string[], handler: Route["handler"]) => {
    for (const path of paths) table.push({ method, pattern: pathPattern(path), handler });
  };
  const lookup = (id: string) => registry.find(decodeURIComponent(id));
  const notFound = (id: string) => httpError(404, `sandbox '${id}' not found`);
  const existing = (id: string): SandboxRec => {
    const sandbox = lookup(id);
    if (!sandbox) throw notFound(id);
    return sandbox;
  };

  add("POST", ["/sandboxes", "/v2/sandboxes"], async ({ req, res }) => {
    const body = await jsonBody(req);
    const template = body.templateID === undefined ? "base" : body.templateID;
    if (typeof template !== "string" || !/^[A-Za-z0-9_\-./:]{1,128}$/.test(template))
      throw httpError(400, "invalid templateID");
    const tpl = findTemplate(template);
    if (!tpl) throw httpError(404, `template '${template}' not found (e2b-local has: base, code-interpreter-v1)`);
    const metadata = stringMap(body.metadata, "metadata");
    const envVars = stringMap(body.envVars, "envVars");
    const timeoutS = timeoutSeconds(body.timeout, DEFAULT_TIMEOUT_S);
    const internet = body.allow_internet_access === true;
    const lifecycle = lifecycleOf(body);
    const sandbox = await registry.create({ metadata, envVars, timeoutS, internet, template: tpl, lifecycle });
    // templates.ts: traffic token, the template's own servers (killed again if they fail to start)
    await prepareSandbox(registry, sandbox, tpl, body);
    sendJson(res, 201, sandboxJson(sandbox));
  });

  add("GET", ["/sandboxes", "/v2/sandboxes"], async ({ res, url }) => {
    const { page, nextToken } = listPage(registry.all(), parseListQuery(url.searchParams));
    sendJson(
      res,
      200,
      page.map((sandbox) => detailJson(sandbox, limits)),
      nextToken ? { "x-next-token": nextToken } : {},
    );
  });

  add("POST", ["/sandboxes/:id/connect", "/v2/sandboxes/:id/connect"], async ({ req, res, params }) => {
    const sandbox = lookup(params.id!);
    const body = await jsonBody(req);
    if (!sandbox) throw notFound(params.id!);
    if (sandbox.paused) {
      // resumed: its processes start again on its kept disk (201, as E2B answers a resume)
      await registry.resume(sandbox, timeoutSeconds(body.timeout, DEFAULT_TIMEOUT_S));
      sendJson(res, 201, sandboxJson(sandbox));
      return;
    }
    const want = Date.now() + timeoutSeconds(body.timeout, 0) * 1000;
    // connect only extends the TTL
    if (want > sandbox.endAt.getTime()) registry.setEnd(sandbox, want);
    sendJson(res, 200, sandboxJson(sandbox));
  });

  add("POST", ["/sandboxes/:id/timeout"], async ({ req, res, params }) => {
    const sandbox = lookup(params.id!);
    const body = await jsonBody(req);
    if (!sandbox) throw notFound(params.id!);
    const endAt = Date.now() + timeoutSeconds(body.timeout, DEFAULT_TIMEOUT_S) * 1000;
    if (sandbox.paused) throw httpError(409, `sandbox '${params.id}' is paused: connect to resume it first`);
    registry.setEnd(sandbox, endAt);
    res.writeHead(204).end();
  });

  add("GET", ["/sandboxes/:id"], async ({ res, params }) => {
    sendJson(res, 200, detailJson(existing(params.id!), limits));
  });

  add("DELETE", ["/sandboxes/:id"], async ({ res, params }) => {
    await registry.kill(existing(params.id!));
    res.writeHead(204).end();
  });

  add("GET", ["/sandboxes/:id/metrics"], async ({ res, url, params }) => {
    const sandbox = existing(params.id!);
    const bound = (name: string) => {
      const raw = url.searchParams.get(name);
      if (raw === null || raw === "") return undefined;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0) throw httpError(400, `${name} must be a Unix time in seconds`);
      return n;
    };
    const start = bound("start");
    const end = bound("end");
    if (start !== undefined && end !== undefined && start > end) throw httpError(400, "start must not be after end");
    sendJson(res, 200, samplesBetween(sandbox.metrics, start, end));
  });

  add("POST", ["/sandboxes/:id/pause"], async ({ req, res, params }) => {
    const sandbox = existing(params.id!);
    const body = await jsonBody(req);
    if (body.memory === true)
      throw httpError(
        400,
        "e2b-local pauses filesystem only (processes restart on resume): pause without keepMemory, or keepMemory: false",
      );
    if (!(await registry.pause(sandbox))) throw httpError(409, `sandbox '${params.id}' is already paused`);
    res.writeHead(204).end();
  });

  add("POST", ["/sandboxes/:id/resume"], async ({ req, res, params }) => {
    const sandbox = existing(params.id!);
    const body = await jsonBody(req);
    if (!sandbox.paused) throw httpError(409, `sandbox '${params.id}' is already running`);
    await registry.resume(sandbox, timeoutSeconds(body.timeout, DEFAULT_TIMEOUT_S));
    sendJson(res, 201, sandboxJson(sandbox));
  });

  table.push({
    method: "*",
    pattern: /^\/sandboxes\/(?<id>[^/]+)\/(?<feature>snapshots|fork|network)$/,
    handler: async ({ params }) => {
      throw httpError(501, `${params.feature} is not supported by e2b-local`);
    },
  });
  return table;
}

/** The handler for every request without an `E2b-Sandbox-Id` header. */
export function apiHandler(options: ApiOptions) {
  const table = routes(options);
  return async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (path === "/health" && method === "GET") {
      res.writeHead(204).end();
      return;
    }
    const key = String(req.headers["x-api-key"] ?? "");
    if (!key || !options.apiKeys.some((accepted) => keyEquals(key, accepted))) throw httpError(401, "Invalid API key");
    for (const route of table) {
      if (route.method !== method && route.method !== "*") continue;
      const match = route.pattern.exec(path);
      if (match) return route.handler({ req, res, url, params: { ...match.groups } });
    }
    throw httpError(404, `no route for ${method} ${path}`);
  };
}
