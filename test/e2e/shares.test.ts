// Share links in real Chromium: the public page (no key) renders under its strict CSP with a
// matplotlib chart as an image, "Open in Phoenix" carries the code into the executor page, and the
// executor page lists a run's files, makes a share with its Share button and revokes it.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, createUser, launchChromium, screenshot } from "./browser.ts";
import { watchedPage } from "./page.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

describe("share page", () => {
  it("renders a stateful run's chart under its CSP, without a key, and opens the code in Phoenix", async () => {
    const user = await createUser(baseUrl, ownerToken, "e2e-share-chart");
    const code = [
      "import matplotlib.pyplot as plt",
      "from IPython.display import HTML, display",
      "plt.plot([1, 4, 2, 5])",
      "plt.title('shared chart')",
      "plt.show()",
      "display(HTML('<b id=\"bold\">html result</b>'))",
      "print('chart drawn')",
    ].join("\n");
    const run = await json<{ id: string; status: string; results: { type: string }[] }>(
      await api(baseUrl, user.apiKey, "/api/v1/executions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ language: "python", code, stateful: true, conversationId: "chart" }),
      }),
    );
    expect(run.status).toBe("succeeded");
    expect(run.results.map((r) => r.type)).toContain("image/png");
    const made = await json<{ url: string }>(
      await api(baseUrl, user.apiKey, `/api/v1/executions/${run.id}/shares`, { method: "POST" }),
    );

    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    try {
      const { page, problems } = await watchedPage(context);
      const res = await page.goto(made.url);
      expect(res?.status()).toBe(200);
      expect(res?.headers()["content-security-policy"]).toContain("default-src 'none'");
      expect(await page.locator("pre").first().textContent()).toContain("plt.plot([1, 4, 2, 5])");
      expect(await page.locator("pre.stdout").textContent()).toBe("chart drawn\n");
      const chart = page.locator('img[alt^="Result"]').first();
      await chart.waitFor();
      await expect
        .poll(() => chart.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), {
          timeout: 30_000,
        })
        .toBeGreaterThan(100);
      // The HTML result lives in a sandboxed frame.
      expect(await page.locator("iframe[sandbox]").count()).toBe(1);
      expect(await page.frameLocator("iframe[sandbox]").locator("#bold").textContent()).toBe("html result");
      await screenshot(page, "share-page-chart");
      expect(await page.evaluate("window.__cspViolations")).toEqual([]);
      expect(await problems()).toEqual([]);

      // "Open in Phoenix": the executor page, with the shared code in the Python editor.
      await page.click("#open-in-phoenix");
      await page.waitForSelector("html[data-ready]");
      expect(await page.inputValue("#panel-python textarea")).toBe(code);
      expect(new URL(page.url()).hash).toBe("");
    } finally {
      await context.close();
    }
  });

  it("lists a run's files under the result, shares it with the Share button and revokes it", async () => {
    const user = await createUser(baseUrl, ownerToken, "e2e-share-button");
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
    try {
      const { page, problems } = await watchedPage(context);
      await page.goto(baseUrl);
      await page.waitForSelector("html[data-ready]");
      await page.fill("#key-input", user.apiKey);
      await page.press("#key-input", "Enter");
      await page.locator("#key-saved").waitFor();
      await page.click("#tab-shell");
      await page.fill("#panel-shell textarea", "printf 'a,b\\n1,2\\n' > out.csv; echo wrote");
      await page.click("#run");
      await page.locator("#run-artifacts li", { hasText: "out.csv" }).waitFor({ timeout: 60_000 });
      expect(await page.locator("#run-artifacts li").textContent()).toContain("created");

      const download = page.waitForEvent("download");
      await page.locator("#run-artifacts li button", { hasText: "Download" }).click();
      const file = await download;
      expect(file.suggestedFilename()).toBe("out.csv");

      await page.click("#share-run");
      await page.locator("#share-link:not([hidden])").waitFor();
      const url = (await page.locator("#share-link").textContent()) ?? "";
      expect(url).toMatch(/\/s\/[A-Za-z0-9_-]{43}$/);
      expect(await page.evaluate("navigator.clipboard.readText()")).toBe(url);
      await page.locator("#shares-list li").first().waitFor();
      expect(await page.locator("#shares-list li").count()).toBe(1);
      await screenshot(page, "share-button");

      // The link opens, with the file, then no longer once revoked (two presses).
      const shared = await json<{ files: { path: string }[] }>(
        await fetch(url, { headers: { Accept: "application/json" } }),
      );
      expect(shared.files.map((f) => f.path)).toEqual(["out.csv"]);
      const revoke = page.locator("#shares-list li button", { hasText: "Revoke" });
      await revoke.click();
      await page.locator("#shares-list li button", { hasText: "Revoke?" }).click();
      await expect.poll(() => page.locator("#shares-list li").count(), { timeout: 30_000 }).toBe(0);
      expect((await fetch(url)).status).toBe(404);
      expect(await page.evaluate("window.__cspViolations")).toEqual([]);
      expect(await problems()).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
