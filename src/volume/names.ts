// Volume file names: the one place they are checked and normalised (NFC), so a name can never leave
// `volumes/<userId>/` and two spellings of the same text are one file.
import { z } from "zod";
import { ApiError } from "../errors.ts";
import { utf8Length } from "../text.ts";

/** Longest name, in UTF-8 bytes (R2 keys allow 1024; the prefix and headroom take the rest). */
export const MAX_NAME_BYTES = 512;

/**
 * Bidirectional controls (LRE…RLO, LRI…PDI, LRM, RLM, ALM): they make a listing show a name other than
 * the one stored (`evil\u202Etxt.exe` reads as `evilexe.txt`).
 */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;

/**
 * The one spelling a name is stored under: Unicode NFC, so "é" typed precomposed (macOS keyboards,
 * most software) and decomposed (macOS file names) is one file, not two that look alike.
 */
export function normalizeName(name: string): string {
  return name.normalize("NFC");
}

/** Why a name is refused, or undefined when it is fine. The message names the rule. */
export function nameProblem(name: string): string | undefined {
  if (name === "") return "must not be empty";
  // A lone surrogate (possible in JSON) has no UTF-8 form: R2 would store U+FFFD instead.
  if (/\p{Cs}/u.test(name)) return "must be valid Unicode (no lone surrogates)";
  if (utf8Length(name) > MAX_NAME_BYTES) return `must be at most ${MAX_NAME_BYTES} bytes`;
  // C0, DEL and C1 controls: invisible in listings and terminals, and unsafe in tar headers.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "must not contain control characters";
  if (BIDI_CONTROLS.test(name)) return "must not contain bidirectional control characters";
  if (name.includes("\\")) return "must not contain backslashes";
  if (name.startsWith("/")) return "must be relative, not an absolute path";
  const segments = name.split("/");
  if (segments.includes("..")) return "must not contain '..' segments";
  if (segments.includes(".")) return "must not contain '.' segments";
  if (segments.includes("")) return "must not contain empty segments ('//' or a trailing '/')";
  return undefined;
}

/** The name in NFC, or `400 invalid_request` naming the field and the rule. */
export function checkName(name: string, field = "name"): string {
  const normal = normalizeName(name);
  const problem = nameProblem(normal);
  if (problem) throw new ApiError("invalid_request", `${field}: ${problem}`);
  return normal;
}

/** A listing prefix: empty, or a name that may end with '/'. */
export function checkPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  const slash = prefix.endsWith("/") ? "/" : "";
  return checkName(slash ? prefix.slice(0, -1) : prefix, "prefix") + slash;
}

/** A volume name in a JSON body, for `validate()`; the handler gets it in NFC. */
export const volumeNameSchema = z
  .string({ error: "is required" })
  .overwrite(normalizeName)
  .superRefine((name, ctx) => {
    const problem = nameProblem(name);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
