// Per-request variables shared by middleware and routes.
import type { TimingVariables } from "hono/timing";

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
  };
}
