// The executor page's Files panel and Packages box in real Chromium against the whole local stack: a file
// uploaded through the panel (picker and drag and drop) is read by code, its output file is listed and
// downloaded, folders open; a local npm package installs with its output shown, a registry one is refused.
import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, launchChromium, screenshot } from "./browser.ts";
import { openPage, type PageSession, runCode } from "./page.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");
const CONVERSATION = "files-e2e";

let browser: Browser;
let s: PageSession;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  s = await openPage(browser, baseUrl, ownerToken, "files");
  page = s.page;
  await page.fill("#conversation", CONVERSATION);
  await page.press("#conversation", "Enter");
  await page.locator("#conversation").blur();
});

afterAll(async () => {
  await browser?.close();
});

const entry = (p: Page, name: string) => p.locator(`#sandbox-files li[data-path="/home/user/${name}"]`);

describe("Files panel and Packages box", () => {
  it("says there is no sandbox yet, then uploads a file picked and one dropped", async () => {
    await page.locator("#sandbox-files-note", { hasText: `No sandbox for “${CONVERSATION}” yet` }).waitFor();

    await page.setInputFiles("#sandbox-upload-input", {
      name: "data.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("city,temp\nParis,21\nOslo,12\n"),
    });
    await entry(page, "data.csv").waitFor();
    expect(await entry(page, "data.csv").locator(".file-size").textContent()).toBe("27 B");

    // A drop as the browser delivers it: a DataTransfer carrying a File.
    // (A string: this file is checked without the DOM library.)
    const dropped = await page.evaluateHandle(`(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(["Lisbon,24\\n"], "more.csv", { type: "text/csv" }));
      return transfer;
    })()`);
    await page.dispatchEvent("#sandbox-files-card", "dragover", { dataTransfer: dropped });
    expect(await page.locator("#sandbox-files-card").getAttribute("class")).toContain("dropping");
    await page.dispatchEvent("#sandbox-files-card", "drop", { dataTransfer: dropped });
    await entry(page, "more.csv").waitFor();
    expect(await page.locator("#sandbox-files-card").getAttribute("class")).not.toContain("dropping");
  });

  it("runs code that reads the uploads, then lists and downloads the file it wrote", async () => {
    await runCode(
      page,
      "python",
      [
        "import csv, os",
        "rows = list(csv.reader(open('data.csv'))) [1:] + list(csv.reader(open('more.csv')))",
        "hottest = max(rows, key=lambda r: int(r[1]))",
        "os.makedirs('results', exist_ok=True)",
        "open('results/hottest.txt', 'w').write(f'{hottest[0]} {hottest[1]}\\n')",
        "print('rows:', len(rows))",
      ].join("\n"),
    );
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    expect(await page.locator("#output").textContent()).toContain("rows: 3");

    // The panel lists the folder again after the run: open it and download what the code wrote.
    const folder = page.locator('#sandbox-files li[data-type="dir"][data-path="/home/user/results"] button.folder');
    await folder.waitFor();
    await folder.click();
    await page.locator("#sandbox-folder", { hasText: "/home/user/results" }).waitFor();
    const file = page.locator('#sandbox-files li[data-path="/home/user/results/hottest.txt"]');
    await file.waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      file.getByRole("button", { name: "Download hottest.txt" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("hottest.txt");
    expect(await readFile(await download.path(), "utf8")).toBe("Lisbon 24\n");
    await screenshot(page, "files-panel");

    await page.click("#sandbox-up");
    await page.locator("#sandbox-folder", { hasText: /^\/home\/user$/ }).waitFor();
    await entry(page, "data.csv").waitFor();

    // Delete takes two presses; the file is then gone from the sandbox, not just from the list.
    const remove = entry(page, "more.csv").getByRole("button", { name: "Delete more.csv" });
    await remove.click();
    expect(await remove.textContent()).toBe("Delete?");
    await remove.click();
    await entry(page, "more.csv").waitFor({ state: "detached" });
    await runCode(page, "python", "import os\nprint(sorted(f for f in os.listdir('.') if f.endswith('.csv')))");
    expect(await page.locator("#output").textContent()).toContain("['data.csv']");
  });

  it("installs a local npm package with its output, and refuses a registry one in the box", async () => {
    const greet: [string, string][] = [
      ["greet/package.json", '{"name":"greet","version":"1.0.0","main":"index.js"}'],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the package's own JavaScript, a template literal
      ["greet/index.js", "module.exports = (who) => `hello, ${who}`;"],
    ];
    for (const [path, body] of greet) {
      const res = await api(
        baseUrl,
        s.user.apiKey,
        `/api/v1/sandboxes/${CONVERSATION}/file?path=${encodeURIComponent(path)}`,
        { method: "PUT", body },
      );
      expect(res.status).toBe(200);
    }
    await page.selectOption("#packages-manager", "npm");
    await page.fill("#packages-specs", "./greet");
    await page.click("#packages-install");
    await page.locator("#packages-status.ok", { hasText: "Installed ./greet" }).waitFor({ timeout: 90_000 });
    expect(await page.locator("#packages-output").textContent()).toMatch(/added 1 package/);
    await page.locator('#sandbox-files li[data-path="/home/user/node_modules"]').waitFor();

    await runCode(page, "node", 'console.log(require("greet")("Ada"))');
    expect(await page.locator("#output").textContent()).toContain("hello, Ada");

    // Offline, a registry package is refused at once, told in the box in the API's words.
    await page.selectOption("#packages-manager", "pip");
    await page.fill("#packages-specs", "requests");
    await page.click("#packages-install");
    await page.locator("#packages-status.bad", { hasText: "would come from PyPI" }).waitFor();
    expect(await page.locator("#alert").isHidden()).toBe(true);
  });

  it("ended without a CSP violation or a page error", async () => {
    expect(await s.problems()).toEqual([]);
  });
});
