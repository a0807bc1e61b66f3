// /docs in real Chromium with every request outside the Worker's origin blocked: the API reference renders
// from the Worker's own assets (no CDN, no web fonts), under its CSP, from the served OpenAPI document.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, screenshot } from "./browser.ts";

const baseUrl = inject("baseUrl");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("/docs", () => {
  it("renders the API reference offline: every script and style from the Worker", { timeout: 240_000 }, async () => {
    const context = await browser.newContext();
    const origin = new URL(baseUrl).origin;
    const blocked: string[] = [];
    await context.route("**/*", async (route) => {
      const url = route.request().url();
      if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) return route.continue();
      blocked.push(url);
      return route.abort("internetdisconnected");
    });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) violations.push(message.text());
    });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));

    const fetched = page.waitForResponse((r) => r.url() === `${baseUrl}/api/openapi.json`, { timeout: 110_000 });
    // The bundle is 5 MB: on a loaded machine, loading it takes a while.
    const response = await page.goto(`${baseUrl}/docs`, { waitUntil: "domcontentloaded", timeout: 110_000 });
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    expect((await fetched).status()).toBe(200);
    // The served document's operations (by their summaries) and tags, rendered.
    await page.getByText("Run code", { exact: true }).first().waitFor({ timeout: 110_000 });
    for (const text of ["Stop a running execution", "sandboxes", "volume", "admin", "Models"]) {
      expect(await page.getByText(text, { exact: true }).count(), text).toBeGreaterThan(0);
    }
    await screenshot(page, "docs");

    expect(blocked, "requests to other origins").toEqual([]);
    expect(violations, "CSP violations").toEqual([]);
    expect(errors, "page errors").toEqual([]);
    await context.close();
  });

  it("serves the bundle it loads from the Worker's assets", async () => {
    const html = await (await fetch(`${baseUrl}/docs`)).text();
    const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toContain("/vendor/scalar/standalone.js");
    for (const src of scripts) {
      expect(src.startsWith("/"), src).toBe(true);
      const res = await fetch(`${baseUrl}${src}`);
      expect(res.status, src).toBe(200);
      expect(res.headers.get("Content-Type"), src).toMatch(/javascript/);
    }
  });
});
