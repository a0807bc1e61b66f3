// The executor page's "Connect an assistant" panel in real Chromium: the MCP URL, a snippet per
// client, the key left out until asked for (and gone again when forgotten), copy buttons, no CSP
// violation. Then the snippet's own values, used as written, connect the official MCP client.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createUser, launchChromium, screenshot } from "./browser.ts";

const baseUrl = inject("baseUrl");
const ownerToken = inject("ownerToken");

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("Connect an assistant panel", () => {
  it("shows the MCP URL and snippets, and the key only on demand", async () => {
    const user = await createUser(baseUrl, ownerToken, "e2e-connect");
    const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
    await context.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (e) => (window.__csp = (window.__csp || []).concat(e.effectiveDirective)));`,
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(baseUrl);
    await page.waitForSelector("html[data-ready]");

    const url = `${baseUrl}/mcp`;
    expect(await page.locator("#mcp-url").textContent()).toBe(url);
    // No key saved yet: a placeholder, and nothing to show.
    expect(await page.locator("#connect-snippet").textContent()).toContain("<your API key>");
    expect(await page.locator("#connect-show-key").isDisabled()).toBe(true);

    await page.fill("#key-input", user.apiKey);
    await page.press("#key-input", "Enter");
    await page.locator("#key-saved").waitFor();

    // Saved, but still hidden: the page's text nowhere holds the key.
    const snippet = page.locator("#connect-snippet");
    expect(await snippet.textContent()).toBe(
      `claude mcp add --transport http phoenix ${url} \\\n  --header "Authorization: Bearer <your API key>"`,
    );
    expect(await page.evaluate("document.body.innerText")).not.toContain(user.apiKey);
    expect(await page.locator("#connect-show-key").getAttribute("aria-pressed")).toBe("false");

    await page.click("#connect-show-key");
    expect(await page.locator("#connect-show-key").getAttribute("aria-pressed")).toBe("true");
    expect(await snippet.textContent()).toContain(`Authorization: Bearer ${user.apiKey}`);

    await page.selectOption("#connect-client", "cursor");
    const cursor = JSON.parse((await snippet.textContent()) ?? "");
    expect(cursor).toEqual({ mcpServers: { phoenix: { url, headers: { Authorization: `Bearer ${user.apiKey}` } } } });
    await page.click("#connect-copy");
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(JSON.stringify(cursor, null, 2));
    await page.click("#mcp-url-copy");
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(url);

    for (const client of ["claude-desktop", "vscode", "generic"]) {
      await page.selectOption("#connect-client", client);
      const text = (await snippet.textContent()) ?? "";
      expect(JSON.parse(text), client).toBeTruthy();
      expect(text, client).toContain(url);
      expect(text, client).toContain(user.apiKey);
    }
    await screenshot(page, "connect-panel");

    await page.click("#connect-show-key");
    expect(await page.evaluate("document.body.innerText")).not.toContain(user.apiKey);
    await page.click("#connect-show-key");
    await page.click("#key-forget");
    expect(await snippet.textContent()).toContain("<your API key>");
    expect(await page.evaluate("document.body.innerText")).not.toContain(user.apiKey);
    expect(await page.locator("#connect-show-key").isDisabled()).toBe(true);

    expect(await page.evaluate("window.__csp || []")).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();

    // What the Cursor snippet says is enough to connect.
    const { url: mcp, headers } = cursor.mcpServers.phoenix;
    const transport = new StreamableHTTPClientTransport(new URL(mcp), { requestInit: { headers } });
    const client = new Client({ name: "snippet", version: "1.0.0" });
    await client.connect(transport);
    expect((await client.listTools()).tools.length).toBe(10);
    await client.close();
  });
});
