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
 * Whether a user has any enabled webhook, as their Durable Object last learned it from D1: while it
 * knows there is none, an event (one per run) costs no D1 read. Creating a webhook tells the object
 * (`UserSpace.webhookCreated`); disabling or deleting one only makes D1's answer smaller, so a stale
 * "some" costs one read, never a lost event.
 */
export class WebhookPresence {
  private none = false;
  /** Bumped by every creation, so a D1 answer read across one is not taken as "none". */
  private generation = 0;

  /** The ids of the user's enabled endpoints subscribed to `type`; [] without asking D1 when there are none. */
  async targets(env: Env, userId: string, type: WebhookEventType): Promise<string[]> {
    if (this.none) return [];
    const asked = this.generation;
    const endpoints = await enabledEndpoints(env, userId);
    if (endpoints.length === 0 && asked === this.generation) this.none = true;
    return endpoints.filter((w) => subscribes(w.events, type)).map((w) => w.id);
  }

  /** A webhook was created: D1 is asked again from the next event on. */
  created(): void {
    this.none = false;
    this.generation++;
  }
}

function enabledEndpoints(env: Env, userId: string): Promise<{ id: string; events: string }[]> {
  return getDb(env)
    .select({ id: webhooks.id, events: webhooks.events })
    .from(webhooks)
    .where(and(eq(webhooks.userId, userId), isNull(webhooks.disabledAt)));
}

/**
 * Emits an event to every endpoint of the user that subscribes to `type` (none: nothing is stored).
 * The event and its deliveries are in D1 before this returns; the attempts follow from the queue.
 * `presence` (the user's Durable Object's) spares the D1 read when the user has no webhook.
 */
export async function emitEvent(
  env: Env,
  userId: string,
  type: WebhookEventType,
  data: Record<string, unknown>,
  presence?: WebhookPresence,
): Promise<void> {
  const targets = presence
    ? await presence.targets(env, userId, type)
    : (await enabledEndpoints(env, userId)).filter((w) => subscribes(w.events, type)).map((w) => w.id);
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
