// Generated bodies, params, headers and paths thrown at every route of the README's table: whatever a
// client sends, the answer is below 500 and every error has the one shape {error: {code, message, requestId}}.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { LANGUAGES } from "../../src/executions/types.ts";
import { installSchema } from "../../src/sandbox/packages.ts";
import { call, createUser, execute, OWNER_TOKEN } from "./helpers.ts";

/** Fixed seed, bounded runs: the same ~1,400 requests every time, about a minute on 2 cores. */
const RUNS = { seed: 20261130, numRuns: 40, endOnFailure: true };
/** The one conversation allowed a sandbox; every other generated id must fail validation first. */
const FUZZ = "fuzz";
const CONVERSATION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

let key: string;
let userId: string;

beforeAll(async () => {
  const user = await createUser("fuzz");
  key = user.apiKey;
  userId = user.id;
  // A handful of valid executions with odd but legal input: the only sandbox this suite starts.
  for (const body of [
    { language: "shell", code: "printf '%s' \"$X\"", conversationId: FUZZ, envs: { X: "\u202e\ufeff😀\u0301" } },
    { language: "python", code: "print('é\\u0301', end='')", conversationId: FUZZ, timeoutMs: 10_000 },
    { language: "node", code: "console.log(2n ** 70n)", conversationId: FUZZ },
  ]) {
    const { res, json } = await execute(key, body);
    expect(res.status, JSON.stringify(json)).toBe(200);
  }
  await call("/api/v1/volume/files/fuzz/seed.txt", { key, method: "PUT", body: "seed" });
});

/** The property: below 500, and an error is JSON of the one shape with the request's own id. */
async function expectSane(res: Response, what: string): Promise<void> {
  const context = `${what} → ${res.status}`;
  const text = res.status === 204 || res.status === 304 ? "" : await res.text();
  expect(res.status, `${context} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status < 400) return;
  let body: { error?: { code?: unknown; message?: unknown; requestId?: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${context}: error body is not JSON: ${text.slice(0, 300)}`);
  }
  expect(Object.keys(body), context).toEqual(["error"]);
  expect(typeof body.error?.code, context).toBe("string");
  expect(typeof body.error?.message, context).toBe("string");
  expect(body.error?.requestId, context).toBe(res.headers.get("X-Request-Id"));
  expect(text, context).not.toMatch(/\bat .*\.(ts|js):\d+/);
}

// ── Generators ────────────────────────────────────────────────────────────────────────────────

/** Strings a client might send: odd Unicode, NUL and controls, bidi marks, huge numbers, traversal. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      "\0",
      "\u202e",
      "\u2066",
      "\ufeff",
      "\ud800",
      "é",
      "e\u0301",
      "/",
      "..",
      "%",
      "\n",
      " ",
      "😀",
    ),
    maxLength: 12,
  }),
  fc.constantFrom(
    "",
    "..",
    "../..",
    "/etc/passwd",
    "a//b",
    "1e400",
    "-0",
    "NaN",
    "99999999999999999999999",
    "null",
    "\u0000",
    "%00",
    "%",
    "%E0%A4%A",
    "exe_",
    "x".repeat(5000),
  ),
);

/** Percent-encodes what can be, and keeps raw bytes-as-text (bad escapes included) for what cannot. */
function urlPart(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s.replace(/[^\x21-\x7e]/g, "%FF");
  }
}

const numberish = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom("0", "-1", "1.5", "1e3", "1e400", "0x10", "99999999999999999999", "", " 5", "abc"),
);

/** JSON values of any shape, huge numbers and wrong types, and bodies that are not JSON at all. */
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .dictionary(
      fc.constantFrom("language", "code", "conversationId", "timeoutMs", "envs", "manager", "packages", "path", "name"),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    "{",
    '{"code":',
    "[1,2",
    "\u0000",
    '{"timeoutMs":1e400}',
    '{"timeoutMs":123456789012345678901234567890}',
    '{"language":"python","code":"\\u0000"}',
    '{"__proto__":{"x":1}}',
  ),
);

