// The Phoenix HTTP API as the page uses it: authenticated fetches, one error type, and the SSE reader.

/** A failed request, carrying the API's `{error: {code, message, requestId}}` and the HTTP status. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code machine-readable code, e.g. "unauthorized"
   * @param {string} message
   * @param {{requestId?: string, retryAfter?: number}} [extra]
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

const STATUS_CODES = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  411: "length_required",
  413: "payload_too_large",
  429: "rate_limited",
  502: "sandbox_unavailable",
  503: "sandbox_busy",
  504: "sandbox_timeout",
  507: "quota_exceeded",
};

/** Builds an ApiError from a non-2xx response, whatever its body turns out to be. */
export async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // a proxy's HTML page, an empty body: fall back to the status
  }
  const err = body && typeof body === "object" && body.error ? body.error : {};
  const retryHeader = res.headers.get("Retry-After");
  const retryAfter =
    retryHeader !== null && retryHeader !== "" && Number.isFinite(Number(retryHeader))
      ? Number(retryHeader)
      : undefined;
  return new ApiError(
    res.status,
    typeof err.code === "string" ? err.code : (STATUS_CODES[res.status] ?? "http_error"),
    typeof err.message === "string" ? err.message : `${res.status} ${res.statusText || "error"}`,
    { requestId: err.requestId ?? res.headers.get("X-Request-Id") ?? "", retryAfter },
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

  async json(path, init) {
    const res = await this.request(path, init);
    return res.json();
  }

  stats() {
    return this.json("/api/v1/stats");
  }

  /** @param {{cursor?: string|null, limit?: number}} [opts] */
  history(opts = {}) {
    const q = new URLSearchParams({ limit: String(opts.limit ?? 15) });
    if (opts.cursor) q.set("cursor", opts.cursor);
    return this.json(`/api/v1/executions?${q}`);
  }

  execution(id) {
    return this.json(`/api/v1/executions/${encodeURIComponent(id)}`);
  }

  volume() {
    return this.json("/api/v1/volume");
  }

  /** @param {{prefix?: string, cursor?: string|null}} [opts] */
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

  deleteFile(name) {
    return this.request(filePath(name), { method: "DELETE" });
  }

  /** Kills a running execution; its stream then ends with status `cancelled`. @param {string} id */
  cancel(id) {
    return this.request(`/api/v1/executions/${encodeURIComponent(id)}/cancel`, { method: "POST" });
  }

  /**
   * Runs code and streams its events; resolves when the stream ends.
   * @param {{language: string, code: string, conversationId: string}} body
   * @param {(event: string, data: any) => void} onEvent
   * @param {AbortSignal} signal
   */
  async execute(body, onEvent, signal) {
    const res = await this.request("/api/v1/executions", {
      method: "POST",
      headers: { Accept: "text/event-stream", "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    if (!res.body || !(res.headers.get("Content-Type") ?? "").includes("text/event-stream")) {
      // A server that answered with JSON anyway: treat it as the end event.
      onEvent("end", await res.json());
      return;
    }
    for await (const { event, data } of readSse(res.body)) {
      let parsed;
      try {
        parsed = JSON.parse(data);
      } catch {
        parsed = { data };
      }
      onEvent(event, parsed);
    }
  }
}

/** `/api/v1/volume/files/<name>` with each path segment encoded (nested names keep their slashes). */
export function filePath(name) {
  return `/api/v1/volume/files/${name.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * Server-Sent Events from a byte stream, one `{event, data}` per message, as the bytes arrive.
 * @param {ReadableStream<Uint8Array>} body
 */
export async function* readSse(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
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

function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}
