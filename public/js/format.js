// Numbers, sizes, durations and times as people read them.
/** @import { Language } from "./facts.js" */

/** @param {number} ms */
export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** @param {number} bytes */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "–";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** @param {number} percent 0–100 */
export function formatPercent(percent) {
  if (!Number.isFinite(percent)) return "–";
  return `${Math.round(percent * 10) / 10}%`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });

/** "2 min ago", or a date for anything older than a week. @param {string} iso */
export function formatWhen(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "";
  const seconds = Math.round((t - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86_400) return relative.format(Math.round(seconds / 86_400), "day");
  return new Date(t).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export const STATUS_LABELS = {
  succeeded: "Succeeded",
  failed: "Failed",
  timed_out: "Timed out",
  cancelled: "Cancelled",
  error: "Error",
  stopped: "Stopped",
  running: "Running",
};

// Keyed by the API's languages (facts.js): a language added on the server fails the type check until named here.
/** @type {Record<Language, string>} */
export const LANGUAGE_LABELS = { python: "Python", node: "Node.js", shell: "Shell" };
/** @type {Record<Language, string>} */
export const LANGUAGE_CHIPS = { python: "py", node: "js", shell: "sh" };

/** "Python", "Node.js", "Shell"; an unknown language as it is. @param {string} lang */
export function languageLabel(lang) {
  return LANGUAGE_LABELS[/** @type {keyof typeof LANGUAGE_LABELS} */ (lang)] ?? lang;
}

/** "Succeeded", "Timed out"…; an unknown status as it is. @param {string} status */
export function statusLabel(status) {
  return STATUS_LABELS[/** @type {keyof typeof STATUS_LABELS} */ (status)] ?? status;
}
