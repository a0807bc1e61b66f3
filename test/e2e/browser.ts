// Shared by the browser tests: Debian's Chromium through playwright-core, headless and root-safe,
// plus small helpers for the stack's API (users, runs, gate files), screenshots, and a cuttable network.
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { createConnection, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const SCREENSHOTS = join(process.cwd(), "test-results", "screenshots");

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** One headless Chromium; `--no-sandbox` because CI runs as root. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves a full-page screenshot as a test artifact in test-results/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: "disabled" });
}

/** Calls the API as a user (for setting up state the page then shows). */
export async function api(baseUrl: string, apiKey: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${apiKey}`);
  return fetch(`${baseUrl}${path}`, { ...init, headers });
}

/** Runs code through the JSON API and returns the result. */
export async function execute(
  baseUrl: string,
  apiKey: string,
  body: { language: string; code: string; conversationId?: string; timeoutMs?: number },
): Promise<{ id: string; status: string }> {
  const res = await api(baseUrl, apiKey, "/api/v1/executions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`execute: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; status: string };
}

/** A new user with a fresh API key, made through the owner API (each test has its own). */
export async function createUser(
  baseUrl: string,
  ownerToken: string,
  name: string,
): Promise<{ id: string; apiKey: string }> {
  const res = await api(baseUrl, ownerToken, "/api/v1/admin/users", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`creating a user: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; apiKey: string };
}

/**
 * Shell code that waits until `path` exists in its sandbox, then prints `after`: it holds its run (and its
 * concurrency slot) for exactly as long as a test wants, without relying on how long anything takes.
 */
export function gatedShell(path: string, after = ""): string {
  return `while [ ! -e ${path} ]; do sleep 0.05; done${after ? `\necho ${after}` : ""}`;
}

/** Creates `path` in a conversation's sandbox through the API, releasing the code waiting for it. */
export async function openGate(baseUrl: string, apiKey: string, conversationId: string, path: string): Promise<void> {
  const res = await api(baseUrl, apiKey, `/api/v1/sandboxes/${conversationId}/file?path=${encodeURIComponent(path)}`, {
    method: "PUT",
    body: "go",
  });
  if (!res.ok) throw new Error(`opening the gate ${path}: ${res.status} ${await res.text()}`);
}

/** A loopback TCP proxy to the stack whose network can be switched off (connections reset) and on. */
export async function cuttableProxy(target: URL) {
  const open = new Set<Socket>();
  let offline = false;
  const server = createServer((client) => {
    if (offline) return client.resetAndDestroy();
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    off() {
      offline = true;
      for (const s of open) s.resetAndDestroy();
    },
    on() {
      offline = false;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
