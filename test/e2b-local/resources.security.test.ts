// Resource containment, driven by the unmodified SDK against an e2b-local of its own with small limits:
// a fork bomb and a busy loop stay inside their sandbox's pids and CPU limits while another sandbox
// runs; memory and disk run out inside the sandbox (OOM kill / MemoryError, ENOSPC), not on the host;
// one sandbox's sleepers do not use up another's processes; the cgroups go with the sandbox.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "e2b";
import { startE2bLocal } from "e2b-local";
import type { E2bLocal } from "e2b-local";
import { hostLeftovers, marker, waitFor } from "./helpers.ts";

const MiB = 1024 * 1024;
const LIMITS = { memoryBytes: 256 * MiB, pids: 128, cpus: 1, diskBytes: 64 * MiB };

let srv: E2bLocal;
let dataDir: string;
const conn = () => ({ apiUrl: srv.url, sandboxUrl: srv.url, apiKey: srv.apiKey });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "e2b-local-resources-"));
  srv = await startE2bLocal({ port: 0, dataDir, poolSize: 0, limits: LIMITS });
});
afterAll(async () => {
  await srv?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function withBox<T>(fn: (sb: Sandbox) => Promise<T>): Promise<T> {
  const sb = await Sandbox.create(conn());
  try {
    return await fn(sb);
  } finally {
    await sb.kill().catch(() => {});
  }
}

/** Host side: the cgroup folders (one per v1 controller, or the v2 one) of host process `pid`. */
function cgroupDirs(pid: number): Record<string, string> {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => {
      const [left, right] = line.split(" - ");
      const fields = (left ?? "").split(" ");
      const [type, , options] = (right ?? "").split(" ");
      return { root: fields[3] ?? "", point: fields[4] ?? "", type, options: (options ?? "").split(",") };
    });
  const dirs: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n")) {
    const [, controllers, path] = line.split(/:(.*?):/);
    for (const controller of controllers ? controllers.split(",") : ["v2"]) {
      const mount = mounts.find((m) =>
        controller === "v2" ? m.type === "cgroup2" : m.type === "cgroup" && m.options.includes(controller),
      );
      if (mount && path !== undefined)
        dirs[controller] = join(mount.point, path.slice(mount.root === "/" ? 0 : mount.root.length));
    }
  }
  return dirs;
}

/** The host pid of the process whose command line starts with `name` (a sandbox's marked process). */
async function hostPid(name: string): Promise<number> {
  return waitFor(async () => {
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmd.startsWith(`${name}\0`)) return Number(pid);
    }
    return 0;
  });
}

