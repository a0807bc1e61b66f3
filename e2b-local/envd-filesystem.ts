// envd's filesystem.Filesystem service: Stat, MakeDir, Move, ListDir, Remove and the polled
// watchers are unary; WatchDir streams events. Paths resolve inside the sandbox's view (files.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { lstat, readdir, rename, rm, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { RpcError, openStream } from "./connect.ts";
import { canAccess, entryInfo, resolve, resolveExisting, resolveForCreate } from "./files.ts";
import type { SandboxRec } from "./registry.ts";
import { homeOf } from "./users.ts";

type FsRequest = {
  path?: unknown;
  source?: unknown;
  destination?: unknown;
  depth?: unknown;
  recursive?: unknown;
  watcherId?: unknown;
};

type FsEvent = { name: string; type: string };

function reqPath(v: unknown): string {
  if (typeof v !== "string" || !v) throw new RpcError("invalid_argument", "path is required");
  return v;
}

async function checkParentWritable(hostPath: string, uid: number): Promise<void> {
  if (uid === 0) return;
  const parent = await stat(posix.dirname(hostPath));
  if (!canAccess(parent, uid, "w")) throw new RpcError("permission_denied", "permission denied");
}

function makeWatcher(hostDir: string, recursive: boolean, emit: (ev: FsEvent) => void): FSWatcher {
  const w = watch(hostDir, { recursive, persistent: false }, (kind, filename) => {
    if (!filename) return;
    const name = String(filename);
    const hp = join(hostDir, name);
    if (kind === "change") {
      emit({ name, type: "EVENT_TYPE_WRITE" });
      return;
    }
    lstat(hp).then(
      () => emit({ name, type: "EVENT_TYPE_CREATE" }),
      () => emit({ name, type: "EVENT_TYPE_REMOVE" }),
    );
  });
  w.on("error", () => {});
  return w;
}

export async function filesystemUnary(rec: SandboxRec, method: string, msg: FsRequest, uid: number): Promise<unknown> {
  const home = homeOf(uid);
  const info = (sbPath: string, hostPath: string) => entryInfo(rec.mounts, sbPath, hostPath, home, rec.fileMeta.get(sbPath));
  switch (method) {
    case "Stat": {
      const r = await resolveExisting(rec.mounts, reqPath(msg.path), home, false);
      return { entry: await info(r.sbPath, r.hostPath) };
    }
    case "MakeDir": {
      const p = reqPath(msg.path);
      const r0 = await resolve(rec.mounts, p, home, true);
      if (r0.missing.length === 0 && r0.hostPath) throw new RpcError("already_exists", `path '${p}' already exists`);
      const r = await resolveForCreate(rec.mounts, p, home, uid, true);
      return { entry: await info(r.sbPath, r.hostPath) };
    }
    case "Move": {
      const src = await resolveExisting(rec.mounts, reqPath(msg.source), home, false);
      if (!src.mount.rw) throw new RpcError("permission_denied", "read-only file system");
      await checkParentWritable(src.hostPath, uid);
      const dst = await resolveForCreate(rec.mounts, reqPath(msg.destination), home, uid);
      if (!dst.mount.rw) throw new RpcError("permission_denied", "read-only file system");
      await rename(src.hostPath, dst.hostPath);
      const meta = rec.fileMeta.get(src.sbPath);
      if (meta) {
        rec.fileMeta.delete(src.sbPath);
        rec.fileMeta.set(dst.sbPath, meta);
      }
      return { entry: await info(dst.sbPath, dst.hostPath) };
    }
    case "ListDir": {
      const p = reqPath(msg.path);
      const depth = msg.depth === undefined ? 1 : Number(msg.depth);
      if (!Number.isInteger(depth) || depth < 0) throw new RpcError("invalid_argument", "invalid depth");
      const r = await resolveExisting(rec.mounts, p, home, true);
      const st = await stat(r.hostPath);
      if (!st.isDirectory()) throw new RpcError("invalid_argument", `path '${p}' is not a directory`);
      if (!canAccess(st, uid, "r")) throw new RpcError("permission_denied", `permission denied: '${p}'`);
      const entries: unknown[] = [];
      const walk = async (sbDir: string, hostDir: string, level: number) => {
        let names: string[];
        try {
          names = await readdir(hostDir);
        } catch {
          return;
        }
        names.sort();
        for (const n of names) {
          const sbp = posix.join(sbDir, n);
          const hp = join(hostDir, n);
          let e: Record<string, unknown>;
          try {
            e = await info(sbp, hp);
          } catch {
            continue;
          }
          entries.push(e);
          if (level < Math.max(depth, 1) && e.type === "FILE_TYPE_DIRECTORY" && !(await lstat(hp)).isSymbolicLink()) {
            await walk(sbp, hp, level + 1);
          }
        }
      };
      await walk(r.sbPath, r.hostPath, 1);
      return { entries };
    }
    case "Remove": {
      const r = await resolveExisting(rec.mounts, reqPath(msg.path), home, false);
      if (!r.mount.rw || r.hostPath === r.mount.host) throw new RpcError("permission_denied", "cannot remove this path");
      await checkParentWritable(r.hostPath, uid);
      await rm(r.hostPath, { recursive: true, force: true });
      for (const k of rec.fileMeta.keys()) if (k === r.sbPath || k.startsWith(r.sbPath + "/")) rec.fileMeta.delete(k);
      return {};
    }
    case "CreateWatcher": {
      const r = await resolveExisting(rec.mounts, reqPath(msg.path), home, true);
      const wid = randomBytes(8).toString("hex");
      const events: object[] = [];
      const w = makeWatcher(r.hostPath, msg.recursive === true, (ev) => events.push(ev));
      rec.watchers.set(wid, { w, events });
      return { watcherId: wid };
    }
    case "GetWatcherEvents": {
      const w = rec.watchers.get(String(msg.watcherId));
      if (!w) throw new RpcError("not_found", "watcher not found");
      return { events: w.events.splice(0) };
    }
    case "RemoveWatcher": {
      const w = rec.watchers.get(String(msg.watcherId));
      if (w) {
        w.w.close();
        rec.watchers.delete(String(msg.watcherId));
      }
      return {};
    }
    default:
      throw new RpcError("unimplemented", `filesystem.Filesystem/${method} is not implemented by e2b-local`);
  }
}

export async function rpcWatch(req: IncomingMessage, res: ServerResponse, rec: SandboxRec, msg: FsRequest, uid: number): Promise<void> {
  const home = homeOf(uid);
  const path = reqPath(msg.path);
  const r = await resolveExisting(rec.mounts, path, home, true);
  const st = await stat(r.hostPath);
  if (!st.isDirectory()) throw new RpcError("invalid_argument", `path '${path}' is not a directory`);
  let w: FSWatcher | null = null;
  const stream = openStream(req, res, rec.streams, { keepalive: {} }, () => w?.close());
  stream.send({ start: {} });
  w = makeWatcher(r.hostPath, msg.recursive === true, (ev) => stream.send({ filesystem: ev }));
}
