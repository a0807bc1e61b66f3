// The conversation field: which sandbox session a run goes to, checked as it is typed, with the names seen so far offered.
import { $ } from "./dom.js";
import { CONVERSATION_ID_PATTERN, CONVERSATION_ID_RULE } from "./facts.js";
import { STORE, storage } from "./storage.js";

const conversationInput = /** @type {HTMLInputElement} */ ($("conversation"));

/** @returns {string | null} the conversation id, or null (with the field marked) when it is invalid */
export function conversation() {
  const value = conversationInput.value.trim();
  const valid = CONVERSATION_ID_PATTERN.test(value);
  conversationInput.setAttribute("aria-invalid", String(!valid));
  const error = $("conversation-error");
  error.hidden = valid;
  error.textContent = valid
    ? ""
    : value
      ? `Conversation ${CONVERSATION_ID_RULE}.`
      : "Conversation: enter a name, e.g. default.";
  if (valid) storage.set(STORE.conversation, value);
  return valid ? value : null;
}

/** Puts a conversation in the field (and checks it). @param {string} id */
export function setConversation(id) {
  conversationInput.value = id;
  conversation();
}

export function focusConversation() {
  conversationInput.focus();
}

/** Offers these conversation ids in the field's list. @param {Iterable<string>} ids */
export function rememberConversations(ids) {
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

export function initConversation() {
  conversationInput.addEventListener("input", () => void conversation());
  setConversation(storage.get(STORE.conversation) ?? "default");
}
