// Users' webhook endpoints and their deliveries in D1, as the API shows them: always scoped to the
// user (someone else's id is a 404), and never with the signing secret, which only creation returns.
import { and, count, desc, eq, inArray, lt } from "drizzle-orm";
import { getDb } from "../db/index.ts";
import { webhookAttempts, webhookDeliveries, webhookEvents, webhooks } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { newId } from "../ids.ts";
import { sealSecret, newSigningSecret } from "./secrets.ts";
import { checkTarget } from "./targets.ts";

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  createdAt: string;
  /** Set when the receiver answered 410 Gone; nothing more is sent. */
  disabledAt: string | null;
  disabledReason: string | null;
}

export interface AttemptView {
  attempt: number;
  /** The receiver's HTTP status, or null when there was no answer (see `error`). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: string;
}

export interface DeliveryView {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: "pending" | "succeeded" | "failed";
  attemptCount: number;
  /** When the next automatic attempt is due; null once the delivery ended. */
  nextRetryAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** Every attempt, oldest first. */
  attempts: AttemptView[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function view(row: typeof webhooks.$inferSelect): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    description: row.description,
    createdAt: new Date(row.createdAt).toISOString(),
    disabledAt: iso(row.disabledAt),
    disabledReason: row.disabledReason,
  };
}

/** Creates an endpoint; the only time its signing secret is returned. */
export async function createWebhook(
  env: Env,
  userId: string,
  body: { url: string; events: string[]; description?: string | undefined },
  maxPerUser: number,
): Promise<WebhookView & { secret: string }> {
  const url = checkTarget(env, body.url);
  const db = getDb(env);
  const [existing] = await db.select({ n: count() }).from(webhooks).where(eq(webhooks.userId, userId));
  if ((existing?.n ?? 0) >= maxPerUser) {
    throw new ApiError(
      "conflict",
      `At most ${maxPerUser} webhook endpoints per user; delete one (DELETE /api/v1/webhooks/:id) first.`,
    );
  }
  const id = newId("whk");
  const secret = newSigningSecret();
  const row = {
    id,
    userId,
    url,
    events: JSON.stringify(body.events),
    description: body.description ?? null,
    secret: await sealSecret(env, id, secret),
    createdAt: Date.now(),
    disabledAt: null,
    disabledReason: null,
  };
  await db.insert(webhooks).values(row);
  return { ...view(row), secret };
}

export async function listWebhooks(env: Env, userId: string): Promise<WebhookView[]> {
  const rows = await getDb(env)
    .select()
    .from(webhooks)
    .where(eq(webhooks.userId, userId))
    .orderBy(desc(webhooks.createdAt));
  return rows.map(view);
}

export async function getWebhook(env: Env, userId: string, id: string): Promise<WebhookView> {
  const [row] = await getDb(env)
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)));
  if (!row) throw new ApiError("not_found", `No webhook ${id}.`);
  return view(row);
}

/** Deletes an endpoint with its deliveries and their attempts (events no delivery needs go with them). */
export async function deleteWebhook(env: Env, userId: string, id: string): Promise<void> {
  await getWebhook(env, userId, id);
  const db = getDb(env);
  const ids = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, id));
  const events = await db
    .select({ id: webhookDeliveries.eventId })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, id));
  await db.batch([
    db.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ids)),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhookId, id)),
    db.delete(webhooks).where(eq(webhooks.id, id)),
  ]);
  await deleteUnusedEvents(
    env,
    events.map((e) => e.id),
  );
}

async function deleteUnusedEvents(env: Env, eventIds: string[]): Promise<void> {
  const db = getDb(env);
  for (let i = 0; i < eventIds.length; i += 50) {
    const chunk = eventIds.slice(i, i + 50);
    const used = await db
      .select({ id: webhookDeliveries.eventId })
      .from(webhookDeliveries)
      .where(inArray(webhookDeliveries.eventId, chunk));
    const unused = chunk.filter((id) => !used.some((u) => u.id === id));
    if (unused.length) await db.delete(webhookEvents).where(inArray(webhookEvents.id, unused));
  }
}

/** A user's enabled endpoint, or a 404 (someone else's, unknown) / 409 (disabled). */
export async function enabledWebhook(env: Env, userId: string, id: string): Promise<WebhookView> {
  const hook = await getWebhook(env, userId, id);
  if (hook.disabledAt) throw new ApiError("conflict", `Webhook ${id} is disabled (${hook.disabledReason}).`);
  return hook;
}

/** The endpoint's deliveries, newest first, each with its attempts; `cursor` is the last id of the previous page. */
export async function listDeliveries(
  env: Env,
  userId: string,
  webhookId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
  await getWebhook(env, userId, webhookId);
  const db = getDb(env);
  const where = [eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.userId, userId)];
  if (page.cursor) where.push(lt(webhookDeliveries.id, page.cursor));
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(and(...where))
    .orderBy(desc(webhookDeliveries.id))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const shown = rows.slice(0, page.limit);
  const items = await withAttempts(env, shown);
  return { items, nextCursor: more ? (shown.at(-1)?.id ?? null) : null };
}

export async function getDelivery(
  env: Env,
  userId: string,
  webhookId: string,
  deliveryId: string,
): Promise<DeliveryView> {
  const [row] = await getDb(env)
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.id, deliveryId),
        eq(webhookDeliveries.webhookId, webhookId),
        eq(webhookDeliveries.userId, userId),
      ),
    );
  if (!row) throw new ApiError("not_found", `No delivery ${deliveryId} of webhook ${webhookId}.`);
  const [delivery] = await withAttempts(env, [row]);
  return delivery!;
}

async function withAttempts(env: Env, rows: (typeof webhookDeliveries.$inferSelect)[]): Promise<DeliveryView[]> {
  if (rows.length === 0) return [];
  const attempts = await getDb(env)
    .select()
    .from(webhookAttempts)
    .where(
      inArray(
        webhookAttempts.deliveryId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(webhookAttempts.attempt);
  return rows.map((r) => ({
    id: r.id,
    webhookId: r.webhookId,
    eventId: r.eventId,
    eventType: r.eventType,
    status: r.status,
    attemptCount: r.attempts,
    nextRetryAt: r.status === "pending" ? iso(r.nextAttemptAt) : null,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    attempts: attempts
      .filter((a) => a.deliveryId === r.id)
      .map((a) => ({
        attempt: a.attempt,
        statusCode: a.statusCode,
        error: a.error,
        durationMs: a.durationMs,
        at: new Date(a.at).toISOString(),
      })),
  }));
}

/** Statements that erase everything webhooks keep for a user (for the owner's user deletion batch). */
export function webhookErasure(db: ReturnType<typeof getDb>, userId: string) {
  const deliveries = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.userId, userId));
  return [
    db.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveries)),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.userId, userId)),
    db.delete(webhookEvents).where(eq(webhookEvents.userId, userId)),
    db.delete(webhooks).where(eq(webhooks.userId, userId)),
  ] as const;
}
