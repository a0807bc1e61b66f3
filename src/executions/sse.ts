// Turns the Durable Object's event lines into a Server-Sent Events response.
import type { Context } from "hono";
import { ERROR_STATUS } from "../error-codes.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../types.ts";
import { advance, eventId, type Position, START } from "./replay.ts";
import type { ExecutionEvent, ExecutionResult } from "./types.ts";

function sseFrame(event: ExecutionEvent, id: string, requestId: string): string {
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
  // A run still waiting for a slot has no place in its output yet: its `queued` events carry no id.
  const idLine = type === "queued" ? "" : `id: ${id}\n`;
  return `${idLine}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The Durable Object's event lines (one JSON event per line; empty lines are its heartbeats) as events. */
function eventsOf(lines: ReadableStream<Uint8Array>): ReadableStream<ExecutionEvent> {
  let buffered = "";
  const split = new TransformStream<string, ExecutionEvent>({
    transform(chunk, controller) {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line) controller.enqueue(JSON.parse(line) as ExecutionEvent);
      }
    },
  });
  return lines.pipeThrough(new TextDecoderStream()).pipeThrough(split);
}

/**
 * Streams `events` (one JSON event per line) as SSE; events are flushed as they arrive. Each carries
 * its position in the run's output as its `id` (executions/replay.ts), counted from `from`: where a
 * resumed stream starts.
 */
export function streamExecution(
  c: Context<AppEnv>,
  events: ReadableStream<Uint8Array>,
  from: Position = START,
): Response {
  const encoder = new TextEncoder();
  const requestId = c.get("requestId");
  let position = from;
  const toSse = new TransformStream<ExecutionEvent, Uint8Array>({
    transform(event, controller) {
      position = advance(position, event);
      controller.enqueue(encoder.encode(sseFrame(event, eventId(position), requestId)));
    },
  });
  return new Response(eventsOf(events).pipeThrough(toSse), {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
      "X-Request-Id": c.get("requestId"),
    },
  });
}

/** The result at the end of a run's event lines (for a JSON client); an `error` event is thrown. */
export async function resultOf(events: ReadableStream<Uint8Array>): Promise<ExecutionResult> {
  for await (const event of eventsOf(events)) {
    if (event.type === "end") return event.result;
    if (event.type === "error") throw ApiError.from(event.error);
  }
  throw new ApiError("sandbox_unavailable", "The run's events ended without a result.");
}
