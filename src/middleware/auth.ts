// Resolves the caller before any route runs: a user's API key, or the owner's token.
import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { wrapTime } from "hono/timing";
import { hashApiKey, keyOwner, secretsEqual } from "../auth/keys.ts";
import { getDb } from "../db/index.ts";
import { unwrap } from "../durable/outcome.ts";
import { type UserSpaceStub, userSpace } from "../durable/stub.ts";
import { apiKeys, users } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv, AuthedUser } from "../types.ts";

function bearer(header: string | undefined): string {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match?.[1]) throw new ApiError("unauthorized", "Missing credentials: send `Authorization: Bearer <api key>`.");
  return match[1];
}

/** A caller and their Durable Object. */
interface Caller {
  user: AuthedUser;
  space: UserSpaceStub;
}

/**
 * The caller a valid, unrevoked API key stands for, or undefined. A key that names its user is checked
 * by that user's Durable Object (auth/key-book.ts), which the request goes on to use anyway; revoking
 * tells the object first, so a revoked key is refused from the next request on. Older keys: D1.
 */
async function callerOfKey(c: Context<AppEnv>, key: string): Promise<Caller | undefined> {
  const keyHash = await hashApiKey(key);
  const owner = keyOwner(key);
  if (owner) {
    const space = userSpace(c.env, owner);
    const outcome = await wrapTime(c, "auth", Promise.resolve(space.authenticate(keyHash)));
    const user: AuthedUser | null = unwrap(outcome);
    return user ? { user, space } : undefined;
  }
  const user = await wrapTime(
    c,
    "auth",
    getDb(c.env)
      .select({ id: users.id, name: users.name, keyId: apiKeys.id })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
      .get(),
  );
  return user ? { user, space: userSpace(c.env, user.id) } : undefined;
}

/** Every user route: a valid, unrevoked API key → `c.var.user`, and their Durable Object → `c.var.userSpace`. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const caller = await callerOfKey(c, bearer(c.req.header("Authorization")));
  if (!caller) throw new ApiError("unauthorized", "Invalid or revoked API key.");
  c.set("user", caller.user);
  c.set("userSpace", caller.space);
  await next();
});

/** Owner routes: `Authorization: Bearer <OWNER_TOKEN>`, compared in constant time. */
export const requireOwner = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
  if (!c.env.OWNER_TOKEN || !(await secretsEqual(token, c.env.OWNER_TOKEN))) {
    // A valid user key is a known caller without the right: 403, so a client can tell it from a typo.
    if (await callerOfKey(c, token)) {
      throw new ApiError("forbidden", "Owner routes need the owner token; a user API key cannot use them.");
    }
    throw new ApiError("unauthorized", "Invalid owner token.");
  }
  await next();
});
