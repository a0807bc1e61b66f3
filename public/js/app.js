// The executor page: key, language tabs with editors, live runs over SSE, stats, history and the volume.
import { ApiError, Client } from "./api.js";
import { Editor } from "./editor.js";
import { LANGUAGE_CHIPS, LANGUAGE_LABELS, STATUS_LABELS, formatBytes, formatDuration, formatPercent, formatWhen } from "./format.js";

const LANGUAGES = /** @type {const} */ (["python", "node", "shell"]);
const CONVERSATION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const STORE = {
  key: "phoenix.apiKey",
  language: "phoenix.language",
  conversation: "phoenix.conversation",
  code: (/** @type {string} */ lang) => `phoenix.code.${lang}`,
};

const SAMPLES = {
  python: 'import platform, time\n\nprint(f"Hello from Python {platform.python_version()}")\nfor i in range(3):\n    print(f"step {i + 1}")\n    time.sleep(0.3)\n',
  node: 'console.log(`Hello from Node ${process.version}`);\nconst total = [1, 2, 3, 4].reduce((a, b) => a + b, 0);\nconsole.log("sum:", total);\n',
  shell: 'echo "Hello from $(uname -s) as $(whoami)"\nls -la ~\n',
};

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** localStorage that keeps working (as memory) where storage is blocked. */
const storage = (() => {
  const memory = new Map();
  return {
    get: (/** @type {string} */ k) => {
      try {
        return localStorage.getItem(k);
      } catch {
        return memory.get(k) ?? null;
      }
    },
    set: (/** @type {string} */ k, /** @type {string} */ v) => {
      try {
        localStorage.setItem(k, v);
      } catch {
        memory.set(k, v);
      }
    },
    remove: (/** @type {string} */ k) => {
      try {
        localStorage.removeItem(k);
      } catch {
        memory.delete(k);
      }
    },
  };
})();

const state = {
  key: storage.get(STORE.key) ?? "",
  language: /** @type {string} */ (storage.get(STORE.language) ?? "python"),
  /** @type {AbortController | null} */
  controller: null,
  /** The text of the output as shown, for Copy. */
  outputText: "",
  history: { cursor: /** @type {string|null} */ (null), loading: false },
  volume: { cursor: /** @type {string|null} */ (null), available: true },
};
if (!LANGUAGES.includes(/** @type {any} */ (state.language))) state.language = "python";

const client = new Client(() => state.key);

// ── Messages ────────────────────────────────────────────────────────────────────────────────────

/** What to tell a person about a failed request. @param {unknown} err */
function describe(err) {
  if (!(err instanceof ApiError)) {
    return { title: "Something went wrong.", message: err instanceof Error ? err.message : String(err), tone: "bad" };
  }
  const retry = err.retryAfter !== undefined ? ` Try again in ${err.retryAfter} second${err.retryAfter === 1 ? "" : "s"}.` : " Try again shortly.";
  switch (err.code) {
    case "unauthorized":
      return { title: "API key not accepted.", message: `${err.message} Check the key, or forget it and enter another.`, tone: "bad" };
    case "forbidden":
      return { title: "Not allowed.", message: err.message, tone: "bad" };
    case "rate_limited":
      return { title: "Rate limited.", message: `${err.message}${retry}`, tone: "warn" };
    case "quota_exceeded":
      return { title: "Volume quota exceeded.", message: `${err.message} Delete some files to make room.`, tone: "warn" };
    case "sandbox_unavailable":
      return { title: "Sandbox unavailable.", message: `${err.message} Try again in a moment.`, tone: "bad" };
    case "sandbox_busy":
      return { title: "Sandboxes are busy.", message: `${err.message}${retry}`, tone: "warn" };
    case "sandbox_timeout":
      return { title: "Sandbox timed out.", message: `${err.message} Try again in a moment.`, tone: "bad" };
    case "payload_too_large":
      return { title: "Too large.", message: err.message, tone: "bad" };
    case "invalid_request":
      return { title: "Request rejected.", message: err.message, tone: "bad" };
    case "network_error":
      return { title: "Can't reach Phoenix.", message: err.message, tone: "bad" };
    case "not_found":
      return { title: "Not found.", message: err.message, tone: "bad" };
    default:
      return { title: `Error ${err.status || ""}`.trim() + ".", message: err.message, tone: "bad" };
  }
}

