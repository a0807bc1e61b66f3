// The Files panel: the current conversation's sandbox, one folder at a time (open folders, go up), upload
// by file picker or drag and drop into the folder shown, download, and delete (two presses).
import { ApiError } from "./api.js";
import { conversation } from "./conversation.js";
import { $, el, svg } from "./dom.js";
import { formatBytes } from "./format.js";
import { announce, clearError, showError } from "./notice.js";
import { apiKey, client } from "./session.js";

/**
 * One entry of `GET /api/v1/sandboxes/:conversationId/files` (src/sandbox/files.ts FileEntry).
 * @typedef {{name: string, path: string, type: "file" | "dir" | "symlink", size: number, modifiedAt: string | null}} SandboxEntry
 */

/** Where relative paths start in a sandbox (src/sandbox/files.ts SANDBOX_HOME). */
const HOME = "/home/user";
const DOWNLOAD_ICON = "M8 3v8M4.5 7.5 8 11l3.5-3.5M3 13h10";
const FOLDER_ICON = "M2.5 4.5v8h11v-6.5H8L6.5 4.5z";

/** The folder shown, as the API resolved it. */
let folder = HOME;
/** Bumped by every listing, so a slow answer for another folder or conversation is dropped. */
let listing = 0;

/** @param {string} conversationId */
const base = (conversationId) => `/api/v1/sandboxes/${encodeURIComponent(conversationId)}`;

/** @param {string} text */
function note(text) {
  const p = $("sandbox-files-note");
  p.textContent = text;
  p.hidden = !text;
}

/** Lists the folder shown (or `path`) in the current conversation's sandbox. @param {string} [path] */
export async function refreshSandboxFiles(path = folder) {
  const ticket = ++listing;
  const conversationId = conversation();
  const list = $("sandbox-files");
  if (!apiKey() || !conversationId) return;
  try {
    /** @type {{path: string, items: SandboxEntry[]}} */
    const page = await client.json(`${base(conversationId)}/files?${new URLSearchParams({ path })}`);
    if (ticket !== listing) return;
    folder = page.path;
    $("sandbox-folder").textContent = folder;
    /** @type {HTMLButtonElement} */ ($("sandbox-up")).disabled = folder === "/";
    const entries = [...page.items].sort((a, b) => Number(b.type === "dir") - Number(a.type === "dir"));
    list.replaceChildren(...entries.map(entry));
    note(entries.length ? "" : "This folder is empty. Drop files here or use Upload.");
  } catch (e) {
    if (ticket !== listing) return;
    list.replaceChildren();
    if (e instanceof ApiError && e.status === 404) {
      if (path !== HOME) return refreshSandboxFiles(HOME);
      folder = HOME;
      $("sandbox-folder").textContent = HOME;
      note(`No sandbox for “${conversationId}” yet: run code or upload a file to start one.`);
      return;
    }
    note("");
    showError(e);
  }
}

/** A two-press Delete for a file or folder (a folder goes with everything in it). @param {SandboxEntry} item */
function deleteButton(item) {
  const label = item.type === "dir" ? `${item.name}/ and everything in it` : item.name;
  const button = /** @type {HTMLButtonElement} */ (
    el("button", { type: "button", class: "button ghost small danger", "aria-label": `Delete ${label}` }, ["Delete"])
  );
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = "Delete?";
      return;
    }
    const conversationId = conversation();
    if (!conversationId) return;
    button.disabled = true;
    try {
      await client.request(`${base(conversationId)}/file?${new URLSearchParams({ path: item.path })}`, {
        method: "DELETE",
      });
      announce(`Deleted ${label}.`);
    } catch (e) {
      showError(e);
    } finally {
      await refreshSandboxFiles();
    }
  });
  return button;
}

/** @param {SandboxEntry} item */
function entry(item) {
  if (item.type === "dir") {
    const open = el("button", { type: "button", class: "file-name folder", title: item.path }, [
      svg(FOLDER_ICON),
      `${item.name}/`,
    ]);
    open.addEventListener("click", () => void refreshSandboxFiles(item.path));
    return el("li", { "data-path": item.path, "data-type": "dir" }, [open, deleteButton(item)]);
  }
  const download = el(
    "button",
    { type: "button", class: "icon-button", "aria-label": `Download ${item.name}`, title: "Download" },
    [svg(DOWNLOAD_ICON)],
  );
  download.addEventListener("click", () => void downloadSandboxFile(item));
  return el("li", { "data-path": item.path, "data-type": item.type }, [
    el("span", { class: "file-name", title: item.path }, [item.name]),
    el("span", { class: "file-size" }, [formatBytes(item.size)]),
    download,
    deleteButton(item),
  ]);
}

/** @param {SandboxEntry} item */
async function downloadSandboxFile(item) {
  const conversationId = conversation();
  if (!conversationId) return;
  try {
    const res = await client.request(`${base(conversationId)}/file?${new URLSearchParams({ path: item.path })}`);
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: item.name, hidden: "" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
    announce(`Downloading ${item.name}.`);
  } catch (e) {
    showError(e);
  }
}

/** Writes files into the folder shown (starting the sandbox if there is none), then lists it again. @param {File[]} files */
async function upload(files) {
  const conversationId = conversation();
  if (!files.length || !apiKey() || !conversationId) return;
  const card = $("sandbox-files-card");
  card.classList.add("busy");
  clearError();
  try {
    for (const file of files) {
      note(`Uploading ${file.name}…`);
      const path = `${folder.replace(/\/$/, "")}/${file.name}`;
      await client.request(`${base(conversationId)}/file?${new URLSearchParams({ path })}`, {
        method: "PUT",
        body: file,
        headers: { "Content-Type": "application/octet-stream" },
      });
    }
    announce(files.length === 1 ? `Uploaded ${files[0]?.name} to ${folder}.` : `Uploaded ${files.length} files.`);
  } catch (e) {
    showError(e);
  } finally {
    card.classList.remove("busy");
    await refreshSandboxFiles();
  }
}

/** Back to the keyless state. */
export function resetSandboxFiles() {
  folder = HOME;
  $("sandbox-files").replaceChildren();
  $("sandbox-folder").textContent = HOME;
  note("Enter an API key to see the sandbox's files.");
}

export function initSandboxFiles() {
  const input = /** @type {HTMLInputElement} */ ($("sandbox-upload-input"));
  input.addEventListener("change", async () => {
    await upload([...(input.files ?? [])]);
    input.value = "";
  });
  $("sandbox-up").addEventListener("click", () => {
    const parent = folder.slice(0, folder.lastIndexOf("/")) || "/";
    void refreshSandboxFiles(parent);
  });
  $("sandbox-files-refresh").addEventListener("click", () => void refreshSandboxFiles());
  $("conversation").addEventListener("change", () => void refreshSandboxFiles(HOME));

  // Drag and drop anywhere on the card; files only (a dragged link or text is not an upload).
  const card = $("sandbox-files-card");
  /** @param {DragEvent} e */
  const carriesFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes("Files");
  card.addEventListener("dragover", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
    card.classList.add("dropping");
  });
  card.addEventListener("dragleave", (e) => {
    if (!(e.relatedTarget instanceof Node && card.contains(e.relatedTarget))) card.classList.remove("dropping");
  });
  card.addEventListener("drop", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    card.classList.remove("dropping");
    void upload([...(e.dataTransfer?.files ?? [])]);
  });
}
