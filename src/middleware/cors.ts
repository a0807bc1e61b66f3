// CORS for integrators' browser apps: only the origins listed in CORS_ALLOWED_ORIGINS (none by default).
// Preflights are answered here, before auth, since browsers never send credentials on them.
import type { MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import type { AppEnv } from "../types.ts";

/** Request headers a browser app may send: auth, JSON, ranges, conditional requests, uploads, streams. */
const ALLOW_HEADERS = [
  "Authorization",
  "Content-Type",
  "Accept",
  "Range",
  "If-Match",
  "If-None-Match",
  "If-Modified-Since",
  "If-Unmodified-Since",
  "Upload-Length",
  "X-Request-Id",
  "Last-Event-ID",
  "Prefer",
];

/** Response headers a browser app may read besides the CORS-safelisted ones. */
const EXPOSE_HEADERS = [
  "X-Request-Id",
  "ETag",
  "Content-Range",
  "Content-Length",
  "Content-Disposition",
  "Retry-After",
  "Server-Timing",
  "Location",
  // Which `Prefer` was honoured (`respond-async` → 202).
  "Preference-Applied",
];

/** The allowed origins from the var: comma- or space-separated, exact matches (`*` allows any). */
export function allowedOrigins(value: string | undefined): string[] {
  return (value ?? "")
    .split(/[\s,]+/)
    .map((origin) => origin.trim().replace(/\/+$/, ""))
    .filter(Boolean);
}

export const cors: MiddlewareHandler<AppEnv> = honoCors({
  origin: (origin, c) => {
    const allowed = allowedOrigins((c.env as Env).CORS_ALLOWED_ORIGINS);
    if (allowed.includes("*")) return "*";
    return allowed.includes(origin) ? origin : null;
  },
  allowMethods: ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"],
  allowHeaders: ALLOW_HEADERS,
  exposeHeaders: EXPOSE_HEADERS,
  maxAge: 600,
});
