// The error banner and the screen-reader live region: what went wrong (or what just happened), told plainly.
import { ApiError } from "./api.js";
import { $ } from "./dom.js";

/** @import { ErrorCode } from "./facts.js" */

/**
 * How each code is told: a title, advice after the server's message (`retry`: when to try again, from
 * Retry-After), and a tone. Keyed by every code of the API (facts.js), so a code added on the server fails
 * the type check until the page can tell it.
 * @type {Record<ErrorCode | "network_error", {title: string, advice?: string, retry?: true, tone: "bad" | "warn"}>}
 */
const TELLING = {
  invalid_request: { title: "Request rejected.", tone: "bad" },
  unauthorized: {
    title: "API key not accepted.",
    advice: "Check the key, or forget it and enter another.",
    tone: "bad",
  },
  forbidden: { title: "Not allowed.", tone: "bad" },
  not_found: { title: "Not found.", tone: "bad" },
  conflict: { title: "Busy with that already.", retry: true, tone: "warn" },
  length_required: { title: "Size unknown.", tone: "bad" },
  precondition_failed: { title: "Changed meanwhile.", advice: "Reload and try again.", tone: "warn" },
  payload_too_large: { title: "Too large.", tone: "bad" },
  range_not_satisfiable: { title: "Out of range.", tone: "bad" },
  upgrade_required: { title: "Not a WebSocket.", tone: "bad" },
  rate_limited: { title: "Rate limited.", retry: true, tone: "warn" },
  internal_error: { title: "Server error.", advice: "Try again; quote the request ID if it persists.", tone: "bad" },
  sandbox_unavailable: { title: "Sandbox unavailable.", advice: "Try again in a moment.", tone: "bad" },
  sandbox_busy: { title: "Sandboxes are busy.", retry: true, tone: "warn" },
  sandbox_timeout: { title: "Sandbox timed out.", advice: "Try again in a moment.", tone: "bad" },
  storage_unavailable: { title: "Storage unavailable.", advice: "Nothing was stored.", retry: true, tone: "warn" },
  quota_exceeded: { title: "Volume quota exceeded.", advice: "Delete some files to make room.", tone: "warn" },
  network_error: { title: "Can't reach Phoenix.", tone: "bad" },
};

/**
 * What to tell a person about a failed request.
 * @param {unknown} err
 * @returns {{title: string, message: string, tone: "bad" | "warn"}}
 */
export function describe(err) {
  if (!(err instanceof ApiError)) {
    return { title: "Something went wrong.", message: err instanceof Error ? err.message : String(err), tone: "bad" };
  }
  const telling = Object.hasOwn(TELLING, err.code) ? TELLING[/** @type {keyof typeof TELLING} */ (err.code)] : null;
  if (!telling) return { title: `${`Error ${err.status || ""}`.trim()}.`, message: err.message, tone: "bad" };
  const retry = !telling.retry
    ? ""
    : err.retryAfter !== undefined
      ? `Try again in ${err.retryAfter} second${err.retryAfter === 1 ? "" : "s"}.`
      : "Try again shortly.";
  const message = [err.message, telling.advice, retry].filter(Boolean).join(" ");
  return { title: telling.title, message, tone: telling.tone };
}

/** Shows a failure in the alert banner (announced to screen readers). @param {unknown} err */
export function showError(err) {
  const { title, message, tone } = describe(err);
  const alert = $("alert");
  alert.classList.toggle("warn", tone === "warn");
  $("alert-title").textContent = title;
  $("alert-message").textContent = message;
  $("alert-request").textContent = err instanceof ApiError && err.requestId ? `Request ID: ${err.requestId}` : "";
  alert.dataset.code = err instanceof ApiError ? err.code : "error";
  alert.hidden = false;
}

/** For background loads (stats, history, volume): shows the API's failures and ignores anything else. @param {unknown} err */
export function showApiError(err) {
  if (err instanceof ApiError) showError(err);
}

export function clearError() {
  $("alert").hidden = true;
}

/** A short message for screen readers only (copy, upload, delete…). @param {string} text */
export function announce(text) {
  const region = $("announce");
  region.textContent = "";
  requestAnimationFrame(() => (region.textContent = text));
}

export function initNotice() {
  $("alert-close").addEventListener("click", clearError);
}
