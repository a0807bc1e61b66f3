// The history list: past runs newest first, paged with Load more; picking one shows it again in the editor and output.
/** @import { HistoryItem } from "./types.js" */
import { rememberConversations } from "./conversation.js";
import { $, el } from "./dom.js";
import { LANGUAGE_CHIPS, formatDuration, formatWhen, languageLabel, statusLabel } from "./format.js";
import { showApiError } from "./notice.js";
import { apiKey, client } from "./session.js";

/** Where the next page starts; null when there is none. @type {string | null} */
let cursor = null;
let loading = false;

/** Shows a picked run; false when it could not (a run is in flight). Given by initHistory. @type {(item: HistoryItem) => boolean} */
let open = () => false;

/** @param {boolean} reset start again from the newest */
export async function loadHistory(reset) {
  if (!apiKey() || loading) return;
  loading = true;
  const list = $("history-list");
  try {
    const page = await client.history({ cursor: reset ? null : cursor });
    if (reset) list.replaceChildren();
    for (const item of page.items) list.append(historyEntry(item));
    rememberConversations(page.items.map((i) => i.conversationId));
    cursor = page.nextCursor ?? null;
    $("history-more").hidden = !cursor;
    $("history-empty").hidden = list.childElementCount > 0;
    $("history-empty").textContent = "No runs yet. Your executions will be listed here.";
  } catch (e) {
    showApiError(e);
  } finally {
    loading = false;
  }
}

/** @param {HistoryItem} item */
function historyEntry(item) {
  const firstLine = item.code.split("\n").find((l) => l.trim()) ?? "";
  const status = statusLabel(item.status);
  const when = formatWhen(item.createdAt);
  const button = el(
    "button",
    {
      type: "button",
      class: "history-item",
      "data-id": item.id,
      "aria-label": `${languageLabel(item.language)}, ${status}, ${when}, in ${item.conversationId}: ${firstLine.trim()}`,
    },
    [
      el("span", { class: `lang-chip ${item.language}`, "aria-hidden": "true" }, [LANGUAGE_CHIPS[item.language]]),
      el("span", { class: "history-code" }, [firstLine.trim() || "(empty)"]),
      el("span", { class: `badge ${item.status}` }, [status]),
      el("span", { class: "history-when" }, [
        [when, formatDuration(item.durationMs), item.conversationId === "default" ? "" : item.conversationId]
          .filter(Boolean)
          .join(" · "),
      ]),
    ],
  );
  button.addEventListener("click", () => {
    if (open(item)) markHistory(button);
  });
  return el("li", {}, [button]);
}

/** Marks the entry on show (none with null). @param {HTMLElement | null} button */
export function markHistory(button) {
  for (const b of document.querySelectorAll(".history-item[aria-current]")) b.removeAttribute("aria-current");
  button?.setAttribute("aria-current", "true");
}

/** Back to the keyless state. */
export function resetHistory() {
  $("history-list").replaceChildren();
  $("history-empty").hidden = false;
  $("history-empty").textContent = "Enter an API key to see your history.";
  $("history-more").hidden = true;
}

/** @param {{onOpen: (item: HistoryItem) => boolean}} hooks onOpen shows a picked run, false when it could not */
export function initHistory({ onOpen }) {
  open = onOpen;
  $("history-more").addEventListener("click", () => void loadHistory(false));
  $("history-refresh").addEventListener("click", () => void loadHistory(true));
}
