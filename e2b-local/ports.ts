// Port routing: a request carrying `E2b-Sandbox-Port: <port>` (other than envd's 49983) next to
// `E2b-Sandbox-Id`, or a Host of the form `<port>-<sandboxId>.<domain>`, reaches a server listening on
// that port inside that sandbox. Each sandbox gets a port relay (port-relay.py) that has joined the
// sandbox's network namespace and serves a unix socket in the host-only box folder; HTTP (streamed
// both ways, connections kept alive per port) and WebSocket/Upgrade connections are spliced through it.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, fstatSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { Agent, request } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createConnection } from "node:net";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { PYTHON } from "./view.ts";
import type { Box } from "./sandbox.ts";
import type { Registry, SandboxRec } from "./registry.ts";
import { keyEquals, sendJson } from "./http.ts";

export const RELAY_PATH = fileURLToPath(new URL("./port-relay.py", import.meta.url));
/** envd's own port: requests for it are envd's, never relayed */
export const ENVD_PORT = 49983;

export type PortTarget = { sandboxId: string; port: number };

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), the routing headers, and envd's access token (`runCode` sends
 * it): code in the sandbox may listen on any port, and with envd's token it could run commands as the
 * sandbox's root; nothing in the sandbox needs it.
 */
const DROP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "e2b-sandbox-id",
  "e2b-sandbox-port",
  "e2b-traffic-access-token",
  "x-access-token",
]);

/** The sandbox and port a request is for, or null when it is not a port request (envd, API). */
export function portTarget(req: IncomingMessage): PortTarget | null {
  const sid = req.headers["e2b-sandbox-id"];
  const port = req.headers["e2b-sandbox-port"];
  if (typeof sid === "string" && sid && typeof port === "string") {
    const n = Number(port);
    if (n === ENVD_PORT) return null;
    return { sandboxId: sid, port: Number.isInteger(n) && n > 0 && n < 65536 ? n : -1 };
  }
  // the host form E2B's SDKs build without a sandbox URL (`sandbox.getHost(port)`)
  const m = /^(\d{1,5})-([a-z0-9]+)\./.exec(String(req.headers.host ?? ""));
  if (m && typeof sid !== "string") {
    const n = Number(m[1]);
    if (n === ENVD_PORT) return null;
    return { sandboxId: m[2]!, port: n > 0 && n < 65536 ? n : -1 };
  }
  return null;
}

/** The host pid of the sandbox's namespace init (bwrap's/unshare's child), or null when it is gone. */
function sandboxInit(box: Box): number | null {
  const pid = box.child?.pid;
  return pid && !box.dead ? firstChild(pid) : null;
}

/**
 * Whether the sandbox uses the host's network namespace (created with internet access, until
 * sandboxes get their own namespace with user-mode egress): then its loopback is the host's.
 */
export function sharesHostNetwork(box: Box): boolean {
  const init = sandboxInit(box);
  if (!init) throw new Error("the sandbox is not running");
  return statSync(`/proc/${init}/ns/net`).ino === statSync("/proc/self/ns/net").ino;
}

/** One sandbox's relay process and the socket it serves. */
class Relay {
  readonly socketPath: string;
  readonly ready: Promise<void>;
  private child: ChildProcess | null = null;

  constructor(box: Box) {
    this.socketPath = join(box.dir, "port-relay.sock");
    this.ready = this.start(box);
    this.ready.catch(() => {});
  }

  /** set when the relay process is gone (killed with its sandbox, or crashed: then started anew) */
  exited = false;

