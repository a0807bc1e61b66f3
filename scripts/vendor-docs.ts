// Copies the API reference's browser bundle (@scalar/api-reference, pinned by package-lock.json) into
// public/vendor/, where the Worker's static assets serve it to /docs: no CDN, works offline. `npm ci`
// and `npm install` run this (the `postinstall` script); the copy is not committed (.gitignore).
import { copyFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const BUNDLE_SOURCE = fileURLToPath(
  new URL("../node_modules/@scalar/api-reference/dist/browser/standalone.js", import.meta.url),
);
export const BUNDLE_TARGET = fileURLToPath(new URL("../public/vendor/scalar/standalone.js", import.meta.url));

await mkdir(dirname(BUNDLE_TARGET), { recursive: true });
await copyFile(BUNDLE_SOURCE, BUNDLE_TARGET);
