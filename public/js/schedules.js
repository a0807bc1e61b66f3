// The schedules panel: schedule the editor's current code (a cron expression in a time zone, or once at a
// time), list schedules with their next and last run, enable/disable, run now, delete.
/** @import { Schedule } from "../../src/schedules/types.ts" */
/** @import { ExecutionResult } from "../../src/executions/types.ts" */
import { conversation } from "./conversation.js";
import { $, el } from "./dom.js";
import { LANGUAGE_CHIPS, formatWhen, languageLabel, statusLabel } from "./format.js";
import { announce, clearError, showApiError } from "./notice.js";
import { apiKey, client } from "./session.js";

/** Where new schedules come from and what a run changes elsewhere; given by initSchedules. */
let hooks = {
  /** @type {() => {language: string, code: string}} */
  source: () => ({ language: "python", code: "" }),
  onRun: () => {},
};

/** The browser's own zone: what a person means by "9 o'clock". */
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** @param {string | null} iso */
function when(iso) {
  if (!iso) return "—";
  const t = new Date(iso);
  return `${t.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })} (${formatWhen(iso)})`;
}

/** @param {Schedule} s */
function describeTiming(s) {
  return s.cron ? `${s.cron} · ${s.timezone}` : `once at ${s.at ? new Date(s.at).toLocaleString() : "?"}`;
}

/** @param {Schedule} s */
function scheduleEntry(s) {
  const title = s.name ?? (s.code.split("\n").find((l) => l.trim()) ?? "").trim();
  const last = s.running
    ? el("span", { class: "badge running" }, ["Running"])
    : s.lastRun
      ? el("span", { class: `badge ${s.lastRun.status}` }, [statusLabel(s.lastRun.status)])
      : el("span", {}, ["never"]);
  const toggle = el("button", { type: "button", class: "button small", "data-action": "toggle" }, [
    s.enabled ? "Disable" : "Enable",
  ]);
  const runNow = el("button", { type: "button", class: "button small", "data-action": "run" }, ["Run now"]);
  const remove = el("button", { type: "button", class: "button small ghost", "data-action": "delete" }, ["Delete"]);
  toggle.addEventListener("click", () => void act(s, () => update(s.id, { enabled: !s.enabled })));
  runNow.addEventListener("click", () => void act(s, () => runSchedule(s)));
  remove.addEventListener("click", () => void act(s, () => removeSchedule(s)));
  return el("li", { class: `schedule${s.enabled ? "" : " disabled"}`, "data-id": s.id }, [
    el("div", { class: "schedule-head" }, [
      el("span", { class: `lang-chip ${s.language}`, "aria-hidden": "true" }, [
        LANGUAGE_CHIPS[/** @type {keyof typeof LANGUAGE_CHIPS} */ (s.language)] ?? s.language,
      ]),
      el("span", { class: "schedule-name", title: `${languageLabel(s.language)}: ${title}` }, [title || "(empty)"]),
      el("span", { class: "schedule-state" }, [s.enabled ? "Enabled" : "Disabled"]),
    ]),
    el("dl", { class: "schedule-facts" }, [
      el("div", {}, [el("dt", {}, ["When"]), el("dd", { class: "schedule-when" }, [describeTiming(s)])]),
      el("div", {}, [el("dt", {}, ["Next run"]), el("dd", { class: "schedule-next" }, [when(s.nextRunAt)])]),
      el("div", {}, [
        el("dt", {}, ["Last run"]),
        el("dd", { class: "schedule-last" }, [last, s.lastRun ? ` ${when(s.lastRun.at)}` : ""]),
      ]),
    ]),
    ...(s.disabledReason ? [el("p", { class: "schedule-reason" }, [s.disabledReason])] : []),
    el("div", { class: "schedule-actions" }, [runNow, toggle, remove]),
  ]);
}

/**
 * Runs an action on a schedule with its buttons disabled, then shows the list again.
 * @param {Schedule} s
 * @param {() => Promise<string>} action resolves to what to announce
 */
async function act(s, action) {
  const item = document.querySelector(`.schedule[data-id="${s.id}"]`);
  for (const b of item?.querySelectorAll("button") ?? []) /** @type {HTMLButtonElement} */ (b).disabled = true;
  try {
    clearError();
    announce(await action());
  } catch (e) {
    showApiError(e);
  } finally {
    await refreshSchedules();
  }
}

