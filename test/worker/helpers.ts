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

/** Polls `check` (bounded: about 10 s) until it holds; for states the test cannot be told about. */
export async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/**
 * An execution that holds its slot and its sandbox until released: its code marks that it started,
 * then waits for a file the test writes through the API. No sleep decides when it ends.
 */
export async function gatedRun(
  key: string,
  conversationId: string,
): Promise<{ done: Promise<{ res: Response; json: any }>; release: () => Promise<void> }> {
  const gate = `/tmp/gate-${conversationId}`;
  const done = execute(key, {
    language: "shell",
    conversationId,
    code: `echo started; touch ${gate}.started; while [ ! -f ${gate}.go ]; do sleep 0.05; done; echo released`,
    timeoutMs: 30_000,
  });
  const fileOf = (path: string) => `/api/v1/sandboxes/${conversationId}/file?path=${encodeURIComponent(path)}`;
  await until(async () => (await call(fileOf(`${gate}.started`), { key })).status === 200, `${conversationId} started`);
  return {
    done,
    release: async () => {
      const res = await call(fileOf(`${gate}.go`), { key, method: "PUT", body: "go" });
      if (res.status !== 200) throw new Error(`releasing ${conversationId}: ${res.status} ${await res.text()}`);
    },
  };
}

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** Reads SSE events from a response body one at a time (null once the stream ends). */
export function sseReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(): Promise<SseEvent | null> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = frame.match(/^id: (.*)$/m)?.[1];
          const event = frame.match(/^event: (.*)$/m)?.[1] ?? "message";
          const data = JSON.parse(frame.match(/^data: (.*)$/m)?.[1] ?? "null");
          return { ...(id === undefined ? {} : { id }), event, data };
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buffer += value;
      }
    },
    cancel: () => reader.cancel(),
  };
}