/** Shows a failure in the alert banner (announced to screen readers). @param {unknown} err */
function showError(err) {
  const { title, message, tone } = describe(err);
  const alert = $("alert");
  alert.classList.toggle("warn", tone === "warn");
  $("alert-title").textContent = title;
  $("alert-message").textContent = message;
  $("alert-request").textContent = err instanceof ApiError && err.requestId ? `Request ID: ${err.requestId}` : "";
  alert.dataset.code = err instanceof ApiError ? err.code : "error";
  alert.hidden = false;
}

function clearError() {
  $("alert").hidden = true;
}

/** A short message for screen readers only (copy, upload, delete…). @param {string} text */
function announce(text) {
  const region = $("announce");
  region.textContent = "";
  requestAnimationFrame(() => (region.textContent = text));
}

// ── API key ─────────────────────────────────────────────────────────────────────────────────────

function renderKey() {
  const has = Boolean(state.key);
  $("key-form").hidden = has;
  $("key-saved").hidden = !has;
  $("key-hint").textContent = has ? `${state.key.slice(0, 4)}…${state.key.slice(-4)}` : "";
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("key-input"));
  const key = input.value.trim();
  if (!key) return;
  state.key = key;
  storage.set(STORE.key, key);
  input.value = "";
  clearError();
  renderKey();
  announce("API key saved in this browser.");
  editors[state.language].focus();
  refreshAll();
});

$("key-forget").addEventListener("click", () => {
  state.key = "";
  storage.remove(STORE.key);
  renderKey();
  clearError();
  resetPanels();
  announce("API key forgotten.");
  $("key-input").focus();
});

$("alert-close").addEventListener("click", clearError);

// ── Tabs and editors ────────────────────────────────────────────────────────────────────────────

/** @type {Record<string, Editor>} */
const editors = {};
for (const lang of LANGUAGES) {
  const panel = $(`panel-${lang}`);
  editors[lang] = new Editor(panel, {
    indent: lang === "python" ? "    " : "  ",
    opensBlock: lang === "python" ? /:$/ : /[{[(]$/,
    onRun: () => void run(),
    onChange: (value) => storage.set(STORE.code(lang), value),
  });
  editors[lang].value = storage.get(STORE.code(lang)) ?? SAMPLES[lang];
}

const tabs = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('[role="tab"]')]);

/** @param {string} lang @param {{focusTab?: boolean}} [opts] */
function selectLanguage(lang, opts = {}) {
  state.language = lang;
  storage.set(STORE.language, lang);
  for (const tab of tabs) {
    const selected = tab.dataset.language === lang;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(/** @type {string} */ (tab.getAttribute("aria-controls"))).hidden = !selected;
    if (selected && opts.focusTab) tab.focus();
  }
  editors[lang].renumber();
}

for (const tab of tabs) {
  tab.addEventListener("click", () => selectLanguage(/** @type {string} */ (tab.dataset.language)));
  tab.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(tab);
    let next = -1;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") next = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") next = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = tabs.length - 1;
    if (next < 0) return;
    e.preventDefault();
    selectLanguage(/** @type {string} */ (tabs[next].dataset.language), { focusTab: true });
  });
}

if (isMac) for (const el of document.querySelectorAll(".mod")) el.textContent = "⌘";

// ── Conversation ────────────────────────────────────────────────────────────────────────────────

const conversationInput = /** @type {HTMLInputElement} */ ($("conversation"));
conversationInput.value = storage.get(STORE.conversation) ?? "default";

/** @returns {string | null} the conversation id, or null (with the field marked) when it is invalid */
function conversation() {
  const value = conversationInput.value.trim();
  const valid = CONVERSATION_RE.test(value);
  conversationInput.setAttribute("aria-invalid", String(!valid));
  const error = $("conversation-error");
  error.hidden = valid;
  error.textContent = valid
    ? ""
    : value
      ? "Conversation: 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit."
      : "Conversation: enter a name, e.g. default.";
  if (valid) storage.set(STORE.conversation, value);
  return valid ? value : null;
}

conversationInput.addEventListener("input", () => void conversation());

