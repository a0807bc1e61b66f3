// Copies the browser files the Worker serves from its own static assets into public/vendor/ (no CDN,
// works offline), from the npm packages package-lock.json pins: the API reference's bundle
// (@scalar/api-reference, for /docs) and the web terminal's xterm.js with its fit addon (the executor
// page). `npm ci` and `npm install` run this (the `postinstall` script); the copies are not committed.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const from = (path: string) => fileURLToPath(new URL(`../node_modules/${path}`, import.meta.url));
const to = (path: string) => fileURLToPath(new URL(`../public/vendor/${path}`, import.meta.url));

/** Source in node_modules → target under public/vendor/ (served as /vendor/…). */
export const VENDORED: [string, string][] = [
  [from("@scalar/api-reference/dist/browser/standalone.js"), to("scalar/standalone.js")],
  [from("@xterm/xterm/lib/xterm.mjs"), to("xterm/xterm.mjs")],
  [from("@xterm/xterm/css/xterm.css"), to("xterm/xterm.css")],
  [from("@xterm/addon-fit/lib/addon-fit.mjs"), to("xterm/addon-fit.mjs")],
];

for (const [source, target] of VENDORED) {
  await mkdir(dirname(target), { recursive: true });
  await copyFile(source, target);
}
