// Calls the Worker as a client would, and makes users through the owner API.
import { env, SELF } from "cloudflare:test";

export const OWNER_TOKEN = env.OWNER_TOKEN;

export interface CallOptions {
  key?: string;
  method?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

export function call(path: string, opts: CallOptions = {}): Promise<Response> {
  const headers = new Headers(opts.headers);
  if (opts.key) headers.set("Authorization", `Bearer ${opts.key}`);
  let body = opts.body;
  if (opts.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(opts.json);
  }
  return SELF.fetch(`https://phoenix.test${path}`, { method: opts.method ?? (body ? "POST" : "GET"), headers, body });
}

export async function createUser(name = "tester"): Promise<{ id: string; apiKey: string; keyId: string }> {
  const res = await call("/api/v1/admin/users", { key: OWNER_TOKEN, json: { name } });
  if (res.status !== 201) throw new Error(`creating a user: ${res.status} ${await res.text()}`);
  return res.json();
}

export type { ExecutionResult as ExecutionBody } from "../../src/executions/types.ts";

export async function execute(key: string, body: Record<string, unknown>): Promise<{ res: Response; json: any }> {
  const res = await call("/api/v1/executions", { key, json: body });
  return { res, json: await res.json() };
}

export interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}