  private async start(box: Box): Promise<void> {
    if (!PYTHON) throw new Error("python3 is required on the host for the port relay");
    const bwrapPid = box.child?.pid;
    const init = sandboxInit(box);
    if (!init) throw new Error("the sandbox is not running");
    // a crashed predecessor's socket (the box folder is the host's alone)
    rmSync(this.socketPath, { force: true });
    const nsFd = openSync(`/proc/${init}/ns/net`, "r");
    try {
      // A sandbox created with internet access shares the host's network (until sandboxes get their
      // own network namespace with user-mode egress): its loopback is the host's, so relaying into it
      // would reach host-only ports. Refuse rather than leak.
      if (fstatSync(nsFd).ino === statSync("/proc/self/ns/net").ino)
        throw new Error("this sandbox shares the host's network; port routing needs its own network namespace");
      // the pid may have been reused between finding and opening it: still bwrap's child?
      if (firstChild(bwrapPid!) !== init) throw new Error("the sandbox is not running");
      const child = spawn(PYTHON, ["-I", "-S", RELAY_PATH, this.socketPath], {
        stdio: ["pipe", "pipe", "inherit", nsFd],
      });
      this.child = child;
    } finally {
      closeSync(nsFd);
    }
    const child = this.child!;
    child.once("exit", () => {
      this.exited = true;
    });
    child.stdin!.on("error", () => {});
    box.child?.once("exit", () => this.stop());
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (s: string) => {
        out += s;
        if (out.includes("ready\n")) resolve();
      });
      child.once("exit", () => reject(new Error("the port relay exited during start")));
      child.once("error", reject);
    });
  }

  stop(): void {
    this.child?.stdin?.end();
    this.child?.kill("SIGKILL");
  }

  /** A connection to `port` inside the sandbox, or an error saying why not (e.g. "port is not open"). */
  async connect(port: number): Promise<Socket> {
    await this.ready;
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.socketPath);
      sock.setNoDelay(true);
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const nl = buf.indexOf(10);
        if (nl < 0) {
          if (buf.length > 512) fail(new Error("bad answer from the port relay"));
          return;
        }
        sock.off("data", onData);
        sock.off("error", fail);
        sock.off("close", onClose);
        const line = buf.subarray(0, nl).toString("utf8");
        if (line !== "OK") {
          sock.destroy();
          reject(new PortError(line.replace(/^ERR /, "")));
          return;
        }
        // paused until its new owner listens, so no early byte is lost
        sock.pause();
        if (nl + 1 < buf.length) sock.unshift(buf.subarray(nl + 1));
        resolve(sock);
      };
      const fail = (e: Error) => {
        sock.destroy();
        reject(e);
      };
      const onClose = () => reject(new Error("the port relay closed the connection"));
      sock.on("data", onData);
      sock.on("error", fail);
      sock.on("close", onClose);
      sock.write(`${port}\n`);
    });
  }
}

/** The relay said no (the port is not open, ...): a 502 naming the reason. */
class PortError extends Error {}

function firstChild(pid: number): number | null {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}

const relays = new WeakMap<Box, Relay>();

/**
 * Keeps HTTP connections to one port of one sandbox open between requests (keep-alive through the
 * relay), so a warm request costs no new relay connection, TCP connect or server-side accept.
 */
