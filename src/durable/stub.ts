// The typed stub of a user's Durable Object; the only way routes reach it.
import type { UserSpace } from "./user-space.ts";

export function userSpace(env: Env, userId: string): DurableObjectStub<UserSpace> {
  return env.USER_SPACE.get(env.USER_SPACE.idFromName(userId));
}
