// A small code editor on a <textarea>: line numbers, Tab / Shift+Tab indent, auto-indent, Ctrl/Cmd+Enter runs.
// Escape then Tab leaves the editor, so keyboard users are never trapped in it.
import { STORE, storage } from "./storage.js";

/**
 * A share page's "Open in Phoenix" links to `/#language=…&code=…`: that code becomes the language's
 * editor text (stored as edits are, so the runner loads it) and the fragment leaves the address bar.
 * Runs when this module loads, before the runner reads what is stored.
 */
function adoptLinkedCode() {
  const params = new URLSearchParams(location.hash.slice(1));
  const language = params.get("language");
  const code = params.get("code");
  if (code === null || !language || !["python", "node", "shell"].includes(language)) return;
  storage.set(STORE.code(language), code);
  storage.set(STORE.language, language);
  history.replaceState(null, "", location.pathname + location.search);
}
adoptLinkedCode();

/**
 * Inserts text at the selection through the browser's editing commands (keeps undo), or falls back.
 * @param {HTMLTextAreaElement} ta
 * @param {string} text
 */
function insertText(ta, text) {
  // execCommand keeps Ctrl+Z working; it is deprecated but still the only way to do that.
  if (!document.execCommand?.("insertText", false, text)) {
    ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, "end");
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  }
}

/**
 * The element under `root` that the editor cannot work without; a page whose markup lacks it fails loudly here.
 * @template {Element} T
 * @param {HTMLElement} root
 * @param {string} selector
 * @param {new () => T} type
 * @returns {T}
 */
function required(root, selector, type) {
  const node = root.querySelector(selector);
  if (!(node instanceof type)) throw new Error(`editor #${root.id}: no ${selector}`);
  return node;
}

export class Editor {
  /**
   * @param {HTMLElement} root an element holding `.gutter` and `textarea`
   * @param {{indent: string, onRun: () => void, onChange?: (value: string) => void, opensBlock?: RegExp}} opts
   */
  constructor(root, opts) {
    this.root = root;
    this.textarea = required(root, "textarea", HTMLTextAreaElement);
    this.gutter = required(root, ".gutter", HTMLElement);
    this.opts = opts;
    this.lines = 0;
    this.tabLeaves = false;
    this.textarea.addEventListener("input", () => {
      this.renumber();
      this.opts.onChange?.(this.textarea.value);
    });
    this.textarea.addEventListener("scroll", () => this.syncScroll());
    this.textarea.addEventListener("keydown", (e) => this.onKeydown(e));
    this.textarea.addEventListener("blur", () => (this.tabLeaves = false));
    this.renumber();
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.renumber();
    this.opts.onChange?.(text);
  }

  focus() {
    this.textarea.focus();
  }

  renumber() {
    const count = this.textarea.value.split("\n").length;
    if (count !== this.lines) {
      this.lines = count;
      let text = "";
      for (let i = 1; i <= count; i++) text += `${i}\n`;
      this.gutter.textContent = text;
      this.root.style.setProperty("--gutter-digits", String(String(count).length));
    }
    this.syncScroll();
  }

  syncScroll() {
    this.gutter.style.transform = `translateY(${-this.textarea.scrollTop}px)`;
  }

  /** @param {KeyboardEvent} e */
  onKeydown(e) {
    const ta = this.textarea;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      this.opts.onRun();
      return;
    }
    if (e.key === "Escape") {
      this.tabLeaves = true;
      return;
    }
    if (e.key === "Tab" && !e.ctrlKey && !e.altKey && !e.metaKey) {
      if (this.tabLeaves) {
        this.tabLeaves = false;
        return; // let focus move on
      }
      e.preventDefault();
      if (e.shiftKey) this.dedent();
      else if (ta.value.slice(ta.selectionStart, ta.selectionEnd).includes("\n")) this.indentLines();
      else insertText(ta, this.opts.indent);
      return;
    }
    this.tabLeaves = false;
    if (e.key === "Enter" && !e.shiftKey && !e.altKey) {
      e.preventDefault();
      const start = ta.value.lastIndexOf("\n", ta.selectionStart - 1) + 1;
      const line = ta.value.slice(start, ta.selectionStart);
      let indent = /^[ \t]*/.exec(line)?.[0] ?? "";
      if (this.opts.opensBlock?.test(line.trimEnd())) indent += this.opts.indent;
      insertText(ta, `\n${indent}`);
    }
  }

  /** The selected lines' bounds, from the start of the first to the end of the last. */
  selectedLines() {
    const ta = this.textarea;
    const start = ta.value.lastIndexOf("\n", ta.selectionStart - 1) + 1;
    let end = ta.value.indexOf("\n", ta.selectionEnd - (ta.selectionEnd > ta.selectionStart ? 1 : 0));
    if (end < 0) end = ta.value.length;
    return { start, end };
  }

  indentLines() {
    this.replaceLines((block) => block.replace(/^/gm, this.opts.indent));
  }

  dedent() {
    const unit = this.opts.indent.length;
    const pattern = new RegExp(`^(\\t| {1,${unit}})`, "gm");
    this.replaceLines((block) => block.replace(pattern, ""));
  }

  /**
   * Replaces the selected lines with `change(lines)` through the editing commands (so Ctrl+Z undoes it),
   * and selects the result; nothing happens when the lines stay the same.
   * @param {(lines: string) => string} change
   */
  replaceLines(change) {
    const ta = this.textarea;
    const { start, end } = this.selectedLines();
    const block = ta.value.slice(start, end);
    const changed = change(block);
    if (changed === block) return;
    ta.setSelectionRange(start, end);
    insertText(ta, changed);
    ta.setSelectionRange(start, start + changed.length);
  }
}
