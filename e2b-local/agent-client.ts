// The server's side of the agent's line protocol (agent.py): one JSON object per line each way.
// Requests (spawn, signal, stdin, close, bench) go down the agent's stdin; its events (ready, start,
// err, out, exit, ack, ...) come back on its stdout and are matched to pending requests and to the
// listeners of each process.

export type AgentEvent =
  | { t: "ready"; pid: number }
  | { t: "start"; id: number; pid: number }
  | { t: "err"; id: number; code: string; msg: string }
  | { t: "out"; id: number; f: 1 | 2 | 3; d: string }
  | { t: "exit"; id: number; code?: number; sig?: number }
  | { t: "bench"; id: number; ms: number[] }
  | { t: "ack"; id: number; ack: number; ok: boolean }
  | { t: "meta"; id: number; meta?: Array<Record<string, string> | null>; error?: string | null }
  | { t: "log"; msg: string }
  | { t: "pong"; id: number };

export type ProcConfig = { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string };

export type ProcListener = {
  /** called synchronously when the agent reports the pid, before any output */
  onStart?(pid: number): void;
  onData(stream: "stdout" | "stderr" | "pty", data: Buffer): void;
  onEnd(end: { exitCode?: number; signal?: number }): void;
};

export type Proc = {
  agentId: number;
  pid: number;
  config: ProcConfig;
  tag?: string;
  listeners: Set<ProcListener>;
  stdin: boolean;
  /** started on a pseudo-terminal: its output is `pty` data, its input goes to the terminal */
  pty: boolean;
  deadline?: NodeJS.Timeout;
};

export type PtySize = { cols: number; rows: number };

/** Talks to one sandbox's agent; `write` sends one line to it, `receive` is fed what it prints. */
export class AgentClient {
  /** resolves on the agent's `ready` line */
  readonly ready: Promise<void>;
  private readyResolve!: () => void;
  private readonly write: (line: string) => void;
  private closed = false;
  private nextId = 1;
  private buffer = "";
  // biome-ignore lint/suspicious/noExplicitAny: one map holds the agent's replies of several types
  private pending = new Map<number, { resolve: (value: any) => void; reject: (e: Error) => void }>();
  /** running processes by sandbox pid */
  readonly procs = new Map<number, Proc>();
  private byAgentId = new Map<number, Proc>();
  private startListeners = new Map<number, Set<ProcListener>>();

  constructor(write: (line: string) => void) {
    this.write = write;
    this.ready = new Promise<void>((resolve) => {
      this.readyResolve = resolve;
    });
  }

