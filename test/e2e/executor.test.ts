// The executor page in real Chromium against the whole local stack (e2b-local, D1, R2, wrangler dev):
// key entry, live streaming, tabs, copy, stats, Stop, rate-limit and bad-key messages, the volume,
// and history. Screenshots land in test-results/screenshots/.
import { readFile } from "node:fs/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, execute, launchChromium, screenshot } from "./browser.ts";

const baseUrl = inject("baseUrl");
const apiKey = inject("apiKey");

const PYTHON = [
  "import sys, time",
  'print("first line", flush=True)',
  'print("to stderr", file=sys.stderr, flush=True)',
  "time.sleep(1.5)",
  'print("second line")',
].join("\n");

let browser: Browser;
let context: BrowserContext;
let page: Page;

async function openPage(ctx: BrowserContext): Promise<Page> {
  const p = await ctx.newPage();
  p.on("pageerror", (err) => console.error(`[page error] ${err.message}`));
  await p.goto(baseUrl);
  await p.waitForSelector("html[data-ready]");
  return p;
}

async function signIn(p: Page, key: string): Promise<void> {
  await p.fill("#key-input", key);
  await p.press("#key-input", "Enter");
  await p.locator("#key-saved").waitFor();
}

/** Waits until the page is no longer running (Run enabled again). */
async function runFinished(p: Page): Promise<void> {
  await p.waitForFunction("!document.getElementById('run').disabled && document.getElementById('stop').disabled");
}

async function statTotal(p: Page): Promise<number> {
  const text = await p.locator('[data-stat="total"] dd').textContent({ timeout: 30_000 });
  return Number(text);
}

async function setCode(p: Page, language: string, code: string): Promise<void> {
  await p.click(`#tab-${language}`);
  await p.fill(`#panel-${language} textarea`, code);
}

beforeAll(async () => {
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  page = await openPage(context);
});

afterAll(async () => {
  await browser?.close();
});

