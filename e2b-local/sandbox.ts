// One sandbox = one long-lived bubblewrap (or unshare) process holding the sandbox's namespaces,
// with the agent (agent.py) inside it. Every command of the sandbox is spawned by that agent, so all
// of them share one pid/net/ipc/uts/mount namespace, one disk and one cgroup (its limits).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, chown, mkdir, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { AgentClient } from "./agent-client.ts";
import { bwrapArgs } from "./bwrap.ts";
import type { Cgroups } from "./cgroups.ts";
import { makeDisk, unmountDisk } from "./disk.ts";
import type { DiskKind } from "./disk.ts";
import type { Isolation } from "./isolation.ts";
import { SLIRP_DNS, attachEgress } from "./network.ts";
import type { Egress } from "./network.ts";
import { unshareArgs } from "./unshare.ts";
import {
  DROP_CAPS,
  HOST_LOCAL_BIN,
  LOCAL_BIN_HOST,
  PYTHON,
  SANDBOX_PATH,
  USER_GID,
  USER_UID,
  boxPaths,
} from "./view.ts";

export type Limits = {
  /** memory of the whole sandbox (cgroup), bytes */
  memoryBytes: number;
  /** CPU quota of the whole sandbox (cgroup), in CPUs */
  cpus: number;
  /** processes + threads of the whole sandbox (cgroup pids; not a per-uid rlimit) */
  pids: number;
  /** size of the sandbox's disk (/home/user, /tmp, /root, /var/tmp together), bytes */
  diskBytes: number;
  /** RLIMIT_FSIZE, bytes */
  fileSizeBytes: number;
  /** RLIMIT_AS per process, bytes (a backstop: the cgroup's memory limit is the real cap) */
  addressSpaceBytes: number;
  /** RLIMIT_NOFILE */
  openFiles: number;
};

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Limits = {
  memoryBytes: 512 * MiB,
  cpus: 1,
  pids: 256,
  diskBytes: 1024 * MiB,
  fileSizeBytes: 1024 * MiB,
  addressSpaceBytes: 8 * 1024 * MiB,
  openFiles: 4096,
};

/** What every box of a server shares: where boxes live and what this host can enforce. */
export type BoxHost = {
  dataDir: string;
  isolation: Isolation;
  limits: Limits;
  cgroups: Cgroups;
  disk: DiskKind;
  /** null: internet egress is unavailable here (said so at start) */
  egress: Egress | null;
};

/**
 * Joins the cgroups named in E2B_CGROUPS (one `cgroup.procs` file per line) and execs its arguments,
 * so bwrap/unshare and everything under it start inside the box's cgroups, with no moment outside.
 */
