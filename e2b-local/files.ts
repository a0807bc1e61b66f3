// The sandbox's filesystem as the Files API sees it: sandbox paths are resolved against the same
// mount table the sandbox was started with, component by component, following symlinks *inside the
// sandbox's view*, so a symlink in /home/user can never lead the API to a host file the sandbox
// cannot see. Writable mounts are the sandbox's own /home/user, /tmp, /root and /var/tmp (folders of
// its disk, disk.ts).
//
// Race safety. Sandbox code can change its folders at any moment, e.g. swap a checked directory or
// file for a symlink to a host path between our check and our operation. So no operation ever
// hands a host path string to the kernel below a mount's host root: `at()` walks from the mount's
// host root (a folder the server made, which the sandbox cannot rename or replace: it is its mount
// point) to the parent directory one component at a time with O_DIRECTORY|O_NOFOLLOW, holding each
// directory open, and the operation then names only the last component relative to that open
// directory, as `/proc/self/fd/<dirfd>/<name>` (the kernel jumps to the open directory itself, it
// does not re-read a path: this is openat/mkdirat/renameat/unlinkat with Node's path APIs). A symlink
// met anywhere on that walk (ENOTDIR/ELOOP) means the tree changed since it was resolved: the
// request is refused with `invalid_argument` (400). The last component is never followed (O_NOFOLLOW,
// lstat, unlink, rename, mkdir). The sandbox can only move things within its own mounts (renames
// across mounts fail with EXDEV), so an open directory stays inside its view.
import type { Stats } from "node:fs";
import { constants as C } from "node:fs";
import { lstat, mkdir, open, readlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join, posix } from "node:path";
import { ServerError } from "./errors.ts";
import { AGENT_PATH, HIDDEN_ETC, USER_GID, USER_UID, boxPaths, systemBinds } from "./view.ts";

export type Mount = { sb: string; host: string; rw: boolean };

export const notFound = (path: string) => new ServerError(404, "not_found", `path '${path}' does not exist`);

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
  const paths = boxPaths(dir);
  return [
    ...systemMounts(),
    { sb: "/etc/passwd", host: paths.passwd, rw: false },
    { sb: "/etc/group", host: paths.group, rw: false },
    { sb: "/etc/resolv.conf", host: paths.resolvConf, rw: false },
    { sb: "/home/user", host: paths.home, rw: true },
    { sb: "/tmp", host: paths.tmp, rw: true },
    { sb: "/root", host: paths.root, rw: true },
    { sb: "/var/tmp", host: paths.varTmp, rw: true },
  ];
}

export type Resolved = {
  /** absolute sandbox path of the deepest existing component (symlinks resolved) */
  sbPath: string;
  /** where that is on the host, for information only: never hand it to an fs call (races), use at() */
  hostPath: string;
  mount: Mount;
  /** components below sbPath that do not exist yet */
  missing: string[];
};

export function findMount(mounts: Mount[], sbPath: string): { mount: Mount; host: string } | null {
  let best: Mount | null = null;
  for (const candidate of mounts) {
    if (sbPath === candidate.sb || sbPath.startsWith(`${candidate.sb}/`)) {
      if (!best || candidate.sb.length > best.sb.length) best = candidate;
    }
  }
  if (!best) return null;
  return { mount: best, host: best.host + sbPath.slice(best.sb.length) };
}

/** The request's path changed under it (a symlink appeared where a directory was resolved). */
export const raced = (path: string) =>
  new ServerError(400, "invalid_argument", `path '${path}' changed while it was being accessed`);

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/** `/proc/self/fd/<fd>[/<name>]`: a path the kernel resolves from the open directory, not by name. */
export const fdPath = (dir: FileHandle, name?: string) => `/proc/self/fd/${dir.fd}${name ? `/${name}` : ""}`;

/** Open the directory `sbDir` (resolved, symlink-free) from its mount's host root, never following a link. */
export async function openDirAt(mounts: Mount[], sbDir: string): Promise<FileHandle> {
  const found = findMount(mounts, sbDir);
  if (!found) throw notFound(sbDir);
  const parts = sbDir.slice(found.mount.sb.length).split("/").filter(Boolean);
  let dir = await open(found.mount.host, C.O_RDONLY | C.O_DIRECTORY);
  for (const part of parts) {
    let next: FileHandle;
    try {
      next = await open(fdPath(dir, part), DIR_FLAGS);
    } catch (e) {
      await dir.close();
      const c = (e as NodeJS.ErrnoException).code;
      throw c === "ENOTDIR" || c === "ELOOP" ? raced(sbDir) : e;
    }
    await dir.close();
    dir = next;
  }
  return dir;
}

/**
 * The sandbox path `sbPath` (resolved) as a host path safe to pass to an operation that does not
 * follow its last component: the parent is an open directory (see the top of this file), or, for a
 * mount root itself, the mount's host path (server-made). Call close() afterwards.
 */
