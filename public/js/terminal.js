// The Terminal tab: a shell in the conversation's sandbox, drawn by xterm.js (vendored to /vendor/xterm by
// `npm ci`, loaded the first time the tab opens) over the terminal WebSocket. A one-time ticket stands in
// for the API key (a browser cannot send `Authorization` on a WebSocket); the shell lives on the server, so
// a dropped connection reconnects to the same one. The protocol: README "Web terminal".
import { ApiError } from "./api.js";
import { conversation } from "./conversation.js";
import { $, el } from "./dom.js";
import { describe } from "./notice.js";
import { apiKey, client } from "./session.js";

/** @typedef {import("@xterm/xterm").Terminal} XTerm */
/** @typedef {import("@xterm/addon-fit").FitAddon} FitAddon */

/** How the server ends a connection (src/terminal/protocol.ts CLOSE): these are not reconnected. */
const FINAL = new Map([
  [1000, "The shell exited."],
  [4408, "Closed for idleness."],
  [4409, "This terminal was opened elsewhere (another tab or window)."],
  [4410, "The sandbox stopped."],
]);

/** Waits between reconnection attempts, growing to the last. */
const RETRY_MS = [500, 1000, 2000, 4000, 8000];

const encoder = new TextEncoder();

/** @type {XTerm | null} */
let term = null;
/** @type {FitAddon | null} */
let fitAddon = null;
/** @type {WebSocket | null} */
let socket = null;
/** The conversation the open (or opening) connection is for. */
let connectedTo = "";
/** True while the tab is shown or a shell is attached: a dropped connection is then re-opened. */
let wanted = false;
let attempts = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let retryTimer;

const status = () => $("terminal-status");
const restartButton = () => /** @type {HTMLButtonElement} */ ($("terminal-restart"));

/** @param {string} text @param {"" | "ok" | "bad" | "running"} [tone] */
function setStatus(text, tone = "") {
  status().textContent = text;
  status().dataset.tone = tone;
}

/**
 * xterm.js's DOM renderer writes its measured cell size and its colours into `<style>` elements, which the
 * page's CSP refuses (it allows only an empty inline `<style>`: src/middleware/security-headers.ts). Those
 * rules go into constructed stylesheets instead (the CSSOM, which CSP allows), the elements staying empty:
 * for `<style>` elements inside the terminal only, so the CSP still guards the rest of the page.
 */
function styleThroughCssom() {
  const text = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(Node.prototype, "textContent"));
  /** @type {WeakMap<HTMLStyleElement, CSSStyleSheet>} */
  const sheets = new WeakMap();
  Object.defineProperty(HTMLStyleElement.prototype, "textContent", {
    configurable: true,
    get() {
      return text.get?.call(this);
    },
    /** @this {HTMLStyleElement} @param {string} value */
    set(value) {
      if (!this.closest(".terminal-host")) {
        text.set?.call(this, value);
        return;
      }
      let sheet = sheets.get(this);
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheets.set(this, sheet);
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      }
      sheet.replaceSync(value ?? "");
    },
  });
}

async function loadXterm() {
  if (term) return term;
  // Paths in variables: these are served files (public/vendor/xterm), not modules of this page.
  const xtermUrl = "/vendor/xterm/xterm.mjs";
  const fitUrl = "/vendor/xterm/addon-fit.mjs";
  /** @type {[typeof import("@xterm/xterm"), typeof import("@xterm/addon-fit")]} */
  const [xterm, fit] = await Promise.all([import(xtermUrl), import(fitUrl)]);
  styleThroughCssom();
  const host = $("terminal-host");
  term = new xterm.Terminal({
    cursorBlink: true,
    fontFamily: getComputedStyle(host).fontFamily,
    fontSize: 13.5,
    scrollback: 5000,
    theme: { background: "#0f141c", foreground: "#dfe5ee", cursor: "#e8590c" },
  });
  fitAddon = new fit.FitAddon();
  term.loadAddon(fitAddon);
  term.open(host);
  term.onData((data) => send(encoder.encode(data)));
  term.onBinary((data) => send(Uint8Array.from(data, (c) => c.charCodeAt(0))));
  term.onResize(({ cols, rows }) => sendResize(cols, rows));
  new ResizeObserver(() => {
    if (!host.closest("[hidden]")) fitAddon?.fit();
  }).observe(host);
  return term;
}

/** @param {Uint8Array} bytes */
function send(bytes) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(bytes);
}

/** @param {number} cols @param {number} rows */
function sendResize(cols, rows) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols, rows }));
}

