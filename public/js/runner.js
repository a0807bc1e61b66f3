// The code side of the page: language tabs with their editors, and running code (Run/Stop, Ctrl/Cmd+Enter,
// the live SSE stream into the output pane), plus showing a past run again.
/** @import { ExecutionResult } from "../../src/executions/types.ts" */
/** @import { Language } from "./facts.js" */
/** @import { HistoryItem } from "./types.js" */
import { ApiError, streamError } from "./api.js";
import { keepsVariables, showInterpreterFor } from "./contexts.js";
import { conversation, focusConversation, rememberConversations, setConversation } from "./conversation.js";
import { $, el } from "./dom.js";
import { Editor } from "./editor.js";
import { LANGUAGES } from "./facts.js";
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
import { clearResults, showResults } from "./results.js";
import { apiKey, client } from "./session.js";
import { STORE, storage } from "./storage.js";
import { showTerminal, terminalPanel } from "./terminal.js";

/** What a first visit finds in each editor. @type {Record<Language, string>} */
const SAMPLES = {
  python:
    'import platform, time\n\nprint(f"Hello from Python {platform.python_version()}")\nfor i in range(3):\n    print(f"step {i + 1}")\n    time.sleep(0.3)\n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: sample Node code, interpolated when it runs
  node: 'console.log(`Hello from Node ${process.version}`);\nconst total = [1, 2, 3, 4].reduce((a, b) => a + b, 0);\nconsole.log("sum:", total);\n',
  shell: 'echo "Hello from $(uname -s) as $(whoami)"\nls -la ~\n',
};

const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** @param {unknown} value @returns {value is Language} */
const isLanguage = (value) => LANGUAGES.some((l) => l === value);

/** The selected language: the one used last in this browser, while the API still runs it. */
const stored = storage.get(STORE.language);
/** @type {Language} */
let language = isLanguage(stored) ? stored : LANGUAGES[0];

/** The run in flight, to stop it; null when idle. @type {AbortController | null} */
let controller = null;
/** Its execution id, once the server has started it (Stop then cancels it on the server). */
let runningId = "";

/** What a run (or a terminal's shell) sets off elsewhere on the page; given by initRunner. */
let hooks = { onRunStart: () => {}, onRunEnd: () => {}, onTerminalAttached: () => {} };

/** Filled by initRunner, one per language. */
const editors = /** @type {Record<Language, Editor>} */ ({});

/** The language tabs, in LANGUAGES order; built by initRunner. @type {HTMLButtonElement[]} */
const tabs = [];
const runButton = /** @type {HTMLButtonElement} */ ($("run"));
const stopButton = /** @type {HTMLButtonElement} */ ($("stop"));

// ── Tabs and editors ────────────────────────────────────────────────────────────────────────────

/** The language a tab stands for (its data-language, set from LANGUAGES). @param {HTMLElement} tab */
function tabLanguage(tab) {
  const lang = tab.dataset.language;
  if (!isLanguage(lang)) throw new Error(`tab ${tab.id} names no language`);
  return lang;
}

/** Shows the tab for which `isSelected` holds, hides the other panels. @param {(tab: HTMLElement) => boolean} isSelected @param {{focusTab?: boolean}} opts */
function selectTab(isSelected, opts) {
  for (const tab of tabs) {
    const selected = isSelected(tab);
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(/** @type {string} */ (tab.getAttribute("aria-controls"))).hidden = !selected;
    if (selected && opts.focusTab) tab.focus();
  }
}

/** @param {Language} lang @param {{focusTab?: boolean}} [opts] */
function selectLanguage(lang, opts = {}) {
  language = lang;
  storage.set(STORE.language, lang);
  document.body.classList.remove("terminal-open");
  selectTab((tab) => tab.dataset.language === lang, opts);
  editors[lang].renumber();
  showInterpreterFor(lang);
}

/** The Terminal tab (terminal.js): the conversation's shell instead of an editor; Run and Stop step aside. @param {{focusTab?: boolean}} [opts] */
function selectTerminal(opts = {}) {
  document.body.classList.add("terminal-open");
  selectTab((tab) => tab.id === "tab-terminal", opts);
  void showTerminal();
}

/** @param {HTMLElement} tab @param {{focusTab?: boolean}} [opts] */
function select(tab, opts) {
  if (tab.id === "tab-terminal") selectTerminal(opts);
  else selectLanguage(tabLanguage(tab), opts);
}

export function focusEditor() {
  editors[language].focus();
}

