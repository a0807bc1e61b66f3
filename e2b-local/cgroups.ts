// Per-sandbox resource limits through cgroups: each sandbox's processes (bwrap/unshare, the agent,
// every command and whatever they leave running) live in the sandbox's own cgroup with a memory
// limit, a pid limit and a CPU quota, so one sandbox cannot starve, fork-bomb or out-allocate the
// host or another sandbox. cgroup v2 where the host has it, v1 controllers (cpu, memory, pids) where
// that is what it has. The groups are made below e2b-local's own cgroup (so e2b-local's own limits
// still bound them all): <own>/e2b-local-<server pid>-<random>/box-<id> (several servers may share a
// process, e.g. the test setup's), removed when the sandbox dies.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type CgroupLimits = {
  /** bytes of memory (RSS, page cache, tmpfs) for the whole sandbox; swap is not allowed on top */
  memoryBytes: number;
  /** CPU time per wall time, in CPUs (1 = one core's worth) */
  cpus: number;
  /** processes and threads of the whole sandbox */
  pids: number;
};

type Controller = "cpu" | "memory" | "pids";
const CONTROLLERS: Controller[] = ["cpu", "memory", "pids"];
const CPU_PERIOD_US = 100_000;

type Mount = { point: string; root: string; options: string[]; type: string };

function cgroupMounts(): Mount[] {
  const out: Mount[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const fields = left.split(" ");
    const [type, , superOptions] = right.split(" ");
    if (type !== "cgroup" && type !== "cgroup2") continue;
    out.push({ point: fields[4]!, root: fields[3]!, type, options: (superOptions ?? "").split(",") });
  }
  return out;
}

/** This process's cgroup path in each v1 hierarchy (by controller) and in the v2 one (""). */
function ownPaths(): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")) {
    const [, controllers, path] = line.split(/:(.*?):/);
    if (path === undefined || controllers === undefined) continue;
    if (controllers === "") paths.set("", path);
    for (const name of controllers.split(",")) if (name) paths.set(name, path);
  }
  return paths;
}

/** Where a cgroup path of a hierarchy mounted at `mount` is on disk. */
function onDisk(mount: Mount, path: string): string | null {
  const root = mount.root === "/" ? "" : mount.root;
  if (path !== root && !path.startsWith(`${root}/`)) return null; // not visible from this mount
  return join(mount.point, path.slice(root.length));
}

const write = (file: string, value: string) => writeFileSync(file, value);

/** The cgroups of one server: a parent per hierarchy, a child per sandbox. */
export class Cgroups {
  /** v2: one parent directory; v1: one per controller that works */
  private readonly parents: Map<Controller | "v2", string>;
  readonly version: 1 | 2 | null;
  /** the limits that can be enforced here */
  readonly enforced: Set<Controller>;
  private readonly limits: CgroupLimits;

  private constructor(
    version: 1 | 2 | null,
    parents: Map<Controller | "v2", string>,
    enforced: Set<Controller>,
    limits: CgroupLimits,
  ) {
    this.version = version;
    this.parents = parents;
    this.enforced = enforced;
    this.limits = limits;
  }

  /**
   * Set up the server's parent groups (and remove those of e2b-local servers that are gone, killing
   * what they left running). `problems` gets one sentence per limit that cannot be enforced here.
   */
  static setup(limits: CgroupLimits, problems: string[]): Cgroups {
    const name = `e2b-local-${process.pid}-${randomBytes(4).toString("hex")}`;
    const mounts = cgroupMounts();
    const own = ownPaths();
    const v2 = mounts.find((mount) => mount.type === "cgroup2");
    const v2Dir = v2 && own.has("") ? onDisk(v2, own.get("")!) : null;
    const v2Controllers = v2Dir ? readIfExists(join(v2Dir, "cgroup.controllers")).split(/\s+/) : [];
    // a hybrid host (like this project's CI) mounts an empty or hugetlb-only v2 beside the v1 controllers
    if (v2Dir && CONTROLLERS.some((controller) => v2Controllers.includes(controller))) {
      const parent = join(v2Dir, name);
      const enforced = new Set<Controller>();
      try {
        cleanStale(v2Dir);
        const wanted = CONTROLLERS.filter((controller) => v2Controllers.includes(controller));
        // the parent's own subtree_control must delegate them; a non-root group with processes
        // refuses that (no internal processes), and then nothing can be enforced here
        write(join(v2Dir, "cgroup.subtree_control"), wanted.map((controller) => `+${controller}`).join(" "));
        mkdirSync(parent, { recursive: true });
        write(join(parent, "cgroup.subtree_control"), wanted.map((controller) => `+${controller}`).join(" "));
        for (const controller of wanted) enforced.add(controller);
      } catch (e) {
        problems.push(`cgroup v2 at ${v2Dir} cannot delegate controllers (${(e as Error).message})`);
      }
      for (const controller of CONTROLLERS)
        if (!enforced.has(controller)) problems.push(`no ${controller} limit (cgroup v2 controller unavailable)`);
      return new Cgroups(2, new Map([["v2", parent]]), enforced, limits);
    }
    const parents = new Map<Controller | "v2", string>();
    const enforced = new Set<Controller>();
    for (const controller of CONTROLLERS) {
      const mount = mounts.find((candidate) => candidate.type === "cgroup" && candidate.options.includes(controller));
      const dir = mount && own.has(controller) ? onDisk(mount, own.get(controller)!) : null;
      if (!dir || !existsSync(dir)) {
        problems.push(`no ${controller} limit (no cgroup ${controller} hierarchy)`);
        continue;
      }
      try {
        cleanStale(dir);
        mkdirSync(join(dir, name), { recursive: true });
        parents.set(controller, join(dir, name));
        enforced.add(controller);
      } catch (e) {
        problems.push(`no ${controller} limit (${(e as Error).message})`);
      }
    }
    return new Cgroups(enforced.size ? 1 : null, parents, enforced, limits);
  }

