// The code-interpreter controls under the editor: the "Keep variables" switch (stateful runs, remembered per
// language) and "Restart", which clears the variables of the conversation's default context for the language.
/** @import { Language } from "./facts.js" */
import { ApiError } from "./api.js";
import { conversation } from "./conversation.js";
import { $ } from "./dom.js";
import { languageLabel } from "./format.js";
import { announce, showError } from "./notice.js";
import { apiKey, client } from "./session.js";
import { storage } from "./storage.js";

/**
 * One interpreter context of a conversation's sandbox (`GET /api/v1/sandboxes/:conversationId/contexts`);
 * `default` marks the one per language that stateful runs use.
 * @typedef {{id: string, language: string, cwd: string, createdAt: string, default: boolean}} InterpreterContext
 */

/** Where each language's switch is remembered; absent means on (the default for Python and Node). */
const keepKey = (/** @type {string} */ lang) => `phoenix.keepVariables.${lang}`;

/** Languages the code interpreter runs; the others (shell) run a fresh process each time. */
const STATEFUL = new Set(["python", "node"]);

/** The language the controls stand for (the selected tab). @type {Language | null} */
let current = null;
/** The default context of `current` in the current conversation, when one exists. @type {InterpreterContext | null} */
let context = null;
/** Bumped by every lookup, so a slow answer for an older language or conversation is dropped. */
let lookup = 0;

const keepInput = /** @type {HTMLInputElement} */ ($("keep-vars"));
const restartButton = /** @type {HTMLButtonElement} */ ($("restart"));

/** Whether runs of `lang` go to the conversation's persistent context. @param {Language} lang */
export function keepsVariables(lang) {
  return STATEFUL.has(lang) && storage.get(keepKey(lang)) !== "false";
}

/** @param {string} text @param {"" | "ok" | "bad"} [tone] */
function say(text, tone = "") {
  const status = $("restart-status");
  status.textContent = text;
  status.className = `interp-status ${tone}`.trim();
}

/** Shows the controls for the selected language (hidden for shell) and looks its context up. @param {Language} lang */
export function showInterpreterFor(lang) {
  current = lang;
  const stateful = STATEFUL.has(lang);
  $("interp-controls").hidden = !stateful;
  keepInput.checked = keepsVariables(lang);
  say("");
  void refreshContext();
}

/** The conversation's default context for the selected language, or null (no sandbox, no context yet). */
export async function refreshContext() {
  const ticket = ++lookup;
  const lang = current;
  const conversationId = conversation();
  context = null;
  restartButton.disabled = true;
  if (!lang || !STATEFUL.has(lang) || !conversationId || !apiKey()) return;
  try {
    /** @type {{items: InterpreterContext[]}} */
    const page = await client.json(`/api/v1/sandboxes/${encodeURIComponent(conversationId)}/contexts`);
    if (ticket !== lookup) return;
    context = page.items.find((c) => c.default && c.language === lang) ?? null;
  } catch (e) {
    // 404: no sandbox for this conversation yet (or a server without contexts): nothing to restart.
    if (!(e instanceof ApiError && e.status === 404)) showError(e);
  }
  if (ticket !== lookup) return;
  restartButton.disabled = !context;
  restartButton.title = context
    ? `Clear the ${languageLabel(lang)} variables of “${conversationId}”`
    : "Nothing to restart yet: run code with Keep variables on first";
}

async function restart() {
  const target = context;
  const conversationId = conversation();
  if (!target || !conversationId || !current) return;
  const label = languageLabel(current);
  restartButton.disabled = true;
  say(`Restarting ${label}…`);
  try {
    await client.request(
      `/api/v1/sandboxes/${encodeURIComponent(conversationId)}/contexts/${encodeURIComponent(target.id)}/restart`,
      { method: "POST" },
    );
    say(`${label} restarted: its variables are cleared.`, "ok");
    announce(`${label} restarted in “${conversationId}”: its variables are cleared.`);
  } catch (e) {
    say(`${label} was not restarted.`, "bad");
    showError(e);
  } finally {
    await refreshContext();
  }
}

export function initInterpreter() {
  keepInput.addEventListener("change", () => {
    if (!current) return;
    storage.set(keepKey(current), String(keepInput.checked));
    say(
      keepInput.checked
        ? "Runs keep their variables until Restart."
        : "Each run starts afresh (variables are not kept).",
    );
  });
  restartButton.addEventListener("click", () => void restart());
  $("conversation").addEventListener("change", () => void refreshContext());
}
