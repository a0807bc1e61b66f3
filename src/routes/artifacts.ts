// GET /api/v1/executions/:id/artifacts/<path> (from R2 when kept, else from the run's live sandbox) and
// POST /api/v1/executions/:id/artifacts/keep (copies them to R2 under the volume quota).
import { Hono } from "hono";
import type { RunPlace } from "../artifacts/keep.ts";
import { artifactPathOf, artifactResponse, findArtifact } from "../artifacts/serve.ts";
import { getDb } from "../db/index.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { getExecution, type HistoryItem } from "../executions/history.ts";
import { binary, doc, json } from "../openapi/registry.ts";
import { keptArtifactsSchema } from "../openapi/schemas.ts";
import type { AppEnv } from "../types.ts";
import { artifactKey } from "../volume/keys.ts";

function placeOf(run: HistoryItem): RunPlace {
  return { executionId: run.id, conversationId: run.conversationId, sandboxId: run.sandboxId };
}

export const artifactRoutes = new Hono<AppEnv>()
  .post(
    "/:id/artifacts/keep",
    doc({
      operationId: "keepArtifacts",
      summary: "Keep a run's artifacts",
      description:
        "Copies the files the run created or modified, as they are now in its sandbox, to R2 under your volume quota (all or nothing), so they outlive the sandbox. The run must have been made with `artifacts: true`; its sandbox must still be live.",
      tags: ["executions"],
      auth: "user",
      params: { id: "The execution's id (`exe_…`)." },
      responses: { 200: json(keptArtifactsSchema, "Kept.") },
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
      unwrap(await c.var.userSpace.flushHistory());
      const run = await getExecution(getDb(c.env), c.var.user.id, id);
      if (!run.artifacts) {
        throw new ApiError(
          "conflict",
          `Execution ${id} has no artifact manifest: run it with "artifacts": true (or "keepArtifacts": true).`,
        );
      }
      const kept = unwrap(await c.var.userSpace.keepRunArtifacts(placeOf(run), run.artifacts));
      return c.json({ executionId: id, ...kept });
    },
  )
  .get(
    "/:id/artifacts/*",
    doc({
      operationId: "getArtifact",
      summary: "Download one of a run's artifacts",
      description:
        "A file the run created or modified (listed in its `artifacts`): kept in R2 if it was kept, else read from the run's sandbox while that lives.",
      tags: ["executions"],
      auth: "user",
      params: { id: "The execution's id (`exe_…`)." },
      wildcard: {
        name: "path",
        description: "The artifact's `path` (relative to /home/user); may contain `/` (send it as `%2F` or as is).",
      },
      responses: {
        200: binary("*/*", "The file's bytes, with a Content-Type from its name, as a download."),
      },
      errors: [
        "invalid_request",
        "not_found",
        "forbidden",
        "storage_unavailable",
        "sandbox_unavailable",
        "sandbox_busy",
        "sandbox_timeout",
      ],
    }),
    async (c) => {
      const id = c.req.param("id");
      const path = artifactPathOf(c.req.url, `/${id}/artifacts/`);
      unwrap(await c.var.userSpace.flushHistory());
      // Another user's execution is a 404 here, like one that never existed.
      const run = await getExecution(getDb(c.env), c.var.user.id, id);
      findArtifact(run.artifacts, path, id);
      const kept = await c.env.VOLUMES.get(artifactKey(c.var.user.id, id, path));
      if (kept) return artifactResponse(path, kept.body, kept.size);
      const live = unwrap(await c.var.userSpace.readRunArtifact(placeOf(run), path));
      return artifactResponse(path, live.body, live.size);
    },
  );
