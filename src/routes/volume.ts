// /api/v1/volume: the caller's persistent files in R2 — usage, listing, streamed read/write/delete,
// and tar export/import. Every key is built from the authenticated user id and a checked name.
import { checkPreconditions, writeConditions } from "../volume/conditions.ts";
import { uploadContentType } from "../volume/content-type.ts";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { limits } from "../config.ts";
import { downloadHeaders } from "../downloads.ts";
import { remoteLedger } from "../durable/stub.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../types.ts";
import { validate } from "../validation.ts";
import { exportVolume, importVolume } from "../volume/archive.ts";
import { checkName, checkPrefix } from "../volume/names.ts";
import { volumeKey, volumePrefix } from "../volume/keys.ts";
import { storeFile } from "../volume/store.ts";
import { binary, doc, empty, json } from "../openapi/registry.ts";
import { importResultSchema, storedFileSchema, volumeInfoSchema, volumeListSchema } from "../openapi/schemas.ts";

const listSchema = z.object({
  prefix: z.string().max(1024).default(""),
  // R2's cursors are opaque but URL-safe printable ASCII; anything else is not one of ours.
  cursor: z
    .string()
    .regex(/^[\x21-\x7e]{1,2048}$/, "not a cursor from a previous page")
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const volumeRoutes = new Hono<AppEnv>()
  .get(
    "/",
    doc({
      operationId: "getVolume",
      summary: "Your volume's usage and quota",
      tags: ["volume"],
      auth: "user",
      responses: { 200: json(volumeInfoSchema) },
      errors: ["storage_unavailable"],
    }),
    async (c) => {
      return c.json(unwrap(await c.var.userSpace.volumeInfo()));
    },
  )
  .get(
    "/files",
    doc({
      operationId: "listVolumeFiles",
      summary: "List your volume's files",
      tags: ["volume"],
      auth: "user",
      responses: { 200: json(volumeListSchema) },
      errors: [],
    }),
    validate("query", listSchema),
    async (c) => {
      const { prefix, cursor, limit } = c.req.valid("query");
      const base = volumePrefix(c.var.user.id);
      const page = await c.env.VOLUMES.list({
        prefix: base + checkPrefix(prefix),
        cursor,
        limit,
        include: ["httpMetadata"],
      }).catch((err) => {
        throw new ApiError("invalid_request", "cursor: not a cursor from a previous page", { cause: err });
      });
      return c.json({
        items: page.objects.map((o) => ({
          name: o.key.slice(base.length),
          size: o.size,
          etag: o.httpEtag,
          modifiedAt: o.uploaded.toISOString(),
          contentType: o.httpMetadata?.contentType ?? null,
        })),
        nextCursor: page.truncated ? page.cursor : null,
      });
    },
  )
  .put(
    "/files/*",
    doc({
      operationId: "writeVolumeFile",
      summary: "Store a file in your volume (streamed; quota enforced)",
      tags: ["volume"],
      auth: "user",
      wildcard: {
        name: "name",
        description: "The file's name in your volume; may contain `/` (send it as `%2F` or as is).",
      },
      rawBody: {
        contentType: "application/octet-stream",
        description: "The file's bytes (any Content-Type is kept).",
        required: true,
      },
      headers: {
        "Upload-Length": "The body's length when it is streamed without Content-Length.",
        "If-Match": "Only replace this version (an ETag).",
        "If-None-Match": "`*`: only create, never replace.",
      },
      responses: { 200: json(storedFileSchema, "Replaced."), 201: json(storedFileSchema, "Created.") },
      errors: [
        "invalid_request",
        "conflict",
        "length_required",
        "precondition_failed",
        "quota_exceeded",
        "storage_unavailable",
      ],
    }),
    async (c) => {
      // A refusal (400, 409, 507) leaves the body unread for the drain middleware, so the client sees it.
      const name = fileName(c);
      const size = uploadLength(c);
      const stored = await storeFile(
        c.env.VOLUMES,
        remoteLedger(c.var.userSpace),
        c.var.user.id,
        name,
        size,
        c.req.raw.body ?? new Blob([]).stream(),
        {
          httpMetadata: { contentType: uploadContentType(c.req.header("Content-Type"), name) },
          refused: async () => {},
          conditions: writeConditions(c.req.raw.headers),
        },
      );
      return c.json(stored, stored.replaced ? 200 : 201);
    },
  )
  .get(
    "/files/*",
    doc({
      operationId: "readVolumeFile",
      summary: "Download a file of your volume (Range, If-None-Match, If-Match supported)",
      tags: ["volume"],
      auth: "user",
      wildcard: {
        name: "name",
        description: "The file's name in your volume; may contain `/` (send it as `%2F` or as is).",
      },
      headers: {
        Range: "One `bytes=` range.",
        "If-None-Match": "304 when the file still has this ETag.",
        "If-Match": "412 unless the file still has this ETag.",
      },
      responses: {
        200: binary("*/*", "The file, with its stored Content-Type.", { ETag: "The version." }),
        206: binary("*/*", "The requested range.", { "Content-Range": "bytes first-last/size" }),
        304: empty("Not modified."),
      },
      errors: ["invalid_request", "not_found", "precondition_failed", "range_not_satisfiable"],
    }),
    async (c) => {
      const name = fileName(c);
      const key = volumeKey(c.var.user.id, name);
      const range = parseRange(c.req.header("Range"));
      checkEtagList(c, "If-Match");
      checkEtagList(c, "If-None-Match");
      let object: R2Object | null;
      try {
        object = await c.env.VOLUMES.get(key, { onlyIf: c.req.raw.headers, ...(range ? { range } : {}) });
      } catch (err) {
        // R2 refuses a range that starts past the end; answer as HTTP does.
        const head = range && (await c.env.VOLUMES.head(key));
        if (!head) throw err;
        throw rangeNotSatisfiable(head);
      }
      if (!object) throw new ApiError("not_found", `name: no file '${name}' in your volume`);
      if (!("body" in object)) {
        // R2 answers a failed condition without a body; If-None-Match / If-Modified-Since mean 304, the others 412.
        if (c.req.header("If-None-Match") !== undefined || c.req.header("If-Modified-Since") !== undefined) {
          return c.body(null, 304, fileHeaders(object, name));
        }
        throw new ApiError(
          "precondition_failed",
          `If-Match / If-Unmodified-Since: '${name}' has changed (its ETag is now ${object.httpEtag})`,
          {
            headers: validatorHeaders(object),
          },
        );
      }
      const body = (object as R2ObjectBody).body;
      const headers = fileHeaders(object, name);
      if (range) {
        const { offset, length } = resolveRange(range, object.size);
        if (length <= 0) {
          await body.cancel();
          throw rangeNotSatisfiable(object);
        }
        return c.body(body, 206, {
          ...headers,
          "Content-Length": String(length),
          "Content-Range": `bytes ${offset}-${offset + length - 1}/${object.size}`,
        });
      }
      return c.body(body, 200, { ...headers, "Content-Length": String(object.size) });
    },
  )
  .delete(
    "/files/*",
    doc({
      operationId: "deleteVolumeFile",
      summary: "Delete a file of your volume",
      tags: ["volume"],
      auth: "user",
      wildcard: {
        name: "name",
        description: "The file's name in your volume; may contain `/` (send it as `%2F` or as is).",
      },
      headers: { "If-Match": "Only delete this version (an ETag)." },
      responses: { 204: empty("Deleted.") },
      errors: ["invalid_request", "not_found", "conflict", "precondition_failed", "storage_unavailable"],
    }),
    async (c) => {
      const name = fileName(c);
      const conditions = writeConditions(c.req.raw.headers);
      const key = volumeKey(c.var.user.id, name);
      const remove = async () => {
        const current = await c.env.VOLUMES.head(key);
        if (!current) throw new ApiError("not_found", `name: no file '${name}' in your volume`);
        checkPreconditions(conditions, current.httpEtag);
        // R2 first: if the ledger update were lost, usage would read high (safe) until reconciled.
        await c.env.VOLUMES.delete(key);
        unwrap(await c.var.userSpace.forgetVolumeFiles([name]));
      };
      if (!conditions) await remove();
      else {
        // R2 deletes unconditionally: a conditional delete holds the name like an upload does (a zero-byte
        // reservation), so no write can land between the check and the delete.
        const ledger = remoteLedger(c.var.userSpace);
        const [lock] = await ledger.reserve([{ name, size: 0 }]);
        try {
          await remove();
        } finally {
          if (lock) await ledger.release([lock.id]);
        }
      }
      return c.body(null, 204);
    },
  )
  .get(
    "/export",
    doc({
      operationId: "exportVolume",
      summary: "Your whole volume as a tar archive",
      tags: ["volume"],
      auth: "user",
      responses: { 200: binary("application/x-tar", "A tar archive of every file.") },
      errors: [],
    }),
    (c) => {
      const date = new Date().toISOString().slice(0, 10);
      return c.body(exportVolume(c.env.VOLUMES, c.var.user.id), 200, {
        "Content-Type": "application/x-tar",
        "Content-Disposition": `attachment; filename="volume-${date}.tar"`,
      });
    },
  )
  .post(
    "/import",
    doc({
      operationId: "importVolume",
      summary: "Import a tar archive into your volume (all or nothing)",
      tags: ["volume"],
      auth: "user",
      rawBody: { contentType: "application/x-tar", description: "A tar archive.", required: true },
      responses: { 201: json(importResultSchema, "Imported.") },
      errors: ["invalid_request", "conflict", "payload_too_large", "quota_exceeded", "storage_unavailable"],
    }),
    async (c) => {
      if (!c.req.raw.body) throw new ApiError("invalid_request", "body: send a tar archive");
      const result = await importVolume(
        c.env.VOLUMES,
        remoteLedger(c.var.userSpace),
        c.var.user.id,
        c.req.raw.body,
        limits(c.env).volumeQuotaBytes,
      );
      return c.json(result, 201);
    },
  );

/** The file name after `/files/`, percent-decoded and checked. */
function fileName(c: Context<AppEnv>): string {
  const base = c.req.routePath.replace(/\*$/, "");
  const raw = new URL(c.req.url).pathname.slice(base.length);
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw new ApiError("invalid_request", "name: is not valid percent-encoding");
  }
  return checkName(name);
}

/**
 * The body's length: Content-Length, or Upload-Length when the body is streamed in chunks. A bad
 * value is a 400 naming the header it came from; both sent and disagreeing is a 400 too (which one
 * would the quota trust?).
 */
function uploadLength(c: Context<AppEnv>): number {
  const contentLength = c.req.header("Content-Length");
  const uploadLength = c.req.header("Upload-Length");
  if (contentLength === undefined && uploadLength === undefined) {
    throw new ApiError(
      "length_required",
      "Content-Length: required, so the quota can be checked before anything is stored (when streaming in chunks, send Upload-Length instead).",
    );
  }
  const declared = lengthHeader("Content-Length", contentLength) ?? lengthHeader("Upload-Length", uploadLength);
  if (
    uploadLength !== undefined &&
    contentLength !== undefined &&
    lengthHeader("Upload-Length", uploadLength) !== declared
  )
    throw new ApiError("invalid_request", "Upload-Length: must equal Content-Length when both are sent");
  return declared as number;
}

/** A length header's value: 1–15 ASCII digits (exact in a double, far beyond any quota), or a 400 naming it. */
function lengthHeader(header: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(value)) throw new ApiError("invalid_request", `${header}: must be a whole number of bytes`);
  return Number(value);
}