/** @param {string} id @param {Record<string, unknown>} patch */
async function update(id, patch) {
  /** @type {Schedule} */
  const s = await client.json(`/api/v1/schedules/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(patch),
  });
  return `Schedule ${s.enabled ? "enabled" : "disabled"}.`;
}

/** @param {Schedule} s */
async function runSchedule(s) {
  /** @type {ExecutionResult} */
  const result = await client.json(`/api/v1/schedules/${encodeURIComponent(s.id)}/run`, { method: "POST" });
  hooks.onRun();
  return `Scheduled code ran: ${statusLabel(result.status)}.`;
}

/** @param {Schedule} s */
async function removeSchedule(s) {
  await client.request(`/api/v1/schedules/${encodeURIComponent(s.id)}`, { method: "DELETE" });
  return "Schedule deleted.";
}

export async function refreshSchedules() {
  if (!apiKey()) return;
  try {
    /** @type {{items: Schedule[]}} */
    const page = await client.json("/api/v1/schedules");
    $("schedule-list").replaceChildren(...page.items.map(scheduleEntry));
    $("schedule-empty").hidden = page.items.length > 0;
    $("schedule-empty").textContent = "No schedules yet. Schedule the code in the editor above.";
  } catch (e) {
    showApiError(e);
  }
}

/** Shows the cron or the at field, as the "Repeat" choice says. */
function showKind() {
  const once = /** @type {HTMLSelectElement} */ ($("schedule-kind")).value === "at";
  $("schedule-cron-field").hidden = once;
  $("schedule-at-field").hidden = !once;
  /** @type {HTMLInputElement} */ ($("schedule-cron")).required = !once;
  /** @type {HTMLInputElement} */ ($("schedule-at")).required = once;
}

/** @param {SubmitEvent} e */
async function create(e) {
  e.preventDefault();
  if (!apiKey()) return;
  const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id)).value.trim();
  const once = value("schedule-kind") === "at";
  const { language, code } = hooks.source();
  const conversationId = conversation();
  if (!conversationId) return; // the field says what is wrong with it
  /** @type {Record<string, unknown>} */
  const body = { language, code, conversationId, timezone: value("schedule-timezone") || browserZone() };
  const name = value("schedule-name");
  if (name) body.name = name;
  if (once) {
    // datetime-local is the browser's wall time; the API wants an instant.
    const at = new Date(value("schedule-at"));
    body.at = Number.isNaN(at.getTime()) ? value("schedule-at") : at.toISOString();
  } else body.cron = value("schedule-cron");
  const submit = /** @type {HTMLButtonElement} */ ($("schedule-create"));
  submit.disabled = true;
  try {
    clearError();
    /** @type {Schedule} */
    const s = await client.json("/api/v1/schedules", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    announce(`Scheduled ${languageLabel(s.language)} code; next run ${when(s.nextRunAt)}.`);
    /** @type {HTMLInputElement} */ ($("schedule-name")).value = "";
    await refreshSchedules();
  } catch (err) {
    showApiError(err);
  } finally {
    submit.disabled = false;
  }
}

/** Back to the keyless state. */
export function resetSchedules() {
  $("schedule-list").replaceChildren();
  $("schedule-empty").hidden = false;
  $("schedule-empty").textContent = "Enter an API key to see your schedules.";
}

/**
 * @param {{source: () => {language: string, code: string}, onRun: () => void}} panelHooks source gives the
 *   editor's language and code; onRun follows a run started here (history and stats change)
 */
export function initSchedules(panelHooks) {
  hooks = panelHooks;
  /** @type {HTMLInputElement} */ ($("schedule-timezone")).value = browserZone();
  $("schedule-kind").addEventListener("change", showKind);
  $("schedule-form").addEventListener("submit", (e) => void create(/** @type {SubmitEvent} */ (e)));
  $("schedule-refresh").addEventListener("click", () => void refreshSchedules());
  showKind();
  // Next and last runs move on their own (the server's alarm): keep them current while the page is seen.
  setInterval(() => {
    if (document.visibilityState === "visible" && $("schedule-list").childElementCount > 0) void refreshSchedules();
  }, 30_000);
}
