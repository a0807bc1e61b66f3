// The page recovers a run whose connection drops: Chromium talks to the stack through a TCP proxy the
// test can cut (every open connection reset, new ones refused) and restore, while the run goes on.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createUser, cuttableProxy, gatedShell, launchChromium, openGate, screenshot } from "./browser.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe("a dropped connection", () => {
  it("is resumed by the page, which then shows the run's complete output once", async () => {
    const proxy = await cuttableProxy(new URL(baseUrl));
    const user = await createUser(baseUrl, ownerToken, "e2e-reconnect");
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (err) => problems.push(err.message));
      await page.goto(proxy.url);
      await page.waitForSelector("html[data-ready]");
      await page.fill("#key-input", user.apiKey);
      await page.press("#key-input", "Enter");
      await page.locator("#key-saved").waitFor();
      await page.fill("#conversation", "reconnect");
      await page.click("#tab-shell");
      await page.fill("#panel-shell textarea", `echo first\n${gatedShell("/tmp/gate-reconnect", "second")}`);
      await page.click("#run");
      await page.locator("#output .stdout", { hasText: "first" }).waitFor();

      proxy.off();
      await page.locator("#run-status", { hasText: "Connection lost" }).waitFor();
      // The run goes on without its client: release it while the page is offline.
      await openGate(baseUrl, user.apiKey, "reconnect", "/tmp/gate-reconnect");
      proxy.on();

      await page.locator("html:has(#run:enabled):has(#stop:disabled)").waitFor();
      await screenshot(page, "reconnect-recovered");
      expect((await page.locator("#output .stdout").allTextContents()).join("")).toBe("first\nsecond\n");
      expect(await page.locator("#run-status").textContent()).toMatch(/^Succeeded in /);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await proxy.close();
    }
  });
});
