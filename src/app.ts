// Builds the Hono app: request ids, auth, one error shape, and the route modules.
import { Hono, type Context } from "hono";
import { timing } from "hono/timing";
import { ApiError, errorResponse } from "./errors.ts";
import { requireOwner, requireUser } from "./middleware/auth.ts";
import { cors } from "./middleware/cors.ts";
import { drainRefusedBody } from "./middleware/drain.ts";
import { requestId } from "./middleware/request-id.ts";
import { securityHeaders } from "./middleware/security-headers.ts";
import { adminRoutes } from "./routes/admin.ts";
import { docsRoutes } from "./routes/docs.ts";
import { contextRoutes } from "./routes/contexts.ts";
import { artifactRoutes } from "./routes/artifacts.ts";
import { executionShareRoutes, publicShareRoutes, shareRoutes } from "./routes/shares.ts";
import { executionRoutes } from "./routes/executions.ts";
import { healthRoutes } from "./routes/health.ts";
import { mcpRoutes, requireMcpUser } from "./routes/mcp.ts";
import { sandboxRoutes } from "./routes/sandboxes.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { statsRoutes } from "./routes/stats.ts";
import { terminalSocketRoutes, terminalTicketRoutes } from "./routes/terminal.ts";
import { toolRoutes } from "./routes/tools.ts";
import { volumeRoutes } from "./routes/volume.ts";
import { volumeSandboxRoutes } from "./routes/volume-sandbox.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import type { AppEnv } from "./types.ts";
import { jsonBodyLimit } from "./validation.ts";

/** JSON bodies (code is ≤ 256 KiB; envs and the rest fit well within this). */
const JSON_BODY_LIMIT = 1024 * 1024;
/** MCP messages: a tool call may carry a file's content (write_file, volume_write). */
const MCP_BODY_LIMIT = 4 * 1024 * 1024;

export function createApp() {
  const app = new Hono<AppEnv>();
  app.use("*", requestId);
  app.use("*", securityHeaders);
  app.use("*", drainRefusedBody);
  // Before auth: a browser's preflight carries no credentials, and error responses need the headers too.
  app.use("/api/*", cors);
  // Server-Timing on every response: where a request's time went (auth, the Durable Object, …).
  app.use("/api/*", timing({ totalDescription: "Worker" }));
  app.onError(errorResponse);
  const noRoute = (c: Context<AppEnv>) =>
    errorResponse(new ApiError("not_found", `No route ${c.req.method} ${c.req.path}.`), c);
  app.notFound(noRoute);

  const jsonLimit = jsonBodyLimit(JSON_BODY_LIMIT);

  app.route("/api/health", healthRoutes);
  // The OpenAPI document of this very app (read when first asked for, so every route below is in it) and /docs.
  app.route(
    "/",
    docsRoutes(() => app),
  );
  // Public, no key: a share's read-only page (its token is the only credential).
  app.route("/s", publicShareRoutes);

  app.use("/api/v1/admin/*", requireOwner);
  app.use("/api/v1/admin/*", jsonLimit);
  app.route("/api/v1/admin", adminRoutes);
  // An unknown owner path is a 404 here, not a user-key 401 further down.
  app.all("/api/v1/admin/*", noRoute);

  // The terminal's WebSocket: its credential is a one-time ticket in the query (a browser cannot send
  // `Authorization` on a WebSocket), so it answers before the API key middleware below.
  app.route("/api/v1/sandboxes", terminalSocketRoutes);

  app.use("/api/v1/*", requireUser);
  app.use("/api/v1/executions", jsonLimit);
  app.use("/api/v1/executions/*", jsonLimit);
  app.route("/api/v1/executions", executionRoutes);
  app.route("/api/v1/executions", artifactRoutes);
  app.route("/api/v1/executions", executionShareRoutes);
  app.route("/api/v1/shares", shareRoutes);
  app.route("/api/v1/stats", statsRoutes);
  // File bodies stream to the sandbox (counted there, 50 MiB cap); only install requests are JSON.
  app.use("/api/v1/sandboxes/:conversationId/packages", jsonLimit);
  app.route("/api/v1/sandboxes", sandboxRoutes);
  // No bodyLimit here: file bodies stream to R2 and the quota bounds them.
  app.route("/api/v1/volume", volumeRoutes);
  // Same prefix as sandboxRoutes, but only POST …/files/persist and …/files/restore, which it has not.
  app.route("/api/v1/sandboxes", volumeSandboxRoutes);
  app.use("/api/v1/schedules/*", jsonLimit);
  app.route("/api/v1/schedules", scheduleRoutes);
  app.use("/api/v1/webhooks/*", jsonLimit);
  app.route("/api/v1/webhooks", webhookRoutes);
  app.route("/api/v1/tools", toolRoutes);

  // MCP (Streamable HTTP): a user's key is checked before any message is read.
  app.use("/mcp", requireMcpUser);
  app.use("/mcp", jsonBodyLimit(MCP_BODY_LIMIT));
  app.route("/mcp", mcpRoutes);
  // Same prefix again: only …/:conversationId/contexts and below.
  app.use("/api/v1/sandboxes/:conversationId/contexts", jsonLimit);
  app.route("/api/v1/sandboxes", contextRoutes);
  app.route("/api/v1/sandboxes", terminalTicketRoutes);
  return app;
}
