// The executor page's code interpreter in real Chromium against the whole local stack: the Keep variables
// switch, variables kept across runs and lost after Restart, a matplotlib chart drawn as a decoded image,
// an HTML result only inside a sandboxed frame, and an exception with its traceback. All under the page's CSP.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, screenshot } from "./browser.ts";
import { openPage, type PageSession, runCode } from "./page.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

let browser: Browser;
let s: PageSession;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  s = await openPage(browser, baseUrl, ownerToken, "interpreter");
  page = s.page;
  await page.fill("#conversation", "notebook");
});

afterAll(async () => {
  await browser?.close();
});

/** What an <img> says about its decoding (this file is checked without the DOM library). */
type Decoded = { complete: boolean; naturalWidth: number; naturalHeight: number };

/** The text of the main result (`Out [n]`) shown under the output. */
async function mainResult(p: Page): Promise<string> {
  return (await p.locator("#results figure.result.main pre").textContent()) ?? "";
}

describe("code interpreter on the page", () => {
  it("shows Keep variables on for Python and Node, hides it for Shell, and remembers it", async () => {
    await page.click("#tab-python");
    expect(await page.locator("#interp-controls").isVisible()).toBe(true);
    expect(await page.locator("#keep-vars").isChecked()).toBe(true);
    await page.click("#tab-node");
    expect(await page.locator("#keep-vars").isChecked()).toBe(true);
    await page.click("#tab-shell");
    expect(await page.locator("#interp-controls").isHidden()).toBe(true);

    await page.click("#tab-node");
    await page.locator("label[for=keep-vars]").click();
    expect(await page.locator("#keep-vars").isChecked()).toBe(false);
    await page.reload();
    await page.waitForSelector("html[data-ready]");
    expect(await page.locator("#tab-node").getAttribute("aria-selected")).toBe("true");
    expect(await page.locator("#keep-vars").isChecked()).toBe(false);
    await page.click("#tab-python");
    expect(await page.locator("#keep-vars").isChecked()).toBe(true);
    await page.click("#tab-node");
    await page.locator("label[for=keep-vars]").click();
    expect(await page.locator("#keep-vars").isChecked()).toBe(true);
    await page.fill("#conversation", "notebook");
  });

  it("keeps variables across runs with the switch on, and not with it off", async () => {
    await runCode(page, "python", "x = 41");
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    await runCode(page, "python", "x + 1");
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    expect(await mainResult(page)).toBe("42");

    await runCode(page, "node", "globalThis.n = 20;");
    await runCode(page, "node", "n * 2 + 2");
    expect(await mainResult(page)).toBe("42");

    // Off: the same code runs as a fresh process, where x was never set.
    await page.click("#tab-python");
    await page.locator("label[for=keep-vars]").click();
    await runCode(page, "python", "print(x + 1)");
    expect(await page.locator("#fact-status").textContent()).toBe("Failed");
    expect(await page.locator("#output").textContent()).toContain("NameError");
    expect(await page.locator("#results").isHidden()).toBe(true);
    await page.locator("label[for=keep-vars]").click();
    expect(await page.locator("#keep-vars").isChecked()).toBe(true);
  });

  it("draws a matplotlib chart as an image the browser decoded", async () => {
    await runCode(
      page,
      "python",
      [
        "import matplotlib",
        "matplotlib.use('module://matplotlib_inline.backend_inline')",
        "import matplotlib.pyplot as plt",
        "plt.plot([1, 2, 3], [2, 4, 3])",
        "plt.title('e2e chart')",
        "plt.show()",
      ].join("\n"),
    );
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    const img = page.locator('#results figure[data-type="image/png"] img');
    await img.waitFor();
    expect(await img.getAttribute("src")).toMatch(/^blob:/);
    await expect
      .poll(() => img.evaluate((node) => (node as Decoded).complete && (node as Decoded).naturalWidth), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    expect(await img.evaluate((node) => (node as Decoded).naturalHeight)).toBeGreaterThan(0);
    await screenshot(page, "interpreter-chart");
  });

  it("shows an HTML result only inside a sandboxed frame, never in the page", async () => {
    const marker = "pwned-by-result";
    await runCode(
      page,
      "python",
      [
        "import pandas as pd",
        "from IPython.display import HTML, display",
        `display(HTML("<p id='from-result'>hello</p><script>parent.document.title = '${marker}'; document.title = '${marker}'</script>"))`,
        "pd.DataFrame({'city': ['Paris', 'Oslo'], 'temp': [21, 12]})",
      ].join("\n"),
    );
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    const frames = page.locator('#results figure[data-type="text/html"] iframe');
    await frames.nth(1).waitFor();
    expect(await frames.count()).toBe(2);
    for (const frame of await frames.all()) {
      expect(await frame.getAttribute("sandbox")).toBe("");
      expect(await frame.getAttribute("src")).toMatch(/^blob:/);
    }
    // The table is in the frame's document, and nothing of either result is in the page's own.
    const table = page.frameLocator('#results figure.main[data-type="text/html"] iframe').locator("table");
    await table.locator("td", { hasText: "Paris" }).waitFor();
    expect(await page.locator("table.dataframe, #from-result").count()).toBe(0);
    const shown = page.frameLocator('#results figure:not(.main)[data-type="text/html"] iframe').locator("#from-result");
    await shown.waitFor();
    // Its script never ran: neither the frame's nor the page's title changed.
    expect(await page.title()).not.toContain(marker);
    expect(await shown.evaluate((node) => node.ownerDocument.title)).not.toContain(marker);
    await screenshot(page, "interpreter-html");
  });

  it("shows an exception with its traceback, colours as classes and no escape codes", async () => {
    await runCode(page, "python", "def divide(a, b):\n    return a / b\n\ndivide(1, 0)");
    expect(await page.locator("#fact-status").textContent()).toBe("Failed");
    const error = page.locator("#results .result-error");
    expect(await error.locator(".result-error-title").textContent()).toBe("ZeroDivisionError: division by zero");
    const traceback = (await error.locator(".traceback").textContent()) ?? "";
    expect(traceback).toContain("divide(1, 0)");
    expect(traceback).toContain("return a / b");
    expect(traceback).not.toContain("\u001b");
    expect(await error.locator(".traceback span[class^=ansi-]").count()).toBeGreaterThan(0);
    expect(await page.locator("#run-status").textContent()).toMatch(/raised an exception/);
    // The kernel survived the exception: earlier variables are still there.
    await runCode(page, "python", "x");
    expect(await mainResult(page)).toBe("41");
  });

  it("Restart clears the conversation's variables for the language, and says so", async () => {
    await runCode(page, "python", "kept = 'still here'");
    await runCode(page, "python", "kept");
    expect(await mainResult(page)).toBe("still here");
    const restart = page.locator("#restart");
    await page.locator("#restart:enabled").waitFor();
    await restart.click();
    await page.locator("#restart-status", { hasText: "restarted" }).waitFor();
    await runCode(page, "python", "kept");
    expect(await page.locator("#fact-status").textContent()).toBe("Failed");
    expect(await page.locator("#results .result-error-title").textContent()).toMatch(/^NameError/);
    // Node's context was not restarted with Python's.
    await runCode(page, "node", "n");
    expect(await mainResult(page)).toBe("20");
  });

  it("Stop interrupts a stateful run and the variables survive it", async () => {
    await runCode(page, "python", "survivor = 7");
    await page.fill(
      "#panel-python textarea",
      "import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.05)",
    );
    await page.click("#run");
    await page.locator("#output", { hasText: "looping" }).waitFor();
    await page.click("#stop");
    await page.locator("html:has(#run:enabled):has(#stop:disabled)").waitFor();
    expect(await page.locator("#fact-status").textContent()).toBe("Cancelled");
    await runCode(page, "python", "survivor * 6");
    expect(await mainResult(page)).toBe("42");
  });

  it("runs afresh, saying why, where the conversation's sandbox cannot keep variables", async () => {
    // A shell run starts a plain sandbox, which the API refuses stateful runs in (409).
    await page.fill("#conversation", "plain");
    await runCode(page, "shell", "echo plain");
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    await runCode(page, "python", "print('still runs')");
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    const output = (await page.locator("#output").textContent()) ?? "";
    expect(output).toContain("[variables not kept: Conversation 'plain' already has a");
    expect(output).toContain("still runs");
    expect(await page.locator("#alert").isHidden()).toBe(true);
    await page.fill("#conversation", "notebook");
  });

  it("ended without a CSP violation or a page error", async () => {
    expect(await s.problems()).toEqual([]);
  });
});
