// The sandbox's filesystem as the Files API sees it: sandbox paths are resolved against the same
// mount table the sandbox was started with, component by component, following symlinks *inside the
// sandbox's view*, so a symlink in /home/user can never lead the API to a host file the sandbox
// cannot see. Writable mounts are the sandbox's own /home/user, /tmp and /root.
import type { Stats } from "node:fs";
import { lstat, mkdir, chown, readlink, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { AGENT_PATH, HIDDEN_ETC, USER_GID, USER_UID, systemBinds } from "./sandbox.ts";
import { RpcError } from "./connect.ts";

export type Mount = { sb: string; host: string; rw: boolean };

export class FsError extends Error {
  code: string;
  status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** The Connect error code of an RpcError, an FsError or a Node fs error (errno). */
export function errorCode(e: unknown): string {
  if (e instanceof RpcError || e instanceof FsError) return e.code;
  const c = (e as NodeJS.ErrnoException)?.code;
  if (c === "ENOENT") return "not_found";
  if (c === "EEXIST") return "already_exists";
  if (c === "EACCES" || c === "EPERM" || c === "EROFS") return "permission_denied";
  if (c === "ENOTDIR" || c === "EISDIR" || c === "EINVAL" || c === "ENOTEMPTY") return "invalid_argument";
  if (c === "ENOSPC" || c === "EDQUOT" || c === "EFBIG") return "resource_exhausted";
  if (c === "invalid_argument" || c === "not_found" || c === "unauthenticated") return c;
  return "internal";
}

export const notFound = (p: string) => new FsError("not_found", 404, `path '${p}' does not exist`);

let systemMountsCache: Mount[] | null = null;
function systemMounts(): Mount[] {
  if (!systemMountsCache) {
    systemMountsCache = [];
    for (const b of systemBinds()) {
      // symlinks at the root (/bin -> usr/bin) are the same on the host side: map them as-is
      systemMountsCache.push({ sb: b.dest, host: b.dest, rw: false });
    }
    for (const f of HIDDEN_ETC) systemMountsCache.push({ sb: f, host: "/dev/null", rw: false });
    systemMountsCache.push({ sb: "/run/e2b/agent.py", host: AGENT_PATH, rw: false });
  }
  return systemMountsCache;
}

export function sandboxMounts(dir: string): Mount[] {
  return [
    ...systemMounts(),
    { sb: "/etc/passwd", host: join(dir, "etc", "passwd"), rw: false },
    { sb: "/etc/group", host: join(dir, "etc", "group"), rw: false },
    { sb: "/home/user", host: join(dir, "home"), rw: true },
    { sb: "/tmp", host: join(dir, "tmp"), rw: true },
    { sb: "/root", host: join(dir, "root"), rw: true },
  ];
}

export type Resolved = {
  /** absolute sandbox path of the deepest existing component (symlinks resolved) */
  sbPath: string;
  hostPath: string;
  mount: Mount;
  /** components below sbPath that do not exist yet */
  missing: string[];
};

function findMount(mounts: Mount[], sbPath: string): { mount: Mount; host: string } | null {
  let best: Mount | null = null;
  for (const m of mounts) {
    if (sbPath === m.sb || sbPath.startsWith(m.sb + "/")) {
      if (!best || m.sb.length > best.sb.length) best = m;
    }
  }
  if (!best) return null;
  return { mount: best, host: best.host + sbPath.slice(best.sb.length) };
}

export function normalize(path: string, home: string): string {
  if (typeof path !== "string" || path.includes("\0")) throw new FsError("invalid_argument", 400, "invalid path");
  const abs = path.startsWith("/") ? path : posix.join(home, path || ".");
  return posix.normalize(abs).replace(/(.)\/+$/, "$1");
}

/** Resolve a sandbox path. followLast=false keeps a final symlink itself (for remove/rename/lstat). */
export async function resolve(mounts: Mount[], path: string, home: string, followLast = true): Promise<Resolved> {
  let todo = normalize(path, home).split("/").filter(Boolean);
  let cur: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const comp = todo.shift()!;
    if (comp === ".") continue;
    if (comp === "..") {
      cur.pop();
      continue;
    }
    const next = "/" + [...cur, comp].join("/");
    const m = findMount(mounts, next);
    if (!m) {
      // a directory of the sandbox's tmpfs root leading to a mount (/home, /run/e2b)?
      if (mounts.some((x) => x.sb.startsWith(next + "/"))) {
        cur.push(comp);
        continue;
      }
      throw notFound(path);
    }
    if (next === "/proc" || next.startsWith("/proc/") || next === "/dev" || next.startsWith("/dev/")) {
      throw new FsError("permission_denied", 403, "path not accessible through the files API");
    }
    let st: Stats;
    try {
      st = await lstat(m.host);
    } catch {
      return { sbPath: "/" + cur.join("/"), hostPath: findMount(mounts, "/" + cur.join("/"))?.host ?? "", mount: m.mount, missing: [comp, ...todo] };
    }
    if (st.isSymbolicLink() && (todo.length > 0 || followLast) && m.host !== m.mount.host) {
      if (++hops > 40) throw new FsError("invalid_argument", 400, "too many levels of symbolic links");
      const target = await readlink(m.host);
      const tparts = target.split("/").filter(Boolean);
      if (target.startsWith("/")) cur = [];
      todo = [...tparts, ...todo];
      continue;
    }
    if (st.isSymbolicLink() && (todo.length > 0 || followLast) && m.host === m.mount.host) {
      // a mount point that is itself a symlink on the host (/bin -> usr/bin)
      if (++hops > 40) throw new FsError("invalid_argument", 400, "too many levels of symbolic links");
      const target = await readlink(m.host);
      if (target.startsWith("/")) cur = [];
      todo = [...target.split("/").filter(Boolean), ...todo];
      continue;
    }
    cur.push(comp);
    if (todo.length > 0 && !st.isDirectory()) throw new FsError("invalid_argument", 400, `'${next}' is not a directory`);
  }
  const sbPath = "/" + cur.join("/");
  const m = findMount(mounts, sbPath);
  if (!m) return { sbPath, hostPath: "", mount: { sb: sbPath, host: "", rw: false }, missing: [] };
  return { sbPath, hostPath: m.host, mount: m.mount, missing: [] };
}

export function canAccess(st: Stats, uid: number, want: "r" | "w" | "x"): boolean {
  if (uid === 0) return true;
  const bit = want === "r" ? 4 : want === "w" ? 2 : 1;
  if (st.uid === uid) return ((st.mode >> 6) & bit) !== 0;
  if (st.gid === (uid === USER_UID ? USER_GID : uid)) return ((st.mode >> 3) & bit) !== 0;
  return (st.mode & bit) !== 0;
}

export async function resolveExisting(mounts: Mount[], path: string, home: string, followLast = true): Promise<Resolved> {
  const r = await resolve(mounts, path, home, followLast);
  if (r.missing.length > 0 || !r.hostPath) throw notFound(path);
  return r;
}

/** Resolve a path to create: makes missing parent directories (owned by uid). */
export async function resolveForCreate(
  mounts: Mount[],
  path: string,
  home: string,
  uid: number,
  makeLast = false,
): Promise<Resolved & { existed: boolean }> {
  const r = await resolve(mounts, path, home, true);
  if (!r.hostPath && r.missing.length === 0) throw new FsError("permission_denied", 403, `cannot write '${path}'`);
  if (r.missing.length === 0) return { ...r, existed: true };
  let sbPath = r.sbPath;
  let hostPath = r.hostPath;
  const mount = findMount(mounts, sbPath === "/" ? "/" : sbPath)?.mount ?? r.mount;
  if (!hostPath || !mount.rw) throw new FsError("permission_denied", 403, `cannot write '${path}': read-only file system`);
  const parentSt = await stat(hostPath);
  if (!parentSt.isDirectory()) throw new FsError("invalid_argument", 400, `'${sbPath}' is not a directory`);
  if (!canAccess(parentSt, uid, "w")) throw new FsError("permission_denied", 403, `permission denied: '${sbPath}'`);
  const dirs = makeLast ? r.missing : r.missing.slice(0, -1);
  for (const comp of dirs) {
    sbPath = posix.join(sbPath, comp);
    hostPath = join(hostPath, comp);
    await mkdir(hostPath, { mode: 0o755 }).catch((e) => {
      if (e.code !== "EEXIST") throw e;
    });
    await chown(hostPath, uid, uid === 0 ? 0 : USER_GID);
  }
  if (!makeLast) {
    const last = r.missing[r.missing.length - 1]!;
    sbPath = posix.join(sbPath, last);
    hostPath = join(hostPath, last);
  }
  return { sbPath, hostPath, mount, missing: [], existed: false };
}

function permString(st: Stats): string {
  const t = st.isDirectory() ? "d" : st.isSymbolicLink() ? "L" : "-";
  const m = st.mode;
  const rwx = (s: number) => ((m >> s) & 4 ? "r" : "-") + ((m >> s) & 2 ? "w" : "-") + ((m >> s) & 1 ? "x" : "-");
  return t + rwx(6) + rwx(3) + rwx(0);
}

function ownerName(uid: number): string {
  return uid === 0 ? "root" : uid === USER_UID ? "user" : String(uid);
}
function groupName(gid: number): string {
  return gid === 0 ? "root" : gid === USER_GID ? "user" : String(gid);
}

export type EntryInfo = Record<string, unknown>;

/** EntryInfo for a sandbox path; hostPath is the unresolved location (may be a symlink). */
export async function entryInfo(
  mounts: Mount[],
  sbPath: string,
  hostPath: string,
  home: string,
  metadata?: Record<string, string>,
): Promise<EntryInfo> {
  const lst = await lstat(hostPath);
  let st = lst;
  let symlinkTarget: string | undefined;
  if (lst.isSymbolicLink()) {
    try {
      const r = await resolve(mounts, sbPath, home, true);
      symlinkTarget = r.missing.length ? posix.join(r.sbPath, ...r.missing) : r.sbPath;
      if (r.hostPath && r.missing.length === 0) st = await stat(r.hostPath);
    } catch {
      symlinkTarget = await readlink(hostPath);
    }
  }
  const type = st.isDirectory() ? "FILE_TYPE_DIRECTORY" : st.isSymbolicLink() ? "FILE_TYPE_SYMLINK" : "FILE_TYPE_FILE";
  const e: EntryInfo = {
    name: posix.basename(sbPath) || "/",
    type,
    path: sbPath,
    size: String(st.size),
    mode: st.mode & 0o777,
    permissions: permString(lst.isSymbolicLink() ? st : st),
    owner: ownerName(st.uid),
    group: groupName(st.gid),
    modifiedTime: st.mtime.toISOString(),
  };
  if (symlinkTarget !== undefined) e.symlinkTarget = symlinkTarget;
  if (metadata && Object.keys(metadata).length) e.metadata = metadata;
  return e;
}
