// The page's API client (public/js/api.js) reads errors by the server's own table: plain ES module code,
// so it runs here in Node without a browser.
import { describe, expect, it } from "vitest";
import { ApiError, codeOf, errorFrom, readSse, statusOf, streamError } from "../../public/js/api.js";
import { ERROR_STATUS } from "../../src/error-codes.ts";

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

describe("the page's error table", () => {
  it("gives every API code the status the API sends it with", () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(statusOf(code), code).toBe(status);
    expect(statusOf("not_a_code")).toBe(500);
  });

  it("names a bare status only when exactly one code has it", () => {
    expect(codeOf(409)).toBe("conflict");
    expect(codeOf(412)).toBe("precondition_failed");
    expect(codeOf(416)).toBe("range_not_satisfiable");
    expect(codeOf(507)).toBe("quota_exceeded");
    // sandbox_busy and storage_unavailable share 503: a body-less 503 is neither.
    expect(codeOf(503)).toBe("http_error");
    expect(codeOf(418)).toBe("http_error");
  });
});

describe("errorFrom", () => {
  it("keeps the API's code, message, request id and Retry-After", async () => {
    const err = await errorFrom(
      json(
        503,
        { error: { code: "storage_unavailable", message: "R2 failed.", requestId: "req-1" } },
        { "Retry-After": "2" },
      ),
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, code: "storage_unavailable", message: "R2 failed.", requestId: "req-1" });
    expect(err.retryAfter).toBe(2);
  });

  it("falls back to the status and X-Request-Id when the body is not the API's", async () => {
    const html = new Response("<h1>Bad gateway</h1>", {
      status: 502,
      statusText: "Bad Gateway",
      headers: { "X-Request-Id": "req-2" },
    });
    expect(await errorFrom(html)).toMatchObject({
      status: 502,
      code: "sandbox_unavailable",
      message: "502 Bad Gateway",
      requestId: "req-2",
    });
    expect(await errorFrom(new Response(null, { status: 503 }))).toMatchObject({ code: "http_error", requestId: "" });
  });
});

describe("streamError", () => {
  it("takes the event's own status when it has one, else the table's", () => {
    expect(streamError({ code: "sandbox_busy", message: "busy", status: 503, requestId: "r" })).toMatchObject({
      status: 503,
      code: "sandbox_busy",
      requestId: "r",
    });
    expect(streamError({ code: "brand_new", message: "new", status: 418 })).toMatchObject({
      status: 418,
      code: "brand_new",
    });
    expect(streamError({ code: "sandbox_timeout", message: "slow", retryAfterSeconds: 3 })).toMatchObject({
      status: 504,
      retryAfter: 3,
    });
  });
});

describe("readSse", () => {
  it("yields events as their blocks complete, whatever the chunking and line endings", async () => {
    const chunks = [
      'event: start\r\ndata: {"id":"exe_1"}\r\n\r\n: keep-alive\n\nevent: std',
      "out\ndata: a\ndata: b\n\nevent: end\ndata: {}",
    ];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        controller.close();
      },
    });
    const events = [];
    for await (const e of readSse(body)) events.push(e);
    expect(events).toEqual([
      { event: "start", data: '{"id":"exe_1"}' },
      { event: "stdout", data: "a\nb" },
      { event: "end", data: "{}" },
    ]);
  });
});
