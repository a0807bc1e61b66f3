// A sandbox's disk: its writable places (/home/user, /tmp, /root, /var/tmp) are folders of one
// filesystem of a fixed size, so a full disk is ENOSPC inside the sandbox and never fills the host's
// disk, and `df` inside shows the cap. Preferred: an ext4 image (sparse file, so it costs the host
// only what is written) loop-mounted at <box>/fs; where loop devices are unavailable, a size-capped
// tmpfs (which then counts against memory). The Files API works on the same folders from the host.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type DiskKind = "ext4-image" | "tmpfs" | "none";

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")}: ${stderr.trim() || `exit ${code}`}`)),
    );
  });
}

/** Make a disk of `bytes` at `mountPoint` (an empty folder), its image (if any) at `image`. */
export async function makeDisk(kind: DiskKind, bytes: number, image: string, mountPoint: string): Promise<void> {
  if (kind === "ext4-image") {
    await writeFile(image, "");
    await truncate(image, bytes);
    // no journal, no reserved blocks: a small, throwaway filesystem; every byte is the sandbox's
    await run("mkfs.ext4", ["-q", "-F", "-m", "0", "-O", "^has_journal", "-E", "root_owner=0:0", image]);
    await run("mount", ["-o", "loop,nosuid,nodev", image, mountPoint]);
  } else if (kind === "tmpfs") {
    await run("mount", ["-t", "tmpfs", "-o", `size=${bytes},mode=0755,nosuid,nodev`, "e2b-disk", mountPoint]);
  }
}

/** Unmount a box's disk (lazily: a Files API stream may still hold a file open; the loop device goes with the last one). */
export function unmountDisk(mountPoint: string): void {
  if (isMountPoint(mountPoint)) spawnSync("umount", ["-l", mountPoint], { stdio: "ignore" });
}

/** Mount points at or below `dir`, deepest first. */
export function mountsBelow(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = line.split(" ")[4];
    if (point && (point === dir || point.startsWith(`${dir}/`))) out.push(point.replace(/\\040/g, " "));
  }
  return out.sort((a, b) => b.length - a.length);
}

const isMountPoint = (dir: string) => mountsBelow(dir).includes(dir);

/** Which disk this host can give each sandbox: an ext4 image if mkfs and a loop mount work, else tmpfs. */
export function probeDisk(problems: string[]): DiskKind {
  let dir: string | null = null;
  try {
    dir = mkdtempSync(join(tmpdir(), "e2b-local-disk-probe-"));
    const image = join(dir, "image");
    const mountPoint = join(dir, "fs");
    mkdirSync(mountPoint);
    spawnSync("truncate", ["-s", "8M", image]);
    const mkfs = spawnSync("mkfs.ext4", ["-q", "-F", "-m", "0", "-O", "^has_journal", image], { stdio: "ignore" });
    if (mkfs.status === 0) {
      const mounted = spawnSync("mount", ["-o", "loop,nosuid,nodev", image, mountPoint], { stdio: "ignore" });
      if (mounted.status === 0) {
        spawnSync("umount", [mountPoint], { stdio: "ignore" });
        return "ext4-image";
      }
    }
    const tmpfs = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "e2b-disk", mountPoint], { stdio: "ignore" });
    if (tmpfs.status === 0) {
      spawnSync("umount", [mountPoint], { stdio: "ignore" });
      problems.push(
        "disk cap through a size-capped tmpfs (no loop devices or mkfs.ext4): sandbox files count as memory",
      );
      return "tmpfs";
    }
  } catch {
    /* fall through */
  } finally {
    if (dir && existsSync(dir)) {
      for (const point of mountsBelow(dir)) spawnSync("umount", ["-l", point], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    }
  }
  problems.push("no disk cap (cannot mount a filesystem: not root?): sandbox files go to the host's disk");
  return "none";
}
