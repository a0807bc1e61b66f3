// What an e2b-local that was SIGKILLed leaves behind, cleaned at the next start: its data folders
// (with the boxes' mounted disks) and, in cgroups.ts, its cgroups and any process still in them.
// A data folder belongs to the server whose pid is in its OWNER_FILE; it is stale once that pid is gone.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pidAlive } from "./cgroups.ts";
import { mountsBelow } from "./disk.ts";

const OWNER_FILE = ".e2b-local.pid";

function ownerGone(dir: string): boolean {
  try {
    const pid = Number(readFileSync(join(dir, OWNER_FILE), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid);
  } catch {
    // no owner file, yet a box disk mounted: a folder whose removal failed half-way (its owner file
    // went, the busy mount points stayed). A running server writes its owner file before any box.
    return !existsSync(join(dir, OWNER_FILE)) && mountsBelow(dir).some((point) => /\/box-[0-9a-f]+\/fs$/.test(point));
  }
}

/** Unmount every box disk below `dir`, then delete `dir` (whole) or only its box folders. */
function clean(dir: string, whole: boolean): void {
  for (const point of mountsBelow(dir)) spawnSync("umount", ["-l", point], { stdio: "ignore" });
  if (whole) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith("box-")) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Before a server uses `dataDir`: clean it if a dead server left boxes there, and remove the default
 * data folders (`<tmp>/e2b-local-*`) of dead servers. Then mark `dataDir` as this server's.
 * Returns how many folders were cleaned.
 */
export function cleanLeftovers(dataDir: string): number {
  let cleaned = 0;
  if (existsSync(join(dataDir, OWNER_FILE)) && ownerGone(dataDir)) {
    clean(dataDir, false);
    cleaned++;
  }
  for (const entry of readdirSync(tmpdir())) {
    const dir = join(tmpdir(), entry);
    if (!entry.startsWith("e2b-local-") || dir === dataDir || !ownerGone(dir)) continue;
    // a default data folder (e2b-local-<pid>-<hex>) goes whole; one someone named keeps its folder
    clean(dir, /^e2b-local-\d+-[0-9a-f]+$/.test(entry));
    cleaned++;
  }
  writeFileSync(join(dataDir, OWNER_FILE), String(process.pid));
  return cleaned;
}
