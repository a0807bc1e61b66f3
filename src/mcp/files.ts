// The file tools: a conversation's sandbox files and the user's volume, through the same Durable
// Object methods and R2 helpers the HTTP routes use (quota, name rules and path rules included).
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { limits } from "../config.ts";
import { remoteLedger } from "../durable/stub.ts";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { MAX_FILE_WRITE_BYTES, SANDBOX_HOME, sandboxPathSchema } from "../sandbox/files.ts";
import { uploadContentType, typeFromName } from "../volume/content-type.ts";
import { volumeKey, volumePrefix } from "../volume/keys.ts";
import { checkName, checkPrefix } from "../volume/names.ts";
import { storeFile } from "../volume/store.ts";
import { fileContent, jsonResult } from "./content.ts";
import { conversationArg } from "./run.ts";
import type { ToolContext } from "./tool.ts";

const pathArg = (what: string) =>
  z
    .string({ error: "is required" })
    .describe(`${what} Relative paths start at ${SANDBOX_HOME}, where code runs.`)
    .pipe(sandboxPathSchema);

const contentArgs = {
  content: z
    .string({ error: "must be a string" })
    .describe("The file's content: text, or base64 when encoding is base64."),
  encoding: z
    .enum(["utf8", "base64"])
    .default("utf8")
    .describe("How `content` is written: utf8 text (the default) or base64 for binary files."),
};

export const listFilesInput = z.object({
  path: z
    .string()
    .default(".")
    .describe(`The directory to list (default: ${SANDBOX_HOME}). Relative paths start at ${SANDBOX_HOME}.`)
    .pipe(sandboxPathSchema),
  conversationId: conversationArg,
});

export async function listFiles(args: z.output<typeof listFilesInput>, ctx: ToolContext): Promise<CallToolResult> {
  const conversationId = args.conversationId ?? ctx.conversationId;
  const items = unwrap(await ctx.space.listSandboxFiles(conversationId, args.path));
  return jsonResult({ path: args.path, items });
}

export const readFileInput = z.object({ path: pathArg("The file to read."), conversationId: conversationArg });

export async function readFile(args: z.output<typeof readFileInput>, ctx: ToolContext): Promise<CallToolResult> {
  const conversationId = args.conversationId ?? ctx.conversationId;
  const stream = unwrap(await ctx.space.readSandboxFile(conversationId, args.path));
  const cap = limits(ctx.env).outputLimitBytes;
  const { bytes, cut } = await readUpTo(stream, cap);
  const note = cut ? `[only the first ${cap} bytes are shown (OUTPUT_LIMIT_BYTES)]` : undefined;
  return fileContent(`sandbox://${conversationId}${args.path}`, bytes, typeFromName(args.path), note);
}

export const writeFileInput = z.object({
  path: pathArg("The file to write (created with its folders, or replaced)."),
  ...contentArgs,
  conversationId: conversationArg,
});

export async function writeFile(args: z.output<typeof writeFileInput>, ctx: ToolContext): Promise<CallToolResult> {
  const bytes = decode(args.content, args.encoding);
  if (bytes.byteLength > MAX_FILE_WRITE_BYTES) {
    throw new ApiError("payload_too_large", `body: a file must be at most ${MAX_FILE_WRITE_BYTES} bytes`);
  }
  const conversationId = args.conversationId ?? ctx.conversationId;
  const written = unwrap(await ctx.space.writeSandboxFile(conversationId, args.path, new Blob([bytes]).stream()));
  return jsonResult({ ...written, conversationId });
}

export const volumeListInput = z.object({
  prefix: z.string().max(1024).default("").describe("Only names starting with this, e.g. 'results/'."),
  cursor: z
    .string()
    .regex(/^[\x21-\x7e]{1,2048}$/, "not a cursor from a previous page")
    .optional()
    .describe("The nextCursor of a previous page."),
  limit: z.number().int().min(1).max(1000).default(100).describe("At most this many names (1–1000)."),
});

/** As GET /api/v1/volume/files. */
export async function volumeList(args: z.output<typeof volumeListInput>, ctx: ToolContext): Promise<CallToolResult> {
  const base = volumePrefix(ctx.user.id);
  const page = await ctx.env.VOLUMES.list({
    prefix: base + checkPrefix(args.prefix),
    cursor: args.cursor,
    limit: args.limit,
    include: ["httpMetadata"],
  }).catch((err) => {
    throw new ApiError("invalid_request", "cursor: not a cursor from a previous page", { cause: err });
  });
  return jsonResult({
    items: page.objects.map((o) => ({
      name: o.key.slice(base.length),
      size: o.size,
      etag: o.httpEtag,
      modifiedAt: o.uploaded.toISOString(),
      contentType: o.httpMetadata?.contentType ?? null,
    })),
    nextCursor: page.truncated ? page.cursor : null,
  });
}

const volumeNameArg = z
  .string({ error: "is required" })
  .describe("The file's name in the volume, e.g. 'results/2026/run.json' (relative, '/'-separated).");

export const volumeReadInput = z.object({ name: volumeNameArg });

/** As GET /api/v1/volume/files/<name>. */
export async function volumeRead(args: z.output<typeof volumeReadInput>, ctx: ToolContext): Promise<CallToolResult> {
  const name = checkName(args.name);
  const object = await ctx.env.VOLUMES.get(volumeKey(ctx.user.id, name));
  if (!object) throw new ApiError("not_found", `name: no file '${name}' in your volume`);
  const cap = limits(ctx.env).outputLimitBytes;
  const { bytes, cut } = await readUpTo(object.body, cap);
  const note = cut ? `[only the first ${cap} of ${object.size} bytes are shown (OUTPUT_LIMIT_BYTES)]` : undefined;
  const type = object.httpMetadata?.contentType ?? typeFromName(name);
  return fileContent(`volume:///${encodeURI(name)}`, bytes, type, note);
}

export const volumeWriteInput = z.object({ name: volumeNameArg, ...contentArgs });

/** As PUT /api/v1/volume/files/<name>: reserved in the quota ledger first, so 507 stores nothing. */
export async function volumeWrite(args: z.output<typeof volumeWriteInput>, ctx: ToolContext): Promise<CallToolResult> {
  const name = checkName(args.name);
  const bytes = decode(args.content, args.encoding);
  const stored = await storeFile(
    ctx.env.VOLUMES,
    remoteLedger(ctx.space),
    ctx.user.id,
    name,
    bytes.byteLength,
    new Blob([bytes]).stream(),
    { httpMetadata: { contentType: uploadContentType(undefined, name) } },
  );
  return jsonResult({ ...stored });
}

function decode(content: string, encoding: "utf8" | "base64"): Uint8Array {
  if (encoding === "utf8") return new TextEncoder().encode(content);
  try {
    const binary = atob(content.replace(/\s+/g, ""));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    throw new ApiError("invalid_request", "content: is not valid base64");
  }
}

/** The first `cap` bytes of a stream (then it is cancelled), and whether there was more. */
async function readUpTo(stream: ReadableStream<Uint8Array>, cap: number): Promise<{ bytes: Uint8Array; cut: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size > cap) break;
    }
  } finally {
    if (size > cap) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const bytes = new Uint8Array(Math.min(size, cap));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
    if (offset >= bytes.length) break;
  }
  return { bytes, cut: size > cap };
}
