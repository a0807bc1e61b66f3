// The Packages box: pip or npm install into the current conversation's sandbox, with the install's output.
import { ApiError } from "./api.js";
import { conversation, focusConversation } from "./conversation.js";
import { $ } from "./dom.js";
import { formatDuration } from "./format.js";
import { announce, describe, showError } from "./notice.js";
import { apiKey, client } from "./session.js";

/**
 * What `POST /api/v1/sandboxes/:conversationId/packages` answers (src/sandbox/packages.ts InstallResult).
 * @typedef {{id: string, manager: string, packages: string[], status: string, exitCode: number | null,
 *   stdout: string, stderr: string, truncated: boolean, durationMs: number}} InstallResult
 */

/** Specs as typed: separated by spaces, commas or new lines (a spec itself has none of those but pip's `,`). */
const specs = (/** @type {string} */ text) =>
  text
    .split(/\s+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** @param {string} text @param {"" | "running" | "ok" | "bad"} [tone] */
function say(text, tone = "") {
  const status = $("packages-status");
  status.textContent = text;
  status.className = `interp-status ${tone}`.trim();
}

/** @param {string} text */
function show(text) {
  const out = $("packages-output");
  out.textContent = text;
  out.hidden = !text;
}

/** What an install sets off elsewhere (the Files panel lists the folder again); given by initPackages. */
let onInstalled = () => {};

/** @param {SubmitEvent} e */
async function install(e) {
  e.preventDefault();
  if (!apiKey()) return showError(new ApiError(401, "unauthorized", "Enter your API key above to install packages."));
  const conversationId = conversation();
  if (!conversationId) return focusConversation();
  const manager = /** @type {HTMLSelectElement} */ ($("packages-manager")).value;
  const packages = specs(/** @type {HTMLInputElement} */ ($("packages-specs")).value);
  if (!packages.length) {
    say("Name at least one package.", "bad");
    return $("packages-specs").focus();
  }
  const button = /** @type {HTMLButtonElement} */ ($("packages-install"));
  button.disabled = true;
  show("");
  say(`Installing with ${manager} in “${conversationId}”…`, "running");
  try {
    /** @type {InstallResult} */
    const result = await client.json(`/api/v1/sandboxes/${encodeURIComponent(conversationId)}/packages`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ manager, packages }),
    });
    show(
      `${result.stdout}${result.stderr ? `${result.stdout && !result.stdout.endsWith("\n") ? "\n" : ""}${result.stderr}` : ""}`,
    );
    const ok = result.status === "succeeded";
    const how = ok ? "Installed" : result.status === "timed_out" ? "Timed out installing" : "Failed to install";
    say(`${how} ${packages.join(" ")} (${formatDuration(result.durationMs)}).`, ok ? "ok" : "bad");
    announce(`${how} ${packages.join(" ")}.`);
  } catch (err) {
    // A refused spec (400) is told here, by the box, in the API's words; anything else in the banner too.
    const { title, message } = describe(err);
    say(`${title} ${message}`, "bad");
    if (!(err instanceof ApiError && err.status === 400)) showError(err);
  } finally {
    button.disabled = false;
    onInstalled();
  }
}

/** @param {{onInstalled: () => void}} hooks */
export function initPackages(hooks) {
  onInstalled = hooks.onInstalled;
  /** @type {HTMLFormElement} */ ($("packages-form")).addEventListener("submit", (e) => void install(e));
}
