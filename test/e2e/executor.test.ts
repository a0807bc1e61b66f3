// The executor page in real Chromium against the whole local stack (e2b-local, D1, R2, wrangler dev):
// key entry, live streaming, tabs, copy, stats, Stop, rate-limit and bad-key messages, the volume and its
// quota, history, and the page's security headers and CSP. Each test stands alone: its own browser
// context and page, and its own user made through the owner API. Screenshots land in test-results/screenshots/.
import { readFile } from "node:fs/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { api, createUser, execute, gatedShell, launchChromium, openGate, screenshot } from "./browser.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");
const volumeQuotaBytes = inject("volumeQuotaBytes");

const PYTHON = [
  "import sys",
  'print("first line", flush=True)',
  'print("to stderr", file=sys.stderr, flush=True)',
  'print("second line")',
].join("\n");

let browser: Browser;

interface Session {
  context: BrowserContext;
  page: Page;
  /** The session's own user; its key is saved in the page when `signedIn`. */
  user: { id: string; apiKey: string };
  /** CSP violations and uncaught page errors seen so far; every test ends with none. */
  problems: string[];
  /** Set by the test that provokes violations on purpose (and checks them itself). */
  expectsViolations?: boolean;
}

const sessions: Session[] = [];

/**
 * A fresh context, user and page, loaded and ready. CSP violations are collected twice: from the
 * console (what Chromium reports) and from `securitypolicyviolation` events (what the page sees).
 */
async function session(
  name: string,
  opts: { signedIn?: boolean; viewport?: { width: number; height: number }; mobile?: boolean } = {},
): Promise<Session> {
  const user = await createUser(baseUrl, ownerToken, `e2e-${name}`);
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 900 },
    acceptDownloads: true,
    ...(opts.mobile ? { isMobile: true, hasTouch: true } : {}),
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  // Injected by the browser itself (not a page script), so the page's CSP does not apply to it.
  await context.addInitScript({
    content: `(() => {
      const seen = (window.__cspViolations = []);
      document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective + " " + e.blockedURI));
    })()`,
  });
  const page = await context.newPage();
  const s: Session = { context, page, user, problems: [] };
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) s.problems.push(`[console] ${m.text()}`);
  });
  page.on("pageerror", (err) => s.problems.push(`[page error] ${err.message}`));
  sessions.push(s);
  await page.goto(baseUrl);
  await page.waitForSelector("html[data-ready]");
  if (opts.signedIn) await signIn(page, user.apiKey);
  return s;
}

async function cspViolations(p: Page): Promise<string[]> {
  return p.evaluate("window.__cspViolations") as Promise<string[]>;
}

async function signIn(p: Page, key: string): Promise<void> {
  await p.fill("#key-input", key);
  await p.press("#key-input", "Enter");
  await p.locator("#key-saved").waitFor();
}

/** Waits until the page is no longer running (Run enabled again, Stop disabled). */
async function runFinished(p: Page): Promise<void> {
  await p.locator("html:has(#run:enabled):has(#stop:disabled)").waitFor();
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
});

afterEach(async () => {
  const done = sessions.splice(0);
  const problems = [];
  for (const s of done) {
    if (!s.expectsViolations) {
      if (!s.page.isClosed()) problems.push(...(await cspViolations(s.page)).map((v) => `[violation] ${v}`));
      problems.push(...s.problems);
    }
    await s.context.close();
  }
  expect(problems, "CSP violations or page errors").toEqual([]);
});

afterAll(async () => {
  await browser?.close();
});

