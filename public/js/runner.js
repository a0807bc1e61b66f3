// The code side of the page: language tabs with their editors, and running code (Run/Stop, Ctrl/Cmd+Enter,
// the live SSE stream into the output pane), plus showing a past run again.
import { ApiError } from "./api.js";
import { conversation, focusConversation, rememberConversations, setConversation } from "./conversation.js";
import { $ } from "./dom.js";
import { Editor } from "./editor.js";
import { formatWhen, languageLabel } from "./format.js";
import { clearError, describe, showError } from "./notice.js";
import {
  appendNote,
  appendOutput,
  appendStreams,
  hasOutputText,
  noteIfEmpty,
  resetOutput,
  setRunStatus,
  showFacts,
  summary,
} from "./output.js";
import { apiKey, client } from "./session.js";
import { STORE, storage } from "./storage.js";

const LANGUAGES = /** @type {const} */ (["python", "node", "shell"]);

const SAMPLES = {
  python:
    'import platform, time\n\nprint(f"Hello from Python {platform.python_version()}")\nfor i in range(3):\n    print(f"step {i + 1}")\n    time.sleep(0.3)\n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: sample Node code, interpolated when it runs
  node: 'console.log(`Hello from Node ${process.version}`);\nconst total = [1, 2, 3, 4].reduce((a, b) => a + b, 0);\nconsole.log("sum:", total);\n',
  shell: 'echo "Hello from $(uname -s) as $(whoami)"\nls -la ~\n',
};

const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** The selected language. */
let language = /** @type {string} */ (storage.get(STORE.language) ?? "python");
if (!LANGUAGES.includes(/** @type {any} */ (language))) language = "python";

/** The run in flight, to stop it; null when idle. @type {AbortController | null} */
let controller = null;
/** Its execution id, once the server has started it (Stop then cancels it on the server). */
let runningId = "";

/** What a run sets off elsewhere on the page; given by initRunner. */
let hooks = { onRunStart: () => {}, onRunEnd: () => {} };

/** @type {Record<string, Editor>} */
const editors = {};

const tabs = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('[role="tab"]')]);
const runButton = /** @type {HTMLButtonElement} */ ($("run"));
const stopButton = /** @type {HTMLButtonElement} */ ($("stop"));

// ── Tabs and editors ────────────────────────────────────────────────────────────────────────────

/** @param {string} lang @param {{focusTab?: boolean}} [opts] */
function selectLanguage(lang, opts = {}) {
  language = lang;
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

export function focusEditor() {
  editors[language].focus();
}

// ── Running ─────────────────────────────────────────────────────────────────────────────────────

/** @param {boolean} running */
function setRunning(running) {
  runButton.disabled = running;
  stopButton.disabled = !running;
  document.body.classList.toggle("is-running", running);
  $("output").setAttribute("aria-busy", String(running));
}

async function run() {
  if (controller) return;
  if (!apiKey()) {
    showError(new ApiError(401, "unauthorized", "Enter your API key above to run code."));
    $("key-input").focus();
    return;
  }
  const conversationId = conversation();
  if (!conversationId) {
    focusConversation();
    return;
  }
  const lang = language;
  const code = editors[lang].value;
  if (!code.trim()) {
    setRunStatus("Nothing to run: the editor is empty.");
    return;
  }
  clearError();
  resetOutput();
  hooks.onRunStart();
  const current = new AbortController();
  controller = current;
  setRunning(true);
  setRunStatus(`Running ${languageLabel(lang)} in “${conversationId}”…`, "running");
  const started = performance.now();
  /** @type {any} */
  let result = null;
  /** @type {unknown} */
  let failure = null;
  let executionId = "";
  try {
    await client.execute(
      { language: lang, code, conversationId },
      (event, data) => {
        switch (event) {
          case "start":
            executionId = data.id;
            runningId = data.id;
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
      },
      current.signal,
    );
  } catch (e) {
    if (!(e instanceof DOMException && e.name === "AbortError")) failure = e;
  } finally {
    controller = null;
    runningId = "";
    setRunning(false);
  }

  if (current.signal.aborted && !result) {
    appendNote("[stopped]");
    showFacts({ status: "stopped", id: executionId, durationMs: performance.now() - started });
    setRunStatus(
      "Stopped. The output stream was closed; the server finishes or times out the run and records it in history.",
    );
  } else if (result) {
    if (!hasOutputText() && (result.stdout || result.stderr)) appendStreams(result);
    showFacts(result);
    setRunStatus(summary(result), result.status === "succeeded" ? "ok" : "bad");
  } else {
    failure ??= new ApiError(
      0,
      "network_error",
      "The connection closed before the run finished; it may still be running. Check the history.",
    );
    showError(failure);
    const { title } = describe(failure);
    showFacts({ status: "error", id: executionId, durationMs: performance.now() - started });
    setRunStatus(`${title} ${failure instanceof Error ? failure.message : ""}`.trim(), "bad");
  }
  noteIfEmpty();
  hooks.onRunEnd();
}

/**
 * Stop: a run the server has started is cancelled there (the stream then ends with `cancelled`);
 * before that, or if cancelling fails, the stream is simply closed.
 */
async function stop() {
  const running = controller;
  if (!running) return;
  if (!runningId) return running.abort();
  stopButton.disabled = true;
  setRunStatus("Stopping…", "running");
  try {
    await client.cancel(runningId);
  } catch {
    running.abort();
  }
}

/** @param {string | undefined} code */
function statusOf(code) {
  const map = {
    unauthorized: 401,
    rate_limited: 429,
    quota_exceeded: 507,
    sandbox_unavailable: 502,
    sandbox_busy: 503,
    sandbox_timeout: 504,
    invalid_request: 400,
  };
  return map[/** @type {keyof typeof map} */ (code)] ?? 500;
}

/**
 * Brings back a past run: language, code, conversation and output. Does nothing while a run is in flight.
 * @param {any} item a history item: an execution result with its code
 * @returns {boolean} whether it was shown
 */
export function showRun(item) {
  if (controller) return false;
  if (LANGUAGES.includes(item.language)) selectLanguage(item.language);
  editors[language].value = item.code ?? "";
  setConversation(item.conversationId ?? "default");
  clearError();
  resetOutput();
  appendStreams(item);
  if (item.error) appendNote(item.error);
  noteIfEmpty();
  showFacts(item);
  setRunStatus(`Loaded a ${languageLabel(item.language)} run from ${formatWhen(item.createdAt)}: ${summary(item)}`);
  focusEditor();
  return true;
}

// ── Start ───────────────────────────────────────────────────────────────────────────────────────

/** @param {{onRunStart: () => void, onRunEnd: () => void}} runHooks what a run sets off elsewhere on the page */
export function initRunner(runHooks) {
  hooks = runHooks;

  for (const lang of LANGUAGES) {
    editors[lang] = new Editor($(`panel-${lang}`), {
      indent: lang === "python" ? "    " : "  ",
      opensBlock: lang === "python" ? /:$/ : /[{[(]$/,
      onRun: () => void run(),
      onChange: (value) => storage.set(STORE.code(lang), value),
    });
    editors[lang].value = storage.get(STORE.code(lang)) ?? SAMPLES[lang];
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

  runButton.addEventListener("click", () => void run());
  stopButton.addEventListener("click", () => void stop());
  document.addEventListener("keydown", (e) => {
    // Ctrl/Cmd+Enter runs from anywhere on the page, not only from the editor.
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !(e.target instanceof HTMLTextAreaElement)) {
      e.preventDefault();
      void run();
    }
  });

  selectLanguage(language);
}
