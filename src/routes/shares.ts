// Sharing: POST /api/v1/executions/:id/shares, GET /api/v1/shares, DELETE /api/v1/shares/:token (the
// caller's own), and the public, key-less GET /s/:token (HTML, or JSON on `Accept: application/json`)
// with GET /s/:token/artifacts/<path> for the files kept with it.
import { and, eq } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { z } from "zod";
import { artifactPathOf, artifactResponse } from "../artifacts/serve.ts";
import type { Artifact } from "../artifacts/types.ts";
import { getDb } from "../db/index.ts";
import { executions } from "../db/schema.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { renderMissingPage, renderSharePage, sharePageCsp } from "../shares/page.ts";
import { type SharedFile, type ShareSnapshot, snapshotOf } from "../shares/snapshot.ts";
import { createShare, findShare, listShares, revokeShare } from "../shares/store.ts";
import { binary, doc, empty, json } from "../openapi/registry.ts";
import { createdShareSchema, sharedRunSchema, shareListSchema } from "../openapi/schemas.ts";
import type { AppEnv } from "../types.ts";
import { describeIssues } from "../validation.ts";
import { artifactKey, artifactsPrefix, listPrefix } from "../volume/keys.ts";

const DAY = 24 * 60 * 60;
/** A share lasts this long unless `expiresIn` says otherwise (seconds). */
export const DEFAULT_SHARE_SECONDS = 30 * DAY;
export const MAX_SHARE_SECONDS = 365 * DAY;

const createSchema = z.object({
  expiresIn: z
    .number({ error: "must be a number of seconds" })
    .int("must be a whole number of seconds")
    .min(1, "must be at least 1 second")
    .max(MAX_SHARE_SECONDS, `must be at most ${MAX_SHARE_SECONDS} seconds (365 days)`)
    .optional(),
  includeArtifacts: z.boolean({ error: "must be a boolean" }).optional(),
});

/** The optional JSON body: none at all means the defaults. */
async function createBody(c: Context<AppEnv>): Promise<z.infer<typeof createSchema>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_request", "body: not valid JSON");
  }
  const parsed = createSchema.safeParse(json);
  if (!parsed.success) throw new ApiError("invalid_request", describeIssues(parsed.error));
  return parsed.data;
}

/** The files kept in R2 for an execution (paths relative to the working directory). */
async function keptFiles(bucket: R2Bucket, userId: string, executionId: string): Promise<SharedFile[]> {
  const prefix = `${artifactsPrefix(userId)}${executionId}/`;
  const files: SharedFile[] = [];
  for await (const object of listPrefix(bucket, prefix))
    files.push({ path: object.key.slice(prefix.length), size: object.size });
  return files;
}

export const executionShareRoutes = new Hono<AppEnv>().post(
  "/:id/shares",
  doc({
    operationId: "createShare",
    summary: "Share a run by a public link",
    description:
      "Freezes the run as it is in history (code, output, rich results, the names of the files it changed) behind a random link anyone can open without a key, until it expires or you revoke it. With `includeArtifacts`, its kept artifacts go along (kept now if they were not yet: under your volume quota).",
    tags: ["shares"],
    auth: "user",
    params: { id: "The execution's id (`exe_…`)." },
    jsonBody: {
      schema: createSchema,
      required: false,
      description: "Optional: an empty body means a 30-day link without files.",
    },
    responses: { 201: json(createdShareSchema, "Shared.") },
    errors: [
      "invalid_request",
      "not_found",
      "forbidden",
      "conflict",
      "quota_exceeded",
      "storage_unavailable",
      "sandbox_unavailable",
      "sandbox_busy",
      "sandbox_timeout",
    ],
  }),
  async (c) => {
    const id = c.req.param("id");
    const body = await createBody(c);
    const userId = c.var.user.id;
    unwrap(await c.var.userSpace.flushHistory());
    const db = getDb(c.env);
    // Another user's execution is a 404, like one that never existed.
    const row = await db
      .select()
      .from(executions)
      .where(and(eq(executions.id, id), eq(executions.userId, userId)))
      .get();
    if (!row) throw new ApiError("not_found", `No execution ${id}.`);
    let files: SharedFile[] = [];
    if (body.includeArtifacts) {
      files = await keptFiles(c.env.VOLUMES, userId, id);
      const changes = row.artifacts ? (JSON.parse(row.artifacts) as { artifacts: Artifact[] }).artifacts : [];
      // Not kept yet: keep them now if the run's sandbox still has them (under the quota: 507 refuses the share).
      if (files.length === 0 && changes.some((a) => a.change !== "deleted")) {
        const kept = await c.var.userSpace.keepRunArtifacts(
          { executionId: id, conversationId: row.conversationId, sandboxId: row.sandboxId },
          changes,
        );
        if (!kept.ok && kept.error.code !== "not_found") unwrap(kept);
        files = await keptFiles(c.env.VOLUMES, userId, id);
      }
    }
    const expiresAt = Date.now() + (body.expiresIn ?? DEFAULT_SHARE_SECONDS) * 1000;
    const { token, info } = await createShare(db, userId, id, await snapshotOf(c.env.VOLUMES, row, files), expiresAt);
    const url = `${new URL(c.req.url).origin}/s/${token}`;
    return c.json({ token, url, expiresAt: info.expiresAt, id: info.id, executionId: id }, 201);
  },
);