const JOIN_CGROUPS = `IFS='
'
for f in $E2B_CGROUPS; do echo $$ > "$f" || exit 125; done
unset E2B_CGROUPS
exec "$@"`;

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
  readonly id: string;
  readonly dir: string;
  readonly host: BoxHost;
  readonly internet: boolean;
  child: ChildProcess | null = null;
  /** the agent inside: start processes, signal them, write their stdin */
  readonly agent: AgentClient;
  ready: Promise<void>;
  dead = false;
  onDeath: (() => void) | null = null;
  /** host pid + start time of the sandbox's pid-namespace init (the child of bwrap/unshare) */
  private init: ProcIdentity | null = null;
  private slirp: ChildProcess | null = null;
  private killing: Promise<void> | null = null;
  private removing: Promise<void> | null = null;

  /** the folder (and disk) of a paused sandbox this box restarts, instead of new ones */
  private readonly reused: boolean;

  constructor(host: BoxHost, internet: boolean, resumeDir?: string) {
    this.reused = resumeDir !== undefined;
    this.id = resumeDir !== undefined ? basename(resumeDir) : `box-${randomBytes(8).toString("hex")}`;
    this.dir = resumeDir ?? join(host.dataDir, this.id);
    this.host = host;
    this.internet = internet;
    this.agent = new AgentClient((line) => {
      if (this.dead || !this.child?.stdin?.writable) throw new Error("sandbox is gone");
      this.child.stdin.write(line);
    });
    this.ready = this.start();
    this.ready.catch(() => {});
  }

  /** The box's folder: its disk with home, tmp, root and var/tmp, and the generated etc files. */
  private async makeFolders(): Promise<void> {
    const paths = boxPaths(this.dir);
    await mkdir(join(this.dir, "etc"), { recursive: true, mode: 0o711 });
    await Promise.all([chmod(this.dir, 0o711), mkdir(paths.disk, { mode: 0o711 })]);
    await makeDisk(this.host.disk, this.host.limits.diskBytes, paths.image, paths.disk);
    await chmod(paths.disk, 0o711);
    await Promise.all([mkdir(paths.home), mkdir(paths.tmp), mkdir(paths.root), mkdir(paths.varTmp)]);
    await Promise.all([
      chown(paths.home, USER_UID, USER_GID),
      chmod(paths.home, 0o755),
      chmod(paths.tmp, 0o1777),
      chmod(paths.varTmp, 0o1777),
      chmod(paths.root, 0o700),
      writeFile(
        paths.passwd,
        "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
      ),
      writeFile(paths.group, "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"),
      // the host's resolver may well be on a private or loopback address the sandbox cannot reach
      writeFile(paths.resolvConf, this.internet && this.host.egress ? `nameserver ${SLIRP_DNS}\n` : ""),
      this.makeLocalBin(paths.localBin),
    ]);
  }

  /** The sandbox's /usr/local/bin: a link to each entry of the host's, and `sudo` (view.ts). */
  private async makeLocalBin(dir: string): Promise<void> {
    await mkdir(dir, { mode: 0o755 });
    const names = HOST_LOCAL_BIN ? await readdir(HOST_LOCAL_BIN).catch(() => [] as string[]) : [];
    await Promise.all(
      names.filter((name) => name !== "sudo").map((name) => symlink(`${LOCAL_BIN_HOST}/${name}`, join(dir, name))),
    );
    await symlink("/run/e2b/sudo", join(dir, "sudo"));
  }

  /** bwrap/unshare with `command` inside, started through JOIN_CGROUPS when the box has cgroups. */
  private spawnIsolated(command: string[], cgroupProcs: string[]): ChildProcess {
    const { isolation } = this.host;
    const args =
      isolation.kind === "unshare" ? unshareArgs(this.dir, command) : ["--args", "3", "--", ...DROP_CAPS, ...command];
    const [bin, argv] = cgroupProcs.length
      ? ["/bin/sh", ["-c", JOIN_CGROUPS, "e2b-cgroup", isolation.bin, ...args]]
      : [isolation.bin, args];
    const env = { PATH: SANDBOX_PATH, E2B_CGROUPS: cgroupProcs.join("\n") };
    if (isolation.kind === "unshare") {
      return spawn(bin, argv, {
        stdio: ["pipe", "pipe", "inherit"],
        env,
        // Its own process group: a Ctrl+C in the terminal is the server's to handle, not the sandbox's.
        detached: true,
      });
    }
    // bwrap's own arguments through fd 3 (--args): host paths stay out of the sandbox's `ps`
    const child = spawn(bin, argv, { stdio: ["pipe", "pipe", "inherit", "pipe"], env, detached: true });
    const argPipe = child.stdio[3] as NodeJS.WritableStream & { on: (e: string, f: () => void) => void };
    argPipe.on("error", () => {});
    argPipe.end(
      bwrapArgs(this.dir)
        .map((arg) => `${arg}\0`)
        .join(""),
    );
    return child;
  }

  private async start(): Promise<void> {
    const { limits } = this.host;
    if (!this.reused) await this.makeFolders();
    if (this.host.isolation.kind === "unshare") await mkdir(boxPaths(this.dir).mnt, { recursive: true });
    if (!PYTHON) throw new Error("python3 is required on the host for the sandbox agent");
    const cgroupProcs = this.host.cgroups.create(this.id);
    const agentLimits = JSON.stringify({
      as: limits.addressSpaceBytes,
      fsize: limits.fileSizeBytes,
      nofile: limits.openFiles,
    });
    const child = this.spawnIsolated([PYTHON, "-I", "-S", "/run/e2b/agent.py", agentLimits], cgroupProcs);
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
    if (this.internet && this.host.egress) {
      if (!this.init) throw new Error("sandbox init not found");
      this.slirp = await attachEgress(this.host.egress, this.init.pid);
      if (this.dead) this.slirp.kill("SIGKILL");
    }
  }

  private died(): void {
    if (this.dead) return;
    this.dead = true;
    this.agent.close();
    this.onDeath?.();
  }

  /** Kill every process of the sandbox, remove its cgroups and delete its disk and files. */
  destroy(): Promise<void> {
    // (a stopped, i.e. paused, box still has its disk: destroy removes it)
    this.killing ??= this.killAll();
    this.removing ??= this.killing.then(() => this.removeFolder());
    return this.removing;
  }

  private async removeFolder(): Promise<void> {
    unmountDisk(boxPaths(this.dir).disk);
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  }

  /**
   * Pause (filesystem only): end every process of the box and remove its cgroups, but keep its folder
   * and disk mounted, for a `new Box(host, internet, dir)` to start on again. The box is dead after.
   */
  stop(): Promise<void> {
    this.onDeath = null;
    this.killing ??= this.killAll();
    return this.killing;
  }

  /** end every process (the namespace's init and so all of them), slirp4netns and the cgroups */
  private async killAll(): Promise<void> {
    // still making its folders and disk: let that finish, so nothing is mounted after the unmount below
    if (!this.child) await this.ready.catch(() => {});
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
    await this.ready.catch(() => {});
    // The namespace's init dies by its parent-death signal, a moment after bwrap/unshare; once it is
    // gone (or a zombie) the kernel has ended every other process of the namespace.
    const init = this.init;
    for (let i = 0; init && i < 400 && procAlive(init); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    this.slirp?.kill("SIGKILL");
    this.died();
    await this.host.cgroups.remove(this.id);
  }
}
