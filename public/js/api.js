// The Phoenix HTTP API as the page uses it: authenticated fetches, one error type, and the SSE reader.

/** @import { ErrorCode } from "./facts.js" */
/** @import { ExecutionEvent, HistoryItem, HistoryPage, Stats, StreamError, VolumeFilePage, VolumeInfo } from "./types.js" */
import { ERROR_STATUS } from "./facts.js";

/** A failed request, carrying the API's `{error: {code, message, requestId}}` and the HTTP status. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code machine-readable code: one of the API's (facts.js ERROR_STATUS), or the page's own
   *   `network_error` / `http_error`
   * @param {string} message
   * @param {{requestId?: string | undefined, retryAfter?: number | undefined}} [extra]
   */
  constructor(status, code, message, extra = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = extra.requestId ?? "";
    this.retryAfter = extra.retryAfter;
  }
}

/** @param {string} code @returns {code is ErrorCode} */
const isErrorCode = (code) => Object.hasOwn(ERROR_STATUS, code);

/** The HTTP status the API sends with `code`; 500 for a code this page does not know. @param {string} code */
export function statusOf(code) {
  return isErrorCode(code) ? ERROR_STATUS[code] : 500;
}

/**
 * The API's code for a bare status (a body that is not the API's JSON): only when exactly one code has
 * that status (503 is both `sandbox_busy` and `storage_unavailable`, so it stays a plain `http_error`).
 * @param {number} status
 */
export function codeOf(status) {
  const codes = Object.entries(ERROR_STATUS).filter(([, s]) => s === status);
  return codes.length === 1 && codes[0] ? codes[0][0] : "http_error";
}

/**
 * An error event of a run's stream as an ApiError; the event's own `status` wins over the table.
 * @param {StreamError} e
 */
export function streamError(e) {
  const code = e.code ?? "internal_error";
  return new ApiError(e.status ?? statusOf(code), code, e.message ?? "The run failed.", {
    retryAfter: e.retryAfterSeconds,
    requestId: e.requestId,
  });
}

/** Builds an ApiError from a non-2xx response, whatever its body turns out to be. @param {Response} res */
export async function errorFrom(res) {
  /** @type {unknown} */
  let body = null;
  try {
    body = await res.json();
  } catch {
    // a proxy's HTML page, an empty body: fall back to the status
  }
  /** @type {{code?: unknown, message?: unknown, requestId?: unknown}} */
  const err =
    body && typeof body === "object" && "error" in body && body.error && typeof body.error === "object"
      ? body.error
      : {};
  const retryHeader = res.headers.get("Retry-After");
  const retryAfter =
    retryHeader !== null && retryHeader !== "" && Number.isFinite(Number(retryHeader))
      ? Number(retryHeader)
      : undefined;
  return new ApiError(
    res.status,
    typeof err.code === "string" ? err.code : codeOf(res.status),
    typeof err.message === "string" ? err.message : `${res.status} ${res.statusText || "error"}`,
    {
      requestId: typeof err.requestId === "string" ? err.requestId : (res.headers.get("X-Request-Id") ?? ""),
      retryAfter,
    },
  );
}

/** Talks to the API with one user's key. */
export class Client {
  /** @param {() => string} getKey */
  constructor(getKey) {
    this.getKey = getKey;
  }

