// One sandbox = one long-lived bubblewrap (or unshare) process holding the sandbox's namespaces,
// with the agent (agent.py) inside it. Every command of the sandbox is spawned by that agent, so all
// of them share one pid/net/ipc/uts/mount namespace, one /home/user and one /tmp.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, chown, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AgentClient } from "./agent-client.ts";
import { bwrapArgs } from "./bwrap.ts";
import type { Isolation } from "./isolation.ts";
import { unshareArgs } from "./unshare.ts";
import { PYTHON, SANDBOX_PATH, USER_GID, USER_UID } from "./view.ts";

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

function readFirstChild(pid: number): number | null {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}

type ProcIdentity = { pid: number; start: string };

/** pid and start time (so a reused pid is not mistaken for it) */
function procIdentity(pid: number | null): ProcIdentity | null {
  if (pid === null) return null;
  const stat = procStat(pid);
  return stat ? { pid, start: stat.start } : null;
}

function procStat(pid: number): { state: string; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", start: fields[19] ?? "" };
  } catch {
    return null;
  }
}

function procAlive(proc: ProcIdentity): boolean {
  const stat = procStat(proc.pid);
  return stat !== null && stat.start === proc.start && stat.state !== "Z" && stat.state !== "X";
}

/** A running sandbox environment ("box"), before or after it is handed out as a sandbox. */
export class Box {
  readonly dir: string;
  readonly isolation: Isolation;
  readonly internet: boolean;
  child: ChildProcess | null = null;
  /** the agent inside: start processes, signal them, write their stdin */
  readonly agent: AgentClient;
  ready: Promise<void>;
  dead = false;
  onDeath: (() => void) | null = null;
  /** host pid + start time of the sandbox's pid-namespace init (the child of bwrap/unshare) */
  private init: ProcIdentity | null = null;

  constructor(dataDir: string, isolation: Isolation, limits: Limits, internet: boolean) {
    this.dir = join(dataDir, `box-${randomBytes(8).toString("hex")}`);
    this.isolation = isolation;
    this.internet = internet;
    this.agent = new AgentClient((line) => {
      if (this.dead || !this.child?.stdin?.writable) throw new Error("sandbox is gone");
      this.child.stdin.write(line);
    });
    this.ready = this.start(limits);
    this.ready.catch(() => {});
  }

  /** The box's folders: home, tmp and root (the sandbox's), etc (generated passwd and group). */
  private async makeFolders(): Promise<void> {
    const dir = this.dir;
    await mkdir(join(dir, "home"), { recursive: true });
    await Promise.all([
      mkdir(join(dir, "tmp"), { recursive: true }),
      mkdir(join(dir, "root"), { recursive: true }),
      mkdir(join(dir, "etc"), { recursive: true }),
    ]);
    await Promise.all([
      chown(join(dir, "home"), USER_UID, USER_GID),
      chmod(join(dir, "home"), 0o755),
      chmod(join(dir, "tmp"), 0o1777),
      chmod(join(dir, "root"), 0o700),
      chmod(dir, 0o711),
      writeFile(
        join(dir, "etc", "passwd"),
        "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
      ),
      writeFile(join(dir, "etc", "group"), "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"),
    ]);
  }

  private spawnIsolated(command: string[]): ChildProcess {
    if (this.isolation.kind === "unshare") {
      return spawn(this.isolation.bin, unshareArgs(this.dir, this.internet, command), {
        stdio: ["pipe", "pipe", "inherit"],
        env: { PATH: SANDBOX_PATH },
        // Its own process group: a Ctrl+C in the terminal is the server's to handle, not the sandbox's.
        detached: true,
      });
    }
    // arguments through fd 3 (--args): host paths stay out of the sandbox's `ps`
    const child = spawn(this.isolation.bin, ["--args", "3", "--", ...command], {
      stdio: ["pipe", "pipe", "inherit", "pipe"],
      detached: true,
    });
    const argPipe = child.stdio[3] as NodeJS.WritableStream & { on: (e: string, f: () => void) => void };
    argPipe.on("error", () => {});
    argPipe.end(
      bwrapArgs(this.dir, this.internet)
        .map((arg) => `${arg}\0`)
        .join(""),
    );
    return child;
  }

  private async start(limits: Limits): Promise<void> {
    await this.makeFolders();
    if (this.isolation.kind === "unshare") await mkdir(join(this.dir, "mnt"));
    if (!PYTHON) throw new Error("python3 is required on the host for the sandbox agent");
    const agentLimits = JSON.stringify({
      as: limits.memoryBytes,
      nproc: limits.processes,
      fsize: limits.fileSizeBytes,
      nofile: limits.openFiles,
    });
    const child = this.spawnIsolated([PYTHON, "-I", "-S", "/run/e2b/agent.py", agentLimits]);
    this.child = child;
    const exited = new Promise<never>((_, reject) => {
      child.on("error", (e) => {
        reject(e);
        this.died();
      });
      child.on("exit", () => {
        reject(new Error("sandbox process exited during start"));
        this.died();
      });
    });
    exited.catch(() => {});
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => this.agent.receive(text));
    child.stdin!.on("error", () => {});
    await Promise.race([this.agent.ready, exited]);
    this.init = procIdentity(readFirstChild(child.pid!));
  }

  private died(): void {
    if (this.dead) return;
    this.dead = true;
    this.agent.close();
    this.onDeath?.();
  }

  /** Kill every process of the sandbox and delete its files. */
  async destroy(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      try {
        child.kill("SIGKILL");
      } catch {
        /* already gone */
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    // The namespace's init dies by its parent-death signal, a moment after bwrap/unshare; once it is
    // gone (or a zombie) the kernel has ended every other process of the namespace.
    const init = this.init;
    for (let i = 0; init && i < 400 && procAlive(init); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    this.died();
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  }
}