describe("executor page", () => {
  it("serves everything from the Worker: no external requests", async () => {
    const p = await context.newPage();
    const external: string[] = [];
    p.on("request", (req) => {
      if (!req.url().startsWith(baseUrl) && !req.url().startsWith("data:") && !req.url().startsWith("blob:"))
        external.push(req.url());
    });
    await p.goto(baseUrl);
    await p.waitForSelector("html[data-ready]");
    await p.waitForLoadState("networkidle");
    await p.close();
    expect(external).toEqual([]);
  });

  it("tells a bad key clearly, and forgets it", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await openPage(ctx);
    await p.click("#run");
    await p.locator("#alert").waitFor();
    expect(await p.locator("#alert-message").textContent()).toContain("Enter your API key");
    expect(await p.evaluate("document.activeElement.id")).toBe("key-input");

    await signIn(p, "phx_not-a-real-key");
    const alert = p.locator("#alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("unauthorized");
    expect(await p.locator("#alert-title").textContent()).toBe("API key not accepted.");
    expect(await p.locator("#alert-message").textContent()).toContain("Invalid or revoked API key");
    expect(await p.locator("#alert-request").textContent()).toMatch(/^Request ID: \S+/);
    await screenshot(p, "bad-key");

    await p.click("#key-forget");
    await p.locator("#key-form").waitFor();
    expect(await alert.isHidden()).toBe(true);
    expect(await p.evaluate("localStorage.getItem('phoenix.apiKey')")).toBeNull();
    await ctx.close();
  });

  it("keeps the key in localStorage and loads stats, history and volume", async () => {
    await signIn(page, apiKey);
    expect(await page.evaluate("localStorage.getItem('phoenix.apiKey')")).toBe(apiKey);
    expect(await page.locator("#key-hint").textContent()).toBe(`${apiKey.slice(0, 4)}…${apiKey.slice(-4)}`);
    expect(await statTotal(page)).toBe(0);
    await page.reload();
    await page.waitForSelector("html[data-ready]");
    expect(await page.locator("#key-saved").isVisible()).toBe(true);
    expect(await statTotal(page)).toBe(0);
  });

  it("edits with line numbers, Tab indents and auto-indent", async () => {
    await page.click("#tab-python");
    const editor = page.locator("#panel-python textarea");
    await editor.fill("");
    await editor.pressSequentially("for i in range(2):");
    await editor.press("Enter");
    await editor.pressSequentially("print(i)");
    await editor.press("Enter");
    await editor.press("Shift+Tab");
    await editor.pressSequentially("x = 1");
    await editor.press("Enter");
    await editor.press("Tab");
    expect(await editor.inputValue()).toBe("for i in range(2):\n    print(i)\nx = 1\n    ");
    expect(await page.locator("#panel-python .gutter").textContent()).toBe("1\n2\n3\n4\n");
    // Esc then Tab leaves the editor instead of indenting.
    await editor.press("Escape");
    await editor.press("Tab");
    expect(await editor.inputValue()).toBe("for i in range(2):\n    print(i)\nx = 1\n    ");
    expect(await page.evaluate("document.activeElement?.tagName")).not.toBe("TEXTAREA");
  });

  let pythonRunId = "";

  it("streams Python output in steps, stdout apart from stderr, and updates the stats", async () => {
    const before = await statTotal(page);
    await setCode(page, "python", PYTHON);
    // Record what the output showed, and whether the run was still going, at every change.
    await page.evaluate(`(() => {
      window.__snapshots = [];
      const out = document.getElementById("output");
      const stop = document.getElementById("stop");
      new MutationObserver(() => window.__snapshots.push({ text: out.textContent, running: !stop.disabled }))
        .observe(out, { childList: true, subtree: true, characterData: true });
    })()`);
    await page.click("#run");
    await page.locator("#output", { hasText: "first line" }).waitFor();
    expect(await page.locator("#run-status").getAttribute("class")).toContain("running");
    await runFinished(page);

    const snapshots = (await page.evaluate("window.__snapshots")) as { text: string; running: boolean }[];
    const early = snapshots.find((s) => s.text.includes("first line"));
    expect(early, "the first line was shown while the run was in progress").toMatchObject({ running: true });
    expect(early!.text).not.toContain("second line");

    expect(await page.locator("#output .stderr").allTextContents()).toEqual(["to stderr\n"]);
    expect((await page.locator("#output .stdout").allTextContents()).join("")).toBe("first line\nsecond line\n");
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    expect(await page.locator("#fact-exit").textContent()).toBe("0");
    expect(await page.locator("#fact-duration").textContent()).toMatch(/\d+(\.\d+)? (ms|s)$/);
    expect(await page.locator("#run-status").textContent()).toMatch(/^Succeeded in /);
    expect(await page.locator("#truncated").isHidden()).toBe(true);
    pythonRunId = (await page.locator("#fact-id").textContent()) ?? "";
    expect(pythonRunId).toMatch(/^exe_/);

    await expect.poll(() => statTotal(page)).toBe(before + 1);
    expect(await page.locator('.lang-table tr[data-language="python"] td').first().textContent()).toBe("1");
    await page.locator(`.history-item[data-id="${pythonRunId}"]`).waitFor();
    await screenshot(page, "desktop-python");
  });

  it("switches to Shell from the keyboard, runs with Ctrl+Enter and copies the output", async () => {
    const before = await statTotal(page);
    await page.focus("#tab-python");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    expect(await page.getAttribute("#tab-shell", "aria-selected")).toBe("true");
    expect(await page.evaluate("document.activeElement.id")).toBe("tab-shell");
    expect(await page.locator("#panel-shell").isVisible()).toBe(true);
    expect(await page.locator("#panel-python").isHidden()).toBe(true);

    const editor = page.locator("#panel-shell textarea");
    await editor.fill('echo "shell says hi"\necho "line two"\nexit 3');
    await editor.press("Control+Enter");
    await page.locator("#run-facts").waitFor();
    await runFinished(page);
    expect(await page.locator("#fact-status").textContent()).toBe("Failed");
    expect(await page.locator("#fact-exit").textContent()).toBe("3");
    expect(await page.locator("#run-status").textContent()).toContain("Failed with exit code 3");

    await page.click("#copy");
    await expect.poll(() => page.locator("#copy-label").textContent()).toBe("Copied");
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe("shell says hi\nline two\n");
    await expect.poll(() => statTotal(page)).toBe(before + 1);
    expect(await page.locator('.lang-table tr[data-language="shell"] td').first().textContent()).toBe("1");
  });

  it("refuses a bad conversation id before sending anything", async () => {
    const status = await page.locator("#run-status").textContent();
    await page.fill("#conversation", "bad id!");
    expect(await page.getAttribute("#conversation", "aria-invalid")).toBe("true");
    expect(await page.locator("#conversation-error").textContent()).toContain("letters, digits");
    await page.click("#run");
    expect(await page.locator("#run-status").textContent()).toBe(status);
    expect(await page.evaluate("document.activeElement.id")).toBe("conversation");
    await page.fill("#conversation", "default");
    expect(await page.getAttribute("#conversation", "aria-invalid")).toBe("false");
    expect(await page.locator("#conversation-error").isHidden()).toBe(true);
  });

  it("shows a rate limit with its Retry-After when the user's runs are all busy", async () => {
    // Fill every concurrent slot with runs that end by their own timeout.
    const busy = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const res = await api(baseUrl, apiKey, "/api/v1/executions", {
          method: "POST",
          headers: { Accept: "text/event-stream", "Content-Type": "application/json" },
          body: JSON.stringify({ language: "shell", code: "sleep 30", conversationId: "e2e-busy", timeoutMs: 6000 }),
        });
        expect(res.status).toBe(200);
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        while (!seen.includes("event: start")) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += value;
        }
        return reader;
      }),
    );
    await setCode(page, "python", 'print("hello")');
    await page.click("#run");
    await runFinished(page);
    const alert = page.locator("#alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("rate_limited");
    expect(await page.locator("#alert-title").textContent()).toBe("Rate limited.");
    expect(await page.locator("#alert-message").textContent()).toMatch(/Try again in \d+ seconds?\./);
    expect(await page.locator("#fact-status").textContent()).toBe("Error");
    await screenshot(page, "rate-limited");
    await page.click("#alert-close");
    expect(await alert.isHidden()).toBe(true);

    // Let the busy runs finish (they time out) before going on.
    await Promise.all(
      busy.map(async (reader) => {
        while (!(await reader.read()).done);
      }),
    );
  });

  it("Stop cancels the run on the server and leaves the page ready for the next run", async () => {
    await page.fill("#conversation", "e2e-stop");
    await setCode(page, "python", 'import time\nprint("tick", flush=True)\ntime.sleep(20)\nprint("never shown")');
    await page.click("#run");
    await page.locator("#output", { hasText: "tick" }).waitFor();
    expect(await page.locator("#stop").isEnabled()).toBe(true);
    await page.click("#stop");
    await runFinished(page);
    expect(await page.locator("#fact-status").textContent()).toBe("Cancelled");
    expect(await page.locator("#run-status").textContent()).toMatch(/^Cancelled after/);
    const out = await page.locator("#output").textContent();
    expect(out).toContain("tick");
    expect(out).not.toContain("never shown");
    // The server stopped the code and recorded it as cancelled, long before its 20 s sleep ended.
    const history = (await (
      await api(baseUrl, apiKey, "/api/v1/executions?conversationId=e2e-stop&limit=1")
    ).json()) as { items: { status: string }[] };
    expect(history.items[0]).toMatchObject({ status: "cancelled" });
    expect(await page.locator("#alert").isHidden()).toBe(true);
    await page.fill("#conversation", "default");
  });

  it("uploads, downloads and deletes a volume file", async () => {
    await page.reload();
    await page.waitForSelector("html[data-ready]");
    await page.locator("#volume-usage").waitFor();

    const content = `hello from the e2e test\n${"x".repeat(2048)}\n`;
    await page.setInputFiles("#upload-input", {
      name: "e2e-notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from(content),
    });
    const row = page.locator('#volume-files li[data-file="e2e-notes.txt"]');
    await row.waitFor();
    expect(await row.locator(".file-size").textContent()).toBe("2.0 KB");
    await expect.poll(() => page.locator("#volume-usage").textContent()).toContain("1 file");
    expect(await page.getAttribute("#volume-body [role=progressbar]", "aria-valuetext")).toMatch(/used$/);
    await screenshot(page, "volume");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("button", { name: "Download e2e-notes.txt" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("e2e-notes.txt");
    expect(await readFile((await download.path())!, "utf8")).toBe(content);

    await row.getByRole("button", { name: "Delete e2e-notes.txt" }).click();
    await row.getByRole("button", { name: "Confirm deleting e2e-notes.txt" }).click();
    await row.waitFor({ state: "detached" });
    await expect.poll(() => page.locator("#volume-usage").textContent()).toContain("0 files");
    expect((await api(baseUrl, apiKey, "/api/v1/volume/files/e2e-notes.txt")).status).toBe(404);
  });

  it("brings back a history entry's code, language and output", async () => {
    await setCode(page, "python", "# something else");
    await page.click("#tab-node");
    await page.click(`.history-item[data-id="${pythonRunId}"]`);
    expect(await page.getAttribute("#tab-python", "aria-selected")).toBe("true");
    expect(await page.locator("#panel-python textarea").inputValue()).toBe(PYTHON);
    expect(await page.inputValue("#conversation")).toBe("default");
    expect((await page.locator("#output .stdout").allTextContents()).join("")).toBe("first line\nsecond line\n");
    expect(await page.locator("#output .stderr").allTextContents()).toEqual(["to stderr\n"]);
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    expect(await page.locator("#fact-id").textContent()).toBe(pythonRunId);
    expect(await page.getAttribute(`.history-item[data-id="${pythonRunId}"]`, "aria-current")).toBe("true");
    await screenshot(page, "desktop-history");
  });

  it("pages the history newest first with Load more", async () => {
    for (let i = 0; i < 16; i++)
      await execute(baseUrl, apiKey, { language: "shell", code: `echo bulk-${i}`, conversationId: "e2e-bulk" });
    await page.click("#history-refresh");
    await expect.poll(() => page.locator(".history-item").count()).toBe(15);
    const first = await page.locator(".history-item .history-code").first().textContent();
    expect(first).toBe("echo bulk-15");
    const more = page.locator("#history-more");
    expect(await more.isVisible()).toBe(true);
    await more.click();
    await expect.poll(() => page.locator(".history-item").count()).toBeGreaterThan(15);
    const ids = await page.locator(".history-item").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
    expect(new Set(ids).size).toBe(ids.length);
  });

  // Faults the local stack cannot produce on demand (E2B down, a full volume, a build without the
  // volume API) are answered by the browser itself, in the API's error shape, to check the messages.
  it("explains sandbox errors, a full volume and a missing volume API", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await openPage(ctx);
    const apiError = (status: number, code: string, message: string) => ({
      status,
      contentType: "application/json",
      headers: { "X-Request-Id": "req-e2e" },
      body: JSON.stringify({ error: { code, message, requestId: "req-e2e" } }),
    });
    await p.route("**/api/v1/executions", (route) =>
      route.request().method() === "POST"
        ? route.fulfill(apiError(502, "sandbox_unavailable", "Could not start a sandbox: E2B is unreachable."))
        : route.continue(),
    );
    await p.route("**/api/v1/volume/files/**", (route) =>
      route.request().method() === "PUT"
        ? route.fulfill(apiError(507, "quota_exceeded", "This upload would take the volume past its 100 MiB quota."))
        : route.continue(),
    );
    await signIn(p, apiKey);
    await p.locator("#volume-usage").waitFor();

    await setCode(p, "shell", "echo hi");
    await p.click("#run");
    await runFinished(p);
    expect(await p.getAttribute("#alert", "data-code")).toBe("sandbox_unavailable");
    expect(await p.locator("#alert-title").textContent()).toBe("Sandbox unavailable.");
    expect(await p.locator("#alert-message").textContent()).toContain("E2B is unreachable");
    expect(await p.locator("#alert-request").textContent()).toBe("Request ID: req-e2e");
    expect(await p.locator("#fact-status").textContent()).toBe("Error");

    await p.setInputFiles("#upload-input", {
      name: "big.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(16),
    });
    await expect.poll(() => p.getAttribute("#alert", "data-code")).toBe("quota_exceeded");
    expect(await p.locator("#alert-title").textContent()).toBe("Volume quota exceeded.");
    await screenshot(p, "quota-exceeded");

    await p.route("**/api/v1/volume", (route) =>
      route.fulfill(apiError(404, "not_found", "No route GET /api/v1/volume.")),
    );
    await p.reload();
    await p.waitForSelector("html[data-ready]");
    await p.locator("#volume-body", { hasText: "not available on this server yet" }).waitFor();
    expect(await p.locator("#upload-label").isHidden()).toBe(true);
    expect(await p.locator("#alert").isHidden()).toBe(true);
    await ctx.close();
  });

  it("runs Node on a phone screen (390 px) without sideways scrolling", async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p = await openPage(ctx);
    await signIn(p, apiKey);
    await setCode(p, "node", 'console.log("hello from a phone");\nconsole.error("a warning");');
    await p.click("#run");
    await p.locator("#run-facts").waitFor();
    await runFinished(p);
    expect(await p.locator("#fact-status").textContent()).toBe("Succeeded");
    expect((await p.locator("#output .stdout").allTextContents()).join("")).toBe("hello from a phone\n");
    expect(await p.locator("#output .stderr").allTextContents()).toEqual(["a warning\n"]);
    expect(await p.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(p, "phone");
    await ctx.close();
  });
});
