// The schedules panel in real Chromium against the whole local stack: schedule the editor's code (cron in
// the browser's time zone, or once at a time), see the next and last run, run now, disable/enable, delete,
// and a bad cron expression shown as the API's message.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { api, createUser, launchChromium, screenshot } from "./browser.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

let browser: Browser;
let context: BrowserContext | undefined;

beforeAll(async () => {
  browser = await launchChromium();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser?.close();
});

/** A signed-in page whose browser lives in Europe/Paris; page errors are collected. */
async function open(name: string): Promise<{ page: Page; user: { apiKey: string }; problems: string[] }> {
  const user = await createUser(baseUrl, ownerToken, `e2e-${name}`);
  context = await browser.newContext({ viewport: { width: 1280, height: 1400 }, timezoneId: "Europe/Paris" });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(err.message));
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) problems.push(m.text());
  });
  await page.goto(baseUrl);
  await page.waitForSelector("html[data-ready]");
  await page.fill("#key-input", user.apiKey);
  await page.press("#key-input", "Enter");
  await page.locator("#key-saved").waitFor();
  return { page, user, problems };
}

async function schedules(apiKey: string): Promise<any[]> {
  const res = await api(baseUrl, apiKey, "/api/v1/schedules");
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: any[] }).items;
}

describe("schedules panel", () => {
  it("schedules the editor's code, shows next and last run, runs now, disables, enables and deletes", async () => {
    const { page, user, problems } = await open("schedules");
    await expect.poll(() => page.inputValue("#schedule-timezone")).toBe("Europe/Paris");
    await page.click("#tab-shell");
    await page.fill("#panel-shell textarea", "echo from-the-panel");
    await page.fill("#conversation", "nightly");
    await page.fill("#schedule-name", "new year");
    await page.fill("#schedule-cron", "0 0 1 1 *");
    await page.click("#schedule-create");

    const item = page.locator(".schedule", { hasText: "new year" });
    await item.waitFor();
    await expect.poll(() => item.locator(".schedule-when").textContent()).toBe("0 0 1 1 * · Europe/Paris");
    const [made] = await schedules(user.apiKey);
    expect(made).toMatchObject({
      name: "new year",
      language: "shell",
      code: "echo from-the-panel",
      conversationId: "nightly",
      cron: "0 0 1 1 *",
      timezone: "Europe/Paris",
      enabled: true,
      lastRun: null,
    });
    // Midnight on 1 January in Paris is 23:00 UTC the day before.
    expect(made.nextRunAt).toMatch(/-12-31T23:00:00\.000Z$/);
    expect(await item.locator(".schedule-next").textContent()).not.toBe("—");
    expect(await item.locator(".schedule-last").textContent()).toBe("never");

    await item.getByRole("button", { name: "Run now" }).click();
    await item.locator(".schedule-last .badge.succeeded").waitFor({ timeout: 60_000 });
    const [ran] = await schedules(user.apiKey);
    expect(ran.lastRun).toMatchObject({ status: "succeeded" });
    // The run is an execution like any other: it shows in the history panel.
    await page.locator(`.history-item[data-id="${ran.lastRun.executionId}"]`).waitFor();
    await screenshot(page, "schedules-panel");

    await item.getByRole("button", { name: "Disable" }).click();
    await expect.poll(() => item.locator(".schedule-state").textContent()).toBe("Disabled");
    expect(await item.locator(".schedule-next").textContent()).toBe("—");
    expect((await schedules(user.apiKey))[0]).toMatchObject({ enabled: false, nextRunAt: null });
    await item.getByRole("button", { name: "Enable" }).click();
    await expect.poll(() => item.locator(".schedule-state").textContent()).toBe("Enabled");
    expect((await schedules(user.apiKey))[0].nextRunAt).toBe(made.nextRunAt);

    await item.getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => page.locator(".schedule").count()).toBe(0);
    expect(await schedules(user.apiKey)).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("schedules once at a time in the browser's zone, and shows a bad cron's message", async () => {
    const { page, user, problems } = await open("schedules-once");
    await page.click("#tab-python");
    await page.fill("#panel-python textarea", "print('once')");
    await page.selectOption("#schedule-kind", "at");
    expect(await page.isVisible("#schedule-cron")).toBe(false);
    await page.fill("#schedule-at", "2099-06-01T09:30");
    await page.click("#schedule-create");
    await page.locator(".schedule").waitFor();
    const [once] = await schedules(user.apiKey);
    // 09:30 in Paris in June (UTC+2).
    expect(once).toMatchObject({
      at: "2099-06-01T07:30:00.000Z",
      cron: null,
      language: "python",
      code: "print('once')",
    });
    expect(once.nextRunAt).toBe(once.at);

    await page.selectOption("#schedule-kind", "cron");
    await page.fill("#schedule-cron", "61 * * * *");
    await page.click("#schedule-create");
    await page.locator("#alert:not([hidden])").waitFor();
    expect(await page.textContent("#alert-message")).toContain("cron: ");
    expect(await schedules(user.apiKey)).toHaveLength(1);
    expect(problems).toEqual([]);
  });
});
