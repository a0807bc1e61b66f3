// Conditional writes on volume files (RFC 9110 §13): `If-Match` replaces only a known version,
// `If-None-Match: *` creates only. Checked against the stored ETag; R2 re-checks the same condition
// atomically when it writes, and the ledger's reservation keeps other writers off the name meanwhile.
import { ApiError } from "../errors.ts";

/** The request's write preconditions; undefined fields were not sent. */
export interface WriteConditions {
  ifMatch?: string[] | "*";
  ifNoneMatch?: string[] | "*";
}

/** An entity-tag list (`"a", W/"b"`) or `*`, as sent; a malformed one is a 400 naming the header. */
function parseTags(header: string, name: string): string[] | "*" {
  const value = header.trim();
  if (value === "*") return "*";
  const tags = value.split(",").map((tag) => tag.trim());
  for (const tag of tags) {
    if (!/^(W\/)?"[^"\s]*"$/.test(tag)) {
      throw new ApiError(
        "invalid_request",
        `${name}: expected '*' or quoted ETags such as "abc123", got ${tag || "nothing"}`,
      );
    }
  }
  return tags;
}

/** The conditions in a request's headers, or undefined when it sent none. */
export function writeConditions(headers: Headers): WriteConditions | undefined {
  const ifMatch = headers.get("If-Match");
  const ifNoneMatch = headers.get("If-None-Match");
  if (ifMatch === null && ifNoneMatch === null) return undefined;
  const conditions: WriteConditions = {};
  if (ifMatch !== null) conditions.ifMatch = parseTags(ifMatch, "If-Match");
  if (ifNoneMatch !== null) conditions.ifNoneMatch = parseTags(ifNoneMatch, "If-None-Match");
  return conditions;
}

/** Strong comparison for If-Match, weak for If-None-Match (RFC 9110 §13.1.1–2). */
function opaque(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/**
 * Why the write must not happen given the file's current ETag (null: no file), or undefined when it may.
 * The message says what the client asked for and what is there now.
 */
export function preconditionProblem(conditions: WriteConditions, current: string | null): string | undefined {
  const { ifMatch, ifNoneMatch } = conditions;
  if (ifMatch !== undefined) {
    if (current === null) return "If-Match: there is no such file to replace";
    if (ifMatch !== "*" && !ifMatch.some((tag) => !tag.startsWith("W/") && tag === current)) {
      return `If-Match: the file has changed (its ETag is now ${current})`;
    }
  }
  if (ifNoneMatch !== undefined && current !== null) {
    if (ifNoneMatch === "*") return `If-None-Match: * — the file already exists (ETag ${current})`;
    if (ifNoneMatch.some((tag) => opaque(tag) === opaque(current))) {
      return `If-None-Match: the file still has ETag ${current}`;
    }
  }
  return undefined;
}

/** Throws 412 precondition_failed when the write must not happen. */
export function checkPreconditions(conditions: WriteConditions | undefined, current: string | null): void {
  if (!conditions) return;
  const problem = preconditionProblem(conditions, current);
  if (problem) throw new ApiError("precondition_failed", problem);
}

/** The same conditions for R2's own atomic check at write time. */
export function r2Conditions(conditions: WriteConditions): Headers {
  const headers = new Headers();
  const render = (tags: string[] | "*") => (tags === "*" ? "*" : tags.join(", "));
  if (conditions.ifMatch !== undefined) headers.set("If-Match", render(conditions.ifMatch));
  if (conditions.ifNoneMatch !== undefined) headers.set("If-None-Match", render(conditions.ifNoneMatch));
  return headers;
}
