// Volume file names: the one place they are checked, so a name can never leave `volumes/<userId>/`.
import { z } from "zod";
import { ApiError } from "../errors.ts";
import { utf8Length } from "../text.ts";

/** Longest name, in UTF-8 bytes (R2 keys allow 1024; the prefix and headroom take the rest). */
export const MAX_NAME_BYTES = 512;

/** Why a name is refused, or undefined when it is fine. The message names the rule. */
export function nameProblem(name: string): string | undefined {
  if (name === "") return "must not be empty";
  if (utf8Length(name) > MAX_NAME_BYTES) return `must be at most ${MAX_NAME_BYTES} bytes`;
  // C0, DEL and C1 controls: invisible in listings and terminals, and unsafe in tar headers.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "must not contain control characters";
  if (name.includes("\\")) return "must not contain backslashes";
  if (name.startsWith("/")) return "must be relative, not an absolute path";
  const segments = name.split("/");
  if (segments.includes("..")) return "must not contain '..' segments";
  if (segments.includes(".")) return "must not contain '.' segments";
  if (segments.includes("")) return "must not contain empty segments ('//' or a trailing '/')";
  return undefined;
}

/** The name, or `400 invalid_request` naming the field and the rule. */
export function checkName(name: string, field = "name"): string {
  const problem = nameProblem(name);
  if (problem) throw new ApiError("invalid_request", `${field}: ${problem}`);
  return name;
}

/** A listing prefix: empty, or a name that may end with '/'. */
export function checkPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  checkName(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix, "prefix");
  return prefix;
}

/** A volume name in a JSON body, for `validate()`. */
export const volumeNameSchema = z.string({ error: "is required" }).superRefine((name, ctx) => {
  const problem = nameProblem(name);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
