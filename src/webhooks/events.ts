// Webhook events: what can happen, and emitEvent, which stores an event with one pending delivery per
// subscribed endpoint (in D1, before any attempt) and enqueues the first attempts (webhooks/delivery.ts).
import { and, eq, isNull } from "drizzle-orm";
import { getDb } from "../db/index.ts";
import { webhookDeliveries, webhookEvents, webhooks } from "../db/schema.ts";
import { newId } from "../ids.ts";

export const EVENT_TYPES = [
  "execution.completed",
  "webhook.test",
  "schedule.run_skipped",
  "schedule.disabled",
] as const;
export type WebhookEventType = (typeof EVENT_TYPES)[number];

/** What an endpoint may subscribe to; `webhook.test` goes only to the endpoint being tested. */
export const SUBSCRIBABLE_EVENTS = EVENT_TYPES.filter((t) => t !== "webhook.test");

/** The body of one queue message: make the next attempt of this delivery, if `lease` is still its lease. */
export interface DeliveryMessage {
  deliveryId: string;
  lease: string;
}

/** A fresh lease: the one queue message currently allowed to attempt a delivery. */
export function newLease(): string {
  return crypto.randomUUID();
}

/**
 * Emits an event to every endpoint of the user that subscribes to `type` (none: nothing is stored).
 * The event and its deliveries are in D1 before this returns; the attempts follow from the queue.
 */
export async function emitEvent(
  env: Env,
  userId: string,
  type: WebhookEventType,
  data: Record<string, unknown>,
): Promise<void> {
  const endpoints = await getDb(env)
    .select({ id: webhooks.id, events: webhooks.events })
    .from(webhooks)
    .where(and(eq(webhooks.userId, userId), isNull(webhooks.disabledAt)));
  const targets = endpoints.filter((w) => subscribes(w.events, type)).map((w) => w.id);
  if (targets.length > 0) await sendEvent(env, userId, type, data, targets);
}

/** Whether an endpoint's `events` (JSON text) takes `type`. */
function subscribes(events: string, type: WebhookEventType): boolean {
  const list = JSON.parse(events) as string[];
  return list.includes("*") || list.includes(type);
}

/**
 * Stores the event (the exact body every attempt signs and sends) and one delivery per endpoint, in
 * one D1 batch, then enqueues the first attempts. If the queue refuses, the deliveries stay pending
 * and the cron re-enqueues them (sweepDeliveries), so nothing stored is lost.
 */
export async function sendEvent(
  env: Env,
  userId: string,
  type: WebhookEventType,
  data: Record<string, unknown>,
  webhookIds: string[],
): Promise<{ eventId: string; deliveryIds: string[] }> {
  const db = getDb(env);
  const now = Date.now();
  const eventId = newId("msg");
  const payload = JSON.stringify({ type, timestamp: new Date(now).toISOString(), data });
  const deliveries = webhookIds.map((webhookId) => ({
    id: newId("whd"),
    webhookId,
    userId,
    eventId,
    eventType: type,
    status: "pending" as const,
    attempts: 0,
    nextAttemptAt: now,
    lease: newLease(),
    createdAt: now,
    updatedAt: now,
  }));
  await db.batch([
    db.insert(webhookEvents).values({ id: eventId, userId, type, payload, createdAt: now }),
    ...deliveries.map((d) => db.insert(webhookDeliveries).values(d)),
  ]);
  try {
    await env.WEBHOOK_QUEUE.sendBatch(
      deliveries.map((d) => ({ body: { deliveryId: d.id, lease: d.lease } satisfies DeliveryMessage })),
    );
  } catch (err) {
    console.error(`webhooks: the queue refused event ${eventId}; the cron will enqueue it`, err);
  }
  return { eventId, deliveryIds: deliveries.map((d) => d.id) };
}
