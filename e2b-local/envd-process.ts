// envd's process.Process service: Start and Connect stream a process's events; List, SendInput,
// SendSignal and CloseStdin are unary. Processes run in the sandbox's Box (see sandbox.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { SANDBOX_PATH } from "./sandbox.ts";
import type { Proc, ProcListener } from "./sandbox.ts";
import { RpcError, openStream } from "./connect.ts";
import type { Stream } from "./connect.ts";
import { normalize } from "./files.ts";
import type { SandboxRec } from "./registry.ts";
import { homeOf } from "./users.ts";

/** `{ pid }` or `{ tag }` */
type ProcessSelector = { pid?: unknown; tag?: unknown };

type StartRequest = {
  process?: { cmd?: unknown; args?: unknown; envs?: unknown; cwd?: unknown };
  pty?: unknown;
  tag?: unknown;
  stdin?: unknown;
};

type ProcessRequest = {
  process?: unknown;
  signal?: unknown;
  input?: { stdin?: unknown; pty?: unknown };
};

const KEEPALIVE = { event: { keepalive: {} } };

function selectProc(rec: SandboxRec, sel: unknown): Proc {
  if (!sel || typeof sel !== "object") throw new RpcError("invalid_argument", "process selector missing");
  const s = sel as ProcessSelector;
  if (s.pid !== undefined) {
    const p = rec.box.procs.get(Number(s.pid));
    if (!p) throw new RpcError("not_found", `process with pid ${s.pid} not found`);
    return p;
  }
  if (typeof s.tag === "string") {
    for (const p of rec.box.procs.values()) if (p.tag === s.tag) return p;
    throw new RpcError("not_found", `process with tag ${s.tag} not found`);
  }
  throw new RpcError("invalid_argument", "process selector missing");
}

function endEvent(end: { exitCode?: number; signal?: number }) {
  if (end.signal !== undefined) {
    const name = end.signal === 9 ? "killed" : end.signal === 15 ? "terminated" : `signal ${end.signal}`;
    return { event: { end: { exitCode: -1, exited: false, status: `signal: ${name}`, error: `signal: ${name}` } } };
  }
  const code = end.exitCode ?? 0;
  if (code === 0) return { event: { end: { exitCode: 0, exited: true, status: "exit status 0" } } };
  return {
    event: { end: { exitCode: code, exited: true, status: `exit status ${code}`, error: `exit status ${code}` } },
  };
}

/** A listener relaying a process's output and end to a stream (`stream()`: it may open later). */
function relay(stream: () => Stream): ProcListener {
  return {
    onData: (s, data) => stream().send({ event: { data: { [s]: data.toString("base64") } } }),
    onEnd: (end) => stream().end(undefined, endEvent(end)),
  };
}

export async function rpcStart(
  req: IncomingMessage,
  res: ServerResponse,
  rec: SandboxRec,
  msg: StartRequest,
  uid: number,
): Promise<void> {
  const p = msg.process;
  if (!p || typeof p !== "object" || typeof p.cmd !== "string" || !p.cmd)
    throw new RpcError("invalid_argument", "process.cmd is required");
  const args: string[] = Array.isArray(p.args) ? p.args.map(String) : [];
  const reqEnvs = (p.envs && typeof p.envs === "object" ? p.envs : {}) as Record<string, string>;
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
  let stream!: Stream;
  let proc: Proc | null = null;
  let closed = false;
  const listener: ProcListener = {
    onStart: (pid) => stream.send({ event: { start: { pid } } }),
    ...relay(() => stream),
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
  stream = openStream(req, res, rec.streams, KEEPALIVE, () => {
    closed = true;
    if (proc) proc.listeners.delete(listener);
  });
  try {
    proc = await started;
    if (closed) proc.listeners.delete(listener);
  } catch (e) {
    const code = (e as { code?: string }).code;
    stream.end({ code: code && code !== "internal" ? code : "internal", message: (e as Error).message });
    return;
  }
}

export async function rpcConnect(
  req: IncomingMessage,
  res: ServerResponse,
  rec: SandboxRec,
  msg: ProcessRequest,
): Promise<void> {
  const proc = selectProc(rec, msg.process);
  const listener = relay(() => stream);
  const stream = openStream(req, res, rec.streams, KEEPALIVE, () => proc.listeners.delete(listener));
  stream.send({ event: { start: { pid: proc.pid } } });
  proc.listeners.add(listener);
}

export async function processUnary(rec: SandboxRec, method: string, msg: ProcessRequest): Promise<unknown> {
  switch (method) {
    case "List":
      return {
        processes: [...rec.box.procs.values()].map((p) => ({
          config: {
            cmd: p.config.cmd,
            args: p.config.args,
            envs: p.config.envs,
            ...(p.config.cwd ? { cwd: p.config.cwd } : {}),
          },
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