/** Opens the connection to the conversation's shell (with a new ticket), unless one is open for it already. */
async function connect() {
  clearTimeout(retryTimer);
  const conversationId = conversation();
  if (!conversationId) {
    setStatus("Enter a valid conversation to open its terminal.", "bad");
    return;
  }
  if (!apiKey()) {
    setStatus("Enter your API key above to open a terminal.", "bad");
    return;
  }
  if (socket && connectedTo === conversationId) return;
  disconnect();
  connectedTo = conversationId;
  restartButton().hidden = true;
  setStatus(attempts ? "Connection lost; reconnecting…" : `Connecting to “${conversationId}”…`, "running");
  const t = await loadXterm();
  let url;
  try {
    ({ url } = await client.terminalTicket(conversationId));
  } catch (err) {
    if (connectedTo !== conversationId) return;
    const { title } = describe(err);
    const message = err instanceof Error ? err.message : "";
    // A refused key or request will not get better by itself; the network might.
    if (err instanceof ApiError && err.status > 0 && err.code !== "rate_limited") {
      connectedTo = "";
      setStatus(`${title} ${message}`.trim(), "bad");
      restartButton().hidden = false;
    } else retryLater(`${title} ${message}`.trim());
    return;
  }
  if (connectedTo !== conversationId) return;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  socket = ws;
  ws.addEventListener("open", () => {
    fitAddon?.fit();
    sendResize(t.cols, t.rows);
  });
  ws.addEventListener("message", (event) => {
    if (typeof event.data !== "string") {
      t.write(new Uint8Array(event.data));
      return;
    }
    const message = JSON.parse(event.data);
    if (message.type === "attached") {
      attempts = 0;
      // A shell that was running replays its recent output: drawn on a clean screen, not after a copy of it.
      if (message.resumed) t.reset();
      setStatus(
        `${message.resumed ? "Reconnected to" : "Connected to"} a shell in “${conversationId}” (pid ${message.pid}).`,
        "ok",
      );
      document.documentElement.dataset.terminal = "attached";
      onAttached();
    } else if (message.type === "error") setStatus(message.message, "bad");
  });
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    document.documentElement.dataset.terminal = "closed";
    const final = FINAL.get(event.code);
    if (final) {
      connectedTo = "";
      // The server's reason says it best ("Closed after 900 s without input."); the code's meaning otherwise.
      setStatus(event.reason || final, event.code === 1000 ? "" : "bad");
      restartButton().textContent = event.code === 4409 ? "Take it back" : "Start a new shell";
      restartButton().hidden = false;
      return;
    }
    retryLater("Connection lost");
  });
}

/** @param {string} why */
function retryLater(why) {
  if (!wanted) return;
  const wait = RETRY_MS[Math.min(attempts, RETRY_MS.length - 1)] ?? 8000;
  attempts++;
  connectedTo = "";
  setStatus(`${why}; reconnecting in ${Math.round(wait / 100) / 10} s…`, "running");
  retryTimer = setTimeout(() => void connect(), wait);
}

function disconnect() {
  const ws = socket;
  socket = null;
  connectedTo = "";
  ws?.close(1000, "closed by the page");
}

/** What an attached shell sets off elsewhere on the page (the conversation may have a sandbox now). */
let onAttached = () => {};

/** The Terminal tab was selected: load xterm.js, connect, take the keyboard. */
export async function showTerminal() {
  wanted = true;
  attempts = 0;
  await connect();
  fitAddon?.fit();
  term?.focus();
}

/** The key was forgotten: close the connection (the shell ends when it idles out on the server). */
export function resetTerminal() {
  wanted = false;
  clearTimeout(retryTimer);
  disconnect();
  term?.reset();
  setStatus("Enter your API key above to open a terminal.");
}

/**
 * The panel of the Terminal tab (runner.js places it among the language panels).
 * @param {{onAttached: () => void}} hooks
 */
export function terminalPanel(hooks) {
  onAttached = hooks.onAttached;
  const restart = el("button", { type: "button", id: "terminal-restart", class: "button small", hidden: "" }, [
    "Start a new shell",
  ]);
  restart.addEventListener("click", () => {
    attempts = 0;
    void connect().then(() => term?.focus());
  });
  // A different conversation has a different shell: follow the field.
  $("conversation").addEventListener("change", () => {
    if (wanted && !$("panel-terminal").hidden) void connect();
  });
  return el("div", { role: "tabpanel", id: "panel-terminal", "aria-labelledby": "tab-terminal", class: "terminal" }, [
    el("div", { class: "terminal-bar" }, [
      el("p", { id: "terminal-status", class: "terminal-status", role: "status", "aria-live": "polite" }, [
        "The conversation's shell opens here.",
      ]),
      restart,
    ]),
    el("div", { id: "terminal-host", class: "terminal-host" }),
  ]);
}
