// API key entry and "forget": the key form, the saved key's hint, and the hooks that saving or forgetting sets off.
import { $ } from "./dom.js";
import { announce, clearError } from "./notice.js";
import { apiKey, setApiKey } from "./session.js";

function renderKey() {
  const key = apiKey();
  const has = Boolean(key);
  $("key-form").hidden = has;
  $("key-saved").hidden = !has;
  $("key-hint").textContent = has ? `${key.slice(0, 4)}…${key.slice(-4)}` : "";
}

/** @param {{onSaved: () => void, onForgotten: () => void}} hooks */
export function initKey({ onSaved, onForgotten }) {
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($("key-input"));
    const key = input.value.trim();
    if (!key) return;
    setApiKey(key);
    input.value = "";
    clearError();
    renderKey();
    announce("API key saved in this browser.");
    onSaved();
  });

  $("key-forget").addEventListener("click", () => {
    setApiKey("");
    renderKey();
    clearError();
    onForgotten();
    announce("API key forgotten.");
    $("key-input").focus();
  });

  renderKey();
}