describe("executor page", () => {
  it("serves everything from the Worker: no external requests", async () => {
    const context = await browser.newContext();
    const p = await context.newPage();
    const external: string[] = [];
    p.on("request", (req) => {
      if (!req.url().startsWith(baseUrl) && !req.url().startsWith("data:") && !req.url().startsWith("blob:"))
        external.push(req.url());
    });
    await p.goto(baseUrl);
    await p.waitForSelector("html[data-ready]");
    await p.waitForLoadState("networkidle");
    await context.close();
    expect(external).toEqual([]);
  });

  it("sends strict security headers with the page, its scripts, its styles and its icon", async () => {
    for (const path of ["/", "/js/app.js", "/js/facts.js", "/styles.css", "/favicon.svg"]) {
      const res = await fetch(`${baseUrl}${path}`);
      expect(res.status, path).toBe(200);
      await res.body?.cancel();
      const csp = (res.headers.get("Content-Security-Policy") ?? "").split(";").map((d) => d.trim());
      expect(csp, path).toEqual(
        expect.arrayContaining([
          "default-src 'self'",
          "script-src 'self'",
          "style-src 'self'",
          "object-src 'none'",
          "base-uri 'none'",
          "frame-ancestors 'none'",
          "require-trusted-types-for 'script'",
        ]),
      );
      expect(csp.join(";"), path).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
      expect(res.headers.get("X-Frame-Options"), path).toBe("DENY");
      expect(res.headers.get("Referrer-Policy"), path).toBe("no-referrer");
      expect(res.headers.get("Permissions-Policy"), path).toMatch(/(^|, )camera=\(\)(,|$)/);
      expect(res.headers.get("Permissions-Policy"), path).toMatch(/(^|, )microphone=\(\)(,|$)/);
      expect(res.headers.get("Permissions-Policy"), path).toMatch(/(^|, )geolocation=\(\)(,|$)/);
    }
  });

  it("runs code under its CSP without a violation, and the CSP really blocks injected HTML, script and style", async () => {
    const s = await session("csp", { signedIn: true });
    const { page } = s;
    await setCode(page, "python", 'print("under csp")');
    await page.click("#run");
    await runFinished(page);
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    // The stats table's bars and the volume's usage bar are sized through the CSSOM, which CSP allows.
    await page.locator('.lang-table tr[data-language="python"] .rate-bar span').waitFor();
    await page.locator("#volume-usage").waitFor();
    expect(await cspViolations(page)).toEqual([]);

    expect(s.problems).toEqual([]);

    // What an injection would try: HTML and script from strings, a script from a text node, a style
    // attribute. Each is refused and reported, which also shows the checks every test ends with can see one.
    s.expectsViolations = true;
    const outcome = await page.evaluate(`(() => {
      const tried = {};
      const attempt = (name, f) => { try { f(); tried[name] = "done"; } catch (e) { tried[name] = e.name; } };
      const mark = "document.documentElement.dataset.injected = 'yes'";
      attempt("html", () => document.body.insertAdjacentHTML("beforeend", "<img src=x onerror=\\"" + mark + "\\">"));
      attempt("scriptText", () => { const s = document.createElement("script"); s.textContent = mark; document.body.append(s); });
      attempt("scriptNode", () => { const s = document.createElement("script"); s.append(document.createTextNode(mark)); document.body.append(s); });
      const p = document.createElement("p");
      p.id = "styled";
      p.setAttribute("style", "color: rgb(1, 2, 3)");
      p.textContent = "x";
      document.body.append(p);
      return tried;
    })()`);
    // Trusted Types refuses strings at the sinks outright; a script built from a text node is never run.
    expect(outcome).toEqual({ html: "TypeError", scriptText: "TypeError", scriptNode: "done" });
    await expect.poll(() => cspViolations(page)).toContain("style-src-attr inline");
    expect(await cspViolations(page)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^require-trusted-types-for /), "style-src-attr inline"]),
    );
    expect(await page.evaluate("document.documentElement.dataset.injected")).toBeUndefined();
    expect(await page.evaluate(`getComputedStyle(document.getElementById("styled")).color`)).not.toBe("rgb(1, 2, 3)");
    await expect.poll(() => s.problems.length).toBeGreaterThan(0);
    expect(s.problems.every((m) => m.includes("Content Security Policy") || m.includes("TrustedScript"))).toBe(true);
  });

  it("tells a bad key clearly, and forgets it", async () => {
    const { page: p } = await session("bad-key", { viewport: { width: 1280, height: 800 } });
    await p.click("#run");
    await p.locator("#alert").waitFor();
    expect(await p.locator("#alert-message").textContent()).toContain("Enter your API key");
    expect(await p.evaluate("document.activeElement?.id")).toBe("key-input");

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
  });

  it("keeps the key in localStorage and loads stats, history and volume", async () => {
    const { page, user } = await session("key", { signedIn: true });
    expect(await page.evaluate("localStorage.getItem('phoenix.apiKey')")).toBe(user.apiKey);
    expect(await page.locator("#key-hint").textContent()).toBe(`${user.apiKey.slice(0, 4)}…${user.apiKey.slice(-4)}`);
    expect(await statTotal(page)).toBe(0);
    await page.reload();
    await page.waitForSelector("html[data-ready]");
    expect(await page.locator("#key-saved").isVisible()).toBe(true);
    expect(await statTotal(page)).toBe(0);
    await page.locator("#history-empty", { hasText: "No runs yet" }).waitFor();
    await page.locator("#volume-usage", { hasText: "0 files" }).waitFor();
  });

  it("builds one tab per language the API runs (and Terminal), and edits with line numbers, Tab indents and auto-indent", async () => {
    const { page } = await session("editor");
    const tabs = await page
      .locator('[role="tab"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-language") ?? e.id));
    // One per language, then the conversation's shell (test/e2e/terminal.test.ts).
    expect(tabs).toEqual(["python", "node", "shell", "tab-terminal"]);
    expect(await page.getAttribute("#tab-python", "aria-selected")).toBe("true");
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

  it("streams Python output while the run goes on, stdout apart from stderr, and updates the stats", async () => {
    const { page, user } = await session("stream", { signedIn: true });
    expect(await statTotal(page)).toBe(0);
    // The run prints, then waits for a file the test creates: what shows before that was streamed.
    const gated = [
      "import os, sys, time",
      'print("first line", flush=True)',
      'print("to stderr", file=sys.stderr, flush=True)',
      'while not os.path.exists("/tmp/go"):',
      "    time.sleep(0.05)",
      'print("second line")',
    ].join("\n");
    await setCode(page, "python", gated);
    await page.click("#run");
    await page.locator("#output .stdout", { hasText: "first line" }).waitFor();
    await page.locator("#output .stderr", { hasText: "to stderr" }).waitFor();
    expect(await page.locator("#output").textContent()).not.toContain("second line");
    expect(await page.locator("#stop").isEnabled()).toBe(true);
    expect(await page.locator("#run-status").getAttribute("class")).toContain("running");
    await openGate(baseUrl, user.apiKey, "default", "/tmp/go");
    await runFinished(page);

    expect(await page.locator("#output .stderr").allTextContents()).toEqual(["to stderr\n"]);
    expect((await page.locator("#output .stdout").allTextContents()).join("")).toBe("first line\nsecond line\n");
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    // Keep variables is on by default: the run went to the interpreter, no process of its own, no exit code.
    expect(await page.locator("#fact-exit").textContent()).toBe("–");
    expect(await page.locator("#fact-duration").textContent()).toMatch(/\d+(\.\d+)? (ms|s)$/);
    expect(await page.locator("#run-status").textContent()).toMatch(/^Succeeded in /);
    expect(await page.locator("#truncated").isHidden()).toBe(true);
    const runId = (await page.locator("#fact-id").textContent()) ?? "";
    expect(runId).toMatch(/^exe_/);

    await expect.poll(() => statTotal(page)).toBe(1);
    expect(await page.locator('.lang-table tr[data-language="python"] td').first().textContent()).toBe("1");
    await page.locator(`.history-item[data-id="${runId}"]`).waitFor();
    await screenshot(page, "desktop-python");
  });

  it("switches to Shell from the keyboard, runs with Ctrl+Enter and copies the output", async () => {
    const { page } = await session("shell", { signedIn: true });
    expect(await statTotal(page)).toBe(0);
    await page.focus("#tab-python");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    expect(await page.getAttribute("#tab-shell", "aria-selected")).toBe("true");
    expect(await page.evaluate("document.activeElement?.id")).toBe("tab-shell");
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
    await expect.poll(() => statTotal(page)).toBe(1);
    expect(await page.locator('.lang-table tr[data-language="shell"] td').first().textContent()).toBe("1");
  });

  it("refuses a bad conversation id in the API's words, before sending anything", async () => {
    const { page } = await session("conversation", { signedIn: true });
    const sent: string[] = [];
    page.on("request", (req) => {
      if (req.url().endsWith("/api/v1/executions") && req.method() === "POST") sent.push(req.url());
    });
    const status = await page.locator("#run-status").textContent();
    await page.fill("#conversation", "bad id!");
    expect(await page.getAttribute("#conversation", "aria-invalid")).toBe("true");
    expect(await page.locator("#conversation-error").textContent()).toBe(
      "Conversation must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
    );
    await page.click("#run");
    expect(await page.locator("#run-status").textContent()).toBe(status);
    expect(await page.evaluate("document.activeElement?.id")).toBe("conversation");
    await page.fill("#conversation", "x".repeat(65));
    expect(await page.getAttribute("#conversation", "aria-invalid")).toBe("true");
    await page.fill("#conversation", "x".repeat(64));
    expect(await page.getAttribute("#conversation", "aria-invalid")).toBe("false");
    expect(await page.locator("#conversation-error").isHidden()).toBe(true);
    expect(sent).toEqual([]);
  });

  it("shows a rate limit with its Retry-After while the user's runs hold every slot and the queue", async () => {
    const { page, user } = await session("busy", { signedIn: true });
    // Every concurrent slot (MAX_CONCURRENT_EXECUTIONS, 4) held by a run that waits for a gate file, and
    // the queue (MAX_QUEUED_EXECUTIONS, 1 in this stack) by a fifth that waits for a slot.
    const hold = async (i: number) => {
      const res = await api(baseUrl, user.apiKey, "/api/v1/executions", {
        method: "POST",
        headers: {
          Accept: "text/event-stream",
          "Content-Type": "application/json",
          ...(i === 4 ? { Prefer: "wait=120" } : {}),
        },
        body: JSON.stringify({ language: "shell", code: gatedShell("/tmp/go", "released"), conversationId: "busy" }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes(i === 4 ? "event: queued" : "event: start")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before its first event: ${seen}`);
        seen += value;
      }
      return { reader, seen };
    };
    // The four slot holders first (each has started), then the one that waits: it must find them busy.
    const busy = await Promise.all([0, 1, 2, 3].map(hold));
    busy.push(await hold(4));
    await setCode(page, "python", 'print("hello")');
    const refused = page.waitForResponse(
      (r) => r.url().endsWith("/api/v1/executions") && r.request().method() === "POST",
    );
    await page.click("#run");
    expect((await refused).status()).toBe(429);
    const retryAfter = Number((await refused).headers()["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    await runFinished(page);
    const alert = page.locator("#alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("rate_limited");
    expect(await alert.getAttribute("class")).toContain("warn");
    expect(await page.locator("#alert-title").textContent()).toBe("Rate limited.");
    expect(await page.locator("#alert-message").textContent()).toMatch(
      new RegExp(` Try again in ${retryAfter} seconds?\\.$`),
    );
    expect(await page.locator("#fact-status").textContent()).toBe("Error");
    await screenshot(page, "rate-limited");
    await page.click("#alert-close");
    expect(await alert.isHidden()).toBe(true);

    // Release the held runs: each ends on its own, as succeeded, having waited for the gate.
    await openGate(baseUrl, user.apiKey, "busy", "/tmp/go");
    const ends = await Promise.all(
      busy.map(async ({ reader, seen }) => {
        let all = seen;
        for (let r = await reader.read(); !r.done; r = await reader.read()) all += r.value;
        return all;
      }),
    );
    for (const stream of ends) {
      expect(stream).toContain('"data":"released\\n"');
      expect(stream).toMatch(/event: end\ndata: \{[^\n]*"status":"succeeded"/);
    }
    // The slots are free again: the same run now goes through.
    await page.click("#run");
    await runFinished(page);
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    expect(await alert.isHidden()).toBe(true);
  });

  it("waits in the queue when every slot is busy, says so, and runs when one frees", async () => {
    const { page, user } = await session("queued", { signedIn: true });
    await page.fill("#conversation", "queued");
    const held = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const res = await api(baseUrl, user.apiKey, "/api/v1/executions", {
          method: "POST",
          headers: { Accept: "text/event-stream", "Content-Type": "application/json" },
          body: JSON.stringify({
            language: "shell",
            code: gatedShell("/tmp/go", "released"),
            conversationId: "queued",
          }),
        });
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        for (let seen = ""; !seen.includes("event: start"); ) seen += (await reader.read()).value ?? "";
        return reader;
      }),
    );
    await setCode(page, "python", 'print("after the wait")');
    await page.click("#run");
    await page.locator("#run-status", { hasText: "waiting for one (next in line)" }).waitFor();
    expect(await page.locator("#output").textContent()).not.toContain("after the wait");
    await openGate(baseUrl, user.apiKey, "queued", "/tmp/go");
    await runFinished(page);
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    expect(await page.locator("#output .stdout").allTextContents()).toEqual(["after the wait\n"]);
    expect(await page.locator("#alert").isHidden()).toBe(true);
    await Promise.all(held.map((r) => r.cancel()));
  });

  it("Stop cancels the run on the server and leaves the page ready for the next run", async () => {
    const { page, user } = await session("stop", { signedIn: true });
    await page.fill("#conversation", "e2e-stop");
    // Nothing ever creates the gate: only Stop (or the 60 s timeout, which would fail the test) ends it.
    await setCode(page, "shell", `echo tick\n${gatedShell("/tmp/never", "never-shown")}`);
    await page.click("#run");
    await page.locator("#output", { hasText: "tick" }).waitFor();
    expect(await page.locator("#stop").isEnabled()).toBe(true);
    await page.click("#stop");
    await runFinished(page);
    expect(await page.locator("#fact-status").textContent()).toBe("Cancelled");
    expect(await page.locator("#run-status").textContent()).toMatch(/^Cancelled after/);
    const out = await page.locator("#output").textContent();
    expect(out).toContain("tick");
    expect(out).not.toContain("never-shown");
    const history = (await (
      await api(baseUrl, user.apiKey, "/api/v1/executions?conversationId=e2e-stop&limit=1")
    ).json()) as { items: { status: string }[] };
    expect(history.items).toEqual([expect.objectContaining({ status: "cancelled" })]);
    expect(await page.locator("#alert").isHidden()).toBe(true);

    await setCode(page, "shell", "echo again");
    await page.click("#run");
    await runFinished(page);
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
  });

  it("uploads, downloads and deletes a volume file", async () => {
    const { page, user } = await session("volume", { signedIn: true });
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
    expect(await page.getAttribute("#volume-body [role=progressbar]", "aria-valuetext")).toBe("2.0 KB of 1.0 MB used");
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
    expect((await api(baseUrl, user.apiKey, "/api/v1/volume/files/e2e-notes.txt")).status).toBe(404);
  });

  it("explains a full volume: the quota filled for real, the upload refused with 507", async () => {
    const { page, user } = await session("quota", { signedIn: true });
    // Fill the quota through the API, leaving less room than the page's upload needs.
    const filler = Buffer.alloc(volumeQuotaBytes - 10, 1);
    const put = await api(baseUrl, user.apiKey, "/api/v1/volume/files/filler.bin", { method: "PUT", body: filler });
    expect(put.status).toBe(201);
    await page.reload();
    await page.waitForSelector("html[data-ready]");
    await page.locator("#volume-usage", { hasText: "1 file" }).waitFor();

    const refused = page.waitForResponse(
      (r) => r.url().includes("/api/v1/volume/files/") && r.request().method() === "PUT",
    );
    await page.setInputFiles("#upload-input", {
      name: "big.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(16),
    });
    expect((await refused).status()).toBe(507);
    await expect.poll(() => page.getAttribute("#alert", "data-code")).toBe("quota_exceeded");
    expect(await page.locator("#alert-title").textContent()).toBe("Volume quota exceeded.");
    expect(await page.locator("#alert-message").textContent()).toMatch(/Delete some files to make room\.$/);
    expect(await page.locator("#alert-request").textContent()).toMatch(/^Request ID: \S+/);
    await screenshot(page, "quota-exceeded");
    // Nothing was stored.
    expect((await api(baseUrl, user.apiKey, "/api/v1/volume/files/big.bin")).status).toBe(404);
    await expect.poll(() => page.locator("#volume-files li[data-file]").count()).toBe(1);
  });

  it("brings back a history entry's code, language and output", async () => {
    const { page, user } = await session("history", { signedIn: true });
    const run = await execute(baseUrl, user.apiKey, { language: "python", code: PYTHON });
    expect(run.status).toBe("succeeded");
    await page.click("#history-refresh");
    await setCode(page, "python", "# something else");
    await page.click("#tab-node");
    await page.click(`.history-item[data-id="${run.id}"]`);
    expect(await page.getAttribute("#tab-python", "aria-selected")).toBe("true");
    expect(await page.locator("#panel-python textarea").inputValue()).toBe(PYTHON);
    expect(await page.inputValue("#conversation")).toBe("default");
    expect((await page.locator("#output .stdout").allTextContents()).join("")).toBe("first line\nsecond line\n");
    expect(await page.locator("#output .stderr").allTextContents()).toEqual(["to stderr\n"]);
    expect(await page.locator("#fact-status").textContent()).toBe("Succeeded");
    expect(await page.locator("#fact-id").textContent()).toBe(run.id);
    expect(await page.getAttribute(`.history-item[data-id="${run.id}"]`, "aria-current")).toBe("true");
    await screenshot(page, "desktop-history");
  });

  it("pages the history newest first with Load more", async () => {
    const { page, user } = await session("paging", { signedIn: true });
    for (let i = 0; i < 16; i++)
      await execute(baseUrl, user.apiKey, { language: "shell", code: `echo bulk-${i}`, conversationId: "e2e-bulk" });
    await page.click("#history-refresh");
    await expect.poll(() => page.locator(".history-item").count()).toBe(15);
    expect(await page.locator(".history-item .history-code").first().textContent()).toBe("echo bulk-15");
    const more = page.locator("#history-more");
    expect(await more.isVisible()).toBe(true);
    await more.click();
    await expect.poll(() => page.locator(".history-item").count()).toBe(16);
    expect(await page.locator(".history-item .history-code").last().textContent()).toBe("echo bulk-0");
    expect(await more.isHidden()).toBe(true);
  });

  // Faults the local stack cannot produce on demand without breaking it for the other tests (E2B down, a
  // sandbox lost in the middle of a run, a server without the volume API) are answered by the browser
  // itself, in the API's own shapes, to check what the page makes of them.
  it("explains sandbox errors, an error in the middle of a stream and a missing volume API", async () => {
    const { page: p, user } = await session("faults", { viewport: { width: 1280, height: 800 } });
    let streamed = false;
    await p.route("**/api/v1/executions", (route) => {
      if (route.request().method() !== "POST") return route.continue();
      if (!streamed) {
        streamed = true;
        return route.fulfill({
          status: 502,
          contentType: "application/json",
          headers: { "X-Request-Id": "req-e2e" },
          body: JSON.stringify({
            error: {
              code: "sandbox_unavailable",
              message: "Could not start a sandbox: E2B is unreachable.",
              requestId: "req-e2e",
            },
          }),
        });
      }
      // The run starts, then fails with a code this page does not know: the event's own status is told.
      return route.fulfill({
        status: 200,
        contentType: "text/event-stream",
        body: [
          'event: start\ndata: {"id":"exe_fake","sandboxId":"sbx","conversationId":"default","language":"shell"}\n\n',
          'event: stdout\ndata: {"data":"partial\\n"}\n\n',
          'event: error\ndata: {"error":{"code":"brand_new_failure","message":"Something new broke.","status":418,"requestId":"req-sse"}}\n\n',
        ].join(""),
      });
    });
    await signIn(p, user.apiKey);
    await p.locator("#volume-usage").waitFor();

    await setCode(p, "shell", "echo hi");
    await p.click("#run");
    await runFinished(p);
    expect(await p.getAttribute("#alert", "data-code")).toBe("sandbox_unavailable");
    expect(await p.locator("#alert-title").textContent()).toBe("Sandbox unavailable.");
    expect(await p.locator("#alert-message").textContent()).toContain("E2B is unreachable");
    expect(await p.locator("#alert-request").textContent()).toBe("Request ID: req-e2e");
    expect(await p.locator("#fact-status").textContent()).toBe("Error");

    await p.click("#run");
    await runFinished(p);
    expect(await p.getAttribute("#alert", "data-code")).toBe("brand_new_failure");
    expect(await p.locator("#alert-title").textContent()).toBe("Error 418.");
    expect(await p.locator("#alert-message").textContent()).toBe("Something new broke.");
    expect(await p.locator("#alert-request").textContent()).toBe("Request ID: req-sse");
    expect(await p.locator("#output .stdout").textContent()).toBe("partial\n");
    expect(await p.locator("#fact-id").textContent()).toBe("exe_fake");

    await p.route("**/api/v1/volume", (route) =>
      route.fulfill({
        status: 404,
        contentType: "application/json",
        body: JSON.stringify({ error: { code: "not_found", message: "No route GET /api/v1/volume.", requestId: "r" } }),
      }),
    );
    await p.reload();
    await p.waitForSelector("html[data-ready]");
    await p.locator("#volume-body", { hasText: "not available on this server yet" }).waitFor();
    expect(await p.locator("#upload-label").isHidden()).toBe(true);
    expect(await p.locator("#alert").isHidden()).toBe(true);
  });

  it("runs Node on a phone screen (390 px) without sideways scrolling", async () => {
    const { page: p } = await session("phone", { signedIn: true, viewport: { width: 390, height: 844 }, mobile: true });
    await setCode(p, "node", 'console.log("hello from a phone");\nconsole.error("a warning");');
    await p.click("#run");
    await p.locator("#run-facts").waitFor();
    await runFinished(p);
    expect(await p.locator("#fact-status").textContent()).toBe("Succeeded");
    expect((await p.locator("#output .stdout").allTextContents()).join("")).toBe("hello from a phone\n");
    expect(await p.locator("#output .stderr").allTextContents()).toEqual(["a warning\n"]);
    expect(await p.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(p, "phone");
  });
});