  /** Make box `id`'s groups with the limits set; returns their `cgroup.procs` files (join them before exec). */
  create(id: string): string[] {
    const { memoryBytes, cpus, pids } = this.limits;
    const procs: string[] = [];
    const quota = String(Math.max(1000, Math.round(cpus * CPU_PERIOD_US)));
    if (this.version === 2) {
      const dir = join(this.parents.get("v2")!, id);
      mkdirSync(dir);
      if (this.enforced.has("memory")) {
        write(join(dir, "memory.max"), String(memoryBytes));
        if (existsSync(join(dir, "memory.swap.max"))) write(join(dir, "memory.swap.max"), "0");
      }
      if (this.enforced.has("pids")) write(join(dir, "pids.max"), String(pids));
      if (this.enforced.has("cpu")) write(join(dir, "cpu.max"), `${quota} ${CPU_PERIOD_US}`);
      procs.push(join(dir, "cgroup.procs"));
      return procs;
    }
    for (const [controller, parent] of this.parents) {
      const dir = join(parent, id);
      mkdirSync(dir);
      if (controller === "memory") {
        write(join(dir, "memory.limit_in_bytes"), String(memoryBytes));
        // memory + swap capped at the same figure: no swapping past the limit
        if (existsSync(join(dir, "memory.memsw.limit_in_bytes")))
          write(join(dir, "memory.memsw.limit_in_bytes"), String(memoryBytes));
      } else if (controller === "pids") {
        write(join(dir, "pids.max"), String(pids));
      } else if (controller === "cpu") {
        write(join(dir, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
        write(join(dir, "cpu.cfs_quota_us"), quota);
      }
      procs.push(join(dir, "cgroup.procs"));
    }
    return procs;
  }

  /**
   * What box `id`'s processes use, from its groups' counters: CPU time (ns, all of them together
   * since the box started), memory charged (bytes) and of it page cache; a field is null where this
   * host has no such counter.
   */
  usage(id: string): { cpuNs: number | null; memBytes: number | null; cacheBytes: number | null } {
    const num = (file: string) => {
      const text = readIfExists(file).trim();
      return text && /^\d+$/.test(text) ? Number(text) : null;
    };
    const stat = (file: string, key: string) => {
      const line = readIfExists(file)
        .split("\n")
        .find((l) => l.startsWith(`${key} `));
      return line ? Number(line.split(" ")[1]) : null;
    };
    const v2 = this.parents.get("v2");
    if (v2) {
      const dir = join(v2, id);
      const usec = stat(join(dir, "cpu.stat"), "usage_usec");
      return {
        cpuNs: usec === null ? null : usec * 1000,
        memBytes: num(join(dir, "memory.current")),
        cacheBytes: stat(join(dir, "memory.stat"), "file"),
      };
    }
    const cpu = this.parents.get("cpu");
    const memory = this.parents.get("memory");
    const anyGroup = [...this.parents.values()][0];
    return {
      // v1 `cpu` mounted with cpuacct has the counter; a separate cpuacct hierarchy (not ours) does not
      cpuNs:
        (cpu ? num(join(cpu, id, "cpuacct.usage")) : null) ??
        (anyGroup ? procsCpuNs(readIfExists(join(anyGroup, id, "cgroup.procs"))) : null),
      memBytes: memory ? num(join(memory, id, "memory.usage_in_bytes")) : null,
      cacheBytes: memory ? stat(join(memory, id, "memory.stat"), "cache") : null,
    };
  }

  /** Kill whatever is still in box `id`'s groups and remove them. */
  async remove(id: string): Promise<void> {
    for (const parent of this.parents.values()) await removeGroup(join(parent, id));
  }

  /** Remove the server's parent groups (every box is gone by then). */
  async close(): Promise<void> {
    for (const parent of this.parents.values()) {
      for (const child of readdirSafe(parent)) await removeGroup(join(parent, child));
      await removeGroup(parent);
    }
  }
}

/** clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux) */
const USER_HZ = 100;

/**
 * CPU time of the processes listed in `procs` (one pid a line), from /proc: each one's user + system
 * time plus that of its children it has waited for, so finished commands (reaped by the agent) count.
 */
function procsCpuNs(procs: string): number | null {
  let ticks = 0;
  let seen = 0;
  for (const pid of procs.split("\n")) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = readIfExists(`/proc/${pid}/stat`);
    // fields after the command name (which may hold spaces), from field 3 on
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(rest[i]) || 0);
    ticks += (utime ?? 0) + (stime ?? 0) + (cutime ?? 0) + (cstime ?? 0);
    seen++;
  }
  return seen ? (ticks * 1e9) / USER_HZ : null;
}

function readIfExists(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** SIGKILL every process in a group (and its children groups), then rmdir it, retrying while they die. */
async function removeGroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const child of readdirSafe(dir)) await removeGroup(join(dir, child));
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const pid of readIfExists(join(dir, "cgroup.procs")).split("\n")) {
      if (pid)
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          /* gone */
        }
    }
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** The groups of e2b-local servers that no longer run (SIGKILLed): their leftovers are killed, the groups removed. */
function cleanStale(dir: string): void {
  for (const child of readdirSafe(dir)) {
    const match = /^e2b-local-(\d+)(?:-[0-9a-f]+)?$/.exec(child);
    if (!match || Number(match[1]) === process.pid || pidAlive(Number(match[1]))) continue;
    void removeGroup(join(dir, child));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
