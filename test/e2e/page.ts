// A signed-in executor page for the code-interpreter and sandbox-panel tests: its own context and user,
// with CSP violations and page errors collected (each test ends by asserting there were none).
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createUser } from "./browser.ts";

export interface PageSession {
  context: BrowserContext;
  page: Page;
  user: { id: string; apiKey: string };
  /** CSP violations (as the page saw them and as Chromium logged them) and uncaught errors. */
  problems: () => Promise<string[]>;
}

export async function openPage(
  browser: Browser,
  baseUrl: string,
  ownerToken: string,
  name: string,
): Promise<PageSession> {
  const user = await createUser(baseUrl, ownerToken, `e2e-${name}`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const { page, problems } = await watchedPage(context);
  await page.goto(baseUrl);
  await page.waitForSelector("html[data-ready]");
  await page.fill("#key-input", user.apiKey);
  await page.press("#key-input", "Enter");
  await page.locator("#key-saved").waitFor();
  return { context, page, user, problems };
}

/** A new page of `context` whose CSP violations (as the page saw them and as Chromium logged them) and uncaught errors are collected. */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; problems: () => Promise<string[]> }> {
  // Injected by the browser itself, so the page's CSP does not apply to it.
  await context.addInitScript({
    content: `(() => {
      const seen = (window.__cspViolations = []);
      document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective + " " + e.blockedURI));
    })()`,
  });
  const page = await context.newPage();
  const logged: string[] = [];
  page.on("console", (m) => {
    // A result's HTML runs under the page's CSP in its blob: frame, so its inline styles and scripts are
    // refused there and logged: that is the policy working, not a page problem.
    if (m.location().url.startsWith("blob:")) return;
    if (m.text().includes("Content Security Policy")) logged.push(`[console] ${m.text()}`);
  });
  page.on("pageerror", (err) => logged.push(`[page error] ${err.message}`));
  return {
    page,
    problems: async () => [
      ...((await page.evaluate("window.__cspViolations")) as string[]).map((v) => `[violation] ${v}`),
      ...logged,
    ],
  };
}

/** Waits until the page is no longer running (Run enabled again, Stop disabled). */
export async function runFinished(p: Page): Promise<void> {
  await p.locator("html:has(#run:enabled):has(#stop:disabled)").waitFor();
}

/** Puts code in a language's editor (selecting its tab) and runs it to the end. */
export async function runCode(p: Page, language: string, code: string): Promise<void> {
  await p.click(`#tab-${language}`);
  await p.fill(`#panel-${language} textarea`, code);
  await p.click("#run");
  await runFinished(p);
}
