// The Worker entry: the Hono app, the cron jobs, and the Durable Object class.
import { createApp } from "./app.ts";
import { runScheduled } from "./cron.ts";

export { UserSpace } from "./durable/user-space.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(env, controller.cron, controller.scheduledTime));
  },
} satisfies ExportedHandler<Env>;
