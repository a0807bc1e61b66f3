// envd's plain HTTP /files: GET downloads one file (gzip on Accept-Encoding), POST uploads one or
// more (multipart, or a raw, possibly gzipped, body). Errors are JSON `{ code, message }`.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createReadStream, constants as C } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { posix } from "node:path";
import { createGzip, gunzip } from "node:zlib";
import { promisify } from "node:util";
import { httpError, toServerError } from "./errors.ts";
import { at, canAccess, openAt, raced, resolveExisting, resolveForCreate } from "./files.ts";
import { readBody, sendError, sendJson } from "./http.ts";
import { parseMultipart } from "./multipart.ts";
import type { SandboxRec } from "./registry.ts";
import { homeOf, uidOfName, userFromAuth } from "./users.ts";
import { USER_GID } from "./view.ts";

const gunzipAsync = promisify(gunzip);
const MAX_FILE_BODY = 1024 * 1024 * 1024;

function filesUser(url: URL, req: IncomingMessage): number {
  const u = url.searchParams.get("username") || userFromAuth(req);
  const uid = uidOfName(u);
  if (uid === null) throw httpError(401, `invalid username: '${u}'`);
  return uid;
}

function sendFailure(res: ServerResponse, e: unknown): void {
  sendError(res, toServerError(e));
}

export async function filesGet(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  sandbox: SandboxRec,
): Promise<void> {
  req.resume();
  try {
    const uid = filesUser(url, req);
    const requested = url.searchParams.get("path");
    if (!requested) throw httpError(400, "path is required");
    const r = await resolveExisting(sandbox.mounts, requested, homeOf(uid), true, uid);
    // opened relative to its open parent directory, the last component not followed (files.ts): a
    // link swapped in after resolve() is refused, never read through; O_NONBLOCK: a FIFO does not hang
    const fh = await openAt(sandbox.mounts, r.sbPath, C.O_RDONLY | C.O_NONBLOCK);
    try {
      const stats = await fh.stat();
      if (stats.isDirectory()) throw httpError(400, `path '${requested}' is a directory`);
      if (!stats.isFile() && r.hostPath !== "/dev/null")
        throw httpError(400, `path '${requested}' is not a regular file`);
      if (!canAccess(stats, uid, "r")) throw httpError(403, `permission denied: '${requested}'`);
      const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      const headers: Record<string, string> = {
        "content-type": "application/octet-stream",
        "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(posix.basename(r.sbPath))}`,
      };
      if (gzip) headers["content-encoding"] = "gzip";
      else headers["content-length"] = String(stats.size);
      res.writeHead(200, headers);
      const rs = createReadStream("", { fd: fh, autoClose: true });
      const src = gzip ? rs.pipe(createGzip()) : rs;
      src.pipe(res);
      rs.on("error", () => res.destroy());
      res.on("close", () => rs.destroy());
    } catch (e) {
      await fh.close();
      throw e;
    }
  } catch (e) {
    sendFailure(res, e);
  }
}

/** `fileSizeBytes`: the sandbox's file size limit, the largest file it may be given. */
export async function filesPost(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  sandbox: SandboxRec,
  fileSizeBytes: number,
): Promise<void> {
  let uid: number;
  let body: Buffer;
  try {
    uid = filesUser(url, req);
    body = await readBody(req, MAX_FILE_BODY);
  } catch (e) {
    req.resume();
    sendFailure(res, e);
    return;
  }
  try {
    const ctype = String(req.headers["content-type"] ?? "");
    const qpath = url.searchParams.get("path");
    let files: Array<{ path: string; data: Buffer }>;
    if (/^multipart\/form-data/i.test(ctype)) {
      const parts = parseMultipart(body, ctype).filter((part) => part.name === "file");
      files = parts.map((part) => ({ path: qpath || part.filename || "", data: part.data }));
    } else {
      let data = body;
      if (/gzip/i.test(String(req.headers["content-encoding"] ?? ""))) {
        try {
          data = await gunzipAsync(body);
        } catch {
          throw httpError(400, "invalid gzip body");
        }
      }
      files = [{ path: qpath ?? "", data }];
    }
    if (files.length === 0) throw httpError(400, "no file in request");
    const meta = uploadMetadata(req);
    const out: unknown[] = [];
    const home = homeOf(uid);
    for (const f of files) {
      if (!f.path) throw httpError(400, "file path is required");
      const r = await resolveForCreate(sandbox.mounts, f.path, home, uid);
      if (!r.mount.rw || !r.hostPath) throw httpError(403, `cannot write '${f.path}': read-only file system`);
      if (f.data.length > fileSizeBytes) throw httpError(507, "file too large");
      await writeOne(sandbox, r.sbPath, f.path, uid, f.data);
      // every upload replaces the file's metadata (none sent: cleared), as extended attributes
      await sandbox.box.agent.writeMeta(r.sbPath, meta).catch((e) => {
        throw httpError(
          /No space|too large|Argument list/i.test((e as Error).message) ? 400 : 500,
          (e as Error).message,
        );
      });
      const entry: Record<string, unknown> = { name: posix.basename(r.sbPath), path: r.sbPath, type: "file" };
      if (Object.keys(meta).length) entry.metadata = meta;
      out.push(entry);
    }
    sendJson(res, 200, out);
  } catch (e) {
    sendFailure(res, e);
  }
}

