// GET /api/v1/stats: the caller's counters from their Durable Object, with volume and sandboxes.
import { Hono } from "hono";
import { unwrap } from "../durable/outcome.ts";
import type { AppEnv } from "../types.ts";

export const statsRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const { user, volume, sandboxes } = unwrap(await c.var.userSpace.stats());
  return c.json({ user, volume, sandboxes });
});
