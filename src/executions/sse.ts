// Turns the Durable Object's event lines into a Server-Sent Events response.
import type { Context } from "hono";
import { ERROR_STATUS } from "../error-codes.ts";
import type { AppEnv } from "../types.ts";
import type { ExecutionEvent } from "./types.ts";

function sseFrame(event: ExecutionEvent, requestId: string): string {
  const { type, ...rest } = event;
  let data: unknown;
  if (type === "end") data = event.result;
  else if (type === "stdout" || type === "stderr") data = { data: event.data };
  else if (type === "error") {
    // The stream is already a 200 by now: the error says which HTTP status it stands for, in the
    // same `{error: {code, message, requestId}}` envelope as every error response.
    const { code, message, retryAfterSeconds } = event.error;
    data = { error: { code, message, status: ERROR_STATUS[code], requestId, retryAfterSeconds } };
  } else data = rest;
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Streams `events` (one JSON event per line) as SSE; events are flushed as they arrive. */
export function streamExecution(c: Context<AppEnv>, events: ReadableStream<Uint8Array>): Response {
  const encoder = new TextEncoder();
  const requestId = c.get("requestId");
  let buffered = "";
  const toSse = new TransformStream<string, Uint8Array>({
    transform(chunk, controller) {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line) controller.enqueue(encoder.encode(sseFrame(JSON.parse(line) as ExecutionEvent, requestId)));
      }
    },
  });
  const body = events.pipeThrough(new TextDecoderStream()).pipeThrough(toSse);
  return new Response(body, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
      "X-Request-Id": c.get("requestId"),
    },
  });
}
