// Per-request variables shared by middleware and routes.
export interface AuthedUser {
  id: string;
  name: string;
  keyId: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    user: AuthedUser;
  };
}
