// The stats panel: the user's totals and a per-language table, loaded with the key and after each run.
/** @import { LanguageStats, Stats } from "./types.js" */
import { $, el } from "./dom.js";
import { formatDuration, formatPercent, languageLabel } from "./format.js";
import { showApiError } from "./notice.js";
import { apiKey, client } from "./session.js";

export async function refreshStats() {
  if (!apiKey()) return;
  const button = $("stats-refresh");
  button.classList.add("spinning");
  try {
    renderStats(await client.stats());
  } catch (e) {
    showApiError(e);
  } finally {
    button.classList.remove("spinning");
  }
}

/** @param {Stats} stats */
function renderStats(stats) {
  const u = stats.user;
  const body = $("stats-body");
  body.replaceChildren();
  const grid = el("dl", { class: "stat-grid" });
  /** @type {[name: string, label: string, value: string][]} */
  const cells = [
    ["total", "Executions", String(u.totalExecutions)],
    ["success", "Success rate", u.totalExecutions ? formatPercent(u.successRate) : "–"],
    ["duration", "Avg duration", u.totalExecutions ? formatDuration(u.averageDuration) : "–"],
  ];
  for (const [name, label, value] of cells) {
    grid.append(el("div", { class: "stat", "data-stat": name }, [el("dt", {}, [label]), el("dd", {}, [value])]));
  }
  body.append(grid);
  const langs = Object.entries(u.byLanguage).filter(
    /** @returns {entry is [string, LanguageStats]} */ (entry) => Boolean(entry[1]?.total),
  );
  if (!langs.length) {
    body.append(el("p", { class: "empty" }, ["No runs yet."]));
    return;
  }
  const rows = langs.map(([lang, s]) => {
    const rate = s.total ? (s.succeeded / s.total) * 100 : 0;
    // Through the CSSOM, not a style attribute: the page's CSP allows no inline styles.
    const fill = el("span");
    fill.style.width = `${rate}%`;
    return el("tr", { "data-language": lang }, [
      el("th", { scope: "row" }, [languageLabel(lang)]),
      el("td", {}, [String(s.total)]),
      el("td", {}, [el("span", { class: "rate-bar", "aria-hidden": "true" }, [fill]), formatPercent(rate)]),
      el("td", {}, [formatDuration(s.averageDuration)]),
    ]);
  });
  body.append(
    el("table", { class: "lang-table" }, [
      el("caption", {}, ["By language"]),
      el("thead", {}, [
        el(
          "tr",
          {},
          ["Language", "Runs", "Success", "Avg"].map((h) => el("th", { scope: "col" }, [h])),
        ),
      ]),
      el("tbody", {}, rows),
    ]),
  );
}

/** Back to the keyless state. */
export function resetStats() {
  $("stats-body").replaceChildren(el("p", { class: "empty" }, ["Enter an API key to see your stats."]));
}

export function initStats() {
  $("stats-refresh").addEventListener("click", () => void refreshStats());
}
