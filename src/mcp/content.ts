// How tool answers read to a model: an execution as text blocks (stdout, stderr, values, the
// exception, a status line) with charts as MCP image content, file bytes as text or an image, and
// an API error as the same code and message the HTTP API would give.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ApiErrorData } from "../error-codes.ts";
import type { ExecutionResult, InterpreterResult } from "../executions/types.ts";

type Content = CallToolResult["content"][number];

/** Result types a client can show as a picture; SVG arrives as markup and is sent base64 like the rest. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"]);

const text = (value: string): Content => ({ type: "text", text: value });

/** An API error as a tool result: the model reads it and can correct itself; it is not a protocol error. */
export function errorResult(error: ApiErrorData, requestId: string): CallToolResult {
  return {
    isError: true,
    content: [text(`${error.code}: ${error.message}`)],
    structuredContent: { error: { code: error.code, message: error.message, requestId } },
  };
}

/** Any JSON answer (a listing, a history item, a write's receipt), as text and as structured content. */
export function jsonResult(value: Record<string, unknown>): CallToolResult {
  return { isError: false, content: [text(JSON.stringify(value, null, 2))], structuredContent: value };
}

/**
 * A finished execution. The first block is stdout as printed (so `print(6*7)` reads `42`), then
 * stderr, the interpreter's values and pictures, the exception, and one status line with the ids a
 * later `get_execution` needs. Anything but `succeeded` is `isError`, as the model should notice.
 */
export function executionResult(result: ExecutionResult, note?: string): CallToolResult {
  const content: Content[] = [];
  if (result.stdout) content.push(text(result.stdout));
  if (result.stderr) content.push(text(`[stderr]\n${result.stderr}`));
  for (const item of result.results ?? []) content.push(interpreterContent(item));
  if (result.error) {
    content.push(
      text(`[exception] ${result.error.name}: ${result.error.value}\n${stripAnsi(result.error.traceback)}`.trimEnd()),
    );
  }
  content.push(text(statusLine(result, note)));
  return {
    isError: result.status !== "succeeded",
    content,
    // The HTTP API's own JSON for the run, for clients that read structured results.
    structuredContent: { ...result },
  };
}

function statusLine(result: ExecutionResult, note: string | undefined): string {
  const parts = [
    `status: ${result.status}`,
    ...(result.exitCode !== null ? [`exit code ${result.exitCode}`] : []),
    `${result.durationMs} ms`,
    `execution ${result.id}`,
    `conversation ${result.conversationId}`,
  ];
  if (result.status === "timed_out") parts.push("stopped at its timeout");
  if (result.truncated) parts.push("output truncated at OUTPUT_LIMIT_BYTES");
  return `[${parts.join(" · ")}]${note ? `\n${note}` : ""}`;
}

function interpreterContent(item: InterpreterResult): Content {
  if (item.type === "image/svg+xml") return { type: "image", mimeType: item.type, data: base64Utf8(item.data) };
  if (IMAGE_TYPES.has(item.type)) return { type: "image", mimeType: item.type, data: item.data };
  if (item.type === "text/plain") return text(item.data);
  return text(`[${item.type}]\n${item.data}`);
}

/** File bytes: an image as image content, UTF-8 text as text, anything else as a base64 resource. */
export function fileContent(uri: string, bytes: Uint8Array, mimeType: string, note?: string): CallToolResult {
  const type = mimeType.split(";")[0]?.trim().toLowerCase() ?? "";
  const content: Content[] = [];
  if (IMAGE_TYPES.has(type) && type !== "image/svg+xml") {
    content.push({ type: "image", mimeType: type, data: base64(bytes) });
  } else {
    const decoded = utf8(bytes);
    content.push(
      decoded === undefined
        ? { type: "resource", resource: { uri, mimeType: type || "application/octet-stream", blob: base64(bytes) } }
        : text(decoded),
    );
  }
  if (note) content.push(text(note));
  return { isError: false, content };
}

/** Text when the bytes are valid UTF-8 without NULs (a binary file's telltale), else undefined. */
function utf8(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
}

export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function base64Utf8(s: string): string {
  return base64(new TextEncoder().encode(s));
}

/** Tracebacks come with the terminal colours IPython prints; a model reads them as noise. */
function stripAnsi(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape character is the point
  return s.replace(/\u001b\[[0-9;]*m/g, "");
}