/** The selected language and its editor's code (what the schedules panel schedules). */
export function currentCode() {
  return { language, code: editors[language].value };
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
  clearResults();
  hooks.onRunStart();
  const current = new AbortController();
  controller = current;
  setRunning(true);
  setRunStatus(`Running ${languageLabel(lang)} in “${conversationId}”…`, "running");
  const started = performance.now();
  const stateful = keepsVariables(lang);
  // `artifacts`: the page lists the files each run changed (artifacts.js).
  let ended = await stream(
    { language: lang, code, conversationId, artifacts: true, ...(stateful ? { stateful } : {}) },
    current.signal,
  );
  const refused = ended.failure;
  if (stateful && !ended.executionId && refused instanceof ApiError && refused.code === "conflict") {
    // The conversation's sandbox was started without the code interpreter (by a shell run, an upload or
    // an install): it cannot keep variables, but it runs the code afresh; the note says why and what to do.
    appendNote(`[variables not kept: ${refused.message} Until then, runs here start afresh.]`);
    ended = await stream({ language: lang, code, conversationId, artifacts: true }, current.signal);
  }
  controller = null;
  runningId = "";
  setRunning(false);
  const { executionId } = ended;

  const { result } = ended;
  if (current.signal.aborted && !result) {
    appendNote("[stopped]");
    showFacts({ status: "stopped", id: executionId, durationMs: performance.now() - started });
    setRunStatus(
      "Stopped. The output stream was closed; the server finishes or times out the run and records it in history.",
    );
  } else if (result) {
    if (!hasOutputText() && (result.stdout || result.stderr)) appendStreams(result);
    showResults(result);
    showFacts(result);
    setRunStatus(summary(result), result.status === "succeeded" ? "ok" : "bad");
  } else {
    const failure =
      ended.failure ??
      new ApiError(
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
 * Sends one run and follows its stream to the end.
 * @param {{language: Language, code: string, conversationId: string, stateful?: boolean, artifacts?: boolean}} body
 * @param {AbortSignal} signal
 */
async function stream(body, signal) {
  // Set from the stream's callbacks (an object, so the checker does not narrow them to their first value).
  /** @type {{result: ExecutionResult | null, failure: unknown, executionId: string}} */
  const ended = { result: null, failure: null, executionId: "" };
  try {
    await client.execute(
      body,
      (message) => {
        switch (message.event) {
          case "queued":
            setRunStatus(
              `All your run slots are busy: waiting for one (${message.data.position === 1 ? "next in line" : `position ${message.data.position}`})…`,
              "running",
            );
            break;
          case "start":
            setRunStatus(`Running ${languageLabel(body.language)} in “${body.conversationId}”…`, "running");
            ended.executionId = message.data.id;
            runningId = message.data.id;
            rememberConversations([message.data.conversationId]);
            break;
          case "stdout":
          case "stderr":
            appendOutput(message.event, message.data.data ?? "");
            break;
          case "end":
            ended.result = message.data;
            break;
          case "error":
            // `{error: {code, message, …}}`; the fields may also come at the top level, with the HTTP status.
            ended.failure = streamError(message.data.error ?? message.data);
            break;
        }
      },
      signal,
      (attempt) => setRunStatus(`Connection lost; resuming the run's output (attempt ${attempt})…`, "running"),
    );
  } catch (e) {
    if (!(e instanceof DOMException && e.name === "AbortError")) ended.failure = e;
  }
  return ended;
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

/**
 * Brings back a past run: language, code, conversation and output. Does nothing while a run is in flight.
 * @param {HistoryItem} item
 * @returns {boolean} whether it was shown
 */
export function showRun(item) {
  if (controller) return false;
  if (isLanguage(item.language)) selectLanguage(item.language);
  editors[language].value = item.code ?? "";
  setConversation(item.conversationId ?? "default");
  clearError();
  resetOutput();
  appendStreams(item);
  // History tells an exception as a line of text; a newer server sends it as an object with its traceback.
  if (typeof item.error === "string" && item.error) appendNote(item.error);
  showResults(item);
  noteIfEmpty();
  showFacts(item);
  setRunStatus(`Loaded a ${languageLabel(item.language)} run from ${formatWhen(item.createdAt)}: ${summary(item)}`);
  focusEditor();
  return true;
}

// ── Start ───────────────────────────────────────────────────────────────────────────────────────

/**
 * @param {{onRunStart: () => void, onRunEnd: () => void, onTerminalAttached: () => void}} runHooks what a run,
 * or the Terminal tab's shell, sets off elsewhere on the page
 */
export function initRunner(runHooks) {
  hooks = runHooks;

  for (const lang of LANGUAGES) {
    const label = languageLabel(lang);
    const tab = el(
      "button",
      { type: "button", role: "tab", id: `tab-${lang}`, "aria-controls": `panel-${lang}`, "data-language": lang },
      [label],
    );
    tabs.push(/** @type {HTMLButtonElement} */ (tab));
    $("tabs").append(tab);
    const textarea = el("textarea", {
      "aria-label": `${label} code`,
      "aria-describedby": "editor-hint",
      spellcheck: "false",
      autocapitalize: "off",
      autocomplete: "off",
      wrap: "off",
    });
    const panel = el(
      "div",
      {
        role: "tabpanel",
        id: `panel-${lang}`,
        "aria-labelledby": `tab-${lang}`,
        class: "editor",
        "data-language": lang,
      },
      [el("div", { class: "gutter-clip" }, [el("div", { class: "gutter", "aria-hidden": "true" })]), textarea],
    );
    $("panels").append(panel);
    editors[lang] = new Editor(panel, {
      indent: lang === "python" ? "    " : "  ",
      opensBlock: lang === "python" ? /:$/ : /[{[(]$/,
      onRun: () => void run(),
      onChange: (value) => storage.set(STORE.code(lang), value),
    });
    editors[lang].value = storage.get(STORE.code(lang)) ?? SAMPLES[lang];
  }

  const terminalTab = el(
    "button",
    { type: "button", role: "tab", id: "tab-terminal", "aria-controls": "panel-terminal", class: "terminal-tab" },
    ["Terminal"],
  );
  tabs.push(/** @type {HTMLButtonElement} */ (terminalTab));
  $("tabs").append(terminalTab);
  $("panels").append(terminalPanel({ onAttached: hooks.onTerminalAttached }));

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const i = tabs.indexOf(tab);
      let next = -1;
      if (e.key === "ArrowRight" || e.key === "ArrowDown") next = (i + 1) % tabs.length;
      else if (e.key === "ArrowLeft" || e.key === "ArrowUp") next = (i - 1 + tabs.length) % tabs.length;
      else if (e.key === "Home") next = 0;
      else if (e.key === "End") next = tabs.length - 1;
      if (next < 0) return;
      e.preventDefault();
      select(/** @type {HTMLButtonElement} */ (tabs[next]), { focusTab: true });
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
