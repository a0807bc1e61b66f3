// Which isolation builds the sandboxes: probed once at start (bubblewrap, else util-linux unshare as
// root), or forced with E2B_LOCAL_ISOLATION / startE2bLocal({ isolation }); there is no unisolated mode.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unshareArgs } from "./unshare.ts";
import { SANDBOX_PATH } from "./view.ts";

export type Isolation = { kind: "bwrap"; bin: string } | { kind: "unshare"; bin: string };
export type IsolationKind = Isolation["kind"];
export const ISOLATION_KINDS: readonly IsolationKind[] = ["bwrap", "unshare"];

function probeBwrap(): Isolation | null {
  for (const bin of ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"]) {
    if (!existsSync(bin)) continue;
    const result = spawnSync(
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
    if (result.status === 0) return { kind: "bwrap", bin };
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
      for (const sub of ["fs/home", "fs/tmp", "fs/root", "fs/vartmp", "etc", "mnt", "local-bin"])
        mkdirSync(join(dir, sub), { recursive: true });
      writeFileSync(join(dir, "etc", "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
      writeFileSync(join(dir, "etc", "group"), "root:x:0:\n");
      writeFileSync(join(dir, "etc", "resolv.conf"), "");
      const result = spawnSync(bin, unshareArgs(dir, ["/bin/true"]), {
        stdio: "ignore",
        timeout: 10_000,
        env: { PATH: SANDBOX_PATH },
      });
      if (result.status === 0) return { kind: "unshare", bin };
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
    const bwrap = probeBwrap();
    if (bwrap || want === "bwrap") return bwrap;
  }
  return probeUnshare();
}

/** The isolation to use for `asked` (a kind, or undefined for the best that works); throws, naming the package to install, when none works. */
export function pickIsolation(asked: string | undefined): Isolation {
  if (asked !== undefined && !ISOLATION_KINDS.includes(asked as IsolationKind)) {
    throw new Error(
      `e2b-local: unknown isolation ${JSON.stringify(asked)} (E2B_LOCAL_ISOLATION / isolation: bwrap or unshare)`,
    );
  }
  const isolation = detectIsolation(asked as IsolationKind | undefined);
  if (!isolation) {
    throw new Error(
      asked === "bwrap"
        ? "e2b-local: isolation bwrap was asked for but bubblewrap does not work here. Install it (Debian/Ubuntu: `apt-get install bubblewrap`)."
        : asked === "unshare"
          ? "e2b-local: isolation unshare was asked for but `unshare` (util-linux) cannot create the sandbox namespaces here (it needs root: mount, pivot_root). Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`)."
          : "e2b-local: no usable sandbox isolation found: neither bubblewrap nor `unshare` (util-linux, as root) can create the sandbox namespaces here. Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`).",
    );
  }
  return isolation;
}
