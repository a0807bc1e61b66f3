// The typed Phoenix client: openapi-fetch over the types generated from the OpenAPI document (client/api.ts),
// so every path, parameter, body and response is checked by the compiler against the API's contract.
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, paths } from "./api.ts";

export type { components, paths };
export type PhoenixClient = Client<paths>;
export type ExecutionResult = components["schemas"]["ExecutionResult"];

/** A client for the deployment at `baseUrl`, sending `token` (a user's API key or the owner token) as Bearer. */
export function createPhoenixClient(baseUrl: string, token: string | undefined, options: ClientOptions = {}) {
  return createClient<paths>({
    ...options,
    baseUrl,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(options.headers as object) },
  });
}
