// The Worker entry: the Hono app, the cron jobs, and the Durable Object class.
import { createApp } from "./app.ts";
import { runScheduled } from "./cron.ts";
import { consumeDeliveries } from "./webhooks/delivery.ts";
import type { DeliveryMessage } from "./webhooks/events.ts";

export { UserSpace } from "./durable/user-space.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(env, controller.cron, controller.scheduledTime));
  },
  // Webhook attempts (the phoenix-webhooks queue, sent by this Worker itself).
  queue(batch, env) {
    return consumeDeliveries(batch as MessageBatch<DeliveryMessage>, env);
  },
} satisfies ExportedHandler<Env>;
