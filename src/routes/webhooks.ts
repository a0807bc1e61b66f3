// /api/v1/webhooks: a user's endpoints (the signing secret shown once, at creation), a test event,
// and each endpoint's deliveries with every attempt, and a retry button.
import { Hono } from "hono";
import { unwrap } from "../durable/outcome.ts";
import { z } from "zod";
import { doc, empty, json } from "../openapi/registry.ts";
import {
  createdWebhookSchema,
  webhookDeliveryPageSchema,
  webhookDeliverySchema,
  webhookListSchema,
  webhookSchema,
} from "../openapi/schemas.ts";
import type { AppEnv } from "../types.ts";
import { validate } from "../validation.ts";
import { retryNow } from "../webhooks/delivery.ts";
import { SUBSCRIBABLE_EVENTS, sendEvent } from "../webhooks/events.ts";
import {
  createWebhook,
  deleteWebhook,
  enabledWebhook,
  getDelivery,
  getWebhook,
  listDeliveries,
  listWebhooks,
} from "../webhooks/store.ts";

const EVENT_CHOICES = ["*", ...SUBSCRIBABLE_EVENTS] as const;

const createSchema = z.object({
  url: z.string({ error: "must be a string" }).min(1, "must not be empty").max(2048, "must be at most 2048 characters"),
  events: z
    .array(z.enum(EVENT_CHOICES, { error: `each must be one of ${EVENT_CHOICES.join(", ")}` }))
    .min(1, "must list at least one event (or omit it for every event)")
    .max(EVENT_CHOICES.length)
    .transform((events) => (events.includes("*") ? ["*"] : [...new Set(events)]))
    .default(["*"]),
  description: z.string({ error: "must be a string" }).max(500, "must be at most 500 characters").optional(),
});

const deliveriesSchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(100).optional(),
});

const meta = { tags: ["webhooks"], auth: "user" as const };
const ID = "The webhook's id (`whk_…`).";

/** Endpoints per user (MAX_WEBHOOKS_PER_USER, default 10). */
function maxPerUser(env: Env): number {
  const n = Number(env.MAX_WEBHOOKS_PER_USER);
  return Number.isInteger(n) && n > 0 ? n : 10;
}

export const webhookRoutes = new Hono<AppEnv>()
  .post(
    "/",
    doc({
      ...meta,
      operationId: "createWebhook",
      summary: "Add a webhook endpoint",
      description:
        "`url` must be https on a public host (http to loopback only where WEBHOOK_ALLOW_LOCAL_HTTP is set). The answer carries the signing secret, shown this once.",
      responses: { 201: json(createdWebhookSchema, "Created; keep `secret`.") },
      errors: ["conflict", "payload_too_large"],
    }),
    validate("json", createSchema),
    async (c) => {
      const hook = await createWebhook(c.env, c.var.user.id, c.req.valid("json"), maxPerUser(c.env));
      // The user's object skips the D1 read of each event while it knows of no webhook: tell it.
      unwrap(await c.var.userSpace.webhookCreated());
      return c.json(hook, 201);
    },
  )
  .get(
    "/",
    doc({
      ...meta,
      operationId: "listWebhooks",
      summary: "Your webhook endpoints",
      responses: { 200: json(webhookListSchema) },
      errors: [],
    }),
    async (c) => c.json({ items: await listWebhooks(c.env, c.var.user.id), nextCursor: null }),
  )
  .get(
    "/:id",
    doc({
      ...meta,
      operationId: "getWebhook",
      summary: "A webhook endpoint",
      params: { id: ID },
      responses: { 200: json(webhookSchema) },
      errors: ["not_found"],
    }),
    async (c) => c.json(await getWebhook(c.env, c.var.user.id, c.req.param("id"))),
  )
  .delete(
    "/:id",
    doc({
      ...meta,
      operationId: "deleteWebhook",
      summary: "Delete a webhook endpoint",
      description: "With its deliveries and their attempts.",
      params: { id: ID },
      responses: { 204: empty("Deleted.") },
      errors: ["not_found"],
    }),
    async (c) => {
      await deleteWebhook(c.env, c.var.user.id, c.req.param("id"));
      return c.body(null, 204);
    },
  )
  // Sends a `webhook.test` event to this endpoint only (whatever its `events`).
  .post(
    "/:id/test",
    doc({
      ...meta,
      operationId: "testWebhook",
      summary: "Send a test event",
      description:
        "Sends a `webhook.test` event to this endpoint only (whatever its `events`); answers with the delivery.",
      params: { id: ID },
      responses: { 202: json(webhookDeliverySchema, "Sent (or queued for retry): the delivery so far.") },
      errors: ["not_found", "conflict"],
    }),
    async (c) => {
      const userId = c.var.user.id;
      const hook = await enabledWebhook(c.env, userId, c.req.param("id"));
      const data = { webhookId: hook.id, message: "A test event from Phoenix: this endpoint receives webhooks." };
      const { deliveryIds } = await sendEvent(c.env, userId, "webhook.test", data, [hook.id]);
      return c.json(await getDelivery(c.env, userId, hook.id, deliveryIds[0]!), 202);
    },
  )
  .get(
    "/:id/deliveries",
    doc({
      ...meta,
      operationId: "listWebhookDeliveries",
      summary: "A webhook endpoint's deliveries",
      description: "Newest first, each with every attempt.",
      params: { id: ID },
      responses: { 200: json(webhookDeliveryPageSchema) },
      errors: ["not_found"],
    }),
    validate("query", deliveriesSchema),
    async (c) => c.json(await listDeliveries(c.env, c.var.user.id, c.req.param("id"), c.req.valid("query"))),
  )
  // Attempts the delivery again now, whatever its status (same event, same webhook-id).
  .post(
    "/:id/deliveries/:deliveryId/retry",
    doc({
      ...meta,
      operationId: "retryWebhookDelivery",
      summary: "Attempt a delivery again now",
      description: "Whatever its status: the same event, the same `webhook-id`. Answers with the delivery.",
      params: { id: ID, deliveryId: "The delivery's id." },
      responses: { 202: json(webhookDeliverySchema, "Attempted: the delivery with its new attempt.") },
      errors: ["not_found", "conflict"],
    }),
    async (c) => {
      const userId = c.var.user.id;
      const hook = await enabledWebhook(c.env, userId, c.req.param("id"));
      const delivery = await getDelivery(c.env, userId, hook.id, c.req.param("deliveryId"));
      await retryNow(c.env, delivery.id);
      return c.json(await getDelivery(c.env, userId, hook.id, delivery.id), 202);
    },
  );