/** @param {Iterable<string>} ids */
function rememberConversations(ids) {
  const list = $("conversation-list");
  const known = new Set([...list.querySelectorAll("option")].map((o) => o.value));
  for (const id of ids) {
    if (known.has(id)) continue;
    known.add(id);
    const option = document.createElement("option");
    option.value = id;
    list.append(option);
  }
}

// ── Output ──────────────────────────────────────────────────────────────────────────────────────

const output = $("output");

function resetOutput() {
  output.replaceChildren();
  state.outputText = "";
  $("truncated").hidden = true;
  $("run-facts").hidden = true;
  $("copy-label").textContent = "Copy";
  /** @type {HTMLButtonElement} */ ($("copy")).disabled = true;
}

/** Appends a chunk, merging it into the previous span when it is the same stream. @param {"stdout"|"stderr"|"sys"} stream @param {string} text */
function appendOutput(stream, text) {
  if (!text) return;
  const pinned = output.scrollHeight - output.scrollTop - output.clientHeight < 24;
  const last = output.lastElementChild;
  if (last instanceof HTMLSpanElement && last.dataset.stream === stream) {
    last.append(text);
  } else {
    const span = document.createElement("span");
    span.className = stream;
    span.dataset.stream = stream;
    if (stream === "stderr") span.title = "stderr";
    span.textContent = text;
    output.append(span);
  }
  if (stream !== "sys") state.outputText += text;
  /** @type {HTMLButtonElement} */ ($("copy")).disabled = !state.outputText;
  if (pinned) output.scrollTop = output.scrollHeight;
}

/** @param {string} text @param {string} [cls] */
function setRunStatus(text, cls = "") {
  const el = $("run-status");
  el.textContent = text;
  el.className = `run-status ${cls}`.trim();
}

/**
 * Shows the facts of a finished (or stopped) run.
 * @param {{status: string, exitCode?: number|null, durationMs?: number, id?: string, truncated?: boolean}} r
 */
function showFacts(r) {
  const badge = $("fact-status");
  badge.textContent = STATUS_LABELS[/** @type {keyof typeof STATUS_LABELS} */ (r.status)] ?? r.status;
  badge.className = `badge ${r.status}`;
  $("fact-exit").textContent = r.exitCode === null || r.exitCode === undefined ? "–" : String(r.exitCode);
  $("fact-duration").textContent = r.durationMs === undefined ? "–" : formatDuration(r.durationMs);
  $("fact-id").textContent = r.id ?? "";
  $("fact-id").parentElement.parentElement.hidden = !r.id;
  $("run-facts").hidden = false;
  $("truncated").hidden = !r.truncated;
}

/** @param {{status: string, exitCode: number|null, durationMs: number}} r */
function summary(r) {
  const d = formatDuration(r.durationMs);
  switch (r.status) {
    case "succeeded":
      return `Succeeded in ${d}.`;
    case "failed":
      return `Failed with exit code ${r.exitCode} after ${d}.`;
    case "timed_out":
      return `Timed out after ${d}; the code was stopped.`;
    default:
      return `Ended with an error after ${d}.`;
  }
}

$("copy").addEventListener("click", async () => {
  const label = $("copy-label");
  try {
    await navigator.clipboard.writeText(state.outputText);
  } catch {
    // Clipboard API unavailable (http, permissions): copy through a selection instead.
    const range = document.createRange();
    range.selectNodeContents(output);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    document.execCommand("copy");
    selection?.removeAllRanges();
  }
  label.textContent = "Copied";
  announce("Output copied to the clipboard.");
  setTimeout(() => (label.textContent = "Copy"), 1600);
});

// ── Running ─────────────────────────────────────────────────────────────────────────────────────

const runButton = /** @type {HTMLButtonElement} */ ($("run"));
const stopButton = /** @type {HTMLButtonElement} */ ($("stop"));

/** @param {boolean} running */
function setRunning(running) {
  runButton.disabled = running;
  stopButton.disabled = !running;
  document.body.classList.toggle("is-running", running);
  $("output").setAttribute("aria-busy", String(running));
}

