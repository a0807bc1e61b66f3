// Resolves the caller before any route runs: a user's API key, or the owner's token.
import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { wrapTime } from "hono/timing";
import { hashApiKey, secretsEqual } from "../auth/keys.ts";
import { getDb } from "../db/index.ts";
import { userSpace } from "../durable/stub.ts";
import { apiKeys, users } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv, AuthedUser } from "../types.ts";

function bearer(header: string | undefined): string {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match?.[1]) throw new ApiError("unauthorized", "Missing credentials: send `Authorization: Bearer <api key>`.");
  return match[1];
}

/** The user a valid, unrevoked API key belongs to, or undefined. */
async function userOfKey(c: Context<AppEnv>, key: string): Promise<AuthedUser | undefined> {
  const keyHash = await hashApiKey(key);
  return wrapTime(
    c,
    "auth",
    getDb(c.env)
      .select({ id: users.id, name: users.name, keyId: apiKeys.id })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
      .get(),
  );
}

/** Every user route: a valid, unrevoked API key → `c.var.user`, and their Durable Object → `c.var.userSpace`. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const row = await userOfKey(c, bearer(c.req.header("Authorization")));
  if (!row) throw new ApiError("unauthorized", "Invalid or revoked API key.");
  c.set("user", row);
  c.set("userSpace", userSpace(c.env, row.id));
  await next();
});

/** Owner routes: `Authorization: Bearer <OWNER_TOKEN>`, compared in constant time. */
export const requireOwner = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
  if (!c.env.OWNER_TOKEN || !(await secretsEqual(token, c.env.OWNER_TOKEN))) {
    // A valid user key is a known caller without the right: 403, so a client can tell it from a typo.
    if (await userOfKey(c, token)) {
      throw new ApiError("forbidden", "Owner routes need the owner token; a user API key cannot use them.");
    }
    throw new ApiError("unauthorized", "Invalid owner token.");
  }
  await next();
});
