// /api/v1/sandboxes: the caller's sandboxes by conversation — info, close, files and package
// installs — all through the caller's Durable Object, so no client ever names a sandbox id.
import { Hono } from "hono";
import { z } from "zod";
import { limits } from "../config.ts";
import { downloadHeaders } from "../downloads.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { fileTooLarge, MAX_FILE_WRITE_BYTES, SANDBOX_HOME, sandboxPathSchema } from "../sandbox/files.ts";
import { installSchema, offlineInstallProblem } from "../sandbox/packages.ts";
import type { AppEnv } from "../types.ts";
import { conversationParam, validate } from "../validation.ts";

const listQuery = z.object({ path: sandboxPathSchema.default(SANDBOX_HOME) });
const fileQuery = z.object({ path: sandboxPathSchema });

export const sandboxRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const items = unwrap(await c.var.userSpace.liveSandboxes());
    return c.json({ items });
  })
  .get("/:conversationId", validate("param", conversationParam), async (c) => {
    const { conversationId } = c.req.valid("param");
    return c.json(unwrap(await c.var.userSpace.sandboxInfo(conversationId)));
  })
  .delete("/:conversationId", validate("param", conversationParam), async (c) => {
    const { conversationId } = c.req.valid("param");
    unwrap(await c.var.userSpace.closeSandbox(conversationId));
    return c.body(null, 204);
  })
  .get("/:conversationId/files", validate("param", conversationParam), validate("query", listQuery), async (c) => {
    const { conversationId } = c.req.valid("param");
    const { path } = c.req.valid("query");
    const items = unwrap(await c.var.userSpace.listSandboxFiles(conversationId, path));
    return c.json({ path, items });
  })
  .get("/:conversationId/file", validate("param", conversationParam), validate("query", fileQuery), async (c) => {
    const { conversationId } = c.req.valid("param");
    const { path } = c.req.valid("query");
    const body = unwrap(await c.var.userSpace.readSandboxFile(conversationId, path));
    const name = path.slice(path.lastIndexOf("/") + 1);
    // Bytes of unknown type: always a download (see downloads.ts).
    return c.body(body, 200, {
      "Content-Type": "application/octet-stream",
      ...downloadHeaders(name, "application/octet-stream"),
    });
  })
  .put("/:conversationId/file", validate("param", conversationParam), validate("query", fileQuery), async (c) => {
    const { conversationId } = c.req.valid("param");
    const { path } = c.req.valid("query");
    const declared = c.req.header("Content-Length");
    // Refused before a byte moves when the client says how big it is; otherwise counted as it streams.
    if (declared !== undefined && Number(declared) > MAX_FILE_WRITE_BYTES) throw fileTooLarge();
    const body = c.req.raw.body ?? new Blob([]).stream();
    const written = unwrap(await c.var.userSpace.writeSandboxFile(conversationId, path, body));
    return c.json(written);
  })
  .post(
    "/:conversationId/packages",
    validate("param", conversationParam),
    validate("json", installSchema),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const body = c.req.valid("json");
      const ceiling = limits(c.env).installTimeoutMs;
      if (body.timeoutMs !== undefined && body.timeoutMs > ceiling) {
        throw new ApiError("invalid_request", `timeoutMs: must be at most ${ceiling} (INSTALL_TIMEOUT_MS)`);
      }
      if (c.env.SANDBOX_INTERNET_ACCESS !== "true") {
        const offline = offlineInstallProblem(body.manager, body.packages);
        if (offline) throw new ApiError("invalid_request", offline);
      }
      return c.json(unwrap(await c.var.userSpace.installSandboxPackages(conversationId, body)));
    },
  );