async function run() {
  if (state.controller) return;
  if (!state.key) {
    showError(new ApiError(401, "unauthorized", "Enter your API key above to run code."));
    $("key-input").focus();
    return;
  }
  const conversationId = conversation();
  if (!conversationId) {
    conversationInput.focus();
    return;
  }
  const language = state.language;
  const code = editors[language].value;
  if (!code.trim()) {
    setRunStatus("Nothing to run: the editor is empty.");
    return;
  }
  clearError();
  resetOutput();
  markHistory(null);
  const controller = new AbortController();
  state.controller = controller;
  setRunning(true);
  setRunStatus(`Running ${LANGUAGE_LABELS[language]} in “${conversationId}”…`, "running");
  const started = performance.now();
  /** @type {any} */
  let result = null;
  /** @type {unknown} */
  let failure = null;
  let executionId = "";
  try {
    await client.execute({ language, code, conversationId }, (event, data) => {
      switch (event) {
        case "start":
          executionId = data.id;
          rememberConversations([data.conversationId]);
          break;
        case "stdout":
        case "stderr":
          appendOutput(event, data.data ?? "");
          break;
        case "end":
          result = data;
          break;
        case "error": {
          const e = data.error ?? {};
          failure = new ApiError(statusOf(e.code), e.code ?? "error", e.message ?? "The run failed.", {
            retryAfter: e.retryAfterSeconds,
            requestId: e.requestId,
          });
          break;
        }
      }
    }, controller.signal);
  } catch (e) {
    if (!(e instanceof DOMException && e.name === "AbortError")) failure = e;
  } finally {
    state.controller = null;
    setRunning(false);
  }

  if (controller.signal.aborted && !result) {
    appendOutput("sys", `${state.outputText && !state.outputText.endsWith("\n") ? "\n" : ""}[stopped]\n`);
    showFacts({ status: "stopped", id: executionId, durationMs: performance.now() - started });
    setRunStatus("Stopped. The output stream was closed; the server finishes or times out the run and records it in history.");
  } else if (result) {
    if (!state.outputText && (result.stdout || result.stderr)) {
      appendOutput("stdout", result.stdout ?? "");
      appendOutput("stderr", result.stderr ?? "");
    }
    showFacts(result);
    setRunStatus(summary(result), result.status === "succeeded" ? "ok" : "bad");
  } else {
    failure ??= new ApiError(0, "network_error", "The connection closed before the run finished; it may still be running. Check the history.");
    showError(failure);
    const { title } = describe(failure);
    showFacts({ status: "error", id: executionId, durationMs: performance.now() - started });
    setRunStatus(`${title} ${failure instanceof Error ? failure.message : ""}`.trim(), "bad");
  }
  if (!output.childElementCount) appendOutput("sys", "(no output)");
  void refreshStats();
  void loadHistory(true);
}

/** @param {string | undefined} code */
function statusOf(code) {
  const map = { unauthorized: 401, rate_limited: 429, quota_exceeded: 507, sandbox_unavailable: 502, sandbox_busy: 503, sandbox_timeout: 504, invalid_request: 400 };
  return map[/** @type {keyof typeof map} */ (code)] ?? 500;
}

runButton.addEventListener("click", () => void run());
stopButton.addEventListener("click", () => state.controller?.abort());
document.addEventListener("keydown", (e) => {
  // Ctrl/Cmd+Enter runs from anywhere on the page, not only from the editor.
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !(e.target instanceof HTMLTextAreaElement)) {
    e.preventDefault();
    void run();
  }
});

// ── Stats ───────────────────────────────────────────────────────────────────────────────────────

async function refreshStats() {
  if (!state.key) return;
  const button = $("stats-refresh");
  button.classList.add("spinning");
  try {
    renderStats(await client.stats());
  } catch (e) {
    if (e instanceof ApiError) showError(e);
  } finally {
    button.classList.remove("spinning");
  }
}

