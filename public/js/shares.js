// The Shares panel: the user's live share links (newest first) with Open and two-press Revoke.
import { client } from "./session.js";
import { $, el } from "./dom.js";
import { formatWhen, languageLabel } from "./format.js";
import { announce, showError } from "./notice.js";

/** @typedef {{id: string, executionId: string, language: string, createdAt: string, expiresAt: string, files: number}} ShareInfo */

/** @param {ShareInfo} s */
function row(s) {
  const revoke = /** @type {HTMLButtonElement} */ (
    el("button", { type: "button", class: "button ghost small danger" }, ["Revoke"])
  );
  revoke.addEventListener("click", async () => {
    // Two presses, like deleting a volume file: a link someone may be using goes for good.
    if (revoke.dataset.armed !== "true") {
      revoke.dataset.armed = "true";
      revoke.textContent = "Revoke?";
      return;
    }
    revoke.disabled = true;
    try {
      await client.request(`/api/v1/shares/${encodeURIComponent(s.id)}`, { method: "DELETE" });
      announce("Share revoked: its link no longer opens.");
      await refreshShares();
    } catch (e) {
      showError(e);
      revoke.disabled = false;
    }
  });
  return el("li", { class: "file-row", "data-share": s.id }, [
    el("span", { class: "file-name" }, [`${languageLabel(s.language)} run · ${formatWhen(s.createdAt)}`]),
    el("span", { class: "file-size" }, [`until ${formatWhen(s.expiresAt)}`]),
    revoke,
  ]);
}

export async function refreshShares() {
  try {
    /** @type {{items: ShareInfo[]}} */
    const page = await client.json("/api/v1/shares");
    const list = $("shares-list");
    list.replaceChildren(...page.items.map(row));
    $("shares-empty").hidden = page.items.length > 0;
    $("shares-empty").textContent = "No share links yet: press Share under a result.";
  } catch (e) {
    showError(e);
  }
}

export function resetShares() {
  $("shares-list").replaceChildren();
  $("shares-empty").hidden = false;
  $("shares-empty").textContent = "Enter an API key to see your share links.";
}

export function initShares() {
  $("shares-refresh").addEventListener("click", () => void refreshShares());
}
