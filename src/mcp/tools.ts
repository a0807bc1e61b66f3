// The one tool table: every tool Phoenix offers an assistant, with its argument schema, a
// description written for a model, and MCP's behaviour hints. MCP (mcp/server.ts) and the
// function-calling definitions (mcp/function-calling.ts) are both read from here.
import { z } from "zod";
import { getDb } from "../db/index.ts";
import { unwrap } from "../durable/outcome.ts";
import { getExecution, listExecutions } from "../executions/history.ts";
import { KINDS, LANGUAGES, STATUSES } from "../executions/types.ts";
import { conversationIdSchema } from "../validation.ts";
import { jsonResult } from "./content.ts";
import {
  listFiles,
  listFilesInput,
  readFile,
  readFileInput,
  volumeList,
  volumeListInput,
  volumeRead,
  volumeReadInput,
  volumeWrite,
  volumeWriteInput,
  writeFile,
  writeFileInput,
} from "./files.ts";
import { installInput, installPackages, runCode, runCodeInput } from "./run.ts";
import { defineTool, type Tool } from "./tool.ts";

/** Reads only: changes nothing, and asking twice gives the same answer. */
const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

const listExecutionsInput = z.object({
  conversationId: conversationIdSchema.optional().describe("Only runs in this conversation (omit for all of yours)."),
  language: z.enum(LANGUAGES).optional().describe("Only runs in this language."),
  status: z.enum(STATUSES).optional().describe("Only runs that ended this way."),
  kind: z.enum(KINDS).optional().describe("run (code) or install (package installs)."),
  limit: z.number().int().min(1).max(100).default(20).describe("At most this many (1–100), newest first."),
  cursor: z.string().max(200).optional().describe("The nextCursor of a previous page."),
});

export const TOOLS: readonly Tool[] = [
  defineTool({
    name: "run_code",
    title: "Run code",
    description:
      "Run Python, JavaScript (Node.js) or shell code in an isolated Linux sandbox and get its output. Use it to compute, analyse data, test code or make charts instead of guessing. Python and Node keep state between calls by default (like notebook cells: variables, imports and functions carry over); the last expression's value and matplotlib charts come back as results (charts as images). Files written to the working directory (/home/user) stay for the later calls of this chat. The sandbox has no internet access unless the server allows it. A run that fails (non-zero exit, exception, timeout) comes back as an error result with its output, so you can fix the code and try again.",
    input: runCodeInput,
    // Arbitrary code may change or delete anything in the sandbox; it never reaches beyond it.
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    run: runCode,
  }),
  defineTool({
    name: "list_files",
    title: "List sandbox files",
    description:
      "List a directory in this chat's sandbox (default /home/user, where code runs): each entry's name, path, type (file, dir, symlink), size and modification time. Errors with not_found when the conversation has no sandbox yet (nothing has run or been written).",
    input: listFilesInput,
    annotations: READ,
    run: listFiles,
  }),
  defineTool({
    name: "read_file",
    title: "Read a sandbox file",
    description:
      "Read a file from this chat's sandbox, e.g. one your code wrote. Text comes back as text, images (PNG, JPEG, GIF, WebP) as images, other binary files as base64. Large files are cut at the server's output limit.",
    input: readFileInput,
    annotations: READ,
    run: readFile,
  }),
  defineTool({
    name: "write_file",
    title: "Write a sandbox file",
    description:
      "Write a file into this chat's sandbox (folders are created; an existing file is replaced), e.g. data or a script for run_code to use. Text by default; set encoding to base64 for binary content. Files in the sandbox last as long as the sandbox; use volume_write for files that must outlive it.",
    input: writeFileInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: writeFile,
  }),
  defineTool({
    name: "install_packages",
    title: "Install packages",
    description:
      "Install Python (pip) or Node.js (npm) packages into this chat's sandbox so that run_code can import them. Registry packages need the server to allow internet access; otherwise install a wheel, tarball or package folder already in the sandbox (a path starting with ./ or /). A failed install comes back as an error result with the installer's output.",
    input: installInput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    run: installPackages,
  }),
  defineTool({
    name: "volume_list",
    title: "List volume files",
    description:
      "List the user's persistent volume: files that outlive every sandbox and chat (name, size, content type, modification time). Paged: pass nextCursor back as cursor for more.",
    input: volumeListInput,
    annotations: READ,
    run: volumeList,
  }),
  defineTool({
    name: "volume_read",
    title: "Read a volume file",
    description:
      "Read a file from the user's persistent volume by name. Text comes back as text, images as images, other binary files as base64.",
    input: volumeReadInput,
    annotations: READ,
    run: volumeRead,
  }),
  defineTool({
    name: "volume_write",
    title: "Write a volume file",
    description:
      "Save a file to the user's persistent volume (kept across sandboxes and chats, counted against the user's quota; an existing file of that name is replaced). Fails with quota_exceeded, storing nothing, when it would not fit.",
    input: volumeWriteInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: volumeWrite,
  }),
  defineTool({
    name: "list_executions",
    title: "List past executions",
    description:
      "List the user's past runs and package installs, newest first, with their code, status, exit code and output (each stream's first 64 KiB). Filter by conversation, language, status or kind.",
    input: listExecutionsInput,
    annotations: READ,
    run: async (args, ctx) => {
      unwrap(await ctx.space.flushHistory());
      return jsonResult(await listExecutions(getDb(ctx.env), ctx.user.id, args));
    },
  }),
  defineTool({
    name: "get_execution",
    title: "Get an execution",
    description:
      "Get one past run or install by its id (exe_…, shown in run_code's status line): its code, status, exit code, output and error.",
    input: z.object({ id: z.string().max(100).describe("The execution's id, e.g. exe_0m3x9k2ab1c2d3e4f5a6b7c8.") }),
    annotations: READ,
    run: async (args, ctx) => {
      unwrap(await ctx.space.flushHistory());
      return jsonResult({ ...(await getExecution(getDb(ctx.env), ctx.user.id, args.id)) });
    },
  }),
];

/** A tool by name, or undefined. */
export function findTool(name: string): Tool | undefined {
  return TOOLS.find((tool) => tool.name === name);
}
