// Small HTTP helpers shared by the control-plane API and envd: secret comparison, a JSON response,
// an error response, and a size-capped request body.
import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { httpError } from "./errors.ts";
import type { ServerError } from "./errors.ts";

/** The largest JSON body accepted by the API and by envd's RPCs. */
export const MAX_RPC_BODY = 16 * 1024 * 1024;

/** Constant-time comparison of a presented secret (API key, access token) with the expected one. */
export function keyEquals(a: unknown, b: string): boolean {
  if (typeof a !== "string") return false;
  const presented = Buffer.from(a);
  const expected = Buffer.from(b);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

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

/** A ServerError as the plain HTTP parts answer it (E2B's API and envd's /files): `{ code: status, message }`. */
export function sendError(res: ServerResponse, e: ServerError): void {
  sendJson(res, e.status, { code: e.status, message: e.message });
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveP, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(httpError(413, "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolveP(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
