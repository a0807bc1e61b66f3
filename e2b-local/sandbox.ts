// One sandbox = one long-lived bubblewrap (or unshare) process holding the sandbox's namespaces,
// with the agent (agent.py) inside it. Every command of the sandbox is spawned by that agent, so all
// of them share one pid/net/ipc/uts/mount namespace, one /home/user and one /tmp.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { chmod, chown, mkdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const AGENT_PATH = fileURLToPath(new URL("./agent.py", import.meta.url));
export const USER_UID = 1000;
export const USER_GID = 1000;
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export type Isolation = { kind: "bwrap"; bin: string } | { kind: "unshare"; bin: string };

export type Limits = {
  /** RLIMIT_AS, bytes */
  memoryBytes: number;
  /** RLIMIT_NPROC (per uid, see README) */
  processes: number;
  /** RLIMIT_FSIZE, bytes */
  fileSizeBytes: number;
  /** RLIMIT_NOFILE */
  openFiles: number;
};

export const DEFAULT_LIMITS: Limits = {
  memoryBytes: 8 * 1024 * 1024 * 1024,
  processes: 4096,
  fileSizeBytes: 1024 * 1024 * 1024,
  openFiles: 4096,
};

function findPython(): string | null {
  for (const p of ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]) {
    if (existsSync(p)) return p;
  }
  return null;
}

export const PYTHON = findPython();

/** The host directories that are exposed read-only inside every sandbox. */
export function systemBinds(): Array<{ kind: "ro" | "symlink"; src: string; dest: string }> {
  const out: Array<{ kind: "ro" | "symlink"; src: string; dest: string }> = [];
  for (const d of ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"]) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(d);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) out.push({ kind: "symlink", src: readlinkSync(d), dest: d });
    else if (st.isDirectory()) out.push({ kind: "ro", src: d, dest: d });
  }
  return out;
}

/**
 * Parts of /proc made read-only in every sandbox (as Docker does): kernel settings (sandbox `root` is
 * uid 0 and could otherwise write e.g. kernel.core_pattern, which the host kernel acts on), sysrq, irq,
 * bus, fs.
 */
export const PROC_READONLY = ["sys", "sysrq-trigger", "irq", "bus", "fs"];

/** Files of the host /etc hidden from the sandbox (bound to /dev/null). */
export const HIDDEN_ETC = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers"];

/**
 * Capabilities sandbox `root` keeps (Docker's default set minus MKNOD). Everything else is dropped from
 * the bounding set, so nothing in a sandbox can remount the read-only system view, mount, load
 * modules, open files by handle or write kernel settings. The agent needs SETUID/SETGID/KILL to run
 * and signal commands as `user`.
 */
export const KEEP_CAPS = [
  "chown",
  "dac_override",
  "fowner",
  "fsetid",
  "kill",
  "setgid",
  "setuid",
  "setpcap",
  "net_bind_service",
  "net_raw",
  "sys_chroot",
  "audit_write",
  "setfcap",
];

/**
 * The unshare path's setup, run by `sh` as pid 1 of the new pid namespace, inside the new mount
 * namespace, before it becomes the agent. Arguments: box dir, agent path, "1" = no network (bring
 * `lo` up), then the command to exec. Builds the same view bwrap builds: a tmpfs root with the host's
 * /usr, /etc, /opt (and /bin, /lib*) bound read-only, the box's home/tmp/root bound read-write,
 * generated passwd/group, shadow hidden, its own /proc (sys, sysrq-trigger, irq, bus read-only) and a
 * minimal /dev; then pivot_root into it, detach the host's tree, and exec the command through
 * `setpriv` with no_new_privs, a cleared inheritable set and the bounding set cut to KEEP_CAPS.
 */
