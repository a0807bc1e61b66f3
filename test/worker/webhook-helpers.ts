// Drives the test webhook receiver (test/setup/webhook-receiver.ts) and makes endpoints pointing at it.
import { env } from "cloudflare:test";
import type { Received } from "../setup/webhook-received.ts";
import { call } from "./helpers.ts";

export type { Received };

export interface ReceiverHook {
  id: string;
  url: string;
  received: () => Promise<Received[]>;
  statuses: (statuses: number[]) => Promise<void>;
  down: () => Promise<void>;
  up: () => Promise<void>;
}

async function control(path: string, method: string, body?: unknown): Promise<Response> {
  const res = await fetch(`${env.WEBHOOK_RECEIVER_URL}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`receiver ${method} ${path}: ${res.status} ${await res.text()}`);
  return res;
}

/** A fresh endpoint on the receiver (its own port), answering `statuses` in turn (default 200). */
export async function receiverHook(statuses?: number[]): Promise<ReceiverHook> {
  const { id, url } = (await (await control("/hooks", "POST", { statuses })).json()) as { id: string; url: string };
  return {
    id,
    url,
    received: async () => (await (await control(`/hooks/${id}/received`, "GET")).json()) as Received[],
    statuses: async (list) => void (await control(`/hooks/${id}/statuses`, "PUT", list)),
    down: async () => void (await control(`/hooks/${id}/down`, "POST")),
    up: async () => void (await control(`/hooks/${id}/up`, "POST")),
  };
}

/** A receiver endpoint registered as the user's webhook, the receiver knowing its secret. */
export async function subscribedHook(
  key: string,
  options: { statuses?: number[]; events?: string[] } = {},
): Promise<{ hook: ReceiverHook; webhook: { id: string; url: string; secret: string; events: string[] } }> {
  const hook = await receiverHook(options.statuses);
  const res = await call("/api/v1/webhooks", {
    key,
    json: { url: hook.url, ...(options.events ? { events: options.events } : {}) },
  });
  if (res.status !== 201) throw new Error(`creating a webhook: ${res.status} ${await res.text()}`);
  const webhook = (await res.json()) as { id: string; url: string; secret: string; events: string[] };
  await control(`/hooks/${hook.id}/secret`, "PUT", { secret: webhook.secret });
  return { hook, webhook };
}

/** Polls `check` until it returns a value (bounded: about `seconds`), for what arrives by queue. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, seconds = 30): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
