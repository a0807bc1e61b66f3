// POST /api/v1/sandboxes/:conversationId/files/persist and …/restore: copies between a conversation's
// sandbox and the caller's volume, done in the caller's Durable Object (which owns the sandbox).
import { Hono } from "hono";
import { z } from "zod";
import { unwrap } from "../durable/outcome.ts";
import { sandboxPathSchema } from "../sandbox/files.ts";
import type { AppEnv } from "../types.ts";
import { conversationParam, jsonBodyLimit, validate } from "../validation.ts";
import { volumeNameSchema } from "../volume/names.ts";
import { doc, json } from "../openapi/registry.ts";
import { persistedFileSchema, restoredFileSchema } from "../openapi/schemas.ts";

const persistSchema = z.object({ path: sandboxPathSchema, name: volumeNameSchema });
const restoreSchema = z.object({ name: volumeNameSchema, path: sandboxPathSchema });

/** Both bodies are two short strings. */
const smallJson = jsonBodyLimit(16 * 1024);

export const volumeSandboxRoutes = new Hono<AppEnv>()
  .post(
    "/:conversationId/files/persist",
    doc({
      operationId: "persistSandboxFile",
      summary: "Copy a sandbox file into your volume",
      tags: ["sandboxes", "volume"],
      auth: "user",
      responses: {
        200: json(persistedFileSchema, "Replaced a volume file."),
        201: json(persistedFileSchema, "Stored."),
      },
      errors: [
        "not_found",
        "forbidden",
        "conflict",
        "payload_too_large",
        "precondition_failed",
        "quota_exceeded",
        "storage_unavailable",
        "rate_limited",
        "sandbox_unavailable",
        "sandbox_busy",
        "sandbox_timeout",
      ],
    }),
    smallJson,
    validate("param", conversationParam),
    validate("json", persistSchema),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { path, name } = c.req.valid("json");
      const stored = unwrap(await c.var.userSpace.persistFile(conversationId, path, name));
      return c.json(stored, stored.replaced ? 200 : 201);
    },
  )
  .post(
    "/:conversationId/files/restore",
    doc({
      operationId: "restoreVolumeFile",
      summary: "Copy a volume file into the conversation's sandbox",
      description: "Starts the conversation's sandbox if it has none.",
      tags: ["sandboxes", "volume"],
      auth: "user",
      responses: { 200: json(restoredFileSchema) },
      errors: [
        "not_found",
        "forbidden",
        "payload_too_large",
        "quota_exceeded",
        "storage_unavailable",
        "rate_limited",
        "sandbox_unavailable",
        "sandbox_busy",
        "sandbox_timeout",
      ],
    }),
    smallJson,
    validate("param", conversationParam),
    validate("json", restoreSchema),
    async (c) => {
      const { conversationId } = c.req.valid("param");
      const { name, path } = c.req.valid("json");
      return c.json(unwrap(await c.var.userSpace.restoreFile(conversationId, name, path)));
    },
  );
