// Delivering webhooks: the queue consumer makes one attempt per message (signed, 10 s timeout, no
// redirects), records it, and on a non-2xx answer or a network error enqueues the next attempt with
// exponential backoff and jitter for 24 hours. The cron re-enqueues deliveries whose message was lost.
import { and, eq, lt } from "drizzle-orm";
import { getDb } from "../db/index.ts";
import { webhookAttempts, webhookDeliveries, webhookEvents, webhooks } from "../db/schema.ts";
import { type DeliveryMessage, newLease } from "./events.ts";
import { openSecret, signPayload } from "./secrets.ts";

/** A receiver gets this long to answer. */
export const ATTEMPT_TIMEOUT_MS = 10_000;
/** Retries go on this long after the event (so at least 24 h of them), then the delivery is `failed`. */
export const RETRY_WINDOW_MS = 24 * 3_600_000;
/** The backoff stops doubling at an hour. */
const MAX_DELAY_SECONDS = 3_600;
/** An attempt's claim: if its Worker dies mid-attempt, the cron sees the delivery overdue after this. */
const CLAIM_MS = 60_000;
/** How late a pending delivery must be before the cron assumes its queue message was lost. */
const OVERDUE_MS = 5 * 60_000;

/** The first retry delay (WEBHOOK_RETRY_BASE_SECONDS, default 30; tests shorten it). */
function retryBaseSeconds(env: Env): number {
  const n = Number(env.WEBHOOK_RETRY_BASE_SECONDS);
  return Number.isFinite(n) && n >= 1 ? n : 30;
}

/** Seconds before attempt `attempt + 1`: base·2^(attempt−1), capped, with "equal jitter" (half fixed, half random). */
export function backoffSeconds(attempt: number, baseSeconds: number, random = Math.random()): number {
  const ceiling = Math.min(MAX_DELAY_SECONDS, baseSeconds * 2 ** Math.min(attempt - 1, 20));
  return Math.max(1, Math.ceil(ceiling / 2 + (random * ceiling) / 2));
}

/** The queue consumer: each message is one attempt; only a crash of this code leaves a message unacked. */
export async function consumeDeliveries(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await attemptDelivery(env, message.body);
        message.ack();
      } catch (err) {
        console.error(`webhooks: attempt of ${message.body.deliveryId} failed to run`, err);
        message.retry({ delaySeconds: retryBaseSeconds(env) });
      }
    }),
  );
}