export const UNSHARE_SETUP = `set -eu
D=$1; A=$2; NONET=$3; shift 3
R=$D/mnt
case $R in
  *[!A-Za-z0-9/._+-]*) echo "e2b-local: unshare isolation needs a data dir path of plain characters, not: $R" >&2; exit 1 ;;
esac
mount --make-rprivate /
mount -t tmpfs -o mode=0755,nosuid,size=1m e2b "$R"
cd "$R"
mkdir -p usr etc opt home/user tmp root proc dev run/e2b var/tmp .oldroot
chmod 01777 var/tmp
for d in usr etc opt bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$d"
  elif [ -d "/$d" ]; then mkdir -p "$d"; mount --rbind "/$d" "$d"; mount -o remount,bind,ro "$d"; fi
done
# and every mount below them (mountinfo escapes unusual characters, hence the path check above)
while read -r _ _ _ _ mp _; do
  case $mp in "$R"/*/*) mount -o remount,bind,ro "$mp" ;; esac
done < /proc/self/mountinfo
for f in ${HIDDEN_ETC.join(" ")}; do
  if [ -e "$f" ]; then mount -o bind,ro /dev/null "$R$f"; fi
done
mount -o bind,ro "$D/etc/passwd" etc/passwd
mount -o bind,ro "$D/etc/group" etc/group
mount --bind "$D/home" home/user
mount --bind "$D/tmp" tmp
mount --bind "$D/root" root
touch run/e2b/agent.py
mount -o bind,ro "$A" run/e2b/agent.py
mount -t proc -o nosuid,nodev,noexec proc proc
for p in ${PROC_READONLY.join(" ")}; do
  if [ -e "proc/$p" ]; then mount --bind "proc/$p" "proc/$p"; mount -o remount,bind,ro "proc/$p"; fi
done
mount -t tmpfs -o mode=0755,nosuid,size=64k dev dev
for n in null zero full random urandom tty; do touch "dev/$n"; mount --bind "/dev/$n" "dev/$n"; done
mkdir dev/pts dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts dev/pts
mount -t tmpfs -o mode=01777,nosuid,nodev shm dev/shm
ln -s pts/ptmx dev/ptmx; ln -s /proc/self/fd dev/fd
ln -s /proc/self/fd/0 dev/stdin; ln -s /proc/self/fd/1 dev/stdout; ln -s /proc/self/fd/2 dev/stderr
echo e2b > /proc/sys/kernel/hostname
if [ "$NONET" = 1 ]; then
  python3 -I -S -c 'import fcntl, socket, struct; fcntl.ioctl(socket.socket(), 0x8914, struct.pack("16sh22x", b"lo", 0x41))'
fi
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
mount -o remount,ro,bind /
mount -o remount,ro,bind /dev
exec setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,${KEEP_CAPS.map((c) => `+${c}`).join(",")} "$@"
`;

/** The argv (after the unshare binary) that starts `command` in a new sandbox rooted at box dir `dir`. */
export function unshareArgs(dir: string, internet: boolean, command: string[]): string[] {
  const ns = ["--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--ipc", "--uts"];
  if (!internet) ns.push("--net");
  return [...ns, "/bin/sh", "-c", UNSHARE_SETUP, "e2b-setup", dir, AGENT_PATH, internet ? "0" : "1", ...command];
}

export type IsolationKind = Isolation["kind"];
export const ISOLATION_KINDS: readonly IsolationKind[] = ["bwrap", "unshare"];

function probeBwrap(): Isolation | null {
  for (const bin of ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"]) {
    if (!existsSync(bin)) continue;
    const r = spawnSync(
      bin,
      [
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--cap-drop",
        "ALL",
        "/bin/true",
      ],
      { stdio: "ignore", timeout: 10_000 },
    );
    if (r.status === 0) return { kind: "bwrap", bin };
  }
  return null;
}