export type At = { path: string; name: string; dir: FileHandle | null; close(): Promise<void> };
export async function at(mounts: Mount[], sbPath: string): Promise<At> {
  const found = findMount(mounts, sbPath);
  if (!found) throw notFound(sbPath);
  if (sbPath === found.mount.sb) return { path: found.mount.host, name: "", dir: null, close: async () => {} };
  const name = posix.basename(sbPath);
  const dir = await openDirAt(mounts, posix.dirname(sbPath));
  return { path: fdPath(dir, name), name, dir, close: () => dir.close() };
}

async function withAt<T>(mounts: Mount[], sbPath: string, fn: (path: string) => Promise<T>): Promise<T> {
  const a = await at(mounts, sbPath);
  try {
    return await fn(a.path);
  } finally {
    await a.close();
  }
}

/** lstat / readlink of a resolved sandbox path, race-safe. */
export const lstatAt = (mounts: Mount[], sbPath: string) => withAt(mounts, sbPath, (target) => lstat(target));
const readlinkAt = (mounts: Mount[], sbPath: string) => withAt(mounts, sbPath, (target) => readlink(target));

/** Open a resolved sandbox path (a file) with O_NOFOLLOW added to `flags`. */
export const openAt = (mounts: Mount[], sbPath: string, flags: number, mode?: number) =>
  withAt(mounts, sbPath, (target) => open(target, flags | C.O_NOFOLLOW, mode)).catch((e) => {
    throw (e as NodeJS.ErrnoException).code === "ELOOP" ? raced(sbPath) : e;
  });

export function normalize(path: string, home: string): string {
  if (typeof path !== "string" || path.includes("\0")) throw new ServerError(400, "invalid_argument", "invalid path");
  const abs = path.startsWith("/") ? path : posix.join(home, path || ".");
  return posix.normalize(abs).replace(/(.)\/+$/, "$1");
}

/**
 * Resolve a sandbox path. followLast=false keeps a final symlink itself (for remove/rename/lstat).
 * With `uid`, every directory walked through must be searchable by that user, as for the kernel: a
 * world-readable file under root's 0700 home is not the sandbox user's to read.
 */
export async function resolve(
  mounts: Mount[],
  path: string,
  home: string,
  followLast = true,
  uid?: number,
): Promise<Resolved> {
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
    const next = `/${[...cur, comp].join("/")}`;
    const found = findMount(mounts, next);
    if (!found) {
      // a directory of the sandbox's tmpfs root leading to a mount (/home, /run/e2b)?
      if (mounts.some((x) => x.sb.startsWith(`${next}/`))) {
        cur.push(comp);
        continue;
      }
      throw notFound(path);
    }
    if (next === "/proc" || next.startsWith("/proc/") || next === "/dev" || next.startsWith("/dev/")) {
      throw new ServerError(403, "permission_denied", "path not accessible through the files API");
    }
    let stats: Stats;
    try {
      stats = await lstatAt(mounts, next);
    } catch {
      return {
        sbPath: `/${cur.join("/")}`,
        hostPath: findMount(mounts, `/${cur.join("/")}`)?.host ?? "",
        mount: found.mount,
        missing: [comp, ...todo],
      };
    }
    if (stats.isSymbolicLink() && (todo.length > 0 || followLast) && found.host !== found.mount.host) {
      if (++hops > 40) throw new ServerError(400, "invalid_argument", "too many levels of symbolic links");
      const target = await readlinkAt(mounts, next);
      const tparts = target.split("/").filter(Boolean);
      if (target.startsWith("/")) cur = [];
      todo = [...tparts, ...todo];
      continue;
    }
    if (stats.isSymbolicLink() && (todo.length > 0 || followLast) && found.host === found.mount.host) {
      // a mount point that is itself a symlink on the host (/bin -> usr/bin)
      if (++hops > 40) throw new ServerError(400, "invalid_argument", "too many levels of symbolic links");
      const target = await readlinkAt(mounts, next);
      if (target.startsWith("/")) cur = [];
      todo = [...target.split("/").filter(Boolean), ...todo];
      continue;
    }
    cur.push(comp);
    if (todo.length > 0 && !stats.isDirectory())
      throw new ServerError(400, "invalid_argument", `'${next}' is not a directory`);
    if (todo.length > 0 && uid !== undefined && !canAccess(stats, uid, "x"))
      throw new ServerError(403, "permission_denied", `permission denied: '${next}'`);
  }
  const sbPath = `/${cur.join("/")}`;
  const found = findMount(mounts, sbPath);
  if (!found) return { sbPath, hostPath: "", mount: { sb: sbPath, host: "", rw: false }, missing: [] };
  return { sbPath, hostPath: found.host, mount: found.mount, missing: [] };
}

export function canAccess(stats: Stats, uid: number, want: "r" | "w" | "x"): boolean {
  if (uid === 0) return true;
  const bit = want === "r" ? 4 : want === "w" ? 2 : 1;
  if (stats.uid === uid) return ((stats.mode >> 6) & bit) !== 0;
  if (stats.gid === (uid === USER_UID ? USER_GID : uid)) return ((stats.mode >> 3) & bit) !== 0;
  return (stats.mode & bit) !== 0;
}