/** @param {any} stats */
function renderStats(stats) {
  const u = stats.user ?? {};
  const body = $("stats-body");
  body.replaceChildren();
  const grid = el("dl", { class: "stat-grid" });
  for (const [name, label, value] of [
    ["total", "Executions", String(u.totalExecutions ?? 0)],
    ["success", "Success rate", u.totalExecutions ? formatPercent(u.successRate) : "–"],
    ["duration", "Avg duration", u.totalExecutions ? formatDuration(u.averageDuration) : "–"],
  ]) {
    grid.append(el("div", { class: "stat", "data-stat": name }, [el("dt", {}, [label]), el("dd", {}, [value])]));
  }
  body.append(grid);
  const langs = Object.entries(u.byLanguage ?? {}).filter(([, s]) => s && s.total);
  if (!langs.length) {
    body.append(el("p", { class: "empty" }, ["No runs yet."]));
    return;
  }
  const rows = langs.map(([lang, s]) => {
    const rate = s.total ? (s.succeeded / s.total) * 100 : 0;
    return el("tr", { "data-language": lang }, [
      el("th", { scope: "row" }, [LANGUAGE_LABELS[/** @type {keyof typeof LANGUAGE_LABELS} */ (lang)] ?? lang]),
      el("td", {}, [String(s.total)]),
      el("td", {}, [el("span", { class: "rate-bar", "aria-hidden": "true" }, [el("span", { style: `width:${rate}%` })]), formatPercent(rate)]),
      el("td", {}, [formatDuration(s.averageDuration)]),
    ]);
  });
  body.append(
    el("table", { class: "lang-table" }, [
      el("caption", {}, ["By language"]),
      el("thead", {}, [el("tr", {}, ["Language", "Runs", "Success", "Avg"].map((h) => el("th", { scope: "col" }, [h])))]),
      el("tbody", {}, rows),
    ]),
  );
}

$("stats-refresh").addEventListener("click", () => void refreshStats());

// ── History ─────────────────────────────────────────────────────────────────────────────────────

/** @param {boolean} reset start again from the newest */
async function loadHistory(reset) {
  if (!state.key || state.history.loading) return;
  state.history.loading = true;
  const list = $("history-list");
  try {
    const page = await client.history({ cursor: reset ? null : state.history.cursor });
    if (reset) list.replaceChildren();
    for (const item of page.items ?? []) list.append(historyEntry(item));
    rememberConversations((page.items ?? []).map((/** @type {any} */ i) => i.conversationId));
    state.history.cursor = page.nextCursor ?? null;
    $("history-more").hidden = !state.history.cursor;
    $("history-empty").hidden = list.childElementCount > 0;
    $("history-empty").textContent = "No runs yet. Your executions will be listed here.";
  } catch (e) {
    if (e instanceof ApiError) showError(e);
  } finally {
    state.history.loading = false;
  }
}

/** @param {any} item a history item: an execution result with its code */
function historyEntry(item) {
  const firstLine = (item.code ?? "").split("\n").find((/** @type {string} */ l) => l.trim()) ?? "";
  const status = STATUS_LABELS[/** @type {keyof typeof STATUS_LABELS} */ (item.status)] ?? item.status;
  const when = formatWhen(item.createdAt);
  const button = el(
    "button",
    {
      type: "button",
      class: "history-item",
      "data-id": item.id,
      "aria-label": `${LANGUAGE_LABELS[/** @type {keyof typeof LANGUAGE_LABELS} */ (item.language)] ?? item.language}, ${status}, ${when}, in ${item.conversationId}: ${firstLine.trim()}`,
    },
    [
      el("span", { class: `lang-chip ${item.language}`, "aria-hidden": "true" }, [LANGUAGE_CHIPS[/** @type {keyof typeof LANGUAGE_CHIPS} */ (item.language)] ?? "?"]),
      el("span", { class: "history-code" }, [firstLine.trim() || "(empty)"]),
      el("span", { class: `badge ${item.status}` }, [status]),
      el("span", { class: "history-when" }, [
        [when, formatDuration(item.durationMs), item.conversationId === "default" ? "" : item.conversationId].filter(Boolean).join(" · "),
      ]),
    ],
  );
  button.addEventListener("click", () => restore(item, button));
  return el("li", {}, [button]);
}