  /** Feed text the agent printed (any chunking). */
  receive(text: string): void {
    this.buffer += text;
    let newline = this.buffer.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf("\n");
      if (!line) continue;
      let event: AgentEvent;
      try {
        event = JSON.parse(line);
      } catch {
        continue;
      }
      if (event.t === "ready") this.readyResolve();
      else this.onEvent(event);
    }
  }

  /** The agent is gone: every pending request fails, every process ends as killed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const request of this.pending.values()) request.reject(new Error("sandbox is gone"));
    this.pending.clear();
    for (const proc of this.procs.values()) {
      if (proc.deadline) clearTimeout(proc.deadline);
      for (const listener of proc.listeners) listener.onEnd({ signal: 9 });
    }
    this.procs.clear();
    this.byAgentId.clear();
  }

  private send(message: object): void {
    if (this.closed) throw new Error("sandbox is gone");
    this.write(`${JSON.stringify(message)}\n`);
  }

  /** The pending request `id`, forgotten (it is answered once). */
  private take(id: number) {
    const request = this.pending.get(id);
    this.pending.delete(id);
    return request;
  }

  private onEvent(event: AgentEvent): void {
    switch (event.t) {
      case "start": {
        const request = this.take(event.id);
        const listeners = this.startListeners.get(event.id);
        if (listeners) for (const listener of listeners) listener.onStart?.(event.pid);
        request?.resolve(event.pid);
        return;
      }
      case "err": {
        const request = this.take(event.id);
        this.startListeners.delete(event.id);
        const error = new Error(event.msg) as Error & { code?: string };
        error.code = event.code;
        request?.reject(error);
        return;
      }
      case "bench":
      case "pong":
        this.take(event.id)?.resolve(event.t === "bench" ? event.ms : true);
        return;
      case "ack":
        this.take(event.ack)?.resolve(event.ok);
        return;
      case "meta": {
        const request = this.take(event.id);
        if (event.error) request?.reject(new Error(event.error));
        else request?.resolve(event.meta ?? null);
        return;
      }
      case "out": {
        const proc = this.byAgentId.get(event.id);
        const listeners = proc ? proc.listeners : this.startListeners.get(event.id);
        if (!listeners) return;
        const data = Buffer.from(event.d, "base64");
        const stream = event.f === 1 ? "stdout" : event.f === 2 ? "stderr" : "pty";
        for (const listener of listeners) listener.onData(stream, data);
        return;
      }
      case "exit": {
        const proc = this.byAgentId.get(event.id);
        const listeners = proc ? proc.listeners : this.startListeners.get(event.id);
        this.startListeners.delete(event.id);
        if (proc) {
          if (proc.deadline) clearTimeout(proc.deadline);
          this.byAgentId.delete(event.id);
          this.procs.delete(proc.pid);
        }
        const end = event.sig !== undefined ? { signal: event.sig } : { exitCode: event.code ?? 0 };
        if (listeners) for (const listener of listeners) listener.onEnd(end);
        return;
      }
      default:
        return;
    }
  }

  /** Start a command; the listener gets all of its output and its end. Resolves with the pid. */
  async startProcess(opts: {
    config: ProcConfig;
    env: Record<string, string>;
    cwd: string;
    uid: number;
    stdin: boolean;
    pty?: PtySize;
    tag?: string;
    timeoutMs?: number;
    listener: ProcListener;
  }): Promise<Proc> {
    const id = this.nextId++;
    const listeners = new Set<ProcListener>([opts.listener]);
    this.startListeners.set(id, listeners);
    const pidPromise = new Promise<number>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.send({
      op: "spawn",
      id,
      cmd: opts.config.cmd,
      args: opts.config.args,
      env: opts.env,
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.uid,
      stdin: opts.stdin,
      ...(opts.pty ? { pty: opts.pty } : {}),
    });
    const pid = await pidPromise;
    const proc: Proc = {
      agentId: id,
      pid,
      config: opts.config,
      tag: opts.tag,
      listeners,
      stdin: opts.stdin || !!opts.pty,
      pty: !!opts.pty,
    };
    if (this.startListeners.has(id)) {
      this.startListeners.delete(id);
      this.procs.set(pid, proc);
      this.byAgentId.set(id, proc);
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        proc.deadline = setTimeout(() => this.signal(pid, 9), opts.timeoutMs);
        proc.deadline.unref?.();
      }
    }
    return proc;
  }

  signal(pid: number, sig: number): boolean {
    if (!this.procs.has(pid)) return false;
    this.send({ op: "signal", pid, sig });
    return true;
  }

  async writeStdin(proc: Proc, data: Buffer): Promise<boolean> {
    const ack = this.nextId++;
    const acked = new Promise<boolean>((resolve, reject) => this.pending.set(ack, { resolve, reject }));
    this.send({ op: "stdin", id: proc.agentId, d: data.toString("base64"), ack });
    return acked;
  }

  /** Set a PTY's size (the command gets SIGWINCH); false if it has no terminal or is gone. */
  async resize(proc: Proc, size: PtySize): Promise<boolean> {
    const ack = this.nextId++;
    const acked = new Promise<boolean>((resolve, reject) => this.pending.set(ack, { resolve, reject }));
    this.send({ op: "resize", id: proc.agentId, cols: size.cols, rows: size.rows, ack });
    return acked;
  }

  closeStdin(proc: Proc): void {
    this.send({ op: "close", id: proc.agentId });
  }

  /**
   * The `user.e2b.*` extended attributes (file metadata) of each sandbox path, read inside the
   * sandbox (not following a last-component link); null where there are none or the path is gone.
   */
  async readMeta(paths: string[]): Promise<Array<Record<string, string> | null>> {
    if (paths.length === 0) return [];
    const id = this.nextId++;
    const answer = new Promise<Array<Record<string, string> | null>>((resolve, reject) =>
      this.pending.set(id, { resolve, reject }),
    );
    this.send({ op: "meta-get", id, paths });
    return answer;
  }

  /** Replace a file's metadata (`user.e2b.*` xattrs) with `meta`; {} clears it. Rejects with the errno text. */
  async writeMeta(path: string, meta: Record<string, string>): Promise<void> {
    const id = this.nextId++;
    const answer = new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.send({ op: "meta-set", id, path, meta });
    return answer;
  }

  /** Floor measurement: the agent spawns argv n times itself and reports each duration (ms). */
  async benchFloor(
    argv: string[],
    n: number,
    env: Record<string, string>,
    cwd: string,
    uid: number,
  ): Promise<number[]> {
    const id = this.nextId++;
    const durations = new Promise<number[]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.send({ op: "bench", id, argv, n, env, cwd, uid });
    return durations;
  }
}
