// Rich results of a stateful run under the output: images drawn from blob: URLs, HTML in a sandboxed
// iframe, JSON and text pretty-printed, results stored out of line fetched with the key, and an exception
// with its traceback (ANSI colours turned into classes). Nothing a result holds is ever parsed into this page.
/** @import { InterpreterError } from "../../src/executions/types.ts" */
import { $, el } from "./dom.js";
import { formatBytes } from "./format.js";
import { client } from "./session.js";

/**
 * A result as a run returns it (`data` inline), or as history returns a large one (`url` to fetch with the key).
 * @typedef {{type: string, isMainResult: boolean, data?: string, size?: number, url?: string}} RichResult
 */

const container = $("results");
/** Object URLs made for the results on show, revoked when they go. @type {string[]} */
let urls = [];
/** Bumped by every clear, so a stored result that arrives after the run changed is dropped. */
let generation = 0;

/** Images a browser decodes in <img>; SVG too (an <img> runs no script and loads nothing). */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"]);

export function clearResults() {
  generation++;
  for (const url of urls) URL.revokeObjectURL(url);
  urls = [];
  container.replaceChildren();
  container.hidden = true;
}

/** @param {Blob} blob */
function objectUrl(blob) {
  const url = URL.createObjectURL(blob);
  urls.push(url);
  return url;
}

/** @param {string} base64 */
function decodeBase64(base64) {
  const binary = atob(base64.replace(/\s+/g, ""));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A result's bytes from its inline data: base64 for binary types, text for the rest (SVG comes either way). @param {string} type @param {string} data */
function inlineBlob(type, data) {
  const isText =
    type.startsWith("text/") ||
    type === "application/json" ||
    (type === "image/svg+xml" && data.trimStart().startsWith("<"));
  return new Blob([isText ? data : decodeBase64(data)], { type });
}

/** @param {string} type */
const kindOf = (type) =>
  IMAGE_TYPES.has(type)
    ? "image"
    : type === "text/html"
      ? "html"
      : type === "application/json"
        ? "json"
        : type.startsWith("text/") || type === "application/javascript"
          ? "text"
          : "file";

/**
 * The element showing a result, from its bytes.
 * @param {string} type
 * @param {Blob} blob
 * @param {number} n its position, for labels
 * @returns {Promise<HTMLElement>}
 */
async function render(type, blob, n) {
  switch (kindOf(type)) {
    case "image": {
      const img = /** @type {HTMLImageElement} */ (el("img", { alt: `Result ${n} (${type})`, class: "result-image" }));
      img.src = objectUrl(blob);
      return img;
    }
    case "html": {
      // A blob: document in a frame with an empty `sandbox`: a unique origin, no script, no forms, no
      // popups, no top navigation. The page's CSP allows frames from blob: only (frame-src), since an
      // `srcdoc` string is a Trusted Types sink the page's `trusted-types 'none'` rightly refuses; the
      // blob document also inherits the page's CSP, so even its inline styles and scripts stay inert.
      const frame = el("iframe", {
        sandbox: "",
        class: "result-html",
        title: `Result ${n} (HTML)`,
        referrerpolicy: "no-referrer",
      });
      /** @type {HTMLIFrameElement} */ (frame).src = objectUrl(blob);
      return frame;
    }
    case "json": {
      const text = await blob.text();
      let pretty = text;
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON after all: shown as it came
      }
      return el("pre", { class: "result-text" }, [pretty]);
    }
    case "text":
      return el("pre", { class: "result-text" }, [await blob.text()]);
    default: {
      const name = `result-${n}.${type.split("/")[1]?.replace(/[^a-z0-9]+/gi, "") || "bin"}`;
      return el("a", { class: "button small", href: objectUrl(blob), download: name }, [
        `Download ${type} (${formatBytes(blob.size)})`,
      ]);
    }
  }
}

/** One result in its frame, with its type; stored ones are fetched as they come. @param {RichResult} result @param {number} n */
function resultBlock(result, n) {
  const figure = el("figure", { class: `result${result.isMainResult ? " main" : ""}`, "data-type": result.type });
  const caption = el("figcaption", {}, [
    result.isMainResult ? `Out [${n}] · ${result.type}` : `Display [${n}] · ${result.type}`,
  ]);
  figure.append(caption);
  const ticket = generation;
  const place = (/** @type {Promise<HTMLElement>} */ built) =>
    built
      .then((node) => {
        if (ticket === generation) figure.append(node);
      })
      .catch((e) => {
        if (ticket === generation)
          figure.append(
            el("p", { class: "result-missing" }, [`Could not show this result: ${e instanceof Error ? e.message : e}`]),
          );
      });
  if (typeof result.data === "string") {
    void place(render(result.type, inlineBlob(result.type, result.data), n));
  } else if (result.url) {
    const url = result.url;
    const loading = el("p", { class: "result-loading" }, [
      `Loading ${result.size === undefined ? "" : `${formatBytes(result.size)} `}…`,
    ]);
    figure.append(loading);
    void place(
      client
        .request(url)
        .then((res) => res.blob())
        .then((blob) => render(result.type, new Blob([blob], { type: result.type }), n))
        .finally(() => loading.remove()),
    );
  } else {
    figure.append(el("p", { class: "result-missing" }, ["(no data)"]));
  }
  return figure;
}

/** ESC [ … letter: every CSI sequence (colours, cursor moves); other escapes are dropped as single characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape character is the point
const ANSI = /\u001b\[([0-9;]*)([A-Za-z])|\u001b./g;

/**
 * A traceback with its ANSI colours as class names (`ansi-31`, `ansi-bold`), built as text nodes only.
 * @param {string} text
 */
export function ansiNodes(text) {
  /** @type {(Node)[]} */
  const nodes = [];
  /** @type {string[]} */
  let classes = [];
  let last = 0;
  const push = (/** @type {string} */ s) => {
    if (!s) return;
    nodes.push(classes.length ? el("span", { class: classes.join(" ") }, [s]) : document.createTextNode(s));
  };
  for (const m of text.matchAll(ANSI)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] !== "m") continue;
    for (const code of (m[1] || "0").split(";").map(Number)) {
      if (code === 0) classes = [];
      else if (code === 1) classes = [...classes.filter((c) => c !== "ansi-bold"), "ansi-bold"];
      else if (code === 22) classes = classes.filter((c) => c !== "ansi-bold");
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97))
        classes = [...classes.filter((c) => !/^ansi-\d/.test(c)), `ansi-${code}`];
      else if (code === 39) classes = classes.filter((c) => !/^ansi-\d/.test(c));
    }
  }
  push(text.slice(last));
  return nodes;
}

/** The exception a run raised, with its traceback. @param {InterpreterError} error */
function errorBlock(error) {
  const box = el("div", { class: "result-error", role: "group", "aria-label": "Exception" }, [
    el("p", { class: "result-error-title" }, [el("strong", {}, [error.name]), error.value ? `: ${error.value}` : ""]),
  ]);
  if (error.traceback) box.append(el("pre", { class: "traceback" }, ansiNodes(error.traceback)));
  return box;
}

/**
 * Shows a run's results and exception (replacing any shown).
 * @param {{results?: RichResult[], error?: InterpreterError | string | null}} run
 */
export function showResults(run) {
  clearResults();
  const results = run.results ?? [];
  results.forEach((r, i) => void container.append(resultBlock(r, i + 1)));
  if (run.error && typeof run.error === "object") container.append(errorBlock(run.error));
  container.hidden = !container.childElementCount;
}