/** Brings back a past run: language, code, conversation and output. @param {any} item @param {HTMLElement} button */
function restore(item, button) {
  if (state.controller) return;
  if (LANGUAGES.includes(item.language)) selectLanguage(item.language);
  editors[state.language].value = item.code ?? "";
  conversationInput.value = item.conversationId ?? "default";
  conversation();
  clearError();
  resetOutput();
  appendOutput("stdout", item.stdout ?? "");
  appendOutput("stderr", item.stderr ?? "");
  if (item.error) appendOutput("sys", `${state.outputText && !state.outputText.endsWith("\n") ? "\n" : ""}${item.error}\n`);
  if (!output.childElementCount) appendOutput("sys", "(no output)");
  showFacts(item);
  markHistory(button);
  setRunStatus(`Loaded a ${LANGUAGE_LABELS[/** @type {keyof typeof LANGUAGE_LABELS} */ (item.language)] ?? item.language} run from ${formatWhen(item.createdAt)}: ${summary(item)}`);
  editors[state.language].focus();
}

/** @param {HTMLElement | null} button */
function markHistory(button) {
  for (const b of document.querySelectorAll(".history-item[aria-current]")) b.removeAttribute("aria-current");
  button?.setAttribute("aria-current", "true");
}

$("history-more").addEventListener("click", () => void loadHistory(false));
$("history-refresh").addEventListener("click", () => void loadHistory(true));

// ── Volume ──────────────────────────────────────────────────────────────────────────────────────

const uploadInput = /** @type {HTMLInputElement} */ ($("upload-input"));

async function refreshVolume() {
  if (!state.key) return;
  const body = $("volume-body");
  try {
    const info = await client.volume();
    state.volume.available = true;
    $("upload-label").hidden = false;
    renderUsage(info);
    await loadFiles(true);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      state.volume.available = false;
      $("upload-label").hidden = true;
      $("volume-files-wrap").hidden = true;
      body.replaceChildren(el("p", { class: "empty" }, ["Persistent files are not available on this server yet."]));
      return;
    }
    if (e instanceof ApiError) showError(e);
  }
}

/** @param {{usedBytes: number, quotaBytes: number, usagePercent: number, fileCount: number}} info */
function renderUsage(info) {
  const percent = Math.min(100, Math.max(0, info.usagePercent ?? (info.quotaBytes ? (info.usedBytes / info.quotaBytes) * 100 : 0)));
  const bar = el("div", {
    class: `usage-bar${percent >= 90 ? " high" : ""}`,
    role: "progressbar",
    "aria-label": "Volume usage",
    "aria-valuemin": "0",
    "aria-valuemax": "100",
    "aria-valuenow": String(Math.round(percent)),
    "aria-valuetext": `${formatBytes(info.usedBytes)} of ${formatBytes(info.quotaBytes)} used`,
  }, [el("span", { style: `width:${percent > 0 ? Math.max(percent, 1) : 0}%` })]);
  $("volume-body").replaceChildren(
    el("div", { class: "usage-text", id: "volume-usage" }, [
      el("span", {}, [el("strong", {}, [formatBytes(info.usedBytes)]), ` of ${formatBytes(info.quotaBytes)}`]),
      el("span", {}, [`${info.fileCount} file${info.fileCount === 1 ? "" : "s"} · ${formatPercent(percent)}`]),
    ]),
    bar,
  );
}

/** The list endpoint's files, whatever it calls its fields. @param {any} page */
function filesOf(page) {
  const items = page.items ?? page.files ?? page.objects ?? [];
  return items.map((/** @type {any} */ f) => ({
    name: f.name ?? f.key ?? f.path,
    size: f.size ?? f.sizeBytes ?? 0,
    modified: f.modifiedAt ?? f.lastModified ?? f.uploadedAt ?? f.uploaded ?? null,
  }));
}

/** @param {boolean} reset */
async function loadFiles(reset) {
  const prefix = /** @type {HTMLInputElement} */ ($("volume-prefix")).value.trim();
  try {
    const page = await client.volumeFiles({ prefix, cursor: reset ? null : state.volume.cursor });
    const list = $("volume-files");
    if (reset) list.replaceChildren();
    for (const file of filesOf(page)) list.append(fileEntry(file));
    state.volume.cursor = page.nextCursor ?? null;
    $("volume-more").hidden = !state.volume.cursor;
    $("volume-files-wrap").hidden = false;
    if (!list.childElementCount) list.append(el("li", { class: "empty" }, [prefix ? `No files under “${prefix}”.` : "No files yet. Upload one to keep it across sandboxes."]));
  } catch (e) {
    if (e instanceof ApiError) showError(e);
  }
}