function probeUnshare(): Isolation | null {
  for (const bin of ["/usr/bin/unshare", "/bin/unshare"]) {
    if (!existsSync(bin)) continue;
    // a throwaway box: the full setup, then `true` instead of the agent
    let dir: string | null = null;
    try {
      dir = mkdtempSync(join(tmpdir(), "e2b-local-probe-"));
      for (const sub of ["home", "tmp", "root", "etc", "mnt"]) mkdirSync(join(dir, sub));
      writeFileSync(join(dir, "etc", "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
      writeFileSync(join(dir, "etc", "group"), "root:x:0:\n");
      const r = spawnSync(bin, unshareArgs(dir, false, ["/bin/true"]), {
        stdio: "ignore",
        timeout: 10_000,
        env: { PATH: SANDBOX_PATH },
      });
      if (r.status === 0) return { kind: "unshare", bin };
    } catch {
      /* not usable */
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  return null;
}

/**
 * Probe which isolation works here: bubblewrap, else util-linux unshare (or only `want` when given).
 * Returns null when none can isolate.
 */
export function detectIsolation(want?: IsolationKind): Isolation | null {
  if (want !== "unshare") {
    const b = probeBwrap();
    if (b || want === "bwrap") return b;
  }
  return probeUnshare();
}

function readFirstChild(pid: number): number | null {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}

/** pid and start time (so a reused pid is not mistaken for it) */
function procIdentity(pid: number | null): { pid: number; start: string } | null {
  if (pid === null) return null;
  const st = procStat(pid);
  return st ? { pid, start: st.start } : null;
}

function procStat(pid: number): { state: string; start: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { state: f[0] ?? "", start: f[19] ?? "" };
  } catch {
    return null;
  }
}

function procAlive(p: { pid: number; start: string }): boolean {
  const st = procStat(p.pid);
  return st !== null && st.start === p.start && st.state !== "Z" && st.state !== "X";
}

export type AgentEvent =
  | { t: "ready"; pid: number }
  | { t: "start"; id: number; pid: number }
  | { t: "err"; id: number; code: string; msg: string }
  | { t: "out"; id: number; f: 1 | 2; d: string }
  | { t: "exit"; id: number; code?: number; sig?: number }
  | { t: "bench"; id: number; ms: number[] }
  | { t: "ack"; id: number; ack: number; ok: boolean }
  | { t: "log"; msg: string }
  | { t: "pong"; id: number };

export type ProcConfig = { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string };

export type ProcListener = {
  /** called synchronously when the agent reports the pid, before any output */
  onStart?(pid: number): void;
  onData(stream: "stdout" | "stderr", data: Buffer): void;
  onEnd(end: { exitCode?: number; signal?: number }): void;
};

export type Proc = {
  agentId: number;
  pid: number;
  config: ProcConfig;
  tag?: string;
  listeners: Set<ProcListener>;
  stdin: boolean;
  deadline?: NodeJS.Timeout;
};

/** A running sandbox environment ("box"), before or after it is handed out as a sandbox. */
export class Box {
  readonly dir: string;
  readonly isolation: Isolation;
  readonly internet: boolean;
  child: ChildProcess | null = null;
  ready: Promise<void>;
  dead = false;
  private nextId = 1;
  private buf = "";
  // biome-ignore lint/suspicious/noExplicitAny: one map holds the agent's replies of several types
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly procs = new Map<number, Proc>(); // by sandbox pid
  private byAgentId = new Map<number, Proc>();
  private startListeners = new Map<number, Set<ProcListener>>();
  onDeath: (() => void) | null = null;
  /** host pid + start time of the sandbox's pid-namespace init (the child of bwrap/unshare) */
  private init: { pid: number; start: string } | null = null;

  constructor(dataDir: string, isolation: Isolation, limits: Limits, internet: boolean) {
    this.dir = join(dataDir, `box-${randomBytes(8).toString("hex")}`);
    this.isolation = isolation;
    this.internet = internet;
    this.ready = this.start(limits);
    this.ready.catch(() => {});
  }

  private async start(limits: Limits): Promise<void> {
    const d = this.dir;
    await mkdir(join(d, "home"), { recursive: true });
    await Promise.all([
      mkdir(join(d, "tmp"), { recursive: true }),
      mkdir(join(d, "root"), { recursive: true }),
      mkdir(join(d, "etc"), { recursive: true }),
    ]);
    await Promise.all([
      chown(join(d, "home"), USER_UID, USER_GID),
      chmod(join(d, "home"), 0o755),
      chmod(join(d, "tmp"), 0o1777),
      chmod(join(d, "root"), 0o700),
      chmod(d, 0o711),
      writeFile(
        join(d, "etc", "passwd"),
        "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
      ),
      writeFile(join(d, "etc", "group"), "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"),
    ]);
    if (!PYTHON) throw new Error("python3 is required on the host for the sandbox agent");
    const lim = JSON.stringify({
      as: limits.memoryBytes,
      nproc: limits.processes,
      fsize: limits.fileSizeBytes,
      nofile: limits.openFiles,
    });
    const command = [PYTHON, "-I", "-S", "/run/e2b/agent.py", lim];
    let child: ChildProcess;
    if (this.isolation.kind === "unshare") {
      await mkdir(join(d, "mnt"));
      child = spawn(this.isolation.bin, unshareArgs(d, this.internet, command), {
        stdio: ["pipe", "pipe", "inherit"],
        env: { PATH: SANDBOX_PATH },
        // Its own process group: a Ctrl+C in the terminal is the server's to handle, not the sandbox's.
        detached: true,
      });
      this.child = child;
    } else {
      const args: string[] = [
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--hostname",
        "e2b",
      ];
      if (!this.internet) args.push("--unshare-net");
      args.push("--cap-drop", "ALL");
      for (const c of KEEP_CAPS) args.push("--cap-add", `CAP_${c.toUpperCase()}`);
      for (const b of systemBinds()) {
        if (b.kind === "symlink") args.push("--symlink", b.src, b.dest);
        else args.push("--ro-bind", b.src, b.dest);
      }
      for (const f of HIDDEN_ETC) if (existsSync(f)) args.push("--ro-bind", "/dev/null", f);
      args.push(
        "--ro-bind",
        join(d, "etc", "passwd"),
        "/etc/passwd",
        "--ro-bind",
        join(d, "etc", "group"),
        "/etc/group",
        "--perms",
        "0755",
        "--dir",
        "/home",
        "--perms",
        "0755",
        "--dir",
        "/run",
        "--perms",
        "0755",
        "--dir",
        "/run/e2b",
        "--perms",
        "01777",
        "--dir",
        "/var/tmp",
        "--bind",
        join(d, "home"),
        "/home/user",
        "--bind",
        join(d, "tmp"),
        "/tmp",
        "--bind",
        join(d, "root"),
        "/root",
        "--proc",
        "/proc",
      );
      for (const p of PROC_READONLY) if (existsSync(`/proc/${p}`)) args.push("--ro-bind", `/proc/${p}`, `/proc/${p}`);
      args.push(
        "--dev",
        "/dev",
        "--ro-bind",
        AGENT_PATH,
        "/run/e2b/agent.py",
        "--chdir",
        "/",
        "--clearenv",
        "--setenv",
        "PATH",
        SANDBOX_PATH,
      );
      // arguments through fd 3 (--args): host paths stay out of the sandbox's `ps`
      child = spawn(this.isolation.bin, ["--args", "3", "--", ...command], {
        stdio: ["pipe", "pipe", "inherit", "pipe"],
        detached: true,
      });
      this.child = child;
      const argPipe = child.stdio[3] as NodeJS.WritableStream & { on: (e: string, f: () => void) => void };
      argPipe.on("error", () => {});
      argPipe.end(args.map((a) => `${a}\0`).join(""));
    }
    child.stdout!.setEncoding("utf8");
    let readyResolve: () => void;
    let readyReject: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    child.stdout!.on("data", (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        let ev: AgentEvent;
        try {
          ev = JSON.parse(line);
        } catch {
          continue;
        }
        if (ev.t === "ready") readyResolve();
        else this.onEvent(ev);
      }
    });
    child.stdin!.on("error", () => {});
    child.on("error", (e) => {
      readyReject(e);
      this.died();
    });
    child.on("exit", () => {
      readyReject(new Error("sandbox process exited during start"));
      this.died();
    });
    await ready;
    this.init = procIdentity(readFirstChild(child.pid!));
  }

  private died(): void {
    if (this.dead) return;
    this.dead = true;
    for (const p of this.pending.values()) p.reject(new Error("sandbox is gone"));
    this.pending.clear();
    for (const proc of this.procs.values()) {
      if (proc.deadline) clearTimeout(proc.deadline);
      for (const l of proc.listeners) l.onEnd({ signal: 9 });
    }
    this.procs.clear();
    this.byAgentId.clear();
    this.onDeath?.();
  }

  private send(msg: object): void {
    if (this.dead || !this.child?.stdin?.writable) throw new Error("sandbox is gone");
    this.child.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  private onEvent(ev: AgentEvent): void {
    switch (ev.t) {
      case "start": {
        const p = this.pending.get(ev.id);
        this.pending.delete(ev.id);
        const ls = this.startListeners.get(ev.id);
        if (ls) for (const l of ls) l.onStart?.(ev.pid);
        p?.resolve(ev.pid);
        return;
      }
      case "err": {
        const p = this.pending.get(ev.id);
        this.pending.delete(ev.id);
        this.startListeners.delete(ev.id);
        const e = new Error(ev.msg) as Error & { code?: string };
        e.code = ev.code;
        p?.reject(e);
        return;
      }
      case "bench":
      case "pong": {
        const p = this.pending.get(ev.id);
        this.pending.delete(ev.id);
        p?.resolve(ev.t === "bench" ? ev.ms : true);
        return;
      }
      case "ack": {
        const p = this.pending.get(ev.ack);
        this.pending.delete(ev.ack);
        p?.resolve(ev.ok);
        return;
      }
      case "out": {
        const proc = this.byAgentId.get(ev.id);
        const listeners = proc ? proc.listeners : this.startListeners.get(ev.id);
        if (!listeners) return;
        const data = Buffer.from(ev.d, "base64");
        const stream = ev.f === 1 ? "stdout" : "stderr";
        for (const l of listeners) l.onData(stream, data);
        return;
      }
      case "exit": {
        const proc = this.byAgentId.get(ev.id);
        const listeners = proc ? proc.listeners : this.startListeners.get(ev.id);
        this.startListeners.delete(ev.id);
        if (proc) {
          if (proc.deadline) clearTimeout(proc.deadline);
          this.byAgentId.delete(ev.id);
          this.procs.delete(proc.pid);
        }
        const end = ev.sig !== undefined ? { signal: ev.sig } : { exitCode: ev.code ?? 0 };
        if (listeners) for (const l of listeners) l.onEnd(end);
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
    });
    const pid = await pidPromise;
    const proc: Proc = { agentId: id, pid, config: opts.config, tag: opts.tag, listeners, stdin: opts.stdin };
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
    const p = new Promise<boolean>((resolve, reject) => this.pending.set(ack, { resolve, reject }));
    this.send({ op: "stdin", id: proc.agentId, d: data.toString("base64"), ack });
    return p;
  }

  closeStdin(proc: Proc): void {
    this.send({ op: "close", id: proc.agentId });
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
    const p = new Promise<number[]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.send({ op: "bench", id, argv, n, env, cwd, uid });
    return p;
  }

  /** Kill every process of the sandbox and delete its files. */
  async destroy(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((res) => child.once("exit", () => res()));
      try {
        child.kill("SIGKILL");
      } catch {
        /* already gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    // The namespace's init dies by its parent-death signal, a moment after bwrap/unshare; once it is
    // gone (or a zombie) the kernel has ended every other process of the namespace.
    const init = this.init;
    for (let i = 0; init && i < 400 && procAlive(init); i++) await new Promise((r) => setTimeout(r, 5));
    this.died();
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  }
}
