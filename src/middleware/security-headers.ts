// The security headers of every response: the API's are set by this middleware, the page's are written
// into public/_headers (which Workers static assets apply) by `npm run facts`, so both come from here.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../types.ts";

/** What neither the page nor the API needs from the browser: every powerful feature is off. */
const PERMISSIONS_POLICY = [
  "accelerometer",
  "autoplay",
  "camera",
  "display-capture",
  "geolocation",
  "gyroscope",
  "hid",
  "magnetometer",
  "microphone",
  "midi",
  "payment",
  "publickey-credentials-get",
  "screen-wake-lock",
  "serial",
  "usb",
  "xr-spatial-tracking",
]
  .map((feature) => `${feature}=()`)
  .join(", ");

const COMMON = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Permissions-Policy": PERMISSIONS_POLICY,
} as const;

/**
 * The executor page and its assets: scripts and styles only from the page's own files (no inline script,
 * handler or style attribute), requests only to its own origin, never framed, no HTML parsed from strings.
 */
export const PAGE_SECURITY_HEADERS = {
  "Content-Security-Policy": [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    // No DOM sink (innerHTML, insertAdjacentHTML…) takes a string: the page builds its nodes one by one.
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; "),
  "Cross-Origin-Opener-Policy": "same-origin",
  ...COMMON,
} as const;

/**
 * API responses are data, never documents: a body opened in a tab (a volume file saved as HTML, say)
 * loads nothing, runs nothing and gets a unique origin (`sandbox`).
 */
export const API_SECURITY_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox",
  ...COMMON,
} as const;

/** The share page (`/s/:token`) sets its own, page-shaped CSP; every other response gets the API's. */
const SELF_POLICED = /^\/s\/[^/]+$/;

export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  // A WebSocket upgrade has no body a browser could render, and its response must stay as built.
  if (c.res.status === 101) return;
  for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) {
    // A page the Worker renders itself (the share page, routes/shares.ts) brings its own policy.
    if (name === "Content-Security-Policy" && SELF_POLICED.test(c.req.path) && c.res.headers.has(name)) continue;
    c.header(name, value);
  }
});
