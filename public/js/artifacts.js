// Under each result: the files the run changed (download, save to the volume) and a Share button that
// makes a public link and copies it.
import { client } from "./session.js";
import { $, el } from "./dom.js";
import { formatBytes } from "./format.js";
import { announce, showError } from "./notice.js";

/** @typedef {{path: string, size: number, change: "created"|"modified"|"deleted"}} Artifact */
/** @typedef {{id?: string, status: string, conversationId?: string, artifacts?: Artifact[], artifactsTruncated?: boolean}} ShownRun */

/** Called after a share is made (the shares list refreshes). */
let onShared = () => {};

/** @param {{onShared: () => void}} hooks */
export function initArtifacts(hooks) {
  onShared = hooks.onShared;
}

/** @param {string} id @param {string} path */
function artifactUrl(id, path) {
  return `/api/v1/executions/${encodeURIComponent(id)}/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** @param {string} id @param {Artifact} a */
async function download(id, a) {
  try {
    const blob = await (await client.request(artifactUrl(id, a.path))).blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: a.path.split("/").pop() ?? a.path, hidden: "" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
    announce(`Downloading ${a.path}.`);
  } catch (e) {
    showError(e);
  }
}

/** Copies the file from the run's sandbox into the volume under the same name. @param {string} conversationId @param {Artifact} a */
async function saveToVolume(conversationId, a) {
  try {
    await client.request(`/api/v1/sandboxes/${encodeURIComponent(conversationId)}/files/persist`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path: `/home/user/${a.path}`, name: a.path }),
    });
    announce(`Saved ${a.path} to your volume.`);
  } catch (e) {
    showError(e);
  }
}

/** @param {string} id @param {HTMLButtonElement} button */
async function share(id, button) {
  button.disabled = true;
  try {
    /** @type {{url: string}} */
    const made = await client.json(`/api/v1/executions/${encodeURIComponent(id)}/shares`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ includeArtifacts: true }),
    });
    $("share-link").textContent = made.url;
    $("share-link").hidden = false;
    try {
      await navigator.clipboard.writeText(made.url);
      announce("Share link copied to the clipboard.");
    } catch {
      announce("Share link made; copy it from below the output.");
    }
    onShared();
  } catch (e) {
    showError(e);
  } finally {
    button.disabled = false;
  }
}

/** Shows a run's artifacts and its Share button (nothing for a run the server never recorded). @param {ShownRun} run */
export function showArtifacts(run) {
  const box = $("run-artifacts");
  box.replaceChildren();
  $("share-link").hidden = true;
  const id = run.id;
  if (!id || run.status === "stopped") {
    box.hidden = true;
    return;
  }
  const shareButton = /** @type {HTMLButtonElement} */ (
    el("button", { type: "button", class: "button small", id: "share-run" }, ["Share"])
  );
  shareButton.addEventListener("click", () => void share(id, shareButton));
  const items = (run.artifacts ?? []).map((a) => {
    const row = el("li", { class: "file-row" }, [
      el("span", { class: "file-name" }, [a.path]),
      el("span", { class: `badge ${a.change}` }, [a.change]),
      el("span", { class: "file-size" }, [a.change === "deleted" ? "" : formatBytes(a.size)]),
    ]);
    if (a.change !== "deleted") {
      const get = el("button", { type: "button", class: "button ghost small" }, ["Download"]);
      get.addEventListener("click", () => void download(id, a));
      row.append(get);
      const conversationId = run.conversationId;
      if (conversationId) {
        const save = el("button", { type: "button", class: "button ghost small" }, ["Save to volume"]);
        save.addEventListener("click", () => void saveToVolume(conversationId, a));
        row.append(save);
      }
    }
    return row;
  });
  const children = [el("div", { class: "artifacts-head" }, [el("h3", {}, ["Files changed"]), shareButton])];
  if (items.length) children.push(el("ul", { class: "file-list", "aria-label": "Files the run changed" }, items));
  else children.push(el("p", { class: "empty" }, ["No files changed."]));
  if (run.artifactsTruncated)
    children.push(el("p", { class: "notice" }, ["More files changed; the first 100 are listed."]));
  box.append(...children);
  box.hidden = false;
}