/** The stored type and validators, made a download unless the type is safe inline (see downloads.ts). */
function fileHeaders(object: R2Object, name: string): Record<string, string> {
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  for (const [header, value] of Object.entries(validatorHeaders(object))) headers.set(header, value);
  const type = headers.get("Content-Type") ?? "application/octet-stream";
  for (const [header, value] of Object.entries(downloadHeaders(name.slice(name.lastIndexOf("/") + 1), type)))
    headers.set(header, value);
  return Object.fromEntries(headers);
}

/** What identifies the file's version, without its content headers (an error body is JSON). */
function validatorHeaders(object: R2Object): Record<string, string> {
  return { ETag: object.httpEtag, "Last-Modified": object.uploaded.toUTCString(), "Accept-Ranges": "bytes" };
}

// 416 with the error body, and the `Content-Range: bytes */size` RFC 9110 asks for.
function rangeNotSatisfiable(object: R2Object): ApiError {
  return new ApiError("range_not_satisfiable", `Range: starts past the end of the file (${object.size} bytes)`, {
    headers: { ...validatorHeaders(object), "Content-Range": `bytes */${object.size}` },
  });
}

/** `*` or a comma-separated list of (weak or strong) quoted entity tags, as RFC 9110 §13.1 writes them. */
const ETAG_LIST = /^(\*|(W\/)?"[\x21\x23-\x7e\x80-\xff]*"([ \t]*,[ \t]*(W\/)?"[\x21\x23-\x7e\x80-\xff]*")*)$/;

