// Per-request variables shared by middleware and routes.
import type { TimingVariables } from "hono/timing";
import type { UserSpaceStub } from "./durable/stub.ts";

export interface AuthedUser {
  id: string;
  name: string;
  keyId: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: TimingVariables & {
    requestId: string;
    user: AuthedUser;
    /** The caller's Durable Object (set with `user`): every route reaches the user's state through it. */
    userSpace: UserSpaceStub;
  };
}