  /**
   * fetch with the key; throws ApiError on a network failure or a non-2xx status.
   * @param {string} path
   * @param {RequestInit} [init]
   */
  async request(path, init = {}) {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${this.getKey()}`);
    let res;
    try {
      res = await fetch(path, { ...init, headers });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(
        0,
        "network_error",
        "Could not reach the Phoenix server. Check your connection and try again.",
      );
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  /**
   * The JSON body of a successful request; its shape is the caller's word (the API's types in types.js).
   * @template T
   * @param {string} path
   * @param {RequestInit} [init]
   * @returns {Promise<T>}
   */
  async json(path, init) {
    const res = await this.request(path, init);
    return res.json();
  }

  /**
   * A one-time ticket for the conversation's terminal WebSocket, and the URL to open with it.
   * @param {string} conversationId
   * @returns {Promise<{ticket: string, expiresAt: string, url: string}>}
   */
  terminalTicket(conversationId) {
    return this.json(`/api/v1/sandboxes/${encodeURIComponent(conversationId)}/terminal/tickets`, { method: "POST" });
  }

  /** @returns {Promise<Stats>} */
  stats() {
    return this.json("/api/v1/stats");
  }

  /** @param {{cursor?: string|null, limit?: number}} [opts] @returns {Promise<HistoryPage>} */
  history(opts = {}) {
    const q = new URLSearchParams({ limit: String(opts.limit ?? 15) });
    if (opts.cursor) q.set("cursor", opts.cursor);
    return this.json(`/api/v1/executions?${q}`);
  }

  /** @param {string} id @returns {Promise<HistoryItem>} */
  execution(id) {
    return this.json(`/api/v1/executions/${encodeURIComponent(id)}`);
  }

  /** @returns {Promise<VolumeInfo>} */
  volume() {
    return this.json("/api/v1/volume");
  }

  /** @param {{prefix?: string, cursor?: string|null}} [opts] @returns {Promise<VolumeFilePage>} */
  volumeFiles(opts = {}) {
    const q = new URLSearchParams();
    if (opts.prefix) q.set("prefix", opts.prefix);
    if (opts.cursor) q.set("cursor", opts.cursor);
    const qs = q.toString();
    return this.json(`/api/v1/volume/files${qs ? `?${qs}` : ""}`);
  }

  /** @param {string} name @param {Blob} body */
  putFile(name, body) {
    return this.request(filePath(name), {
      method: "PUT",
      body,
      headers: { "Content-Type": body.type || "application/octet-stream" },
    });
  }

  /** @param {string} name @returns {Promise<Blob>} */
  async getFile(name) {
    const res = await this.request(filePath(name));
    return res.blob();
  }

  /** @param {string} name */
  deleteFile(name) {
    return this.request(filePath(name), { method: "DELETE" });
  }

  /** Kills a running execution; its stream then ends with status `cancelled`. @param {string} id */
  cancel(id) {
    return this.request(`/api/v1/executions/${encodeURIComponent(id)}/cancel`, { method: "POST" });
  }

  /**
   * Runs code and streams its events; resolves when the stream ends. A stream cut before its `end`
   * (a network drop) is resumed where it stopped (`GET …/events` with `Last-Event-ID`), so the output
   * is complete and nothing is shown twice; `onReconnect` hears each attempt.
   * @param {{language: string, code: string, conversationId: string, stateful?: boolean, artifacts?: boolean}} body
   * @param {(event: ExecutionEvent) => void} onEvent
   * @param {AbortSignal} signal
   * @param {(attempt: number) => void} [onReconnect]
   */
  async execute(body, onEvent, signal, onReconnect = () => {}) {
    const res = await this.request("/api/v1/executions", {
      method: "POST",
      // At the cap, wait in the user's queue for a slot (the stream says where) rather than be refused.
      headers: {
        Accept: "text/event-stream",
        "Content-Type": "application/json",
        Prefer: `wait=${QUEUE_WAIT_SECONDS}`,
      },
      body: JSON.stringify(body),
      signal,
    });
    if (!res.body || !(res.headers.get("Content-Type") ?? "").includes("text/event-stream")) {
      // A server that answered with JSON anyway: treat it as the end event.
      onEvent({ event: "end", data: await res.json() });
      return;
    }
    const stream = { id: "", lastEventId: "", ended: false };
    /** @param {ReadableStream<Uint8Array>} sse */
    const follow = async (sse) => {
      for await (const { event, data, id } of readSse(sse)) {
        let parsed;
        try {
          parsed = JSON.parse(data);
        } catch {
          parsed = { data };
        }
        if (id !== undefined) stream.lastEventId = id;
        if (event === "start") stream.id = parsed.id;
        if (event === "end" || event === "error") stream.ended = true;
        // The event names and their data are the API's (types.js ExecutionEvents); unknown names are passed on too.
        onEvent(/** @type {ExecutionEvent} */ ({ event, data: parsed }));
      }
    };
    let failure = await follow(res.body).then(
      () => null,
      (/** @type {unknown} */ e) => e,
    );
    // The run goes on on the server when its stream drops: ask for what came after the last event seen.
    for (let attempt = 1; !stream.ended && stream.id && !signal.aborted && attempt <= RESUME_ATTEMPTS; attempt++) {
      onReconnect(attempt);
      await delay(Math.min(250 * 2 ** (attempt - 1), 4000), signal);
      if (signal.aborted) break;
      failure = await this.request(`/api/v1/executions/${encodeURIComponent(stream.id)}/events`, {
        headers: {
          Accept: "text/event-stream",
          ...(stream.lastEventId ? { "Last-Event-ID": stream.lastEventId } : {}),
        },
        signal,
      }).then(
        (resumed) => (resumed.body ? follow(resumed.body) : null),
        (/** @type {unknown} */ e) => e,
      );
      if (failure instanceof ApiError && failure.status !== 0 && failure.status < 500) break;
    }
    if (failure && !stream.ended) throw failure;
  }
}

/** How long a run from the page may wait for a free slot when the user's runs are all busy. */
const QUEUE_WAIT_SECONDS = 60;

/** How many times a dropped run stream is resumed before the page gives up (about a minute, backing off). */
const RESUME_ATTEMPTS = 20;

/** Resolves after `ms`, or at once when `signal` aborts. @param {number} ms @param {AbortSignal} signal */
function delay(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const abort = () => {
      clearTimeout(timer);
      resolve(undefined);
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}

/** `/api/v1/volume/files/<name>` with each path segment encoded (nested names keep their slashes). @param {string} name */
export function filePath(name) {
  return `/api/v1/volume/files/${name.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * Server-Sent Events from a byte stream, one `{event, data, id?}` per message, as the bytes arrive.
 * @param {ReadableStream<Uint8Array>} body
 */
export async function* readSse(body) {
  // TextDecoderStream's writable side takes any BufferSource; DOM's typings cannot pair that with Uint8Array.
  const reader = body
    .pipeThrough(/** @type {TransformStream<Uint8Array, string>} */ (new TextDecoderStream()))
    .getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message = parseBlock(block);
        if (message) yield message;
      }
    }
    const last = parseBlock(buffer);
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}

/** One SSE message from its lines; null for a block without data (a comment, a keep-alive). @param {string} block */
function parseBlock(block) {
  let event = "message";
  /** @type {string | undefined} */
  let id;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length ? { event, data: data.join("\n"), id } : null;
}
