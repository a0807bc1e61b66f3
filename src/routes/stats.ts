// GET /api/v1/stats: the caller's counters from their Durable Object, with volume and sandboxes.
import { Hono } from "hono";
import { userSpace } from "../durable/stub.ts";
import type { AppEnv } from "../types.ts";

export const statsRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const space = userSpace(c.env, c.var.user.id);
  const [stats, volume] = await Promise.all([space.stats(), space.volumeInfo(c.var.user.id)]);
  return c.json({ user: stats.user, volume, sandboxes: stats.sandboxes });
});