/** Header values fetch accepts (no CR, LF or NUL; Latin-1 only). */
const headerValue = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "").trim());
const headersArb = fc.record(
  {
    Range: fc.oneof(
      headerValue,
      fc.constantFrom(
        "bytes=0-0",
        "bytes=-0",
        "bytes=5-2",
        "bytes=99999999999999999999-",
        "bytes=0-1,3-4",
        "bytes=-",
        "items=0-1",
      ),
    ),
    "If-None-Match": fc.oneof(headerValue, fc.constant("*")),
    "If-Match": headerValue,
    "If-Modified-Since": fc.oneof(headerValue, fc.constant("Thu, 01 Jan 1970 00:00:00 GMT")),
    "Content-Type": fc.oneof(
      headerValue,
      fc.constantFrom("application/json", "application/json; charset=utf-8", "text/html", "multipart/form-data"),
    ),
    "Upload-Length": fc.oneof(headerValue, numberish),
    Accept: fc.oneof(headerValue, fc.constant("text/event-stream")),
    "X-Request-Id": headerValue,
  },
  { requiredKeys: [] },
);

/** A conversation id for routes that would start a sandbox: the fuzz one, or one that fails validation. */
const writeConversation = fc.oneof(
  fc.constant(FUZZ),
  nasty.filter((s) => !CONVERSATION.test(s)),
);
const anyConversation = fc.oneof(fc.constant(FUZZ), fc.constant("never-started"), nasty).filter((s) => s !== "");
const query = (params: Record<string, string | undefined>) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${urlPart(v!)}`)
    .join("&");

function bodyFor(method: string, body: string): { body?: string } {
  return method === "GET" || method === "HEAD" ? {} : { body };
}

// ── Properties, one per group of routes ─────────────────────────────────────────────────────────

describe("no 500 for a client's input", () => {
  it("executions: run (bodies that fail validation), history, one, cancel", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("run", "list", "one", "cancel"),
        jsonish,
        nasty,
        fc.record(
          { limit: numberish, cursor: nasty, language: nasty, status: nasty, conversationId: nasty },
          { requiredKeys: [] },
        ),
        headersArb,
        async (route, json, id, params, headers) => {
          let res: Response;
          let what: string;
          if (route === "run") {
            // Only bodies that cannot run: a body that would start code is left to the valid cases above.
            let parsed: unknown;
            try {
              parsed = JSON.parse(json);
            } catch {}
            const p = parsed as { language?: unknown; code?: unknown } | undefined;
            const runnable =
              typeof p === "object" &&
              p !== null &&
              LANGUAGES.includes(p.language as never) &&
              typeof p.code === "string" &&
              p.code !== "" &&
              !p.code.includes("\0");
            fc.pre(!runnable);
            what = `POST /api/v1/executions ${json.slice(0, 80)}`;
            res = await call("/api/v1/executions", {
              key,
              method: "POST",
              body: json,
              headers: { "Content-Type": "application/json", ...headers },
            });
          } else if (route === "list") {
            what = `GET /api/v1/executions?${query(params)}`;
            res = await call(`/api/v1/executions?${query(params)}`, { key, headers });
          } else {
            const path = `/api/v1/executions/${urlPart(id)}${route === "cancel" ? "/cancel" : ""}`;
            what = `${route === "cancel" ? "POST" : "GET"} ${path}`;
            res = await call(path, { key, method: route === "cancel" ? "POST" : "GET", headers });
          }
          await expectSane(res, what);
        },
      ),
      { ...RUNS, numRuns: 300 },
    );
  });

  it("stats and sandboxes: info, close, list and read files (no sandbox is started by looking)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("stats", "list", "info", "close", "files", "file"),
        anyConversation,
        fc.option(nasty),
        headersArb,
        async (route, conversation, path, headers) => {
          const base = `/api/v1/sandboxes/${urlPart(conversation)}`;
          const q = path === null ? "" : `?path=${urlPart(path)}`;
          const [method, url] = {
            stats: ["GET", "/api/v1/stats"],
            list: ["GET", "/api/v1/sandboxes"],
            info: ["GET", base],
            // Closing the fuzz sandbox would make the next write start another one.
            close: ["DELETE", conversation === FUZZ ? "/api/v1/sandboxes/never-started" : base],
            files: ["GET", `${base}/files${q}`],
            file: ["GET", `${base}/file${q}`],
          }[route] as [string, string];
          await expectSane(await call(url, { key, method, headers }), `${method} ${url}`);
        },
      ),
      { ...RUNS, numRuns: 200 },
    );
  });

  it("sandbox writes: file PUT, packages, persist and restore (only in the one fuzz sandbox)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("write", "packages", "persist", "restore"),
        writeConversation,
        nasty,
        jsonish,
        fc.record({ path: nasty, name: nasty }, { requiredKeys: [] }),
        headersArb,
        async (route, conversation, path, json, fields, headers) => {
          const base = `/api/v1/sandboxes/${urlPart(conversation)}`;
          let res: Response;
          let what: string;
          if (route === "write") {
            what = `PUT ${base}/file?path=${path.slice(0, 40)}`;
            res = await call(`${base}/file?path=${urlPart(path)}`, {
              key,
              method: "PUT",
              body: json,
              headers: { ...headers, "Upload-Length": "" },
            });
          } else if (route === "packages") {
            // An install that would pass validation would reach for the network: only the refused ones.
            let parsed: unknown;
            try {
              parsed = JSON.parse(json);
            } catch {}
            fc.pre(!installSchema.safeParse(parsed).success);
            what = `POST ${base}/packages ${json.slice(0, 80)}`;
            res = await call(`${base}/packages`, {
              key,
              method: "POST",
              body: json,
              headers: { ...headers, "Content-Type": "application/json" },
            });
          } else {
            const body = fields.path === undefined && fields.name === undefined ? json : JSON.stringify(fields);
            what = `POST ${base}/files/${route} ${body.slice(0, 80)}`;
            res = await call(`${base}/files/${route}`, {
              key,
              method: "POST",
              body,
              headers: { "Content-Type": "application/json" },
            });
          }
          await expectSane(res, what);
        },
      ),
      { ...RUNS, numRuns: 200 },
    );
  });

  it("volume: usage, listing, file PUT/GET/DELETE, export, import", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("usage", "list", "put", "get", "delete", "export", "import"),
        fc.oneof(nasty, fc.constant("fuzz/seed.txt"), fc.constant("fuzz/new.txt")),
        fc.record({ prefix: nasty, cursor: nasty, limit: numberish }, { requiredKeys: [] }),
        fc.uint8Array({ maxLength: 2048 }),
        headersArb,
        async (route, name, params, bytes, headers) => {
          const path = `/api/v1/volume/files/${name.split("/").map(urlPart).join("/")}`;
          const [method, url, body] = {
            usage: ["GET", "/api/v1/volume", undefined],
            list: ["GET", `/api/v1/volume/files?${query(params)}`, undefined],
            put: ["PUT", path, bytes],
            get: ["GET", path, undefined],
            delete: ["DELETE", path, undefined],
            export: ["GET", "/api/v1/volume/export", undefined],
            import: ["POST", "/api/v1/volume/import", bytes],
          }[route] as [string, string, Uint8Array | undefined];
          const res = await call(url, { key, method, headers, ...(body ? { body } : {}) });
          await expectSane(res, `${method} ${url}`);
        },
      ),
      { ...RUNS, numRuns: 400 },
    );
  });

  it("owner routes: users, keys, stats", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("createUser", "users", "createKey", "keys", "revoke", "stats"),
        fc.oneof(nasty, fc.constant(userId)),
        jsonish,
        headersArb,
        async (route, id, json, headers) => {
          // Never the fuzz user's own key: the other properties still need it.
          const target = id === userId && route === "revoke" ? "key_unknown" : id;
          const [method, url, body] = {
            createUser: ["POST", "/api/v1/admin/users", json],
            users: ["GET", `/api/v1/admin/users?${query({ limit: id, cursor: id })}`, undefined],
            createKey: ["POST", `/api/v1/admin/users/${urlPart(target)}/keys`, json],
            keys: ["GET", `/api/v1/admin/users/${urlPart(target)}/keys`, undefined],
            revoke: ["DELETE", `/api/v1/admin/keys/${urlPart(target)}`, undefined],
            stats: ["GET", "/api/v1/admin/stats", undefined],
          }[route] as [string, string, string | undefined];
          const res = await call(url, {
            key: OWNER_TOKEN,
            method,
            headers: { ...headers, "Content-Type": "application/json" },
            ...bodyFor(method, body ?? ""),
          });
          await expectSane(res, `${method} ${url}`);
        },
      ),
      { ...RUNS, numRuns: 150 },
    );
  });

  it("unknown paths and methods", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
        fc.array(nasty, { minLength: 1, maxLength: 4 }),
        fc.constantFrom("/api/v1/", "/api/", "/api/v1/volume/", "/api/v1/sandboxes/fuzz/", "/api/v1/admin/"),
        async (method, segments, prefix) => {
          const url = `${prefix}${segments.map(urlPart).join("/")}`;
          const res = await call(url, { key, method, ...bodyFor(method, "x") });
          // Static assets (the page) may answer outside /api; inside, the one error shape applies.
          await expectSane(res, `${method} ${url}`);
        },
      ),
      { ...RUNS, numRuns: 150 },
    );
  });
});