/** @param {{name: string, size: number, modified: string|null}} file */
function fileEntry(file) {
  const download = el("button", { type: "button", class: "icon-button", "aria-label": `Download ${file.name}`, title: "Download" }, [
    svg('<path d="M8 3v8M4.5 7.5 8 11l3.5-3.5M3 13h10" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>'),
  ]);
  const remove = el("button", { type: "button", class: "icon-button", "aria-label": `Delete ${file.name}`, title: "Delete" }, [
    svg('<path d="M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 8.5h5.8l.6-8.5" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>'),
  ]);
  download.addEventListener("click", () => void downloadFile(file.name));
  /** @type {number | undefined} */
  let confirmTimer;
  remove.addEventListener("click", async () => {
    if (!remove.classList.contains("confirm")) {
      // Two presses to delete: the first turns the button into a confirmation.
      remove.classList.add("confirm");
      remove.textContent = "Delete?";
      remove.setAttribute("aria-label", `Confirm deleting ${file.name}`);
      announce(`Press again to delete ${file.name}.`);
      confirmTimer = window.setTimeout(() => {
        remove.classList.remove("confirm");
        remove.replaceChildren(svg('<path d="M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 8.5h5.8l.6-8.5" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>'));
        remove.setAttribute("aria-label", `Delete ${file.name}`);
      }, 4000);
      return;
    }
    clearTimeout(confirmTimer);
    try {
      await client.deleteFile(file.name);
      announce(`Deleted ${file.name}.`);
      await refreshVolume();
      $("upload-input").focus();
    } catch (e) {
      showError(e);
    }
  });
  return el("li", { "data-file": file.name }, [
    el("span", { class: "file-name", title: file.name }, [file.name]),
    el("span", { class: "file-size" }, [formatBytes(file.size)]),
    download,
    remove,
  ]);
}

/** @param {string} name */
async function downloadFile(name) {
  try {
    const blob = await client.getFile(name);
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name.split("/").pop() ?? name, hidden: "" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
    announce(`Downloading ${name}.`);
  } catch (e) {
    showError(e);
  }
}

uploadInput.addEventListener("change", async () => {
  const files = [...(uploadInput.files ?? [])];
  if (!files.length || !state.key) return;
  const label = $("upload-label");
  label.classList.add("busy");
  clearError();
  try {
    for (const file of files) {
      announce(`Uploading ${file.name}…`);
      await client.putFile(file.name, file);
    }
    announce(files.length === 1 ? `Uploaded ${files[0].name}.` : `Uploaded ${files.length} files.`);
  } catch (e) {
    showError(e);
  } finally {
    label.classList.remove("busy");
    uploadInput.value = "";
    await refreshVolume();
  }
});

/** @type {number | undefined} */
let prefixTimer;
$("volume-prefix").addEventListener("input", () => {
  clearTimeout(prefixTimer);
  prefixTimer = window.setTimeout(() => void loadFiles(true), 250);
});
$("volume-more").addEventListener("click", () => void loadFiles(false));

// ── Helpers and start ───────────────────────────────────────────────────────────────────────────

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node|string)[]} [children]
 */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** @param {string} paths SVG content in a 16×16 box */
function svg(paths) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  node.setAttribute("viewBox", "0 0 16 16");
  node.setAttribute("aria-hidden", "true");
  node.setAttribute("focusable", "false");
  node.innerHTML = paths;
  return node;
}

function resetPanels() {
  $("stats-body").replaceChildren(el("p", { class: "empty" }, ["Enter an API key to see your stats."]));
  $("history-list").replaceChildren();
  $("history-empty").hidden = false;
  $("history-empty").textContent = "Enter an API key to see your history.";
  $("history-more").hidden = true;
  $("volume-body").replaceChildren(el("p", { class: "empty" }, ["Enter an API key to see your files."]));
  $("volume-files-wrap").hidden = true;
}

function refreshAll() {
  void refreshStats();
  void loadHistory(true);
  void refreshVolume();
}

renderKey();
selectLanguage(state.language);
conversation();
if (state.key) refreshAll();
else $("key-input").focus();
document.documentElement.dataset.ready = "true";
