// GET /api/health: liveness without auth, and which sandbox backend this deployment uses.
import { Hono } from "hono";
import type { AppEnv } from "../types.ts";
import { doc, json } from "../openapi/registry.ts";
import { healthSchema } from "../openapi/schemas.ts";

export const VERSION = "0.1.0";

export const healthRoutes = new Hono<AppEnv>().get(
  "/",
  doc({
    operationId: "health",
    summary: "Liveness, version and sandbox backend",
    tags: ["meta"],
    auth: "none",
    responses: { 200: json(healthSchema) },
    errors: [],
  }),
  (c) => c.json({ ok: true, version: VERSION, sandboxBackend: c.env.E2B_API_URL ? "e2b-local" : "e2b" }),
);
