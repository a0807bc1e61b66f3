// A webhook receiver for the tests: real HTTP endpoints on 127.0.0.1 that verify each request's
// Standard Webhooks signature with the `standardwebhooks` package, driven over a small control API
// (the worker tests run in workerd, which cannot listen; they reach this Node server by fetch).
//   POST /hooks {statuses?}          → {id, url}: a new endpoint on its own port
//   PUT  /hooks/:id/secret {secret}  the signing secret to verify with
//   PUT  /hooks/:id/statuses [..]    statuses to answer in turn (the last one repeats; default 200)
//   POST /hooks/:id/down | /up       stop listening (connections refused) / listen again, same port
//   GET  /hooks/:id/received         every request: {webhookId, verified, error?, payload, answered}
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type { Received } from "./webhook-received.ts";

declare module "vitest" {
  export interface ProvidedContext {
    webhookReceiverUrl: string;
  }
}

interface Hook {
  id: string;
  port: number;
  server: Server;
  secret?: string;
  statuses: number[];
  received: Received[];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startWebhookReceiver(): Promise<{ url: string; close: () => Promise<void> }> {
  const hooks = new Map<string, Hook>();
  let next = 0;

  const endpoint = (hook: Hook) => async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const headers = {
      "webhook-id": String(req.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
    };
    let verified = false;
    let error: string | undefined;
    let payload: unknown;
    try {
      if (!hook.secret) throw new Error("the receiver has no secret yet");
      payload = new Webhook(hook.secret).verify(body, headers);
      verified = true;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      try {
        payload = JSON.parse(body);
      } catch {
        payload = body;
      }
    }
    const answered = hook.statuses.length > 1 ? hook.statuses.shift()! : (hook.statuses[0] ?? 200);
    hook.received.push({
      webhookId: req.headers["webhook-id"] as string | undefined,
      timestamp: req.headers["webhook-timestamp"] as string | undefined,
      signature: req.headers["webhook-signature"] as string | undefined,
      verified,
      ...(error ? { error } : {}),
      payload,
      answered,
    });
    res.writeHead(answered, { "Content-Type": "text/plain" }).end(answered < 300 ? "ok" : "not now");
  };

  const json = (res: ServerResponse, status: number, value: unknown) =>
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));

  const control = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const parts = (req.url ?? "/").split("?")[0]!.split("/").filter(Boolean);
      if (req.method === "POST" && parts.length === 1 && parts[0] === "hooks") {
        const id = `hook${++next}`;
        const hook: Hook = { id, port: 0, server: createServer(), statuses: [200], received: [] };
        const options = body ? (JSON.parse(body) as { statuses?: number[] }) : {};
        if (options.statuses?.length) hook.statuses = [...options.statuses];
        hook.server.on("request", endpoint(hook));
        hook.port = await listen(hook.server, 0);
        hooks.set(id, hook);
        return json(res, 201, { id, url: `http://127.0.0.1:${hook.port}/hook` });
      }
      const hook = parts[0] === "hooks" ? hooks.get(parts[1] ?? "") : undefined;
      if (!hook) return json(res, 404, { error: "no such hook" });
      const action = `${req.method} ${parts[2]}`;
      if (action === "PUT secret") hook.secret = (JSON.parse(body) as { secret: string }).secret;
      else if (action === "PUT statuses") hook.statuses = JSON.parse(body) as number[];
      else if (action === "POST down") await close(hook.server);
      else if (action === "POST up") {
        hook.server = createServer(endpoint(hook));
        await listen(hook.server, hook.port);
      } else if (action === "GET received") return json(res, 200, hook.received);
      else return json(res, 404, { error: `no action ${action}` });
      return json(res, 200, { ok: true });
    } catch (err) {
      return json(res, 500, { error: String(err) });
    }
  });
  const port = await listen(control, 0);
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await Promise.all([...hooks.values()].map((h) => (h.server.listening ? close(h.server) : undefined)));
      await close(control);
    },
  };
}

/** vitest globalSetup for the `worker` project. */
export default async function ({ provide }: { provide: (key: "webhookReceiverUrl", value: string) => void }) {
  const receiver = await startWebhookReceiver();
  provide("webhookReceiverUrl", receiver.url);
  return receiver.close;
}
