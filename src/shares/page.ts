// The public share page (`GET /s/:token`): a read-only HTML view of a share's snapshot with no script
// at all, a strict CSP (its one style block allowed by hash, images only as data: URLs),
// Open Graph tags for link previews, and an "Open in Phoenix" link that carries the code.
import type { ShareSnapshot } from "./snapshot.ts";

const LANGUAGE_NAMES = { python: "Python", node: "Node.js", shell: "Shell" } as const;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Base64 of a string's UTF-8, in chunks (a spread of a large array overflows the stack). */
function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

let styleHash: Promise<string> | undefined;

/** The page's policy: nothing runs, nothing loads but its own style and data: images, never framed. */
export async function sharePageCsp(): Promise<string> {
  styleHash ??= crypto.subtle
    .digest("SHA-256", new TextEncoder().encode(STYLE))
    .then((d) => btoa(String.fromCharCode(...new Uint8Array(d))));
  return [
    "default-src 'none'",
    "img-src data:",
    `style-src 'sha256-${await styleHash}'`,
    // HTML results render in `<iframe sandbox srcdoc>`: no scripts, a unique origin, this same policy.
    "frame-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The executor page with this code in its editor (public/js/editor.js reads the fragment). */
export function openInPhoenixHref(snapshot: ShareSnapshot): string {
  return `/#language=${snapshot.language}&code=${encodeURIComponent(snapshot.code)}`;
}

function firstLine(text: string, max: number): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function result(item: ShareSnapshot["results"][number], i: number): string {
  const label = `Result ${i + 1} (${item.type})`;
  if (item.type === "image/png" || item.type === "image/jpeg") {
    return `<figure><img src="data:${item.type};base64,${escapeHtml(item.data)}" alt="${escapeHtml(label)}"></figure>`;
  }
  if (item.type === "image/svg+xml") {
    // As an image, an SVG runs nothing.
    return `<figure><img src="data:image/svg+xml;base64,${base64Utf8(item.data)}" alt="${escapeHtml(label)}"></figure>`;
  }
  if (item.type === "text/html") {
    return `<iframe sandbox title="${escapeHtml(label)}" srcdoc="${escapeHtml(item.data)}"></iframe>`;
  }
  if (item.type === "application/pdf") return `<p class="muted">${escapeHtml(label)}: a PDF, not shown here.</p>`;
  return `<pre aria-label="${escapeHtml(label)}">${escapeHtml(item.data)}</pre>`;
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --bg: #f6f8fa; --card: #fff; --muted: #59636e; --line: #d1d9e0; --accent: #db2777; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --card: #151b23; --muted: #9198a1; --line: #3d444d; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 960px; margin: 0 auto; padding: 24px 16px 48px; }
header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; justify-content: space-between; }
h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1rem; margin: 0 0 8px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin-top: 16px; }
pre { margin: 0; padding: 10px; overflow: auto; max-height: 480px; background: var(--bg); border-radius: 6px; font: 13px/1.45 ui-monospace, monospace; white-space: pre; }
pre.stderr { color: #cf222e; } .muted { color: var(--muted); }
.facts { margin: 4px 0 0; color: var(--muted); } .badge { font-weight: 600; color: var(--fg); }
.button { display: inline-block; padding: 8px 14px; border-radius: 6px; background: var(--accent); color: #fff; text-decoration: none; font-weight: 600; }
img { max-width: 100%; height: auto; background: #fff; } figure { margin: 0 0 12px; }
iframe { width: 100%; min-height: 320px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
ul { margin: 0; padding-left: 20px; } footer { margin-top: 24px; color: var(--muted); font-size: 13px; }
`;

/** The page for a snapshot; `url` is the share's own address (og:url), `base` the share's path for file links. */
export function renderSharePage(snapshot: ShareSnapshot, opts: { url: string; base: string }): string {
  const language = LANGUAGE_NAMES[snapshot.language];
  const title = `${language} run · ${snapshot.status.replace("_", " ")}`;
  const description =
    firstLine(snapshot.stdout, 160) || firstLine(snapshot.code, 160) || `A ${language} run shared from Phoenix.`;
  const facts = [
    `<span class="badge">${escapeHtml(snapshot.status.replace("_", " "))}</span>`,
    snapshot.exitCode === null ? "" : `exit code ${snapshot.exitCode}`,
    `${snapshot.durationMs} ms`,
    `<time datetime="${escapeHtml(snapshot.createdAt)}">${escapeHtml(snapshot.createdAt.replace("T", " ").slice(0, 19))} UTC</time>`,
  ].filter(Boolean);
  const output =
    snapshot.stdout || snapshot.stderr
      ? `${snapshot.stdout ? `<pre class="stdout" aria-label="Standard output">${escapeHtml(snapshot.stdout)}</pre>` : ""}${
          snapshot.stderr ? `<pre class="stderr" aria-label="Standard error">${escapeHtml(snapshot.stderr)}</pre>` : ""
        }`
      : `<p class="muted">(no output)</p>`;
  const sections = [
    `<section aria-labelledby="code-title"><h2 id="code-title">Code</h2><pre><code>${escapeHtml(snapshot.code)}</code></pre></section>`,
    `<section aria-labelledby="output-title"><h2 id="output-title">Output</h2>${output}${
      snapshot.truncated ? `<p class="muted">Output was truncated.</p>` : ""
    }${snapshot.error ? `<p class="muted">${escapeHtml(snapshot.error)}</p>` : ""}</section>`,
  ];
  if (snapshot.results.length) {
    sections.push(
      `<section aria-labelledby="results-title"><h2 id="results-title">Results</h2>${snapshot.results.map(result).join("")}</section>`,
    );
  }
  if (snapshot.files.length) {
    const items = snapshot.files.map(
      (f) =>
        `<li><a href="${escapeHtml(`${opts.base}/artifacts/${f.path.split("/").map(encodeURIComponent).join("/")}`)}" download>${escapeHtml(f.path)}</a> <span class="muted">${formatBytes(f.size)}</span></li>`,
    );
    sections.push(
      `<section aria-labelledby="files-title"><h2 id="files-title">Files</h2><ul>${items.join("")}</ul></section>`,
    );
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} — Phoenix</title>
<meta name="description" content="${escapeHtml(description)}">
<meta property="og:type" content="website">
<meta property="og:site_name" content="Phoenix">
<meta property="og:title" content="${escapeHtml(title)}">
<meta property="og:description" content="${escapeHtml(description)}">
<meta property="og:url" content="${escapeHtml(opts.url)}">
<meta name="twitter:card" content="summary">
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<div><h1>${escapeHtml(title)}</h1><p class="facts">${facts.join(" · ")}</p></div>
<a class="button" id="open-in-phoenix" href="${escapeHtml(openInPhoenixHref(snapshot))}">Open in Phoenix</a>
</header>
${sections.join("\n")}
<footer>A read-only snapshot of a run on Phoenix, shared by link.</footer>
</main>
</body>
</html>`;
}

/** The one answer for a token that opens nothing (revoked, expired or never made). */
export function renderMissingPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Not found — Phoenix</title>
<style>${STYLE}</style></head>
<body><main><h1>This link opens nothing</h1><p class="muted">It may have been revoked or expired, or it never existed.</p></main></body></html>`;
}
