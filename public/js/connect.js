// The "Connect an assistant" panel: this Worker's MCP URL and ready config snippets for common MCP
// clients. The API key stays a placeholder until the person asks to see it (and is hidden again when
// they forget the key), so a screen share or screenshot of the page does not leak it.
import { $ } from "./dom.js";
import { announce } from "./notice.js";
import { apiKey } from "./session.js";

const PLACEHOLDER = "<your API key>";

/** @typedef {{id: string, label: string, where: string, snippet: (url: string, key: string) => string}} McpClient */

/** @type {McpClient[]} */
const CLIENTS = [
  {
    id: "claude-code",
    label: "Claude Code",
    where: "Run in a terminal; the server is then available in every Claude Code session.",
    snippet: (url, key) =>
      `claude mcp add --transport http phoenix ${url} \\\n  --header "Authorization: Bearer ${key}"`,
  },
  {
    id: "claude-desktop",
    label: "Claude Desktop",
    where:
      "Add to claude_desktop_config.json (Settings → Developer → Edit Config), then restart Claude. It bridges through mcp-remote (needs Node.js).",
    snippet: (url, key) =>
      json({
        mcpServers: {
          phoenix: {
            command: "npx",
            // mcp-remote expands ${PHOENIX_AUTH} itself (a header in env, not args, survives Windows' quoting).
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder is for mcp-remote, not JS
            args: ["-y", "mcp-remote", url, "--header", "Authorization:${PHOENIX_AUTH}"],
            env: { PHOENIX_AUTH: `Bearer ${key}` },
          },
        },
      }),
  },
  {
    id: "cursor",
    label: "Cursor",
    where: "Add to ~/.cursor/mcp.json (or .cursor/mcp.json in a project).",
    snippet: (url, key) => json({ mcpServers: { phoenix: { url, headers: { Authorization: `Bearer ${key}` } } } }),
  },
  {
    id: "vscode",
    label: "VS Code",
    where: "Add to .vscode/mcp.json in a workspace (or your user mcp.json).",
    snippet: (url, key) =>
      json({ servers: { phoenix: { type: "http", url, headers: { Authorization: `Bearer ${key}` } } } }),
  },
  {
    id: "generic",
    label: "Other clients",
    where: "Any MCP client that speaks Streamable HTTP: the URL, and the key as a bearer token on every request.",
    snippet: (url, key) =>
      json({ mcpServers: { phoenix: { type: "streamable-http", url, headers: { Authorization: `Bearer ${key}` } } } }),
  },
];

/** @param {unknown} value */
function json(value) {
  return JSON.stringify(value, null, 2);
}

let showKey = false;

function mcpUrl() {
  return `${location.origin}/mcp`;
}

function selected() {
  const id = /** @type {HTMLSelectElement} */ ($("connect-client")).value;
  return CLIENTS.find((c) => c.id === id) ?? /** @type {McpClient} */ (CLIENTS[0]);
}

/** Draws the URL and the chosen client's snippet; the key only while "Show key" is on. */
export function renderConnect() {
  const key = apiKey();
  if (!key) showKey = false;
  const client = selected();
  $("mcp-url").textContent = mcpUrl();
  $("connect-snippet").textContent = client.snippet(mcpUrl(), showKey ? key : PLACEHOLDER);
  $("connect-where").textContent = client.where;
  const toggle = /** @type {HTMLButtonElement} */ ($("connect-show-key"));
  toggle.disabled = !key;
  toggle.setAttribute("aria-pressed", String(showKey));
  toggle.textContent = showKey ? "Hide key" : "Show key";
  $("connect-key-note").textContent = key
    ? showKey
      ? "Your key is in the snippet: keep it out of shared files and screenshots."
      : `The snippet shows ${PLACEHOLDER}; "Show key" fills in yours.`
    : "Save an API key above to fill it into the snippet.";
}

/**
 * Copies text; where the Clipboard API is refused (plain http, permissions), through a selection of `node`.
 * @param {string} text @param {HTMLElement} node @param {HTMLButtonElement} button @param {string} what
 */
async function copy(text, node, button, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    document.execCommand("copy");
    selection?.removeAllRanges();
  }
  // The label is kept once, so a second click while it reads "Copied" does not make that its label.
  button.dataset.label ??= button.textContent ?? "";
  button.textContent = "Copied";
  announce(`${what} copied to the clipboard.`);
  setTimeout(() => (button.textContent = button.dataset.label ?? ""), 1600);
}

export function initConnect() {
  const select = /** @type {HTMLSelectElement} */ ($("connect-client"));
  for (const client of CLIENTS) {
    const option = document.createElement("option");
    option.value = client.id;
    option.textContent = client.label;
    select.append(option);
  }
  select.addEventListener("change", renderConnect);
  $("connect-show-key").addEventListener("click", () => {
    showKey = !showKey && Boolean(apiKey());
    renderConnect();
    announce(showKey ? "API key shown in the snippet." : "API key hidden.");
  });
  $("mcp-url-copy").addEventListener("click", (e) => {
    void copy(mcpUrl(), $("mcp-url"), /** @type {HTMLButtonElement} */ (e.currentTarget), "MCP URL");
  });
  $("connect-copy").addEventListener("click", (e) => {
    const snippet = $("connect-snippet");
    void copy(snippet.textContent ?? "", snippet, /** @type {HTMLButtonElement} */ (e.currentTarget), "Snippet");
  });
  renderConnect();
}
