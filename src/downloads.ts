// How user files (volume files, sandbox file reads) are served: downloaded as attachments unless their
// type is safe to show inline, and never sniffed, so a file can never run as a page on the API's origin.

/**
 * Types a browser shows without running anything: raster images, plain text, JSON. Not SVG or XML
 * (they carry scripts), not HTML, not PDF (a viewer runs its scripts and forms), not anything unknown.
 */
const INLINE_TYPES = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/bmp",
  "text/plain",
  "application/json",
]);

/** Whether a Content-Type (parameters such as `charset` allowed) may be shown inline. */
export function showsInline(contentType: string): boolean {
  return INLINE_TYPES.has(contentType.split(";")[0]!.trim().toLowerCase());
}

/**
 * The headers that make a file a download: `Content-Disposition` (inline only for safe types, with the
 * file's name for Save As), `nosniff` (so a browser never second-guesses the type into HTML) and a
 * sandboxing CSP (should anything render after all, it runs no script and gets no origin).
 */
export function downloadHeaders(name: string, contentType: string): Record<string, string> {
  const disposition = showsInline(contentType) ? "inline" : "attachment";
  return {
    "Content-Disposition": `${disposition}; filename*=UTF-8''${encodeRFC5987(name)}`,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
  };
}

/** RFC 5987 ext-value: percent-encoded UTF-8, with the few characters encodeURIComponent leaves that it may not hold. */
function encodeRFC5987(name: string): string {
  return encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