/** R2 throws on a malformed entity-tag list (a 500 it would be); the client's mistake is a 400 naming the header. */
function checkEtagList(c: Context<AppEnv>, header: "If-Match" | "If-None-Match"): void {
  const value = c.req.header(header)?.trim();
  if (value !== undefined && !ETAG_LIST.test(value))
    throw new ApiError("invalid_request", `${header}: must be * or a list of quoted ETags, e.g. "abc123"`);
}

/** One `bytes=` range; anything else (several ranges, other units, nonsense) is ignored, as RFC 9110 allows. */
function parseRange(header: string | undefined): R2Range | undefined {
  const match = header?.trim().match(/^bytes=(\d*)-(\d*)$/);
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") return { suffix: Number(match[2]) };
  const offset = Number(match[1]);
  if (match[2] === "") return { offset };
  const end = Number(match[2]);
  return end < offset ? undefined : { offset, length: end - offset + 1 };
}

function resolveRange(range: R2Range, size: number): { offset: number; length: number } {
  if ("suffix" in range && range.suffix !== undefined) {
    const length = Math.min(range.suffix, size);
    return { offset: size - length, length };
  }
  const offset = "offset" in range ? (range.offset ?? 0) : 0;
  const length = Math.min(
    "length" in range && range.length !== undefined ? range.length : size - offset,
    size - offset,
  );
  return { offset, length };
}
