// GET /api/v1/executions/:id/artifacts/<path> (from R2 when kept, else from the run's live sandbox) and
// POST /api/v1/executions/:id/artifacts/keep (copies them to R2 under the volume quota).
import { Hono } from "hono";
import type { RunPlace } from "../artifacts/keep.ts";
import { artifactPathOf, artifactResponse, findArtifact } from "../artifacts/serve.ts";
import { getDb } from "../db/index.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { getExecution, type HistoryItem } from "../executions/history.ts";
import type { AppEnv } from "../types.ts";
import { artifactKey } from "../volume/keys.ts";

function placeOf(run: HistoryItem): RunPlace {
  return { executionId: run.id, conversationId: run.conversationId, sandboxId: run.sandboxId };
}

export const artifactRoutes = new Hono<AppEnv>()
  .post("/:id/artifacts/keep", async (c) => {
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
  })
  .get("/:id/artifacts/*", async (c) => {
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
  });
