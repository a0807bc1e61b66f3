// Gives every request an id, echoed in `X-Request-Id` and in every error body.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../types.ts";

export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("X-Request-Id");
  const id = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", id);
  await next();
  c.header("X-Request-Id", id);
});
