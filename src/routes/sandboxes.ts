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
import { binary, doc, empty, json } from "../openapi/registry.ts";
import {
  fileListSchema,
  fileWrittenSchema,
  installResultSchema,
  sandboxInfoSchema,
  sandboxListSchema,
} from "../openapi/schemas.ts";

const listQuery = z.object({ path: sandboxPathSchema.default(SANDBOX_HOME) });
const fileQuery = z.object({ path: sandboxPathSchema });

export const sandboxRoutes = new Hono<AppEnv>()
  .get(
    "/",
    doc({
      operationId: "listSandboxes",
      summary: "Your live sandboxes",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 200: json(sandboxListSchema) },
      errors: [],
    }),
    async (c) => {
      const items = unwrap(await c.var.userSpace.liveSandboxes());
      return c.json({ items });
    },
  )
  .get(
    "/:conversationId",
    doc({
      operationId: "getSandbox",
      summary: "A conversation's live sandbox",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 200: json(sandboxInfoSchema) },
      errors: ["not_found"],
    }),
    validate("param", conversationParam),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      return c.json(unwrap(await c.var.userSpace.sandboxInfo(conversationId)));
    },
  )
  .delete(
    "/:conversationId",
    doc({
      operationId: "closeSandbox",
      summary: "Close a conversation's sandbox",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 204: empty("Closed (or there was none).") },
      errors: ["not_found", "conflict", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("param", conversationParam),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      unwrap(await c.var.userSpace.closeSandbox(conversationId));
      return c.body(null, 204);
    },
  )
  .get(
    "/:conversationId/files",
    doc({
      operationId: "listSandboxFiles",
      summary: "List a directory of the conversation's sandbox",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 200: json(fileListSchema) },
      errors: ["not_found", "forbidden", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("param", conversationParam),
    validate("query", listQuery),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { path } = c.req.valid("query");
      const items = unwrap(await c.var.userSpace.listSandboxFiles(conversationId, path));
      return c.json({ path, items });
    },
  )
  .get(
    "/:conversationId/file",
    doc({
      operationId: "readSandboxFile",
      summary: "Download a file of the conversation's sandbox",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 200: binary("application/octet-stream", "The file's bytes, as a download.") },
      errors: ["not_found", "forbidden", "payload_too_large", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("param", conversationParam),
    validate("query", fileQuery),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { path } = c.req.valid("query");
      const body = unwrap(await c.var.userSpace.readSandboxFile(conversationId, path));
      const name = path.slice(path.lastIndexOf("/") + 1);
      // Bytes of unknown type: always a download (see downloads.ts).
      return c.body(body, 200, {
        "Content-Type": "application/octet-stream",
        ...downloadHeaders(name, "application/octet-stream"),
      });
    },
  )
  .delete(
    "/:conversationId/file",
    doc({
      operationId: "deleteSandboxFile",
      summary: "Delete a file (or a folder and what is in it) of the conversation's sandbox",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 204: empty("Deleted.") },
      errors: ["not_found", "forbidden", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
    }),
    validate("param", conversationParam),
    validate("query", fileQuery),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { path } = c.req.valid("query");
      unwrap(await c.var.userSpace.removeSandboxFile(conversationId, path));
      return c.body(null, 204);
    },
  )
  .put(
    "/:conversationId/file",
    doc({
      operationId: "writeSandboxFile",
      summary: "Write a file in the conversation's sandbox",
      description: "Starts the conversation's sandbox if it has none. At most 50 MiB.",
      tags: ["sandboxes"],
      auth: "user",
      rawBody: { contentType: "application/octet-stream", description: "The file's bytes.", required: true },
      responses: { 200: json(fileWrittenSchema) },
      errors: [
        "forbidden",
        "payload_too_large",
        "quota_exceeded",
        "rate_limited",
        "sandbox_unavailable",
        "sandbox_busy",
        "sandbox_timeout",
      ],
    }),
    validate("param", conversationParam),
    validate("query", fileQuery),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { path } = c.req.valid("query");
      const declared = c.req.header("Content-Length");
      // Refused before a byte moves when the client says how big it is; otherwise counted as it streams.
      if (declared !== undefined && Number(declared) > MAX_FILE_WRITE_BYTES) throw fileTooLarge();
      const body = c.req.raw.body ?? new Blob([]).stream();
      const written = unwrap(await c.var.userSpace.writeSandboxFile(conversationId, path, body));
      return c.json(written);
    },
  )
  .post(
    "/:conversationId/packages",
    doc({
      operationId: "installPackages",
      summary: "Install pip or npm packages in the conversation's sandbox",
      description: "Runs like an execution (a slot, a timeout, a history entry of kind `install`).",
      tags: ["sandboxes"],
      auth: "user",
      responses: { 200: json(installResultSchema) },
      errors: [
        "payload_too_large",
        "conflict",
        "rate_limited",
        "sandbox_unavailable",
        "sandbox_busy",
        "sandbox_timeout",
      ],
    }),
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
