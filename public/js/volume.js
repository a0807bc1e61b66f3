// The volume panel: usage against the quota, the file list (filter, Load more), upload, download and two-press delete.
/** @import { VolumeFile, VolumeInfo } from "./types.js" */
import { ApiError } from "./api.js";
import { $, el, svg } from "./dom.js";
import { formatBytes, formatPercent } from "./format.js";
import { announce, clearError, showApiError, showError } from "./notice.js";
import { apiKey, client } from "./session.js";

const DOWNLOAD_ICON = "M8 3v8M4.5 7.5 8 11l3.5-3.5M3 13h10";
const DELETE_ICON = "M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 8.5h5.8l.6-8.5";

/** Where the next page of files starts; null when there is none. @type {string | null} */
let cursor = null;

export async function refreshVolume() {
  if (!apiKey()) return;
  const body = $("volume-body");
  try {
    const info = await client.volume();
    $("upload-label").hidden = false;
    renderUsage(info);
    await loadFiles(true);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      $("upload-label").hidden = true;
      $("volume-files-wrap").hidden = true;
      body.replaceChildren(el("p", { class: "empty" }, ["Persistent files are not available on this server yet."]));
      return;
    }
    showApiError(e);
  }
}

/** @param {VolumeInfo} info */
function renderUsage(info) {
  const percent = Math.min(100, Math.max(0, info.usagePercent));
  // Through the CSSOM, not a style attribute: the page's CSP allows no inline styles.
  const fill = el("span");
  fill.style.width = `${percent > 0 ? Math.max(percent, 1) : 0}%`;
  const bar = el(
    "div",
    {
      class: `usage-bar${percent >= 90 ? " high" : ""}`,
      role: "progressbar",
      "aria-label": "Volume usage",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": String(Math.round(percent)),
      "aria-valuetext": `${formatBytes(info.usedBytes)} of ${formatBytes(info.quotaBytes)} used`,
    },
    [fill],
  );
  $("volume-body").replaceChildren(
    el("div", { class: "usage-text", id: "volume-usage" }, [
      el("span", {}, [el("strong", {}, [formatBytes(info.usedBytes)]), ` of ${formatBytes(info.quotaBytes)}`]),
      el("span", {}, [`${info.fileCount} file${info.fileCount === 1 ? "" : "s"} · ${formatPercent(percent)}`]),
    ]),
    bar,
  );
}

/** @param {boolean} reset */
async function loadFiles(reset) {
  const prefix = /** @type {HTMLInputElement} */ ($("volume-prefix")).value.trim();
  try {
    const page = await client.volumeFiles({ prefix, cursor: reset ? null : cursor });
    const list = $("volume-files");
    if (reset) list.replaceChildren();
    for (const file of page.items) list.append(fileEntry(file));
    cursor = page.nextCursor ?? null;
    $("volume-more").hidden = !cursor;
    $("volume-files-wrap").hidden = false;
    if (!list.childElementCount)
      list.append(
        el("li", { class: "empty" }, [
          prefix ? `No files under “${prefix}”.` : "No files yet. Upload one to keep it across sandboxes.",
        ]),
      );
  } catch (e) {
    showApiError(e);
  }
}

/** @param {VolumeFile} file */
function fileEntry(file) {
  const download = el(
    "button",
    { type: "button", class: "icon-button", "aria-label": `Download ${file.name}`, title: "Download" },
    [svg(DOWNLOAD_ICON)],
  );
  const remove = el(
    "button",
    { type: "button", class: "icon-button", "aria-label": `Delete ${file.name}`, title: "Delete" },
    [svg(DELETE_ICON)],
  );
  download.addEventListener("click", () => void downloadFile(file.name));
  /** @type {number | undefined} */
  let confirmTimer;
  remove.addEventListener("click", async () => {
    if (!remove.classList.contains("confirm")) {
      // Two presses to delete: the first turns the button into a confirmation.
      remove.classList.add("confirm");
      remove.textContent = "Delete?";
      remove.setAttribute("aria-label", `Confirm deleting ${file.name}`);
      announce(`Press again to delete ${file.name}.`);
      confirmTimer = window.setTimeout(() => {
        remove.classList.remove("confirm");
        remove.replaceChildren(svg(DELETE_ICON));
        remove.setAttribute("aria-label", `Delete ${file.name}`);
      }, 4000);
      return;
    }
    clearTimeout(confirmTimer);
    try {
      await client.deleteFile(file.name);
      announce(`Deleted ${file.name}.`);
      await refreshVolume();
      $("upload-input").focus();
    } catch (e) {
      showError(e);
    }
  });
  return el("li", { "data-file": file.name }, [
    el("span", { class: "file-name", title: file.name }, [file.name]),
    el("span", { class: "file-size" }, [formatBytes(file.size)]),
    download,
    remove,
  ]);
}

/** @param {string} name */
async function downloadFile(name) {
  try {
    const blob = await client.getFile(name);
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name.split("/").pop() ?? name, hidden: "" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
    announce(`Downloading ${name}.`);
  } catch (e) {
    showError(e);
  }
}

/** Back to the keyless state. */
export function resetVolume() {
  $("volume-body").replaceChildren(el("p", { class: "empty" }, ["Enter an API key to see your files."]));
  $("volume-files-wrap").hidden = true;
}

export function initVolume() {
  const uploadInput = /** @type {HTMLInputElement} */ ($("upload-input"));
  uploadInput.addEventListener("change", async () => {
    const files = [...(uploadInput.files ?? [])];
    if (!files.length || !apiKey()) return;
    const label = $("upload-label");
    label.classList.add("busy");
    clearError();
    try {
      let last = "";
      for (const file of files) {
        announce(`Uploading ${file.name}…`);
        await client.putFile(file.name, file);
        last = file.name;
      }
      announce(files.length === 1 ? `Uploaded ${last}.` : `Uploaded ${files.length} files.`);
    } catch (e) {
      showError(e);
    } finally {
      label.classList.remove("busy");
      uploadInput.value = "";
      await refreshVolume();
    }
  });

  /** @type {number | undefined} */
  let prefixTimer;
  $("volume-prefix").addEventListener("input", () => {
    clearTimeout(prefixTimer);
    prefixTimer = window.setTimeout(() => void loadFiles(true), 250);
  });
  $("volume-more").addEventListener("click", () => void loadFiles(false));
}