export const shareRoutes = new Hono<AppEnv>()
  .get(
    "/",
    doc({
      operationId: "listShares",
      summary: "Your live shares",
      tags: ["shares"],
      auth: "user",
      responses: { 200: json(shareListSchema) },
      errors: [],
    }),
    async (c) => {
      const items = await listShares(getDb(c.env), c.var.user.id, 200);
      return c.json({ items, nextCursor: null });
    },
  )
  .delete(
    "/:token",
    doc({
      operationId: "revokeShare",
      summary: "Revoke a share",
      description: "Its link stops working at once.",
      tags: ["shares"],
      auth: "user",
      params: { token: "The share's token, or its id (`shr_…`)." },
      responses: { 204: empty("Revoked.") },
      errors: ["not_found"],
    }),
    async (c) => {
      await revokeShare(getDb(c.env), c.var.user.id, c.req.param("token"));
      return c.body(null, 204);
    },
  );

function wantsJson(c: Context<AppEnv>): boolean {
  const accept = c.req.header("Accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}

const PUBLIC_HEADERS = {
  // Revoking must take effect at once, and the token in the URL must not linger in caches.
  "Cache-Control": "no-store",
  "X-Robots-Tag": "noindex",
  Vary: "Accept",
};

/** The public view of a snapshot (JSON): what the page shows, with links for the kept files. */
function publicJson(snapshot: ShareSnapshot, base: string, expiresAt: number) {
  return {
    ...snapshot,
    files: snapshot.files.map((f) => ({
      ...f,
      url: `${base}/artifacts/${f.path.split("/").map(encodeURIComponent).join("/")}`,
    })),
    expiresAt: new Date(expiresAt).toISOString(),
  };
}

const PUBLIC_HEADER_DOCS = { "Cache-Control": "`no-store`: a revoked link stops working at once." };

export const publicShareRoutes = new Hono<AppEnv>()
  .get(
    "/:token",
    doc({
      operationId: "getSharedRun",
      summary: "A shared run (public)",
      description:
        "The share's page (HTML), or with `Accept: application/json` (and not `text/html`) its snapshot as JSON. No key: the token is the credential.",
      tags: ["shares"],
      auth: "none",
      params: { token: "The share's token (from its link)." },
      headers: { Accept: "`application/json` for the snapshot as JSON; otherwise the HTML page." },
      responses: {
        200: {
          ...json(sharedRunSchema, "The shared run."),
          alternatives: { "text/html": "The share's page." },
          headers: PUBLIC_HEADER_DOCS,
        },
        404: {
          description: "A browser gets an HTML page saying the link is revoked, expired or wrong.",
          body: { kind: "text", contentType: "text/html" },
        },
      },
      errors: ["not_found"],
    }),
    async (c) => {
      const token = c.req.param("token");
      const share = await findShare(getDb(c.env), token);
      if (!share) {
        if (wantsJson(c)) throw new ApiError("not_found", "No share here (revoked, expired or never made).");
        return c.html(renderMissingPage(), 404, { ...PUBLIC_HEADERS, "Content-Security-Policy": await sharePageCsp() });
      }
      const snapshot = JSON.parse(share.snapshot) as ShareSnapshot;
      const url = new URL(c.req.url);
      const base = `/s/${token}`;
      if (wantsJson(c)) return c.json(publicJson(snapshot, base, share.expiresAt), 200, PUBLIC_HEADERS);
      const html = renderSharePage(snapshot, { url: `${url.origin}${base}`, base });
      return c.html(html, 200, { ...PUBLIC_HEADERS, "Content-Security-Policy": await sharePageCsp() });
    },
  )
  .get(
    "/:token/artifacts/*",
    doc({
      operationId: "getSharedArtifact",
      summary: "Download a file kept with a share (public)",
      tags: ["shares"],
      auth: "none",
      params: { token: "The share's token (from its link)." },
      wildcard: { name: "path", description: "The file's `path` as the share lists it in `files`." },
      responses: {
        200: binary("*/*", "The file's bytes, with a Content-Type from its name, as a download.", PUBLIC_HEADER_DOCS),
      },
      errors: ["invalid_request", "not_found"],
    }),
    async (c) => {
      const share = await findShare(getDb(c.env), c.req.param("token"));
      if (!share) throw new ApiError("not_found", "No share here (revoked, expired or never made).");
      const path = artifactPathOf(c.req.url);
      const snapshot = JSON.parse(share.snapshot) as ShareSnapshot;
      if (!snapshot.files.some((f) => f.path === path)) throw new ApiError("not_found", `path: no file '${path}' here`);
      const object = await c.env.VOLUMES.get(artifactKey(share.userId, share.executionId, path));
      if (!object) throw new ApiError("not_found", `path: '${path}' is no longer kept`);
      const res = artifactResponse(path, object.body, object.size);
      for (const [name, value] of Object.entries(PUBLIC_HEADERS)) res.headers.set(name, value);
      return res;
    },
  );
