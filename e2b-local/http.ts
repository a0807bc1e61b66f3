// Small HTTP helpers shared by the control-plane API and envd: an error that carries its HTTP
// status and JSON body, a JSON response, and a size-capped request body.
import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";

/** The largest JSON body accepted by the API and by envd's RPCs. */
export const MAX_RPC_BODY = 16 * 1024 * 1024;

/** Constant-time comparison of a presented secret (API key, access token) with the expected one. */
export function keyEquals(a: unknown, b: string): boolean {
  if (typeof a !== "string") return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class HttpError extends Error {
  status: number;
  body: unknown;
  constructor(status: number, body: unknown) {
    super(
      typeof body === "object" && body && "message" in body ? String((body as { message: unknown }).message) : "error",
    );
    this.status = status;
    this.body = body;
  }
}

/** An HttpError with the usual `{ code, message }` body. */
export const httpError = (status: number, message: string) => new HttpError(status, { code: status, message });

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": String(data.length), ...headers });
  res.end(data);
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveP, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(httpError(413, "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolveP(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
