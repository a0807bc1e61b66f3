// The control-plane REST API (what the SDK calls with `apiUrl`): create, connect, list, get, kill
// and set the timeout of sandboxes, behind the X-API-KEY check.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Limits } from "./sandbox.ts";
import type { Registry, SandboxRec } from "./registry.ts";
import { MAX_RPC_BODY, httpError, keyEquals, readBody, sendJson } from "./http.ts";
import { findTemplate, prepareSandbox, sandboxExtras } from "./templates.ts";

export const ENVD_VERSION = "0.6.13";
const DEFAULT_TIMEOUT_S = 300;
const MAX_TIMEOUT_S = 24 * 3600;

export type ApiOptions = {
  registry: Registry;
  /** X-API-KEY values accepted */
  apiKeys: string[];
  limits: Limits;
};

function timeoutSeconds(v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
    throw httpError(400, "timeout must be a non-negative number of seconds");
  return Math.min(v, MAX_TIMEOUT_S);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const buf = await readBody(req, MAX_RPC_BODY);
  if (buf.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(buf.toString("utf8"));
  } catch {
    throw httpError(400, "invalid JSON body");
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw httpError(400, "body must be a JSON object");
  return v as Record<string, unknown>;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw httpError(400, `${what} must be an object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as object)) {
    if (typeof val !== "string") throw httpError(400, `${what}.${k} must be a string`);
    out[k] = val;
  }
  return out;
}

const identityJson = (rec: SandboxRec) => ({
  sandboxID: rec.id,
  templateID: rec.templateID,
  alias: rec.alias,
  clientID: "e2b-local",
});

/** The answer to create and connect. */
const sandboxJson = (rec: SandboxRec) => ({
  ...identityJson(rec),
  envdVersion: ENVD_VERSION,
  envdAccessToken: rec.token,
  ...sandboxExtras(rec),
});

/** The answer to get and list. */
function detailJson(rec: SandboxRec, limits: Limits) {
  return {
    ...identityJson(rec),
    metadata: rec.metadata,
    startedAt: rec.startedAt.toISOString(),
    endAt: rec.endAt.toISOString(),
    state: "running",
    cpuCount: 2,
    memoryMB: Math.round(limits.memoryBytes / 1024 / 1024),
    diskSizeMB: Math.round(limits.fileSizeBytes / 1024 / 1024),
    envdVersion: ENVD_VERSION,
  };
}

/** The handler for every request without an `E2b-Sandbox-Id` header. */
export function apiHandler({ registry, apiKeys, limits }: ApiOptions) {
  return async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (path === "/health" && method === "GET") {
      res.writeHead(204).end();
      return;
    }
    const key = String(req.headers["x-api-key"] ?? "");
    if (!key || !apiKeys.some((k) => keyEquals(key, k))) throw httpError(401, "Invalid API key");
    let m: RegExpExecArray | null;
    if ((path === "/v2/sandboxes" || path === "/sandboxes") && method === "POST") {
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
      const rec = await registry.create({ metadata, envVars, timeoutS, internet, template: tpl });
      // templates.ts: traffic token, the template's own servers (killed again if they fail to start)
      await prepareSandbox(registry, rec, tpl, body);
      sendJson(res, 201, sandboxJson(rec));
      return;
    }
    if ((path === "/v2/sandboxes" || path === "/sandboxes") && method === "GET") {
      const filter: Record<string, string> = {};
      const mq = url.searchParams.get("metadata");
      if (mq) {
        for (const [k, v] of new URLSearchParams(mq)) {
          try {
            filter[decodeURIComponent(k)] = decodeURIComponent(v);
          } catch {
            filter[k] = v;
          }
        }
      }
      const states = (url.searchParams.get("state") ?? "").split(",").filter(Boolean);
      const list = registry
        .all()
        .filter(
          (r) =>
            Object.entries(filter).every(([k, v]) => r.metadata[k] === v) &&
            (states.length === 0 || states.includes("running")),
        );
      list.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.id.localeCompare(b.id));
      const limitRaw = url.searchParams.get("limit");
      const limit = limitRaw ? Math.max(1, Math.min(1000, Number(limitRaw) || 100)) : 100;
      let offset = 0;
      const tok = url.searchParams.get("nextToken");
      if (tok) {
        const n = Number(Buffer.from(tok, "base64url").toString("utf8"));
        if (!Number.isInteger(n) || n < 0) throw httpError(400, "invalid nextToken");
        offset = n;
      }
      const page = list.slice(offset, offset + limit);
      const headers: Record<string, string> = {};
      if (offset + limit < list.length)
        headers["x-next-token"] = Buffer.from(String(offset + limit)).toString("base64url");
      sendJson(
        res,
        200,
        page.map((r) => detailJson(r, limits)),
        headers,
      );
      return;
    }
    if ((m = /^(?:\/v2)?\/sandboxes\/([^/]+)\/connect$/.exec(path)) && method === "POST") {
      const rec = registry.get(decodeURIComponent(m[1]!));
      const body = await jsonBody(req);
      if (!rec) throw httpError(404, `sandbox '${m[1]}' not found`);
      const t = timeoutSeconds(body.timeout, 0);
      const want = Date.now() + t * 1000;
      // connect only extends the TTL
      if (want > rec.endAt.getTime()) registry.setEnd(rec, want);
      sendJson(res, 200, sandboxJson(rec));
      return;
    }
    if ((m = /^\/sandboxes\/([^/]+)\/timeout$/.exec(path)) && method === "POST") {
      const rec = registry.get(decodeURIComponent(m[1]!));
      const body = await jsonBody(req);
      if (!rec) throw httpError(404, `sandbox '${m[1]}' not found`);
      const t = timeoutSeconds(body.timeout, DEFAULT_TIMEOUT_S);
      registry.setEnd(rec, Date.now() + t * 1000);
      res.writeHead(204).end();
      return;
    }
    if ((m = /^\/sandboxes\/([^/]+)$/.exec(path))) {
      const rec = registry.get(decodeURIComponent(m[1]!));
      if (method === "GET") {
        if (!rec) throw httpError(404, `sandbox '${m[1]}' not found`);
        sendJson(res, 200, detailJson(rec, limits));
        return;
      }
      if (method === "DELETE") {
        if (!rec) throw httpError(404, `sandbox '${m[1]}' not found`);
        await registry.kill(rec);
        res.writeHead(204).end();
        return;
      }
    }
    if ((m = /^\/sandboxes\/([^/]+)\/(pause|resume|snapshots|fork|network|metrics)$/.exec(path))) {
      throw httpError(501, `${m[2]} is not supported by e2b-local`);
    }
    throw httpError(404, `no route for ${method} ${path}`);
  };
}
