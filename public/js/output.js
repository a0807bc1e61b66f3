// The output pane: stdout and stderr as they stream, notes from the page, the run's facts and status line, and Copy.
import { $ } from "./dom.js";
import { formatDuration, statusLabel } from "./format.js";
import { announce } from "./notice.js";

const output = $("output");
/** The text of the output as shown (the program's streams, not the page's notes), for Copy. */
let outputText = "";

export function resetOutput() {
  output.replaceChildren();
  outputText = "";
  $("truncated").hidden = true;
  $("run-facts").hidden = true;
  $("run-artifacts").hidden = true;
  $("share-link").hidden = true;
  $("copy-label").textContent = "Copy";
  /** @type {HTMLButtonElement} */ ($("copy")).disabled = true;
}

/** Appends a chunk, merging it into the previous span when it is the same stream. @param {"stdout"|"stderr"|"sys"} stream @param {string} text */
export function appendOutput(stream, text) {
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
  if (stream !== "sys") outputText += text;
  /** @type {HTMLButtonElement} */ ($("copy")).disabled = !outputText;
  if (pinned) output.scrollTop = output.scrollHeight;
}

/** A run's whole stdout then stderr. @param {{stdout?: string, stderr?: string}} r */
export function appendStreams(r) {
  appendOutput("stdout", r.stdout ?? "");
  appendOutput("stderr", r.stderr ?? "");
}

/** A note from the page ("[stopped]", a run's error) on a line of its own. @param {string} note */
export function appendNote(note) {
  appendOutput("sys", `${outputText && !outputText.endsWith("\n") ? "\n" : ""}${note}\n`);
}

/** Says "(no output)" when nothing at all was shown. */
export function noteIfEmpty() {
  if (!output.childElementCount) appendOutput("sys", "(no output)");
}

/** Whether the program's streams have shown any text. */
export const hasOutputText = () => Boolean(outputText);

/** @param {string} text @param {string} [cls] */
export function setRunStatus(text, cls = "") {
  const el = $("run-status");
  el.textContent = text;
  el.className = `run-status ${cls}`.trim();
}

/** Told of every run whose facts are shown (the artifacts and Share box below the output). */
let factsShown = (/** @type {any} */ _r) => {};

/** @param {(r: any) => void} listener */
export function onFacts(listener) {
  factsShown = listener;
}

/**
 * Shows the facts of a finished (or stopped) run.
 * @param {{status: string, exitCode?: number|null, durationMs?: number, id?: string, truncated?: boolean}} r
 */
export function showFacts(r) {
  const badge = $("fact-status");
  badge.textContent = statusLabel(r.status);
  badge.className = `badge ${r.status}`;
  $("fact-exit").textContent = r.exitCode === null || r.exitCode === undefined ? "–" : String(r.exitCode);
  $("fact-duration").textContent = r.durationMs === undefined ? "–" : formatDuration(r.durationMs);
  $("fact-id").textContent = r.id ?? "";
  $("fact-id-row").hidden = !r.id;
  $("run-facts").hidden = false;
  $("truncated").hidden = !r.truncated;
  factsShown(r);
}

/** How a run ended, in a sentence. @param {{status: string, exitCode: number|null, durationMs: number}} r */
export function summary(r) {
  const d = formatDuration(r.durationMs);
  switch (r.status) {
    case "succeeded":
      return `Succeeded in ${d}.`;
    case "failed":
      // A stateful run has no process of its own, so no exit code: it failed by raising.
      return r.exitCode === null
        ? `Failed after ${d}: the code raised an exception.`
        : `Failed with exit code ${r.exitCode} after ${d}.`;
    case "timed_out":
      return `Timed out after ${d}; the code was stopped.`;
    case "cancelled":
      return `Cancelled after ${d}: the code was stopped.`;
    default:
      return `Ended with an error after ${d}.`;
  }
}

export function initOutput() {
  $("copy").addEventListener("click", async () => {
    const label = $("copy-label");
    try {
      await navigator.clipboard.writeText(outputText);
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
}
