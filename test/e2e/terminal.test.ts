// The Terminal tab in real Chromium against the whole local stack: xterm.js (vendored, under the page's
// strict CSP) over the terminal WebSocket to a shell in the conversation's sandbox; the terminal follows
// the window's size; a dropped connection (a TCP proxy the test cuts) comes back to the same shell.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cuttableProxy, launchChromium, screenshot } from "./browser.ts";
import { openPage } from "./page.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** The terminal's screen, one string per row, as xterm.js's DOM renderer shows it. */
function screenRows(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll(".xterm-rows > div")].map((row) => row.textContent.trimEnd())`);
}

/** Types a command into the terminal as a person would, and presses Enter. */
async function typeLine(page: Page, command: string): Promise<void> {
  await page.locator(".terminal-host").click();
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
}

/** Waits until a row of the screen reads exactly `line` (the command's output, not its echo). */
async function seeLine(page: Page, line: string): Promise<void> {
  await expect.poll(() => screenRows(page), { timeout: 20_000 }).toContain(line);
}

async function openTerminal(page: Page, status: RegExp): Promise<void> {
  await page.click("#tab-terminal");
  await page.locator("html[data-terminal='attached']").waitFor();
  await expect.poll(() => page.locator("#terminal-status").textContent()).toMatch(status);
}

describe("the Terminal tab", () => {
  it("runs what is typed in the conversation's shell, sized to the window, under the page's CSP", async () => {
    const s = await openPage(browser, baseUrl, ownerToken, "terminal");
    const { page } = s;
    try {
      await openTerminal(page, /^Connected to a shell in “default”/);
      expect(await page.locator("#run").isVisible()).toBe(false);
      await typeLine(page, "echo $((6*7))");
      await seeLine(page, "42");
      await screenshot(page, "terminal");

      // The PTY has the size xterm.js fitted to the panel, and follows the window when it shrinks.
      await typeLine(page, "echo size=$(stty size)");
      const sizeOf = async () =>
        (await screenRows(page))
          .filter((r) => /^size=\d+ \d+$/.test(r))
          .at(-1)
          ?.slice("size=".length);
      await expect.poll(sizeOf).toMatch(/^\d+ \d+$/);
      const wide = (await sizeOf()) as string;
      // A shorter window: the panel (46vh) loses rows.
      await page.setViewportSize({ width: 1280, height: 600 });
      await typeLine(page, "clear; echo size=$(stty size)");
      await expect.poll(async () => [undefined, wide].includes(await sizeOf())).toBe(false);
      const [rows, cols] = ((await sizeOf()) as string).split(" ").map(Number) as [number, number];
      const [wideRows, wideCols] = wide.split(" ").map(Number) as [number, number];
      expect(rows).toBeLessThan(wideRows);
      expect(cols).toBe(wideCols);

      // Back to an editor tab and again to the terminal: the same shell, still attached.
      await page.click("#tab-python");
      expect(await page.locator("#run").isVisible()).toBe(true);
      await page.click("#tab-terminal");
      await typeLine(page, "echo back-$((5+5))");
      await seeLine(page, "back-10");
      expect(await s.problems()).toEqual([]);
    } finally {
      await s.context.close();
    }
  });

  it("reconnects a dropped connection to the same shell on its own", async () => {
    const proxy = await cuttableProxy(new URL(baseUrl));
    const s = await openPage(browser, proxy.url, ownerToken, "terminal-drop");
    const { page } = s;
    try {
      await openTerminal(page, /^Connected to/);
      await typeLine(page, "export X=7; echo set-$((3*3))");
      await seeLine(page, "set-9");

      proxy.off();
      await expect.poll(() => page.locator("#terminal-status").textContent()).toMatch(/reconnecting/);
      proxy.on();
      await expect
        .poll(() => page.locator("#terminal-status").textContent(), { timeout: 30_000 })
        .toMatch(/^Reconnected to a shell in “default”/);
      // The recent output is replayed, then the shell answers with what the first connection set.
      await seeLine(page, "set-9");
      await typeLine(page, "echo x-is-$X");
      await seeLine(page, "x-is-7");
      await screenshot(page, "terminal-reconnected");
      expect(await s.problems()).toEqual([]);
    } finally {
      await s.context.close();
      await proxy.close();
    }
  });
});
