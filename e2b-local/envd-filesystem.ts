// envd's filesystem.Filesystem service: Stat, MakeDir, Move, ListDir, Remove and the polled
// watchers are unary; WatchDir streams events. Paths resolve inside the sandbox's view (files.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { constants as C } from "node:fs";
import { lstat, open, readdir, rename, rmdir, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { posix } from "node:path";
import { openStream } from "./connect.ts";
import { rpcError } from "./errors.ts";
import {
  at,
  canAccess,
  entryInfo,
  fdPath,
  lstatAt,
  openDirAt,
  resolve,
  resolveExisting,
  resolveForCreate,
} from "./files.ts";
import type { At, EntryInfo, Mount } from "./files.ts";
import type { SandboxRec } from "./registry.ts";
import { homeOf } from "./users.ts";

type FsRequest = {
  path?: unknown;
  source?: unknown;
  destination?: unknown;
  depth?: unknown;
  recursive?: unknown;
  watcherId?: unknown;
  includeEntry?: unknown;
};

type FsEvent = { name: string; type: string; entry?: EntryInfo };

/** Entries with their metadata (the files' `user.e2b.*` xattrs, read by the agent in one go). */
async function withMeta(sandbox: SandboxRec, entries: EntryInfo[]): Promise<EntryInfo[]> {
  const metas = await sandbox.box.agent.readMeta(entries.map((e) => String(e.path))).catch(() => []);
  entries.forEach((e, i) => {
    const meta = metas[i];
    if (meta && Object.keys(meta).length) e.metadata = meta;
  });
  return entries;
}

function reqPath(v: unknown): string {
  if (typeof v !== "string" || !v) throw rpcError("invalid_argument", "path is required");
  return v;
}

/** The open parent of `a` must be writable by uid (root always may). */
async function checkParentWritable(a: At, uid: number): Promise<void> {
  if (uid === 0) return;
  if (!a.dir || !canAccess(await a.dir.stat(), uid, "w")) throw rpcError("permission_denied", "permission denied");
}

/**
 * rm -rf of `name` in the open directory `dir`, every step relative to an open directory (unlinkat,
 * openat O_NOFOLLOW|O_DIRECTORY, rmdir): a subdirectory swapped for a symlink is unlinked as a link,
 * never descended into, so nothing outside the sandbox's tree can be removed.
 */
async function removeAt(dir: FileHandle, name: string): Promise<void> {
  const target = fdPath(dir, name);
  const stats = await lstat(target).catch(() => null);
  if (!stats) return;
  if (!stats.isDirectory()) {
    await unlink(target).catch((e) => {
      if (e.code !== "ENOENT") throw e;
    });
    return;
  }
  let sub: FileHandle;
  try {
    sub = await open(target, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (c === "ENOENT") return;
    if (c === "ENOTDIR" || c === "ELOOP") return removeAt(dir, name); // swapped: remove what is there now
    throw e;
  }
  try {
    for (const n of await readdir(fdPath(sub))) await removeAt(sub, n);
  } finally {
    await sub.close();
  }
  await rmdir(target).catch((e) => {
    if (e.code !== "ENOENT") throw e;
  });
}

/**
 * A watcher on a resolved directory: the inotify watch is set through the directory's open handle
 * (`/proc/self/fd/N`, held until the watcher closes), and each event's lstat goes through at().
 * Subdirectories of a recursive watch are added by Node by path below that handle.
 */
async function makeWatcher(
  sandbox: SandboxRec,
  sbDir: string,
  recursive: boolean,
  emit: (ev: FsEvent) => void,
  /** with each event of an entry that (still) exists, its EntryInfo (`includeEntry`), as `home` sees it */
  entryHome?: string,
): Promise<FSWatcher> {
  const mounts = sandbox.mounts;
  const dir = await openDirAt(mounts, sbDir);
  let w: FSWatcher;
  // events go out in the order they happened, also when an entry's info takes a moment to read
  let queue: Promise<unknown> = Promise.resolve();
  const withEntry = (ev: FsEvent) => {
    const sbPath = posix.join(sbDir, ev.name);
    const info = entryInfo(mounts, sbPath, entryHome!).then(
      async (entry) => ({ ...ev, entry: (await withMeta(sandbox, [entry]))[0] }),
      () => ev,
    );
    queue = queue.then(() => info.then(emit));
  };
  try {
    w = watch(fdPath(dir), { recursive, persistent: false }, (kind, filename) => {
      if (!filename) return;
      const name = String(filename);
      if (kind === "change") {
        if (entryHome !== undefined) withEntry({ name, type: "EVENT_TYPE_WRITE" });
        else emit({ name, type: "EVENT_TYPE_WRITE" });
        return;
      }
      const seen = lstatAt(mounts, posix.join(sbDir, name)).then(
        () => ({ name, type: "EVENT_TYPE_CREATE" }),
        () => ({ name, type: "EVENT_TYPE_REMOVE" }),
      );
      queue = queue.then(() =>
        seen.then((ev) => {
          if (entryHome !== undefined && ev.type === "EVENT_TYPE_CREATE") withEntry(ev);
          else emit(ev);
        }),
      );
    });
  } catch (e) {
    await dir.close();
    throw e;
  }
  w.on("error", () => {});
  w.on("close", () => void dir.close());
  return w;
}

/** The resolved directory at sbPath, or invalid_argument. */
async function requireDir(mounts: Mount[], sbPath: string, requested: string, uid: number): Promise<void> {
  const stats = await lstatAt(mounts, sbPath);
  if (!stats.isDirectory()) throw rpcError("invalid_argument", `path '${requested}' is not a directory`);
  if (!canAccess(stats, uid, "r")) throw rpcError("permission_denied", `permission denied: '${requested}'`);
}

export async function filesystemUnary(
  sandbox: SandboxRec,
  method: string,
  msg: FsRequest,
  uid: number,
): Promise<unknown> {
  const home = homeOf(uid);
  // Every host operation below is relative to an open parent directory walked without following
  // links (files.ts at/openDirAt): Stat/ListDir/watchers can only look at, MakeDir/Move/Remove only
  // change, entries inside this sandbox's mounts; a link swapped in after resolve() is refused.
  const info = async (sbPath: string) => (await withMeta(sandbox, [await entryInfo(sandbox.mounts, sbPath, home)]))[0];
  switch (method) {
    case "Stat": {
      const r = await resolveExisting(sandbox.mounts, reqPath(msg.path), home, false, uid);
      return { entry: await info(r.sbPath) };
    }
    case "MakeDir": {
      const requested = reqPath(msg.path);
      const r0 = await resolve(sandbox.mounts, requested, home, true, uid);
      if (r0.missing.length === 0 && r0.hostPath)
        throw rpcError("already_exists", `path '${requested}' already exists`);
      const r = await resolveForCreate(sandbox.mounts, requested, home, uid, true);
      return { entry: await info(r.sbPath) };
    }
    case "Move": {
      const src = await resolveExisting(sandbox.mounts, reqPath(msg.source), home, false, uid);
      if (!src.mount.rw) throw rpcError("permission_denied", "read-only file system");
      if (src.sbPath === src.mount.sb) throw rpcError("permission_denied", "cannot move this path");
      const dst = await resolveForCreate(sandbox.mounts, reqPath(msg.destination), home, uid);
      if (!dst.mount.rw || dst.sbPath === dst.mount.sb) throw rpcError("permission_denied", "read-only file system");
      const sa = await at(sandbox.mounts, src.sbPath);
      try {
        await checkParentWritable(sa, uid);
        const da = await at(sandbox.mounts, dst.sbPath);
        try {
          await checkParentWritable(da, uid);
          // renameat between two open directories: neither last component is followed
          await rename(sa.path, da.path);
        } finally {
          await da.close();
        }
      } finally {
        await sa.close();
      }
      return { entry: await info(dst.sbPath) };
    }
    case "ListDir": {
      const requested = reqPath(msg.path);
      const depth = msg.depth === undefined ? 1 : Number(msg.depth);
      if (!Number.isInteger(depth) || depth < 0) throw rpcError("invalid_argument", "invalid depth");
      const r = await resolveExisting(sandbox.mounts, requested, home, true, uid);
      await requireDir(sandbox.mounts, r.sbPath, requested, uid);
      const entries: unknown[] = [];
      const walk = async (sbDir: string, level: number) => {
        let names: string[];
        try {
          const dir = await openDirAt(sandbox.mounts, sbDir);
          try {
            names = await readdir(fdPath(dir));
          } finally {
            await dir.close();
          }
        } catch {
          return;
        }
        names.sort();
        for (const n of names) {
          const sbp = posix.join(sbDir, n);
          let e: Record<string, unknown>;
          try {
            e = await entryInfo(sandbox.mounts, sbp, home);
          } catch {
            continue;
          }
          entries.push(e);
          if (level < Math.max(depth, 1) && e.type === "FILE_TYPE_DIRECTORY" && e.symlinkTarget === undefined) {
            await walk(sbp, level + 1);
          }
        }
      };
      await walk(r.sbPath, 1);
      return { entries: await withMeta(sandbox, entries as EntryInfo[]) };
    }
    case "Remove": {
      // removing what is not there is not an error (envd answers it like a removal)
      const r = await resolveExisting(sandbox.mounts, reqPath(msg.path), home, false, uid).catch((e) => {
        if ((e as { code?: string }).code === "not_found") return null;
        throw e;
      });
      if (!r) return {};
      if (!r.mount.rw || r.sbPath === r.mount.sb) throw rpcError("permission_denied", "cannot remove this path");
      const a = await at(sandbox.mounts, r.sbPath);
      try {
        await checkParentWritable(a, uid);
        await removeAt(a.dir!, a.name);
      } finally {
        await a.close();
      }
      return {};
    }
    case "CreateWatcher": {
      const requested = reqPath(msg.path);
      const r = await resolveExisting(sandbox.mounts, requested, home, true, uid);
      await requireDir(sandbox.mounts, r.sbPath, requested, uid);
      const wid = randomBytes(8).toString("hex");
      const events: object[] = [];
      const w = await makeWatcher(
        sandbox,
        r.sbPath,
        msg.recursive === true,
        (ev) => events.push(ev),
        msg.includeEntry === true ? home : undefined,
      );
      sandbox.watchers.set(wid, { w, events });
      return { watcherId: wid };
    }
    case "GetWatcherEvents": {
      const w = sandbox.watchers.get(String(msg.watcherId));
      if (!w) throw rpcError("not_found", "watcher not found");
      return { events: w.events.splice(0) };
    }
    case "RemoveWatcher": {
      const w = sandbox.watchers.get(String(msg.watcherId));
      if (w) {
        w.w.close();
        sandbox.watchers.delete(String(msg.watcherId));
      }
      return {};
    }
    default:
      throw rpcError("unimplemented", `filesystem.Filesystem/${method} is not implemented by e2b-local`);
  }
}

export async function rpcWatch(
  req: IncomingMessage,
  res: ServerResponse,
  sandbox: SandboxRec,
  msg: FsRequest,
  uid: number,
): Promise<void> {
  const home = homeOf(uid);
  const path = reqPath(msg.path);
  const r = await resolveExisting(sandbox.mounts, path, home, true, uid);
  await requireDir(sandbox.mounts, r.sbPath, path, uid);
  let closed = false;
  let w: FSWatcher | null = null;
  const stream = openStream(req, res, sandbox.streams, { keepalive: {} }, () => {
    closed = true;
    w?.close();
  });
  stream.send({ start: {} });
  w = await makeWatcher(
    sandbox,
    r.sbPath,
    msg.recursive === true,
    (ev) => stream.send({ filesystem: ev }),
    msg.includeEntry === true ? home : undefined,
  );
  if (closed) w.close();
}
