// The error banner and the screen-reader live region: what went wrong (or what just happened), told plainly.
import { ApiError } from "./api.js";
import { $ } from "./dom.js";

/** What to tell a person about a failed request. @param {unknown} err */
export function describe(err) {
  if (!(err instanceof ApiError)) {
    return { title: "Something went wrong.", message: err instanceof Error ? err.message : String(err), tone: "bad" };
  }
  const retry =
    err.retryAfter !== undefined
      ? ` Try again in ${err.retryAfter} second${err.retryAfter === 1 ? "" : "s"}.`
      : " Try again shortly.";
  switch (err.code) {
    case "unauthorized":
      return {
        title: "API key not accepted.",
        message: `${err.message} Check the key, or forget it and enter another.`,
        tone: "bad",
      };
    case "forbidden":
      return { title: "Not allowed.", message: err.message, tone: "bad" };
    case "rate_limited":
      return { title: "Rate limited.", message: `${err.message}${retry}`, tone: "warn" };
    case "quota_exceeded":
      return {
        title: "Volume quota exceeded.",
        message: `${err.message} Delete some files to make room.`,
        tone: "warn",
      };
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
      return { title: `${`Error ${err.status || ""}`.trim()}.`, message: err.message, tone: "bad" };
  }
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
