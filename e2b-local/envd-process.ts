// envd's process.Process service: Start and Connect stream a process's events; List, SendInput,
// SendSignal and CloseStdin are unary. Processes are run by the sandbox's agent (agent-client.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Proc, ProcListener, PtySize } from "./agent-client.ts";
import { openStream } from "./connect.ts";
import { rpcError } from "./errors.ts";
import { SANDBOX_PATH } from "./view.ts";
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
  pty?: { size?: unknown };
};

/** `{ size: { cols, rows } }` of Start/Update, checked; undefined when absent. */
function ptySize(pty: unknown): PtySize | undefined {
  if (pty === undefined || pty === null) return undefined;
  const size = (pty as { size?: { cols?: unknown; rows?: unknown } }).size;
  const cols = Number(size?.cols);
  const rows = Number(size?.rows);
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1 || cols > 65535 || rows > 65535)
    throw rpcError("invalid_argument", "pty.size needs integer cols and rows between 1 and 65535");
  return { cols, rows };
}

const KEEPALIVE = { event: { keepalive: {} } };

function selectProc(sandbox: SandboxRec, sel: unknown): Proc {
  if (!sel || typeof sel !== "object") throw rpcError("invalid_argument", "process selector missing");
  const selector = sel as ProcessSelector;
  if (selector.pid !== undefined) {
    const proc = sandbox.box.agent.procs.get(Number(selector.pid));
    if (!proc) throw rpcError("not_found", `process with pid ${selector.pid} not found`);
    return proc;
  }
  if (typeof selector.tag === "string") {
    for (const proc of sandbox.box.agent.procs.values()) if (proc.tag === selector.tag) return proc;
    throw rpcError("not_found", `process with tag ${selector.tag} not found`);
  }
  throw rpcError("invalid_argument", "process selector missing");
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
  sandbox: SandboxRec,
  msg: StartRequest,
  uid: number,
): Promise<void> {
  const spec = msg.process;
  if (!spec || typeof spec !== "object" || typeof spec.cmd !== "string" || !spec.cmd)
    throw rpcError("invalid_argument", "process.cmd is required");
  const args: string[] = Array.isArray(spec.args) ? spec.args.map(String) : [];
  const reqEnvs = (spec.envs && typeof spec.envs === "object" ? spec.envs : {}) as Record<string, string>;
  const pty = ptySize(msg.pty);
  const home = homeOf(uid);
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: home,
    USER: uid === 0 ? "root" : "user",
    LOGNAME: uid === 0 ? "root" : "user",
    ...sandbox.envVars,
  };
  for (const [k, v] of Object.entries(reqEnvs)) env[k] = String(v);
  const cwd = typeof spec.cwd === "string" && spec.cwd ? normalize(spec.cwd, home) : home;
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
  const started = sandbox.box.agent.startProcess({
    config: { cmd: spec.cmd, args, envs: reqEnvs, cwd: typeof spec.cwd === "string" ? spec.cwd : undefined },
    env,
    cwd,
    uid,
    stdin: msg.stdin === true,
    pty,
    tag,
    timeoutMs,
    listener,
  });
  stream = openStream(req, res, sandbox.streams, KEEPALIVE, () => {
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
  sandbox: SandboxRec,
  msg: ProcessRequest,
): Promise<void> {
  const proc = selectProc(sandbox, msg.process);
  const listener = relay(() => stream);
  const stream = openStream(req, res, sandbox.streams, KEEPALIVE, () => proc.listeners.delete(listener));
  stream.send({ event: { start: { pid: proc.pid } } });
  proc.listeners.add(listener);
}

export async function processUnary(sandbox: SandboxRec, method: string, msg: ProcessRequest): Promise<unknown> {
  switch (method) {
    case "List":
      return {
        processes: [...sandbox.box.agent.procs.values()].map((proc) => ({
          config: {
            cmd: proc.config.cmd,
            args: proc.config.args,
            envs: proc.config.envs,
            ...(proc.config.cwd ? { cwd: proc.config.cwd } : {}),
          },
          pid: proc.pid,
          ...(proc.tag ? { tag: proc.tag } : {}),
        })),
      };
    case "SendSignal": {
      const proc = selectProc(sandbox, msg.process);
      const sig = msg.signal === "SIGNAL_SIGTERM" || msg.signal === 15 ? 15 : 9;
      sandbox.box.agent.signal(proc.pid, sig);
      return {};
    }
    case "SendInput": {
      const proc = selectProc(sandbox, msg.process);
      const data = msg.input?.stdin ?? msg.input?.pty;
      if (typeof data !== "string") throw rpcError("invalid_argument", "input.stdin or input.pty is required");
      if (!proc.stdin) throw rpcError("failed_precondition", "stdin is not enabled for this process");
      const ok = await sandbox.box.agent.writeStdin(proc, Buffer.from(data, "base64"));
      if (!ok) throw rpcError("failed_precondition", "stdin is closed");
      return {};
    }
    case "CloseStdin": {
      const proc = selectProc(sandbox, msg.process);
      sandbox.box.agent.closeStdin(proc);
      return {};
    }
    case "Update": {
      const proc = selectProc(sandbox, msg.process);
      const size = ptySize(msg.pty);
      if (!size) return {};
      if (!proc.pty) throw rpcError("failed_precondition", "the process has no PTY");
      if (!(await sandbox.box.agent.resize(proc, size))) throw rpcError("not_found", "the process is gone");
      return {};
    }
    default:
      throw rpcError("unimplemented", `process.Process/${method} is not implemented by e2b-local`);
  }
}
