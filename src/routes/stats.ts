// GET /api/v1/stats: the caller's counters from their Durable Object, with volume and sandboxes.
import { Hono } from "hono";
import { unwrap } from "../durable/outcome.ts";
import type { AppEnv } from "../types.ts";
import { doc, json } from "../openapi/registry.ts";
import { statsSchema } from "../openapi/schemas.ts";

export const statsRoutes = new Hono<AppEnv>().get(
  "/",
  doc({
    operationId: "getStats",
    summary: "Your counters, volume usage and live sandboxes",
    tags: ["stats"],
    auth: "user",
    responses: { 200: json(statsSchema) },
    errors: ["storage_unavailable"],
  }),
  async (c) => {
    const { user, volume, sandboxes } = unwrap(await c.var.userSpace.stats());
    return c.json({ user, volume, sandboxes });
  },
);