export async function resolveExisting(
  mounts: Mount[],
  path: string,
  home: string,
  followLast = true,
  uid?: number,
): Promise<Resolved> {
  const r = await resolve(mounts, path, home, followLast, uid);
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
  const r = await resolve(mounts, path, home, true, uid);
  if (!r.hostPath && r.missing.length === 0) throw new ServerError(403, "permission_denied", `cannot write '${path}'`);
  if (r.missing.length === 0) return { ...r, existed: true };
  let sbPath = r.sbPath;
  let hostPath = r.hostPath;
  const mount = findMount(mounts, sbPath === "/" ? "/" : sbPath)?.mount ?? r.mount;
  if (!hostPath || !mount.rw)
    throw new ServerError(403, "permission_denied", `cannot write '${path}': read-only file system`);
  let dir: FileHandle;
  try {
    dir = await openDirAt(mounts, sbPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR")
      throw new ServerError(400, "invalid_argument", `'${sbPath}' is not a directory`);
    throw e;
  }
  try {
    if (!canAccess(await dir.stat(), uid, "w"))
      throw new ServerError(403, "permission_denied", `permission denied: '${sbPath}'`);
    const dirs = makeLast ? r.missing : r.missing.slice(0, -1);
    // each new directory is made in the open parent (mkdirat), then opened without following a link
    // and chowned through its handle: a swap in between can only hit a directory inside the sandbox
    for (const comp of dirs) {
      sbPath = posix.join(sbPath, comp);
      hostPath = join(hostPath, comp);
      const made = await mkdir(fdPath(dir, comp), { mode: 0o755 }).then(
        () => true,
        (e) => {
          if (e.code !== "EEXIST") throw e;
          return false;
        },
      );
      const next = await open(fdPath(dir, comp), DIR_FLAGS).catch((e) => {
        throw e.code === "ENOTDIR" || e.code === "ELOOP" ? raced(path) : e;
      });
      await dir.close();
      dir = next;
      if (made) await dir.chown(uid, uid === 0 ? 0 : USER_GID);
    }
  } finally {
    await dir.close();
  }
  if (!makeLast) {
    const last = r.missing[r.missing.length - 1]!;
    sbPath = posix.join(sbPath, last);
    hostPath = join(hostPath, last);
  }
  return { sbPath, hostPath, mount, missing: [], existed: false };
}

function permString(stats: Stats): string {
  const kind = stats.isDirectory() ? "d" : stats.isSymbolicLink() ? "L" : "-";
  const mode = stats.mode;
  const rwx = (shift: number) =>
    ((mode >> shift) & 4 ? "r" : "-") + ((mode >> shift) & 2 ? "w" : "-") + ((mode >> shift) & 1 ? "x" : "-");
  return kind + rwx(6) + rwx(3) + rwx(0);
}

function ownerName(uid: number): string {
  return uid === 0 ? "root" : uid === USER_UID ? "user" : String(uid);
}
function groupName(gid: number): string {
  return gid === 0 ? "root" : gid === USER_GID ? "user" : String(gid);
}

export type EntryInfo = Record<string, unknown>;

/** EntryInfo for a sandbox path whose parent is resolved; the last component may be a symlink. */
export async function entryInfo(
  mounts: Mount[],
  sbPath: string,
  home: string,
  metadata?: Record<string, string>,
): Promise<EntryInfo> {
  const linkStats = await lstatAt(mounts, sbPath);
  let stats = linkStats;
  let symlinkTarget: string | undefined;
  if (linkStats.isSymbolicLink()) {
    try {
      const r = await resolve(mounts, sbPath, home, true);
      symlinkTarget = r.missing.length ? posix.join(r.sbPath, ...r.missing) : r.sbPath;
      if (r.hostPath && r.missing.length === 0) stats = await lstatAt(mounts, r.sbPath);
    } catch {
      symlinkTarget = await readlinkAt(mounts, sbPath);
    }
  }
  const type = stats.isDirectory()
    ? "FILE_TYPE_DIRECTORY"
    : stats.isSymbolicLink()
      ? "FILE_TYPE_SYMLINK"
      : "FILE_TYPE_FILE";
  const e: EntryInfo = {
    name: posix.basename(sbPath) || "/",
    type,
    path: sbPath,
    size: String(stats.size),
    mode: stats.mode & 0o777,
    permissions: permString(linkStats.isSymbolicLink() ? stats : stats),
    owner: ownerName(stats.uid),
    group: groupName(stats.gid),
    modifiedTime: stats.mtime.toISOString(),
  };
  if (symlinkTarget !== undefined) e.symlinkTarget = symlinkTarget;
  if (metadata && Object.keys(metadata).length) e.metadata = metadata;
  return e;
}
