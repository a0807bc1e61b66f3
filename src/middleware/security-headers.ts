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
    // The web terminal (public/js/terminal.js): xterm.js appends empty <style> elements and fills them; the page
    // fills them through the CSSOM instead, so the one inline style block allowed is the empty one (this is
    // the SHA-256 of ""). Style attributes stay refused (style-src).
    "style-src-elem 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    // Rich results of stateful runs: images (PNG, SVG…) drawn from blob: URLs the page makes from the
    // result's bytes (an <img> runs no script, even from SVG), and HTML results only as a blob: document
    // in an <iframe sandbox> (a unique origin, no script): `srcdoc` would need a Trusted Types policy.
    "img-src 'self' blob:",
    "frame-src blob:",
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

/** The API reference page (src/routes/docs.ts). */
export const DOCS_PAGE_PATH = "/docs";

/**
 * The /docs page (src/routes/docs.ts): the vendored API reference needs inline styles and builds its DOM
 * from strings, so it gets neither of the executor page's two strictest rules; scripts, requests, images
 * and fonts still come only from this origin (no CDN, no telemetry).
 */
export const DOCS_SECURITY_HEADERS = {
  "Content-Security-Policy": [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
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
  // The pages the Worker renders: /docs gets the docs policy; a share page (routes/shares.ts) brings its
  // own. Everything else (a stored HTML file too) is data.
  const page = c.req.path === DOCS_PAGE_PATH && c.res.headers.get("Content-Type")?.startsWith("text/html");
  for (const [name, value] of Object.entries(page ? DOCS_SECURITY_HEADERS : API_SECURITY_HEADERS)) {
    if (name === "Content-Security-Policy" && SELF_POLICED.test(c.req.path) && c.res.headers.has(name)) continue;
    c.header(name, value);
  }
});