/** Each key's xattr name is `user.e2b.<key>`: 255 bytes at most (the VFS limit) leaves 246 for the key. */
const META_KEY_MAX = 246;
/** keys + values (+ the namespace prefix per key) of one file: within ext4's per-inode xattr room */
const META_TOTAL_MAX = 4096;
const META_TEXT = /^[\x20-\x7e]+$/;

/** `X-Metadata-<key>: <value>` headers of an upload: keys lowercased, first value wins, checked (400). */
function uploadMetadata(req: IncomingMessage): Record<string, string> {
  const meta: Record<string, string> = {};
  let total = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? "").toLowerCase();
    if (!name.startsWith("x-metadata-")) continue;
    const key = name.slice("x-metadata-".length);
    const value = raw[i + 1] ?? "";
    if (!key || !META_TEXT.test(key)) throw httpError(400, `invalid metadata key '${key}'`);
    if (value !== "" && !META_TEXT.test(value)) throw httpError(400, `invalid metadata value for key '${key}'`);
    if (Buffer.byteLength(key) > META_KEY_MAX)
      throw httpError(400, `metadata key '${key.slice(0, 20)}…' is longer than ${META_KEY_MAX} bytes`);
    if (key in meta) continue;
    meta[key] = value;
    total += "user.e2b.".length + key.length + value.length;
  }
  if (total > META_TOTAL_MAX) throw httpError(400, `metadata is larger than ${META_TOTAL_MAX} bytes`);
  return meta;
}

/**
 * Write one file at a resolved sandbox path. The file is created with O_CREAT|O_EXCL in its open parent
 * directory, or (it exists) opened O_WRONLY|O_NOFOLLOW without O_TRUNC; only once the handle is known
 * to be a regular file in the sandbox is it checked, truncated and written. A symlink swapped in at
 * any moment is refused (ELOOP), never followed; there is no second, path-based write.
 */
async function writeOne(
  sandbox: SandboxRec,
  sbPath: string,
  reqPath: string,
  uid: number,
  data: Buffer,
): Promise<void> {
  const a = await at(sandbox.mounts, sbPath);
  try {
    const flags = C.O_WRONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
    const mayCreate = a.dir !== null && (uid === 0 || canAccess(await a.dir.stat(), uid, "w"));
    let fh: FileHandle | null = null;
    let created = false;
    if (mayCreate) {
      fh = await open(a.path, flags | C.O_CREAT | C.O_EXCL, 0o644).then(
        (h) => {
          created = true;
          return h;
        },
        (e) => {
          if (e.code === "EEXIST") return null;
          throw e;
        },
      );
    }
    if (!fh) {
      fh = await open(a.path, flags).catch((e) => {
        if (e.code === "ENOENT" && !mayCreate) throw httpError(403, `permission denied: '${reqPath}'`);
        throw e.code === "ELOOP" ? raced(reqPath) : e;
      });
    }
    try {
      const stats = await fh.stat();
      if (!stats.isFile()) throw httpError(400, `path '${reqPath}' is not a regular file`);
      if (created) await fh.chown(uid, uid === 0 ? 0 : USER_GID);
      else if (!canAccess(stats, uid, "w")) throw httpError(403, `permission denied: '${reqPath}'`);
      await fh.truncate(0);
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
  } finally {
    await a.close();
  }
}
