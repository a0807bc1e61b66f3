// Files in a conversation's sandbox: the path rules, the SDK calls behind list/read/write, and how
// the SDK's filesystem errors become API errors.
import { FileNotFoundError, InvalidArgumentError, NotEnoughSpaceError, SandboxError, type EntryInfo } from "e2b";
import { z } from "zod";
import { ApiError } from "../errors.ts";
import { utf8Length } from "../text.ts";
import type { Sandbox } from "./e2b.ts";

/** Where relative paths start: the sandbox user's home, also commands' default cwd. */
export const SANDBOX_HOME = "/home/user";
/** Linux's PATH_MAX and NAME_MAX. */
export const MAX_PATH_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;
/** A file written through `PUT …/file`. */
export const MAX_FILE_WRITE_BYTES = 50 * 1024 * 1024;

/** A problem with a client path, or undefined when it is usable. */
export function pathProblem(path: string): string | undefined {
  if (path === "") return "must not be empty";
  // Control characters never name a file a person meant, and NUL cuts the path short on the far side.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(path)) return "must not contain NUL or other control characters";
  // A lone surrogate (possible in JSON) has no UTF-8 form: the SDK cannot even put it in a URL.
  if (/\p{Cs}/u.test(path)) return "must be valid Unicode (no lone surrogates)";
  if (utf8Length(path) > MAX_PATH_BYTES) return `must be at most ${MAX_PATH_BYTES} bytes`;
  if (path.split("/").some((segment) => utf8Length(segment) > MAX_SEGMENT_BYTES)) {
    return `each segment must be at most ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/** An absolute sandbox path: relative paths start at /home/user; `.` and `..` are folded. */
export function resolveSandboxPath(path: string): string {
  const parts: string[] = [];
  for (const segment of (path.startsWith("/") ? path : `${SANDBOX_HOME}/${path}`).split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return `/${parts.join("/")}`;
}

/** A sandbox path from a query string, checked and resolved. */
export const sandboxPathSchema = z
  .string({ error: "is required" })
  .superRefine((path, ctx) => {
    const problem = pathProblem(path);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .transform(resolveSandboxPath);

export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink";
  size: number;
  modifiedAt: string | null;
}

/** The entries of a directory, by name. */
export async function listFiles(sandbox: Sandbox, path: string): Promise<FileEntry[]> {
  const entries = await fsCall(path, () => sandbox.files.list(path));
  return entries.map(toFileEntry).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A file's bytes as a stream, straight from the sandbox. */
export async function readFile(sandbox: Sandbox, path: string): Promise<ReadableStream<Uint8Array>> {
  return fsCall(path, () => sandbox.files.read(path, { format: "stream" }));
}

/**
 * Removes a file, or a folder and everything in it. A path that does not exist is a 404 (the SDK itself
 * does not mind); the home folder and the root stay.
 */
export async function removeFile(sandbox: Sandbox, path: string): Promise<void> {
  if (path === "/" || path === SANDBOX_HOME) {
    throw new ApiError("invalid_request", `path: ${path} itself cannot be deleted (delete what is in it)`);
  }
  if (!(await fsCall(path, () => sandbox.files.exists(path)))) {
    throw new ApiError("not_found", `No file or folder ${path} in this sandbox.`);
  }
  await fsCall(path, () => sandbox.files.remove(path));
}

/**
 * Streams `body` into a file (parents created), refusing it past `maxBytes` (a volume restore passes
 * its own bound: the file already fit the quota).
 */
export async function writeFile(
  sandbox: Sandbox,
  path: string,
  body: ReadableStream<Uint8Array>,
  maxBytes = MAX_FILE_WRITE_BYTES,
): Promise<{ path: string; size: number }> {
  let size = 0;
  let tooLarge = false;
  const reader = body.getReader();
  // Past the cap the upload is ended early and the staged file thrown away (below), which every
  // transport handles the same way; erroring the stream mid-fetch does not.
  const counted = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (!done) size += value.byteLength;
      if (done || size > maxBytes) {
        tooLarge = !done;
        if (tooLarge) await reader.cancel().catch(() => {});
        return controller.close();
      }
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  // Written beside the target and renamed into place: a body cut short (the client went away, or
  // it ran over the cap) never replaces a good file.
  const slash = path.lastIndexOf("/");
  const staging = `${path.slice(0, slash + 1)}.${path.slice(slash + 1, slash + 101)}.phoenix-upload-${crypto.randomUUID()}`;
  try {
    await fsCall(path, () => sandbox.files.write(staging, counted));
    if (tooLarge) throw fileTooLarge();
    await fsCall(path, () => sandbox.files.rename(staging, path));
    return { path, size };
  } catch (err) {
    await sandbox.files.remove(staging).catch(() => {});
    if (tooLarge) throw fileTooLarge();
    throw err;
  }
}

export function fileTooLarge(): ApiError {
  return new ApiError("payload_too_large", `body: a file must be at most ${MAX_FILE_WRITE_BYTES} bytes`);
}

/**
 * Runs one filesystem call, turning the SDK's filesystem errors into API errors. Anything else
 * (the sandbox gone, the network) is rethrown as is for the caller to judge.
 */
async function fsCall<T>(path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fileError(err, path) ?? err;
  }
}

function fileError(err: unknown, path: string): ApiError | undefined {
  if (err instanceof FileNotFoundError) return new ApiError("not_found", `path: nothing at '${path}' in the sandbox`);
  if (err instanceof InvalidArgumentError) return new ApiError("invalid_request", `path: '${path}': ${err.message}`);
  if (err instanceof NotEnoughSpaceError)
    return new ApiError("quota_exceeded", `The sandbox has no space left for '${path}'`);
  // A path the sandbox user may not touch: envd's HTTP file calls answer 403 (the SDK keeps only the
  // status, "403: …"), its RPC calls (list, rename, …) Connect's permission_denied ("7: [permission_denied] …").
  if (err instanceof SandboxError && /^403\b|^7: \[permission_denied\]/.test(err.message)) {
    return new ApiError("forbidden", `path: permission denied for '${path}' in the sandbox`);
  }
  return undefined;
}

function toFileEntry(entry: EntryInfo): FileEntry {
  return {
    name: entry.name,
    path: entry.path,
    // The SDK's FileType enum holds exactly these strings.
    type: (entry.type ?? "file") as FileEntry["type"],
    size: entry.size,
    modifiedAt: entry.modifiedTime ? entry.modifiedTime.toISOString() : null,
  };
}