class RelayAgent extends Agent {
  private readonly box: Box;
  private readonly port: number;
  constructor(box: Box, port: number) {
    super({ keepAlive: true, maxFreeSockets: 8 });
    this.box = box;
    this.port = port;
  }
  override createConnection(
    _opts: unknown,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    connectPort(this.box, this.port).then(
      (s) => cb?.(null, s),
      (e: Error) => cb?.(e, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

const agents = new WeakMap<Box, Map<number, RelayAgent>>();

function agentFor(box: Box, port: number): RelayAgent {
  let m = agents.get(box);
  if (!m) agents.set(box, (m = new Map()));
  let a = m.get(port);
  if (!a) {
    m.set(port, (a = new RelayAgent(box, port)));
    box.child?.once("exit", () => a!.destroy());
  }
  return a;
}

/** The sandbox's relay, started on first use (templates start it with the sandbox). */
export function relayFor(box: Box): Relay {
  let r = relays.get(box);
  if (!r || r.exited) {
    r = new Relay(box);
    relays.set(box, r);
    // a relay that failed to start is retried on the next request
    r.ready.catch(() => {
      if (relays.get(box) === r) relays.delete(box);
    });
  }
  return r;
}

/** A connection to `port` inside the sandbox (used by templates to talk to their own servers too). */
export function connectPort(box: Box, port: number): Promise<Socket> {
  return relayFor(box).connect(port);
}

export type PortOptions = { registry: Registry; log: (line: string) => void };

/** Traffic tokens of sandboxes created with `network: { allowPublicTraffic: false }`. */
const trafficTokens = new WeakMap<SandboxRec, string>();

export function setTrafficToken(rec: SandboxRec, token: string): void {
  trafficTokens.set(rec, token);
}

export function trafficTokenOf(rec: SandboxRec): string | undefined {
  return trafficTokens.get(rec);
}

type Refusal = { status: number; body: object };

/**
 * Find the sandbox (resuming it when it is paused with autoResume: port traffic wakes it as envd
 * traffic does) and check the traffic token; an answer to send when the request cannot go on.
 */
async function admit(registry: Registry, req: IncomingMessage, t: PortTarget): Promise<{ rec: SandboxRec } | Refusal> {
  if (t.port < 0) return { status: 400, body: { code: 400, message: "invalid E2b-Sandbox-Port" } };
  const rec = registry.get(t.sandboxId) ?? (await registry.getOrResume(t.sandboxId));
  if (!rec) return { status: 502, body: { sandboxId: t.sandboxId, message: "The sandbox was not found", code: 502 } };
  const token = trafficTokens.get(rec);
  // as on E2B: ports are public unless the sandbox was created with allowPublicTraffic: false
  if (token !== undefined && !keyEquals(req.headers["e2b-traffic-access-token"], token))
    return { status: 403, body: { code: 403, message: "missing or invalid E2B-Traffic-Access-Token" } };
  return { rec };
}

function notOpen(t: PortTarget, e: unknown): Refusal {
  const reason = e instanceof Error ? e.message : String(e);
  return {
    status: 502,
    body: {
      sandboxId: t.sandboxId,
      port: t.port,
      code: 502,
      message:
        e instanceof PortError && reason === "port is not open"
          ? "The sandbox is running but port is not open"
          : `cannot reach port ${t.port}: ${reason}`,
    },
  };
}

function forwardHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (!DROP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/** Handler for plain HTTP requests to a sandbox port: streams the request in and the response out. */
export function portHandler({ registry, log }: PortOptions) {
  return async function handlePort(req: IncomingMessage, res: ServerResponse, t: PortTarget): Promise<void> {
    const a = await admit(registry, req, t);
    if ("status" in a) {
      req.resume();
      sendJson(res, a.status, a.body);
      return;
    }
    if (a.rec.box.dead) {
      req.resume();
      sendJson(res, 502, { sandboxId: t.sandboxId, message: "The sandbox was not found", code: 502 });
      return;
    }
    const up = request({
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req.rawHeaders),
      agent: agentFor(a.rec.box, t.port),
    });
    // relay sockets are handed over paused (see Relay.connect); the client has its listeners now
    up.on("socket", (s) => s.resume());
    // The client went away (e.g. the SDK aborted at its timeout): end the upstream connection too,
    // so the server inside sees the disconnect.
    res.on("close", () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on("response", (ur) => {
      const out = forwardHeaders(ur.rawHeaders);
      res.writeHead(ur.statusCode ?? 502, ur.statusMessage, out);
      // headers now, not with the first body chunk: a long-running stream is visibly open
      res.flushHeaders();
      ur.pipe(res);
      ur.on("error", () => res.destroy());
      ur.on("aborted", () => res.destroy());
    });
    up.on("error", (e) => {
      req.resume();
      if (!res.headersSent) {
        if (!(e instanceof PortError)) log(`port ${t.port} of ${t.sandboxId}: ${e.message}`);
        const r = notOpen(t, e);
        sendJson(res, r.status, r.body);
      } else res.destroy();
    });
    req.pipe(up);
  };
}

/** Handler for the server's `upgrade` event (WebSocket and other Upgrade requests). */
export function upgradeHandler({ registry }: PortOptions) {
  return async function handleUpgrade(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on("error", () => {});
    const t = portTarget(req);
    const refuse = (status: number, body: object) => {
      const data = JSON.stringify(body);
      client.end(
        `HTTP/1.1 ${status} ${status === 502 ? "Bad Gateway" : "Error"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(data)}\r\nconnection: close\r\n\r\n${data}`,
      );
    };
    if (!t) {
      refuse(400, { code: 400, message: "upgrade requests are only relayed to sandbox ports" });
      return;
    }
    const a = await admit(registry, req, t);
    if ("status" in a) {
      refuse(a.status, a.body);
      return;
    }
    let sock: Socket;
    try {
      sock = await connectPort(a.rec.box, t.port);
    } catch (e) {
      const r = notOpen(t, e);
      refuse(r.status, r.body);
      return;
    }
    // Pass the request head on as it came (minus the routing headers), keeping Connection/Upgrade.
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i]!.toLowerCase();
      if (k.startsWith("e2b-sandbox-") || k === "e2b-traffic-access-token" || k === "x-access-token") continue;
      lines.push(`${raw[i]}: ${raw[i + 1]}`);
    }
    sock.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length) sock.write(head);
    sock.on("error", () => client.destroy());
    client.on("close", () => sock.destroy());
    sock.on("close", () => client.destroy());
    sock.pipe(client);
    client.pipe(sock);
    sock.resume();
  };
}
