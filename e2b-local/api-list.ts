// `GET /v2/sandboxes` (and the older `/sandboxes`): the filters the SDK's SandboxPaginator sends
// (metadata, state, template, startedAfter), the order (by start time, newest first unless `asc`) and
// cursor paging: `X-Next-Token` names the last sandbox of a page, so sandboxes created or killed
// between two pages neither repeat nor skip one.
import { httpError } from "./errors.ts";
import type { SandboxRec } from "./registry.ts";

export type ListQuery = {
  filter: Record<string, string>;
  states: string[];
  template?: string;
  startedAfter?: number;
  order: "asc" | "desc";
  limit: number;
  after?: { t: number; id: string };
};

const STATES = ["running", "paused"];
export const MAX_LIST_LIMIT = 100;

/** The query of a list request, checked (400 naming the parameter). */
export function parseListQuery(params: URLSearchParams): ListQuery {
  const filter: Record<string, string> = {};
  // metadata: a form-encoded string whose keys and values are URI-encoded once more
  for (const raw of params.getAll("metadata")) {
    for (const [key, value] of new URLSearchParams(raw)) {
      try {
        filter[decodeURIComponent(key)] = decodeURIComponent(value);
      } catch {
        filter[key] = value;
      }
    }
  }
  // state: `running,paused` (the SDK's form, explode false) or repeated
  const states = params
    .getAll("state")
    .flatMap((s) => s.split(","))
    .filter(Boolean);
  for (const state of states)
    if (!STATES.includes(state)) throw httpError(400, `state must be running or paused, not '${state}'`);
  const order = params.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc") throw httpError(400, "order must be asc or desc");
  let startedAfter: number | undefined;
  const after = params.get("startedAfter");
  if (after) {
    startedAfter = Date.parse(after);
    if (Number.isNaN(startedAfter)) throw httpError(400, "startedAfter must be an RFC 3339 date-time");
  }
  const limitRaw = params.get("limit");
  const limit = limitRaw === null ? MAX_LIST_LIMIT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
    throw httpError(400, `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  let cursor: ListQuery["after"];
  const token = params.get("nextToken");
  if (token) {
    try {
      const decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
      if (typeof decoded?.t !== "number" || typeof decoded?.id !== "string") throw new Error("shape");
      cursor = decoded;
    } catch {
      throw httpError(400, "invalid nextToken");
    }
  }
  return {
    filter,
    states,
    template: params.get("template") || undefined,
    startedAfter,
    order,
    limit,
    after: cursor,
  };
}

/** One page of `sandboxes` for `q`, and the token of the next page (undefined on the last). */
export function listPage(sandboxes: SandboxRec[], q: ListQuery): { page: SandboxRec[]; nextToken?: string } {
  const sign = q.order === "asc" ? 1 : -1;
  const compare = (a: { t: number; id: string }, b: { t: number; id: string }) =>
    sign * (a.t - b.t || a.id.localeCompare(b.id));
  const key = (s: SandboxRec) => ({ t: s.startedAt.getTime(), id: s.id });
  const matching = sandboxes
    .filter(
      (s) =>
        Object.entries(q.filter).every(([k, v]) => s.metadata[k] === v) &&
        (q.states.length === 0 || q.states.includes(s.paused ? "paused" : "running")) &&
        (q.template === undefined || s.templateID === q.template || s.alias === q.template) &&
        (q.startedAfter === undefined || s.startedAt.getTime() >= q.startedAfter),
    )
    .sort((a, b) => compare(key(a), key(b)));
  const after = q.after;
  const rest = after ? matching.filter((s) => compare(key(s), after) > 0) : matching;
  const page = rest.slice(0, q.limit);
  const last = page[page.length - 1];
  const nextToken =
    rest.length > q.limit && last ? Buffer.from(JSON.stringify(key(last))).toString("base64url") : undefined;
  return { page, nextToken };
}