describe("resource containment", () => {
  it("every limit is enforced on this host (else the tests below would prove nothing)", () => {
    expect(srv.notEnforced).toEqual([]);
    expect(srv.limits).toMatchObject(LIMITS);
  });

  it("a sandbox's processes are in its own cgroups with the limits set, removed when it dies", async () => {
    const sb = await Sandbox.create(conn());
    const m = marker();
    await sb.commands.run(`exec -a ${m} sleep 600`, { background: true, timeoutMs: 0 });
    const dirs = cgroupDirs(await hostPid(m));
    const boxes = Object.values(dirs).filter((dir) => /\/e2b-local-\d+-[0-9a-f]+\/box-[0-9a-f]+$/.test(dir));
    expect(boxes.length).toBeGreaterThan(0);
    if (dirs.memory?.includes("/box-")) {
      // cgroup v1 (this project's hosts)
      expect(readFileSync(join(dirs.memory, "memory.limit_in_bytes"), "utf8").trim()).toBe(String(LIMITS.memoryBytes));
      expect(readFileSync(join(dirs.pids!, "pids.max"), "utf8").trim()).toBe(String(LIMITS.pids));
      expect(readFileSync(join(dirs.cpu!, "cpu.cfs_quota_us"), "utf8").trim()).toBe("100000");
    } else {
      expect(readFileSync(join(dirs.v2!, "memory.max"), "utf8").trim()).toBe(String(LIMITS.memoryBytes));
      expect(readFileSync(join(dirs.v2!, "pids.max"), "utf8").trim()).toBe(String(LIMITS.pids));
      expect(readFileSync(join(dirs.v2!, "cpu.max"), "utf8").trim()).toBe("100000 100000");
    }
    expect(await sb.kill()).toBe(true);
    for (const dir of boxes) expect(existsSync(dir)).toBe(false);
  });

  it("a fork bomb and a busy loop in one sandbox: another sandbox's run still completes", async () => {
    const m = marker();
    await withBox(async (attacker) => {
      await withBox(async (victim) => {
        // both left running in the background, as the attack did
        await attacker.commands.run(`exec -a ${m}-spin sh -c 'while :; do :; done'`, {
          background: true,
          timeoutMs: 0,
        });
        await attacker.commands.run(`bomb() { bomb | bomb & }; bomb; exec -a ${m}-bomb sleep 600`, {
          background: true,
          timeoutMs: 0,
        });
        // the bomb has filled the attacker's pid limit (its own forks now fail)...
        const spinner = await hostPid(`${m}-spin`);
        const pids = cgroupDirs(spinner).pids;
        if (pids) await waitFor(() => Number(readFileSync(join(pids, "pids.current"), "utf8")) >= LIMITS.pids - 2);
        // ...and the victim runs, forks and finishes as usual
        const run = await victim.commands.run(
          "for i in 1 2 3 4 5 6 7 8; do sh -c 'echo forked' & done; wait; python3 -c 'print(sum(range(10**6)))'",
          { timeoutMs: 60_000 },
        );
        expect(run.exitCode).toBe(0);
        expect(run.stdout).toBe(`${"forked\n".repeat(8)}499999500000\n`);
      });
    });
    // killing the attacker ended all of it
    expect(await hostLeftovers(m, dataDir)).toEqual([]);
  });

  it("80 sleepers in one sandbox do not make another sandbox's fork fail (no per-uid process limit)", async () => {
    await withBox(async (a) => {
      await withBox(async (b) => {
        const sleepers = await a.commands.run(
          "for i in $(seq 80); do sleep 600 & done; sleep 0; ps -e -o comm= | grep -c '^sleep$'",
        );
        expect(sleepers.stdout).toBe("80\n");
        // both run as `user` (the same uid): B still forks freely
        const forks = await b.commands.run("for i in $(seq 40); do sh -c 'exit 0' & done; wait; id -un");
        expect(forks.stdout).toBe("user\n");
      });
    });
  });

  it("memory runs out inside the sandbox: the allocating process dies, the sandbox and server go on", async () => {
    await withBox(async (sb) => {
      // pages touched one by one: the cgroup's limit (256 MiB), not the address-space rlimit, stops it
      const hog = await sb.commands
        .run("python3 -c 'x = bytearray(1024 * 1024 * 1024); x[::4096] = b\"\\x01\" * (len(x) // 4096)'")
        .catch((e) => e);
      expect(hog.exitCode).not.toBe(0);
      expect(`${hog.stderr}${hog.error ?? ""}`).toMatch(/Killed|MemoryError|signal: killed/);
      expect((await sb.commands.run("echo still here")).stdout).toBe("still here\n");
    });
  });

  it("the disk runs out inside the sandbox (ENOSPC, df shows the cap), not on the host", async () => {
    await withBox(async (sb) => {
      const m = marker();
      await sb.files.write(`/home/user/${m}`, "x");
      const df = await sb.commands.run("df -P -k /home/user /tmp | tail -n +2 | awk '{print $2}'");
      for (const size of df.stdout.trim().split("\n")) {
        expect(Number(size) * 1024).toBeLessThanOrEqual(LIMITS.diskBytes);
        expect(Number(size) * 1024).toBeGreaterThan(LIMITS.diskBytes / 2);
      }
      // four times the cap, across /tmp and /home/user (one disk)
      const fill = await sb.commands
        .run(
          "dd if=/dev/zero of=/tmp/fill bs=1M count=128 2>&1; dd if=/dev/zero of=/home/user/fill bs=1M count=128 2>&1",
        )
        .catch((e) => e);
      expect(fill.exitCode).not.toBe(0);
      expect(fill.stdout).toContain("No space left on device");
      // the Files API meets the same full disk
      await expect(sb.files.write("/home/user/more", "y".repeat(4 * MiB))).rejects.toThrow();
      // on the host, the sandbox's files take no more than its disk image, itself no more than the cap
      let box = "";
      for (const entry of await readdir(dataDir)) if (existsSync(join(dataDir, entry, "fs", "home", m))) box = entry;
      expect(box).not.toBe("");
      const image = await stat(join(dataDir, box, "disk.img"));
      expect(image.blocks * 512).toBeLessThanOrEqual(LIMITS.diskBytes);
      // and freeing space inside makes it usable again
      await sb.commands.run("rm -f /tmp/fill /home/user/fill");
      await sb.files.write("/home/user/more", "y".repeat(MiB));
    });
  });
});
