// e2b-local: E2B's control-plane REST API and envd's Connect-RPC/HTTP protocol on one port.
// envd requests are recognised by their `E2b-Sandbox-Id` header (the SDK sends it when
// `sandboxUrl` points here); everything else is the control-plane API.
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createReadStream, watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { chown, lstat, mkdir, readdir, rename, rm, stat, writeFile, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { createGzip, gunzip } from "node:zlib";
import { promisify } from "node:util";
import { Box, DEFAULT_LIMITS, ISOLATION_KINDS, SANDBOX_PATH, USER_GID, USER_UID, detectIsolation } from "./sandbox.ts";
import type { Isolation, IsolationKind, Limits, Proc, ProcListener } from "./sandbox.ts";
import { END_OK, RpcError, codeToStatus, endError, envelope, parseEnvelope } from "./connect.ts";
import {
  FsError,
  canAccess,
  entryInfo,
  normalize,
  resolve,
  resolveExisting,
  resolveForCreate,
  sandboxMounts,
} from "./files.ts";
import type { Mount } from "./files.ts";

const gunzipAsync = promisify(gunzip);

/** The default API key (E2B_LOCAL_API_KEY overrides). Hex after `e2b_` so format checks pass. */
export const DEFAULT_API_KEY = "e2b_10ca1000000000000000000000000000000000";
/** Also accepted when no E2B_LOCAL_API_KEY is configured (the name the issue uses). */
const LEGACY_DEFAULT_KEY = "e2b_local";
export const ENVD_VERSION = "0.6.13";
const DEFAULT_TIMEOUT_S = 300;
const MAX_TIMEOUT_S = 24 * 3600;
const MAX_RPC_BODY = 16 * 1024 * 1024;
const MAX_FILE_BODY = 1024 * 1024 * 1024;

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

type SandboxRec = {
  id: string;
  box: Box;
  templateID: string;
  alias: string;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  startedAt: Date;
  endAt: Date;
  timer: NodeJS.Timeout | null;
  token: string;
  mounts: Mount[];
  streams: Set<ServerResponse>;
  watchers: Map<string, { w: FSWatcher; events: object[] }>;
  fileMeta: Map<string, Record<string, string>>;
};

class HttpError extends Error {
  status: number;
  body: unknown;
  constructor(status: number, body: unknown) {
    super(typeof body === "object" && body && "message" in body ? String((body as { message: unknown }).message) : "error");
    this.status = status;
    this.body = body;
  }
}

const apiError = (status: number, message: string) => new HttpError(status, { code: status, message });

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": String(data.length), ...headers });
  res.end(data);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveP, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, { code: 413, message: "request body too large" }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolveP(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function newSandboxId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const b = randomBytes(20);
  let s = "";
  for (let i = 0; i < 20; i++) s += alphabet[b[i]! % 36];
  return s;
}

function keyEquals(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseMultipart(body: Buffer, contentType: string): Array<{ name: string; filename?: string; data: Buffer }> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) throw new HttpError(400, { code: 400, message: "multipart boundary missing" });
  const boundary = Buffer.from("--" + (m[1] ?? m[2]!).trim());
  const parts: Array<{ name: string; filename?: string; data: Buffer }> = [];
  let pos = body.indexOf(boundary);
  while (pos >= 0) {
    let start = pos + boundary.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing boundary
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const headerEnd = body.indexOf("\r\n\r\n", start);
    if (headerEnd < 0) break;
    const headers = body.subarray(start, headerEnd).toString("utf8");
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), boundary]), headerEnd + 4);
    if (next < 0) throw new HttpError(400, { code: 400, message: "malformed multipart body" });
    const data = body.subarray(headerEnd + 4, next);
    const disp = /content-disposition:([^\r\n]*)/i.exec(headers)?.[1] ?? "";
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1] ?? "";
    const fnStar = /\bfilename\*=(?:UTF-8'')?([^;\r\n]+)/i.exec(disp)?.[1];
    const fn = /\bfilename="((?:[^"\\]|\\.)*)"/i.exec(disp)?.[1];
    let filename: string | undefined;
    if (fnStar) filename = decodeURIComponent(fnStar.trim());
    else if (fn !== undefined)
      filename = fn.replace(/%22/g, '"').replace(/%0D/gi, "\r").replace(/%0A/gi, "\n").replace(/\\(.)/g, "$1");
    parts.push({ name, filename, data });
    pos = next + 2;
  }
  return parts;
}

function userFromAuth(req: IncomingMessage, fallback?: string | null): string {
  if (fallback) return fallback;
  const auth = req.headers.authorization;
  if (auth && /^basic /i.test(auth)) {
    const dec = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
    const u = dec.split(":")[0];
    if (u) return u;
  }
  return "user";
}

function uidOf(user: string): number {
  if (user === "user") return USER_UID;
  if (user === "root") return 0;
  throw new RpcError("unauthenticated", `invalid username: '${user}'`);
}

const homeOf = (uid: number) => (uid === 0 ? "/root" : "/home/user");

