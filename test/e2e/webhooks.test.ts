// The webhooks panel in real Chromium against the whole local stack (wrangler dev runs the queue):
// add an endpoint, its secret shown once with Copy, a run's delivery failing at a real receiver on
// 127.0.0.1, then Retry delivering it with the same webhook-id and a valid signature.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startWebhookReceiver } from "../setup/webhook-receiver.ts";
import type { Received } from "../setup/webhook-received.ts";
import { createUser, execute, launchChromium, screenshot } from "./browser.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

let browser: Browser;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  browser = await launchChromium();
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
});

async function control(path: string, method: string, body?: unknown): Promise<Response> {
  const res = await fetch(`${receiver.url}${path}`, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) throw new Error(`receiver ${method} ${path}: ${res.status}`);
  return res;
}

describe("webhooks panel", () => {
  it("adds an endpoint, shows its secret once, lists deliveries and retries one", async () => {
    const user = await createUser(baseUrl, ownerToken, "e2e-webhooks");
    const hook = (await (await control("/hooks", "POST", { statuses: [500, 200] })).json()) as {
      id: string;
      url: string;
    };
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(baseUrl);
    await page.waitForSelector("html[data-ready]");
    await page.fill("#key-input", user.apiKey);
    await page.press("#key-input", "Enter");
    await page.locator("#key-saved").waitFor();
    await page.locator("#webhooks-empty", { hasText: "No endpoints yet." }).waitFor();

    await page.fill("#webhook-url", hook.url);
    await page.click("#webhook-form button[type=submit]");
    await page.locator("#webhook-secret-box").waitFor();
    const secret = (await page.textContent("#webhook-secret")) ?? "";
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    await page.locator(`[data-webhook] .webhook-url`, { hasText: hook.url }).waitFor();
    await page.click("#webhook-secret-copy");
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(secret);
    await control(`/hooks/${hook.id}/secret`, "PUT", { secret });
    await screenshot(page, "webhooks-secret");
    await page.click("#webhook-secret-done");
    expect(await page.isHidden("#webhook-secret-box")).toBe(true);

    // A run's event reaches the receiver, which answers 500 the first time.
    await execute(baseUrl, user.apiKey, { language: "shell", code: "echo hooked" });
    const failed = page.locator('.delivery[data-status="pending"]', { hasText: "HTTP 500" });
    for (let i = 0; i < 100 && !(await failed.count()); i++) {
      await page.click("#webhooks-refresh");
      await page.waitForTimeout(300);
    }
    await failed.waitFor({ timeout: 5_000 });
    await failed.locator('[data-action="retry"]').click();
    const succeeded = page.locator('.delivery[data-status="succeeded"]', { hasText: "execution.completed" });
    for (let i = 0; i < 100 && !(await succeeded.count()); i++) {
      await page.click("#webhooks-refresh");
      await page.waitForTimeout(300);
    }
    await succeeded.waitFor({ timeout: 5_000 });
    await screenshot(page, "webhooks-deliveries");

    const received = (await (await control(`/hooks/${hook.id}/received`, "GET")).json()) as Received[];
    expect(received.map((r) => r.answered)).toEqual([500, 200]);
    expect(received[1]!.webhookId).toBe(received[0]!.webhookId);
    expect(received[1]!.verified, received[1]!.error).toBe(true);
    expect(received[1]!.payload).toMatchObject({ type: "execution.completed", data: { stdout: "hooked\n" } });

    // The secret is nowhere on the page once dismissed, even after a reload.
    await page.reload();
    await page.waitForSelector("html[data-ready]");
    await page.locator("[data-webhook]").waitFor();
    expect(await page.content()).not.toContain(secret.slice(6));
    expect(errors).toEqual([]);
    await context.close();
  });
});
