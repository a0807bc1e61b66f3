// What every sandbox sees, whichever isolation builds it: its users, PATH, the host directories
// exposed read-only, the parts of /proc and /etc that are locked or hidden, and root's capabilities.
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const AGENT_PATH = fileURLToPath(new URL("./agent.py", import.meta.url));
/** the sandbox's `sudo` (sudo.py): /run/e2b/sudo inside, linked from /usr/local/bin/sudo */
export const SUDO_PATH = fileURLToPath(new URL("./sudo.py", import.meta.url));
/**
 * The host's /usr/local/bin, shown inside at LOCAL_BIN_HOST; the sandbox's /usr/local/bin is a folder of
 * links to it plus `sudo` (a new file cannot be bound into the read-only host /usr, and login shells
 * reset PATH from /etc/profile, so an extra PATH entry would not do).
 */
export const HOST_LOCAL_BIN = existsSync("/usr/local/bin") ? "/usr/local/bin" : null;
export const LOCAL_BIN_HOST = "/run/e2b/local-bin";
export const USER_UID = 1000;
export const USER_GID = 1000;
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function findPython(): string | null {
  for (const path of ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]) {
    if (existsSync(path)) return path;
  }
  return null;
}

export const PYTHON = findPython();

export type SystemBind = { kind: "ro" | "symlink"; src: string; dest: string };

/** The host directories that are exposed read-only inside every sandbox. */
export function systemBinds(): SystemBind[] {
  const out: SystemBind[] = [];
  for (const dir of ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"]) {
    let stats: ReturnType<typeof lstatSync>;
    try {
      stats = lstatSync(dir);
    } catch {
      continue;
    }
    if (stats.isSymbolicLink()) out.push({ kind: "symlink", src: readlinkSync(dir), dest: dir });
    else if (stats.isDirectory()) out.push({ kind: "ro", src: dir, dest: dir });
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
 * The command prefix every sandbox's agent is started through (both isolations): no_new_privs, an
 * empty inheritable (hence ambient) set, and the bounding set cut to KEEP_CAPS, so root in the
 * sandbox (and anything it execs) can never hold more than those.
 */
export const DROP_CAPS = [
  "setpriv",
  "--no-new-privs",
  "--inh-caps=-all",
  `--bounding-set=-all,${KEEP_CAPS.map((cap) => `+${cap}`).join(",")}`,
];

/** Where the parts of box folder `dir` are on the host. */
export function boxPaths(dir: string) {
  const disk = join(dir, "fs");
  return {
    /** the box's disk (disk.ts): the writable places below are its folders */
    disk,
    image: join(dir, "disk.img"),
    home: join(disk, "home"),
    tmp: join(disk, "tmp"),
    root: join(disk, "root"),
    varTmp: join(disk, "vartmp"),
    /** generated files bound read-only over the host's */
    passwd: join(dir, "etc", "passwd"),
    group: join(dir, "etc", "group"),
    resolvConf: join(dir, "etc", "resolv.conf"),
    /** bound over /usr/local/bin: links to the host's and `sudo` */
    localBin: join(dir, "local-bin"),
    /** the unshare path's new root */
    mnt: join(dir, "mnt"),
  };
}