export async function startE2bLocal(opts: E2bLocalOptions = {}): Promise<E2bLocal> {
  const host = opts.host ?? process.env.E2B_LOCAL_HOST ?? "127.0.0.1";
  const port = opts.port ?? (process.env.E2B_LOCAL_PORT ? Number(process.env.E2B_LOCAL_PORT) : 49982);
  const envKey = process.env.E2B_LOCAL_API_KEY;
  const apiKey = opts.apiKey ?? envKey ?? DEFAULT_API_KEY;
  const acceptLegacy = !opts.apiKey && !envKey;
  const dataDir =
    opts.dataDir ?? process.env.E2B_LOCAL_DATA_DIR ?? join(tmpdir(), `e2b-local-${process.pid}-${randomBytes(3).toString("hex")}`);
  const log = opts.log ?? (() => {});
  const poolSize = opts.poolSize ?? 2;
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };

  const want = opts.isolation ?? (process.env.E2B_LOCAL_ISOLATION || undefined);
  if (want !== undefined && !ISOLATION_KINDS.includes(want as IsolationKind)) {
    throw new Error(`e2b-local: unknown isolation ${JSON.stringify(want)} (E2B_LOCAL_ISOLATION / isolation: bwrap or unshare)`);
  }
  const isolation = detectIsolation(want as IsolationKind | undefined);
  if (!isolation) {
    throw new Error(
      want === "bwrap"
        ? "e2b-local: isolation bwrap was asked for but bubblewrap does not work here. Install it (Debian/Ubuntu: `apt-get install bubblewrap`)."
        : want === "unshare"
          ? "e2b-local: isolation unshare was asked for but `unshare` (util-linux) cannot create the sandbox namespaces here (it needs root: mount, pivot_root). Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`)."
          : "e2b-local: no usable sandbox isolation found: neither bubblewrap nor `unshare` (util-linux, as root) can create the sandbox namespaces here. Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`).",
    );
  }
  await mkdir(dataDir, { recursive: true, mode: 0o711 });

  const sandboxes = new Map<string, SandboxRec>();
  const pool: Box[] = [];
  let closing = false;
  let filling = 0;

  const newBox = (internet: boolean) => new Box(dataDir, isolation, limits, internet);

  function fillPool(): void {
    while (!closing && pool.length + filling < poolSize) {
      filling++;
      const b = newBox(false);
      b.ready.then(
        () => {
          filling--;
          if (closing) void b.destroy();
          else pool.push(b);
          b.onDeath = () => {
            const i = pool.indexOf(b);
            if (i >= 0) pool.splice(i, 1);
          };
        },
        () => {
          filling--;
          void b.destroy();
        },
      );
    }
  }

  async function takeBox(internet: boolean): Promise<Box> {
    if (!internet) {
      while (pool.length) {
        const b = pool.shift()!;
        if (!b.dead) {
          fillPool();
          return b;
        }
      }
    }
    const b = newBox(internet);
    try {
      await b.ready;
    } catch (e) {
      void b.destroy();
      throw e;
    }
    fillPool();
    return b;
  }

  function armTimer(rec: SandboxRec): void {
    if (rec.timer) clearTimeout(rec.timer);
    const ms = Math.max(0, rec.endAt.getTime() - Date.now());
    rec.timer = setTimeout(() => {
      log(`sandbox ${rec.id} expired`);
      void killSandbox(rec);
    }, Math.min(ms, 2 ** 31 - 1));
    rec.timer.unref?.();
  }

  async function killSandbox(rec: SandboxRec): Promise<void> {
    if (!sandboxes.has(rec.id)) return;
    sandboxes.delete(rec.id);
    if (rec.timer) clearTimeout(rec.timer);
    for (const s of rec.streams) s.destroy();
    rec.streams.clear();
    for (const w of rec.watchers.values()) w.w.close();
    rec.watchers.clear();
    await rec.box.destroy();
    log(`sandbox ${rec.id} killed`);
  }

  function sandboxJson(rec: SandboxRec) {
    return {
      sandboxID: rec.id,
      templateID: rec.templateID,
      alias: rec.alias,
      clientID: "e2b-local",
      envdVersion: ENVD_VERSION,
      envdAccessToken: rec.token,
    };
  }

  function detailJson(rec: SandboxRec) {
    return {
      sandboxID: rec.id,
      templateID: rec.templateID,
      alias: rec.alias,
      clientID: "e2b-local",
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

  function timeoutSeconds(v: unknown, dflt: number): number {
    if (v === undefined || v === null) return dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw apiError(400, "timeout must be a non-negative number of seconds");
    return Math.min(v, MAX_TIMEOUT_S);
  }

  async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const buf = await readBody(req, MAX_RPC_BODY);
    if (buf.length === 0) return {};
    let v: unknown;
    try {
      v = JSON.parse(buf.toString("utf8"));
    } catch {
      throw apiError(400, "invalid JSON body");
    }
    if (!v || typeof v !== "object" || Array.isArray(v)) throw apiError(400, "body must be a JSON object");
    return v as Record<string, unknown>;
  }

  function stringMap(v: unknown, what: string): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v)) throw apiError(400, `${what} must be an object`);
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as object)) {
      if (typeof val !== "string") throw apiError(400, `${what}.${k} must be a string`);
      out[k] = val;
    }
    return out;
  }

  // ---------------------------------------------------------------- control plane
  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (path === "/health" && method === "GET") {
      res.writeHead(204).end();
      return;
    }
    const key = String(req.headers["x-api-key"] ?? "");
    if (!key || !(keyEquals(key, apiKey) || (acceptLegacy && keyEquals(key, LEGACY_DEFAULT_KEY)))) {
      throw apiError(401, "Invalid API key");
    }
    let m: RegExpExecArray | null;
    if ((path === "/v2/sandboxes" || path === "/sandboxes") && method === "POST") {
      const body = await jsonBody(req);
      const template = body.templateID === undefined ? "base" : body.templateID;
      if (typeof template !== "string" || !/^[A-Za-z0-9_\-./:]{1,128}$/.test(template)) throw apiError(400, "invalid templateID");
      if (template !== "base") throw apiError(404, `template '${template}' not found (e2b-local only has 'base')`);
      const metadata = stringMap(body.metadata, "metadata");
      const envVars = stringMap(body.envVars, "envVars");
      const timeout = timeoutSeconds(body.timeout, DEFAULT_TIMEOUT_S);
      const internet = body.allow_internet_access === true;
      const box = await takeBox(internet);
      const now = new Date();
      const rec: SandboxRec = {
        id: newSandboxId(),
        box,
        templateID: "base",
        alias: "base",
        metadata,
        envVars,
        startedAt: now,
        endAt: new Date(now.getTime() + timeout * 1000),
        timer: null,
        token: randomBytes(16).toString("hex"),
        mounts: sandboxMounts(box.dir),
        streams: new Set(),
        watchers: new Map(),
        fileMeta: new Map(),
      };
      box.onDeath = () => {
        if (sandboxes.get(rec.id) === rec) void killSandbox(rec);
      };
      sandboxes.set(rec.id, rec);
      armTimer(rec);
      log(`sandbox ${rec.id} created (timeout ${timeout}s${internet ? ", internet" : ""})`);
      sendJson(res, 201, sandboxJson(rec));
      return;
    }
    if ((path === "/v2/sandboxes" || path === "/sandboxes") && method === "GET") {
      let filter: Record<string, string> = {};
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
      let list = [...sandboxes.values()].filter(
        (r) => Object.entries(filter).every(([k, v]) => r.metadata[k] === v) && (states.length === 0 || states.includes("running")),
      );
      list.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.id.localeCompare(b.id));
      const limitRaw = url.searchParams.get("limit");
      const limit = limitRaw ? Math.max(1, Math.min(1000, Number(limitRaw) || 100)) : 100;
      let offset = 0;
      const tok = url.searchParams.get("nextToken");
      if (tok) {
        const n = Number(Buffer.from(tok, "base64url").toString("utf8"));
        if (!Number.isInteger(n) || n < 0) throw apiError(400, "invalid nextToken");
        offset = n;
      }
      const page = list.slice(offset, offset + limit);
      const headers: Record<string, string> = {};
      if (offset + limit < list.length) headers["x-next-token"] = Buffer.from(String(offset + limit)).toString("base64url");
      sendJson(res, 200, page.map(detailJson), headers);
      return;
    }
    if ((m = /^(?:\/v2)?\/sandboxes\/([^/]+)\/connect$/.exec(path)) && method === "POST") {
      const rec = sandboxes.get(decodeURIComponent(m[1]!));
      const body = await jsonBody(req);
      if (!rec) throw apiError(404, `sandbox '${m[1]}' not found`);
      const t = timeoutSeconds(body.timeout, 0);
      const want = Date.now() + t * 1000;
      if (want > rec.endAt.getTime()) {
        rec.endAt = new Date(want);
        armTimer(rec);
      }
      sendJson(res, 200, sandboxJson(rec));
      return;
    }
    if ((m = /^\/sandboxes\/([^/]+)\/timeout$/.exec(path)) && method === "POST") {
      const rec = sandboxes.get(decodeURIComponent(m[1]!));
      const body = await jsonBody(req);
      if (!rec) throw apiError(404, `sandbox '${m[1]}' not found`);
      const t = timeoutSeconds(body.timeout, DEFAULT_TIMEOUT_S);
      rec.endAt = new Date(Date.now() + t * 1000);
      armTimer(rec);
      res.writeHead(204).end();
      return;
    }
    if ((m = /^\/sandboxes\/([^/]+)$/.exec(path))) {
      const rec = sandboxes.get(decodeURIComponent(m[1]!));
      if (method === "GET") {
        if (!rec) throw apiError(404, `sandbox '${m[1]}' not found`);
        sendJson(res, 200, detailJson(rec));
        return;
      }
      if (method === "DELETE") {
        if (!rec) throw apiError(404, `sandbox '${m[1]}' not found`);
        await killSandbox(rec);
        res.writeHead(204).end();
        return;
      }
    }
    if ((m = /^\/sandboxes\/([^/]+)\/(pause|resume|snapshots|fork|network|metrics)$/.exec(path))) {
      throw apiError(501, `${m[2]} is not supported by e2b-local`);
    }
    throw apiError(404, `no route for ${method} ${path}`);
  }

  // ---------------------------------------------------------------- envd
  function gone(res: ServerResponse, id: string): void {
    sendJson(res, 502, { sandboxId: id, message: "The sandbox was not found", code: 502 });
  }

  async function handleEnvd(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    const rec = sandboxes.get(id);
    if (!rec) {
      req.resume();
      gone(res, id);
      return;
    }
    const path = url.pathname;
    if (path === "/health" && req.method === "GET") {
      res.writeHead(204).end();
      return;
    }
    if (path === "/files") {
      const token = req.headers["x-access-token"];
      if (token !== undefined && token !== rec.token) {
        req.resume();
        sendJson(res, 401, { code: 401, message: "invalid access token" });
        return;
      }
      if (req.method === "GET") return filesGet(req, res, url, rec);
      if (req.method === "POST") return filesPost(req, res, url, rec);
      req.resume();
      sendJson(res, 405, { code: 405, message: "method not allowed" });
      return;
    }
    const rpc = /^\/(process\.Process|filesystem\.Filesystem)\/([A-Za-z]+)$/.exec(path);
    if (!rpc || req.method !== "POST") {
      req.resume();
      sendJson(res, 404, { code: 404, message: `no route for ${req.method} ${path}` });
      return;
    }
    const ctype = String(req.headers["content-type"] ?? "");
    const streaming = ctype.startsWith("application/connect+");
    const service = rpc[1]!;
    const method = rpc[2]!;
    let body: Buffer;
    try {
      body = await readBody(req, MAX_RPC_BODY);
    } catch {
      return;
    }
    const fail = (e: unknown) => {
      const code = e instanceof RpcError || e instanceof FsError ? e.code : fsCode(e);
      const message = e instanceof Error ? e.message : String(e);
      if (streaming) {
        if (!res.headersSent) res.writeHead(200, { "content-type": "application/connect+json" });
        res.end(endError(code, message));
      } else {
        sendJson(res, codeToStatus(code), { code, message });
      }
    };
    try {
      if (req.headers["x-access-token"] !== rec.token) throw new RpcError("unauthenticated", "invalid or missing X-Access-Token");
      let msg: Record<string, any>;
      try {
        msg = (streaming ? parseEnvelope(body) : body.length ? JSON.parse(body.toString("utf8")) : {}) as Record<string, any>;
      } catch (e) {
        throw new RpcError("invalid_argument", `bad request body: ${(e as Error).message}`);
      }
      if (!msg || typeof msg !== "object") throw new RpcError("invalid_argument", "request must be a JSON object");
      const user = userFromAuth(req);
      const uid = uidOf(user);
      if (service === "process.Process") {
        if (streaming && method === "Start") return await rpcStart(req, res, rec, msg, uid);
        if (streaming && method === "Connect") return await rpcConnect(req, res, rec, msg);
        if (!streaming) {
          const out = await processUnary(rec, method, msg);
          sendJson(res, 200, out);
          return;
        }
      } else {
        if (streaming && method === "WatchDir") return await rpcWatch(req, res, rec, msg, uid);
        if (!streaming) {
          const out = await filesystemUnary(rec, method, msg, uid);
          sendJson(res, 200, out);
          return;
        }
      }
      throw new RpcError("unimplemented", `${service}/${method} is not implemented by e2b-local`);
    } catch (e) {
      fail(e);
    }
  }

  function fsCode(e: unknown): string {
    const c = (e as NodeJS.ErrnoException)?.code;
    if (c === "ENOENT") return "not_found";
    if (c === "EEXIST") return "already_exists";
    if (c === "EACCES" || c === "EPERM" || c === "EROFS") return "permission_denied";
    if (c === "ENOTDIR" || c === "EISDIR" || c === "EINVAL" || c === "ENOTEMPTY") return "invalid_argument";
    if (c === "ENOSPC" || c === "EDQUOT" || c === "EFBIG") return "resource_exhausted";
    if (c === "invalid_argument" || c === "not_found" || c === "unauthenticated") return c;
    return "internal";
  }

  function selectProc(rec: SandboxRec, sel: any): Proc {
    if (!sel || typeof sel !== "object") throw new RpcError("invalid_argument", "process selector missing");
    if (sel.pid !== undefined) {
      const p = rec.box.procs.get(Number(sel.pid));
      if (!p) throw new RpcError("not_found", `process with pid ${sel.pid} not found`);
      return p;
    }
    if (typeof sel.tag === "string") {
      for (const p of rec.box.procs.values()) if (p.tag === sel.tag) return p;
      throw new RpcError("not_found", `process with tag ${sel.tag} not found`);
    }
    throw new RpcError("invalid_argument", "process selector missing");
  }

  type Stream = {
    send: (m: unknown) => void;
    end: (err?: { code: string; message: string }, last?: unknown) => void;
    /** the message sent every Keepalive-Ping-Interval seconds */
    keepalive: unknown;
  };

  /**
   * A server-streaming response. The headers are not flushed on their own: they go out with the first
   * message (each stream sends one at once: `start`, or the error end), one write instead of two.
   */
  function openStream(req: IncomingMessage, res: ServerResponse, rec: SandboxRec, onClose: () => void): Stream {
    res.writeHead(200, { "content-type": "application/connect+json" });
    rec.streams.add(res);
    let done = false;
    const intervalS = Number(req.headers["keepalive-ping-interval"]) || 0;
    const ka =
      intervalS > 0
        ? setInterval(() => {
            if (!done) res.write(envelope(stream.keepalive));
          }, intervalS * 1000)
        : null;
    const finish = () => {
      if (done) return;
      done = true;
      if (ka) clearInterval(ka);
      rec.streams.delete(res);
      onClose();
    };
    res.on("close", finish);
    const stream: Stream = {
      keepalive: {},
      send: (m) => {
        if (!done && !res.destroyed) res.write(envelope(m));
      },
      end: (err, last?: unknown) => {
        if (done || res.destroyed) return finish();
        const tail = err ? endError(err.code, err.message) : END_OK;
        // the last message and the end frame in one write
        res.end(last === undefined ? tail : Buffer.concat([envelope(last), tail]));
        finish();
      },
    };
    return stream;
  }

  function endEvent(end: { exitCode?: number; signal?: number }) {
    if (end.signal !== undefined) {
      const name = end.signal === 9 ? "killed" : end.signal === 15 ? "terminated" : `signal ${end.signal}`;
      return { event: { end: { exitCode: -1, exited: false, status: `signal: ${name}`, error: `signal: ${name}` } } };
    }
    const code = end.exitCode ?? 0;
    if (code === 0) return { event: { end: { exitCode: 0, exited: true, status: "exit status 0" } } };
    return { event: { end: { exitCode: code, exited: true, status: `exit status ${code}`, error: `exit status ${code}` } } };
  }

  async function rpcStart(req: IncomingMessage, res: ServerResponse, rec: SandboxRec, msg: any, uid: number): Promise<void> {
    const p = msg.process;
    if (!p || typeof p !== "object" || typeof p.cmd !== "string" || !p.cmd) throw new RpcError("invalid_argument", "process.cmd is required");
    const args: string[] = Array.isArray(p.args) ? p.args.map(String) : [];
    const reqEnvs: Record<string, string> = p.envs && typeof p.envs === "object" ? p.envs : {};
    if (msg.pty) throw new RpcError("unimplemented", "PTY is not supported by e2b-local");
    const home = homeOf(uid);
    const env: Record<string, string> = {
      PATH: SANDBOX_PATH,
      HOME: home,
      USER: uid === 0 ? "root" : "user",
      LOGNAME: uid === 0 ? "root" : "user",
      ...rec.envVars,
    };
    for (const [k, v] of Object.entries(reqEnvs)) env[k] = String(v);
    const cwd = typeof p.cwd === "string" && p.cwd ? normalize(p.cwd, home) : home;
    const timeoutMs = Number(req.headers["connect-timeout-ms"]) || 0;
    const tag = typeof msg.tag === "string" ? msg.tag : undefined;
    let stream!: ReturnType<typeof openStream>;
    let proc: Proc | null = null;
    let closed = false;
    const listener: ProcListener = {
      onStart: (pid) => stream.send({ event: { start: { pid } } }),
      onData: (s, data) => stream.send({ event: { data: { [s]: data.toString("base64") } } }),
      onEnd: (end) => stream.end(undefined, endEvent(end)),
    };
    // The spawn goes to the agent first, so it forks while the response is set up; the response
    // headers then go out together with the `start` message (or the error) in one write.
    const started = rec.box.startProcess({
      config: { cmd: p.cmd, args, envs: reqEnvs, cwd: typeof p.cwd === "string" ? p.cwd : undefined },
      env,
      cwd,
      uid,
      stdin: msg.stdin === true,
      tag,
      timeoutMs,
      listener,
    });
    stream = openStream(req, res, rec, () => {
      closed = true;
      if (proc) proc.listeners.delete(listener);
    });
    stream.keepalive = { event: { keepalive: {} } };
    try {
      proc = await started;
      if (closed) proc.listeners.delete(listener);
    } catch (e) {
      const code = (e as { code?: string }).code;
      stream.end({ code: code && code !== "internal" ? code : "internal", message: (e as Error).message });
      return;
    }
  }

  async function rpcConnect(req: IncomingMessage, res: ServerResponse, rec: SandboxRec, msg: any): Promise<void> {
    const proc = selectProc(rec, msg.process);
    const listener: ProcListener = {
      onData(s, data) {
        stream.send({ event: { data: { [s]: data.toString("base64") } } });
      },
      onEnd(end) {
        stream.end(undefined, endEvent(end));
      },
    };
    const stream = openStream(req, res, rec, () => proc.listeners.delete(listener));
    stream.keepalive = { event: { keepalive: {} } };
    stream.send({ event: { start: { pid: proc.pid } } });
    proc.listeners.add(listener);
  }

  async function processUnary(rec: SandboxRec, method: string, msg: any): Promise<unknown> {
    switch (method) {
      case "List":
        return {
          processes: [...rec.box.procs.values()].map((p) => ({
            config: { cmd: p.config.cmd, args: p.config.args, envs: p.config.envs, ...(p.config.cwd ? { cwd: p.config.cwd } : {}) },
            pid: p.pid,
            ...(p.tag ? { tag: p.tag } : {}),
          })),
        };
      case "SendSignal": {
        const p = selectProc(rec, msg.process);
        const sig = msg.signal === "SIGNAL_SIGTERM" || msg.signal === 15 ? 15 : 9;
        rec.box.signal(p.pid, sig);
        return {};
      }
      case "SendInput": {
        const p = selectProc(rec, msg.process);
        const data = msg.input?.stdin ?? msg.input?.pty;
        if (typeof data !== "string") throw new RpcError("invalid_argument", "input.stdin is required");
        if (!p.stdin) throw new RpcError("failed_precondition", "stdin is not enabled for this process");
        const ok = await rec.box.writeStdin(p, Buffer.from(data, "base64"));
        if (!ok) throw new RpcError("failed_precondition", "stdin is closed");
        return {};
      }
      case "CloseStdin": {
        const p = selectProc(rec, msg.process);
        rec.box.closeStdin(p);
        return {};
      }
      case "Update":
        throw new RpcError("unimplemented", "PTY is not supported by e2b-local");
      default:
        throw new RpcError("unimplemented", `process.Process/${method} is not implemented by e2b-local`);
    }
  }

  // ---------------------------------------------------------------- filesystem
  async function filesystemUnary(rec: SandboxRec, method: string, msg: any, uid: number): Promise<unknown> {
    const home = homeOf(uid);
    const info = (sbPath: string, hostPath: string) => entryInfo(rec.mounts, sbPath, hostPath, home, rec.fileMeta.get(sbPath));
    const reqPath = (v: unknown) => {
      if (typeof v !== "string" || !v) throw new RpcError("invalid_argument", "path is required");
      return v;
    };
    switch (method) {
      case "Stat": {
        const r = await resolveExisting(rec.mounts, reqPath(msg.path), home, false);
        return { entry: await info(r.sbPath, r.hostPath) };
      }
      case "MakeDir": {
        const p = reqPath(msg.path);
        const r0 = await resolve(rec.mounts, p, home, true);
        if (r0.missing.length === 0 && r0.hostPath) throw new RpcError("already_exists", `path '${p}' already exists`);
        const r = await resolveForCreate(rec.mounts, p, home, uid, true);
        return { entry: await info(r.sbPath, r.hostPath) };
      }
      case "Move": {
        const src = await resolveExisting(rec.mounts, reqPath(msg.source), home, false);
        if (!src.mount.rw) throw new RpcError("permission_denied", "read-only file system");
        await checkParentWritable(rec, src.hostPath, uid);
        const dst = await resolveForCreate(rec.mounts, reqPath(msg.destination), home, uid);
        if (!dst.mount.rw) throw new RpcError("permission_denied", "read-only file system");
        await rename(src.hostPath, dst.hostPath);
        const meta = rec.fileMeta.get(src.sbPath);
        if (meta) {
          rec.fileMeta.delete(src.sbPath);
          rec.fileMeta.set(dst.sbPath, meta);
        }
        return { entry: await info(dst.sbPath, dst.hostPath) };
      }
      case "ListDir": {
        const p = reqPath(msg.path);
        const depth = msg.depth === undefined ? 1 : Number(msg.depth);
        if (!Number.isInteger(depth) || depth < 0) throw new RpcError("invalid_argument", "invalid depth");
        const r = await resolveExisting(rec.mounts, p, home, true);
        const st = await stat(r.hostPath);
        if (!st.isDirectory()) throw new RpcError("invalid_argument", `path '${p}' is not a directory`);
        if (!canAccess(st, uid, "r")) throw new RpcError("permission_denied", `permission denied: '${p}'`);
        const entries: unknown[] = [];
        const walk = async (sbDir: string, hostDir: string, level: number) => {
          let names: string[];
          try {
            names = await readdir(hostDir);
          } catch {
            return;
          }
          names.sort();
          for (const n of names) {
            const sbp = posix.join(sbDir, n);
            const hp = join(hostDir, n);
            let e: Record<string, unknown>;
            try {
              e = await info(sbp, hp);
            } catch {
              continue;
            }
            entries.push(e);
            if (level < Math.max(depth, 1) && e.type === "FILE_TYPE_DIRECTORY" && !(await lstat(hp)).isSymbolicLink()) {
              await walk(sbp, hp, level + 1);
            }
          }
        };
        await walk(r.sbPath, r.hostPath, 1);
        return { entries };
      }
      case "Remove": {
        const r = await resolveExisting(rec.mounts, reqPath(msg.path), home, false);
        if (!r.mount.rw || r.hostPath === r.mount.host) throw new RpcError("permission_denied", "cannot remove this path");
        await checkParentWritable(rec, r.hostPath, uid);
        await rm(r.hostPath, { recursive: true, force: true });
        for (const k of rec.fileMeta.keys()) if (k === r.sbPath || k.startsWith(r.sbPath + "/")) rec.fileMeta.delete(k);
        return {};
      }
      case "CreateWatcher": {
        const r = await resolveExisting(rec.mounts, reqPath(msg.path), home, true);
        const wid = randomBytes(8).toString("hex");
        const events: object[] = [];
        const w = makeWatcher(rec, r.sbPath, r.hostPath, msg.recursive === true, (ev) => events.push(ev));
        rec.watchers.set(wid, { w, events });
        return { watcherId: wid };
      }
      case "GetWatcherEvents": {
        const w = rec.watchers.get(String(msg.watcherId));
        if (!w) throw new RpcError("not_found", "watcher not found");
        return { events: w.events.splice(0) };
      }
      case "RemoveWatcher": {
        const w = rec.watchers.get(String(msg.watcherId));
        if (w) {
          w.w.close();
          rec.watchers.delete(String(msg.watcherId));
        }
        return {};
      }
      default:
        throw new RpcError("unimplemented", `filesystem.Filesystem/${method} is not implemented by e2b-local`);
    }
  }

  async function checkParentWritable(rec: SandboxRec, hostPath: string, uid: number): Promise<void> {
    if (uid === 0) return;
    const parent = await stat(posix.dirname(hostPath));
    if (!canAccess(parent, uid, "w")) throw new RpcError("permission_denied", "permission denied");
  }

  function makeWatcher(
    rec: SandboxRec,
    sbDir: string,
    hostDir: string,
    recursive: boolean,
    emit: (ev: object) => void,
  ): FSWatcher {
    const w = watch(hostDir, { recursive, persistent: false }, (kind, filename) => {
      if (!filename) return;
      const name = String(filename);
      const hp = join(hostDir, name);
      if (kind === "change") {
        emit({ name, type: "EVENT_TYPE_WRITE" });
        return;
      }
      lstat(hp).then(
        () => emit({ name, type: "EVENT_TYPE_CREATE" }),
        () => emit({ name, type: "EVENT_TYPE_REMOVE" }),
      );
    });
    w.on("error", () => {});
    void rec;
    void sbDir;
    return w;
  }

  async function rpcWatch(req: IncomingMessage, res: ServerResponse, rec: SandboxRec, msg: any, uid: number): Promise<void> {
    const home = homeOf(uid);
    if (typeof msg.path !== "string" || !msg.path) throw new RpcError("invalid_argument", "path is required");
    const r = await resolveExisting(rec.mounts, msg.path, home, true);
    const st = await stat(r.hostPath);
    if (!st.isDirectory()) throw new RpcError("invalid_argument", `path '${msg.path}' is not a directory`);
    let w: FSWatcher | null = null;
    const stream = openStream(req, res, rec, () => w?.close());
    stream.keepalive = { keepalive: {} };
    stream.send({ start: {} });
    w = makeWatcher(rec, r.sbPath, r.hostPath, msg.recursive === true, (ev) => stream.send({ filesystem: ev }));
  }

  // ---------------------------------------------------------------- /files
  function filesUser(url: URL, req: IncomingMessage): number {
    const u = url.searchParams.get("username") || userFromAuth(req);
    if (u === "user") return USER_UID;
    if (u === "root") return 0;
    throw new HttpError(401, { code: 401, message: `invalid username: '${u}'` });
  }

  function fsHttpError(e: unknown): HttpError {
    if (e instanceof HttpError) return e;
    const code = e instanceof FsError || e instanceof RpcError ? e.code : fsCode(e);
    const status =
      code === "not_found" ? 404 : code === "invalid_argument" ? 400 : code === "permission_denied" ? 403 : code === "resource_exhausted" ? 507 : code === "unauthenticated" ? 401 : 500;
    return new HttpError(status, { code: status, message: e instanceof Error ? e.message : String(e) });
  }

  async function filesGet(req: IncomingMessage, res: ServerResponse, url: URL, rec: SandboxRec): Promise<void> {
    req.resume();
    try {
      const uid = filesUser(url, req);
      const p = url.searchParams.get("path");
      if (!p) throw new HttpError(400, { code: 400, message: "path is required" });
      const r = await resolveExisting(rec.mounts, p, homeOf(uid), true);
      const fh = await open(r.hostPath, "r");
      try {
        const st = await fh.stat();
        if (st.isDirectory()) throw new HttpError(400, { code: 400, message: `path '${p}' is a directory` });
        if (!st.isFile() && r.hostPath !== "/dev/null") throw new HttpError(400, { code: 400, message: `path '${p}' is not a regular file` });
        if (!canAccess(st, uid, "r")) throw new HttpError(403, { code: 403, message: `permission denied: '${p}'` });
        const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
        const headers: Record<string, string> = {
          "content-type": "application/octet-stream",
          "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(posix.basename(r.sbPath))}`,
        };
        if (gzip) headers["content-encoding"] = "gzip";
        else headers["content-length"] = String(st.size);
        res.writeHead(200, headers);
        const rs = createReadStream("", { fd: fh, autoClose: true });
        const src = gzip ? rs.pipe(createGzip()) : rs;
        src.pipe(res);
        rs.on("error", () => res.destroy());
        res.on("close", () => rs.destroy());
      } catch (e) {
        await fh.close();
        throw e;
      }
    } catch (e) {
      const he = fsHttpError(e);
      sendJson(res, he.status, he.body);
    }
  }

  async function filesPost(req: IncomingMessage, res: ServerResponse, url: URL, rec: SandboxRec): Promise<void> {
    let uid: number;
    let body: Buffer;
    try {
      uid = filesUser(url, req);
      body = await readBody(req, MAX_FILE_BODY);
    } catch (e) {
      req.resume();
      const he = fsHttpError(e);
      sendJson(res, he.status, he.body);
      return;
    }
    try {
      const ctype = String(req.headers["content-type"] ?? "");
      const qpath = url.searchParams.get("path");
      let files: Array<{ path: string; data: Buffer }>;
      if (/^multipart\/form-data/i.test(ctype)) {
        const parts = parseMultipart(body, ctype).filter((p) => p.name === "file");
        files = parts.map((p) => ({ path: qpath || p.filename || "", data: p.data }));
      } else {
        let data = body;
        if (/gzip/i.test(String(req.headers["content-encoding"] ?? ""))) {
          try {
            data = await gunzipAsync(body);
          } catch {
            throw new HttpError(400, { code: 400, message: "invalid gzip body" });
          }
        }
        files = [{ path: qpath ?? "", data }];
      }
      if (files.length === 0) throw new HttpError(400, { code: 400, message: "no file in request" });
      const meta: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (k.startsWith("x-metadata-") && typeof v === "string") meta[k.slice("x-metadata-".length)] = v;
      }
      const out: unknown[] = [];
      const home = homeOf(uid);
      for (const f of files) {
        if (!f.path) throw new HttpError(400, { code: 400, message: "file path is required" });
        const r = await resolveForCreate(rec.mounts, f.path, home, uid);
        if (!r.mount.rw || !r.hostPath) throw new HttpError(403, { code: 403, message: `cannot write '${f.path}': read-only file system` });
        if (r.existed) {
          const st = await stat(r.hostPath);
          if (st.isDirectory()) throw new HttpError(400, { code: 400, message: `path '${f.path}' is a directory` });
          if (!canAccess(st, uid, "w")) throw new HttpError(403, { code: 403, message: `permission denied: '${f.path}'` });
        } else {
          const parent = await stat(posix.dirname(r.hostPath));
          if (!canAccess(parent, uid, "w")) throw new HttpError(403, { code: 403, message: `permission denied: '${f.path}'` });
        }
        if (f.data.length > limits.fileSizeBytes) throw new HttpError(507, { code: 507, message: "file too large" });
        await writeFile(r.hostPath, f.data, { mode: 0o644, flag: r.existed ? "w" : "wx" }).catch(async (e) => {
          if (e.code === "EEXIST") await writeFile(r.hostPath, f.data);
          else throw e;
        });
        if (!r.existed) await chown(r.hostPath, uid, uid === 0 ? 0 : USER_GID);
        if (Object.keys(meta).length) rec.fileMeta.set(r.sbPath, { ...meta });
        const entry: Record<string, unknown> = { name: posix.basename(r.sbPath), path: r.sbPath, type: "file" };
        const m = rec.fileMeta.get(r.sbPath);
        if (m) entry.metadata = m;
        out.push(entry);
      }
      sendJson(res, 200, out);
    } catch (e) {
      const he = fsHttpError(e);
      sendJson(res, he.status, he.body);
    }
  }

  // ---------------------------------------------------------------- server
  const server = createServer({ noDelay: true, keepAliveTimeout: 30_000, requestTimeout: 0 }, (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      sendJson(res, 400, { code: 400, message: "bad url" });
      return;
    }
    const sid = req.headers["e2b-sandbox-id"];
    const p =
      typeof sid === "string" && sid
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

  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(port, host, () => res());
  });
  const actualPort = (server.address() as AddressInfo).port;
  fillPool();
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    apiKey,
    isolation,
    async benchFloor(sandboxId, argv, n) {
      const rec = sandboxes.get(sandboxId);
      if (!rec) throw new Error("no such sandbox");
      const env = { PATH: SANDBOX_PATH, HOME: "/home/user", USER: "user", LOGNAME: "user", ...rec.envVars };
      return rec.box.benchFloor(argv, n, env, "/home/user", USER_UID);
    },
    async close() {
      closing = true;
      server.close();
      server.closeAllConnections();
      await Promise.all([...sandboxes.values()].map((r) => killSandbox(r)));
      await Promise.all(pool.splice(0).map((b) => b.destroy()));
      // boxes still starting are destroyed when ready (see fillPool)
      for (let i = 0; i < 100 && filling > 0; i++) await new Promise((r) => setTimeout(r, 20));
      if (!opts.dataDir && !process.env.E2B_LOCAL_DATA_DIR) await rm(dataDir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