/** Sends a delivery's next attempt, if `lease` still is its lease (else a newer message owns it). */
export async function attemptDelivery(env: Env, { deliveryId, lease }: DeliveryMessage): Promise<void> {
  const db = getDb(env);
  const claimedAt = Date.now();
  // Claim it: a second message for the same delivery (a manual retry racing a scheduled one, a
  // message redelivered by the queue) finds the lease changed and stops here.
  const [delivery] = await db
    .update(webhookDeliveries)
    .set({ lease: newLease(), nextAttemptAt: claimedAt + CLAIM_MS, updatedAt: claimedAt })
    .where(
      and(
        eq(webhookDeliveries.id, deliveryId),
        eq(webhookDeliveries.lease, lease),
        eq(webhookDeliveries.status, "pending"),
      ),
    )
    .returning();
  if (!delivery) return;
  const [[endpoint], [event]] = await Promise.all([
    db.select().from(webhooks).where(eq(webhooks.id, delivery.webhookId)),
    db.select().from(webhookEvents).where(eq(webhookEvents.id, delivery.eventId)),
  ]);
  if (!endpoint || !event || endpoint.disabledAt !== null) {
    // Deleted or disabled since: nothing to send it to.
    await db
      .update(webhookDeliveries)
      .set({ status: "failed", lease: null, nextAttemptAt: null, updatedAt: Date.now() })
      .where(eq(webhookDeliveries.id, deliveryId));
    return;
  }
  const secret = await openSecret(env, endpoint.id, endpoint.secret);
  const attempt = delivery.attempts + 1;
  const timestamp = Math.floor(Date.now() / 1000);
  const started = Date.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(endpoint.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "Phoenix-Webhooks/1",
        "webhook-id": event.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await signPayload(secret, event.id, timestamp, event.payload),
      },
      body: event.payload,
      // A redirect is a failure (Standard Webhooks): following it could lead anywhere, even inside.
      redirect: "manual",
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    statusCode = res.status;
    await res.body?.cancel();
  } catch (err) {
    error =
      err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")
        ? `timed out after ${ATTEMPT_TIMEOUT_MS / 1000} s`
        : `network error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500);
  }
  const now = Date.now();
  const record = db
    .insert(webhookAttempts)
    .values({ deliveryId, attempt, statusCode, error, durationMs: now - started, at: started })
    .onConflictDoNothing();
  const ended = { attempts: attempt, lease: null, nextAttemptAt: null, updatedAt: now };
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) {
    await db.batch([
      record,
      db
        .update(webhookDeliveries)
        .set({ ...ended, status: "succeeded" })
        .where(eq(webhookDeliveries.id, deliveryId)),
    ]);
    return;
  }
  if (statusCode === 410) {
    // 410 Gone: the receiver asks for no more (Standard Webhooks); the endpoint is disabled.
    await db.batch([
      record,
      db
        .update(webhookDeliveries)
        .set({ ...ended, status: "failed" })
        .where(eq(webhookDeliveries.id, deliveryId)),
      db
        .update(webhooks)
        .set({ disabledAt: now, disabledReason: "the receiver answered 410 Gone" })
        .where(eq(webhooks.id, endpoint.id)),
    ]);
    return;
  }
  if (now - delivery.createdAt >= RETRY_WINDOW_MS) {
    await db.batch([
      record,
      db
        .update(webhookDeliveries)
        .set({ ...ended, status: "failed" })
        .where(eq(webhookDeliveries.id, deliveryId)),
    ]);
    return;
  }
  const delaySeconds = backoffSeconds(attempt, retryBaseSeconds(env));
  const next = { deliveryId, lease: newLease() } satisfies DeliveryMessage;
  await db.batch([
    record,
    db
      .update(webhookDeliveries)
      .set({ attempts: attempt, lease: next.lease, nextAttemptAt: now + delaySeconds * 1000, updatedAt: now })
      .where(eq(webhookDeliveries.id, deliveryId)),
  ]);
  // If this send is lost, the delivery is overdue soon and the cron re-enqueues it.
  await env.WEBHOOK_QUEUE.send(next, { delaySeconds }).catch((err: unknown) => {
    console.error(`webhooks: the queue refused the retry of ${deliveryId}; the cron will enqueue it`, err);
  });
}

/** Makes a delivery's next attempt now (the retry button): pending again, a fresh lease, enqueued. */
export async function retryNow(env: Env, deliveryId: string): Promise<void> {
  const now = Date.now();
  const lease = newLease();
  await getDb(env)
    .update(webhookDeliveries)
    .set({ status: "pending", lease, nextAttemptAt: now, updatedAt: now })
    .where(eq(webhookDeliveries.id, deliveryId));
  await env.WEBHOOK_QUEUE.send({ deliveryId, lease } satisfies DeliveryMessage);
}

/**
 * The cron's pass: pending deliveries long past their next attempt lost their queue message (the
 * queue refused it, or a Worker died mid-attempt); each gets a fresh lease and a new message.
 */
export async function sweepDeliveries(env: Env, now: number): Promise<number> {
  const db = getDb(env);
  const overdue = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, "pending"), lt(webhookDeliveries.nextAttemptAt, now - OVERDUE_MS)))
    .limit(500);
  for (const { id } of overdue) {
    const lease = newLease();
    await db
      .update(webhookDeliveries)
      .set({ lease, nextAttemptAt: now, updatedAt: now })
      .where(eq(webhookDeliveries.id, id));
    await env.WEBHOOK_QUEUE.send({ deliveryId: id, lease } satisfies DeliveryMessage);
  }
  return overdue.length;
}
