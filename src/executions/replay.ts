// Resuming a run's event stream. An SSE event's id is its position in the run's output: the characters
// of stdout and of stderr sent up to and including it (`<stdout>.<stderr>`), so a client that lost its
// stream asks for what comes after that position — from the live run's log while it runs and for a
// while after, or from the stored result once the log is gone — with no duplicates and no gaps.
import type { ExecutionEvent, ExecutionResult } from "./types.ts";

export interface Position {
  out: number;
  err: number;
}

export const START: Position = { out: 0, err: 0 };

/** How long a finished run's log stays in its Durable Object's memory for clients to resume. */
const KEEP_AFTER_END_MS = 10 * 60_000;

/** The position after `event`, given the position before it. */
export function advance(p: Position, event: ExecutionEvent): Position {
  if (event.type === "stdout") return { out: p.out + event.data.length, err: p.err };
  if (event.type === "stderr") return { out: p.out, err: p.err + event.data.length };
  return p;
}

export const eventId = (p: Position) => `${p.out}.${p.err}`;

/** A `Last-Event-ID` / `?after=` value, or undefined when it is not one of ours. */
export function parsePosition(id: string): Position | undefined {
  const match = /^(\d{1,10})\.(\d{1,10})$/.exec(id.trim());
  return match ? { out: Number(match[1]), err: Number(match[2]) } : undefined;
}

/** Whether an event at position `p` (its id) comes after `after`: it sent output `after` had not seen. */
function isAfter(p: Position, event: ExecutionEvent, after: Position): boolean {
  if (event.type === "end" || event.type === "error") return true;
  return p.out > after.out || p.err > after.err;
}

interface RunLog {
  events: { position: Position; event: ExecutionEvent }[];
  position: Position;
  followers: Set<(event: ExecutionEvent) => void>;
  ended: boolean;
}

/** The logs of a Durable Object's runs: written as each run emits, read by clients that resume. */
export class RunLogs {
  private readonly logs = new Map<string, RunLog>();

  /** Starts the log of run `id`; the returned function records each of its events, in order. */
  open(id: string): (event: ExecutionEvent) => void {
    const log: RunLog = { events: [], position: START, followers: new Set(), ended: false };
    this.logs.set(id, log);
    return (event) => {
      if (log.ended) return;
      if ((event.type === "stdout" || event.type === "stderr") && event.data === "") return;
      log.position = advance(log.position, event);
      log.events.push({ position: log.position, event });
      for (const follow of log.followers) follow(event);
      if (event.type === "end" || event.type === "error") {
        log.ended = true;
        log.followers.clear();
        setTimeout(() => this.logs.delete(id), KEEP_AFTER_END_MS);
      }
    };
  }

  /**
   * The events of run `id` after `after` (all of them when undefined), then the live ones until it
   * ends, one JSON line each; undefined when this object holds no log of that run.
   */
  follow(id: string, after: Position | undefined): ReadableStream<Uint8Array> | undefined {
    const log = this.logs.get(id);
    if (!log) return undefined;
    const encoder = new TextEncoder();
    const line = (event: ExecutionEvent) => encoder.encode(`${JSON.stringify(event)}\n`);
    let follower: ((event: ExecutionEvent) => void) | undefined;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        for (const { position, event } of log.events) {
          if (!after || isAfter(position, event, after)) controller.enqueue(line(event));
        }
        if (log.ended) return controller.close();
        let position = log.position;
        follower = (event) => {
          position = advance(position, event);
          if (!after || isAfter(position, event, after)) controller.enqueue(line(event));
          if (event.type === "end" || event.type === "error") controller.close();
        };
        log.followers.add(follower);
      },
      cancel() {
        if (follower) log.followers.delete(follower);
      },
    });
  }
}

/**
 * A finished run's events after `after`, rebuilt from its stored result (history) once its log is
 * gone: the output not yet sent, as one event per stream, then `end`. History keeps each stream up to
 * HISTORY_OUTPUT_BYTES, so a resume past that point only gets `end`.
 */
export function eventsFromResult(
  stored: Pick<ExecutionResult, "id" | "sandboxId" | "conversationId" | "language" | "stdout" | "stderr">,
  after: Position | undefined,
): ReadableStream<Uint8Array> {
  const events: object[] = [];
  if (!after) {
    const { id, sandboxId, conversationId, language } = stored;
    events.push({ type: "start", id, sandboxId: sandboxId ?? "", conversationId, language });
  }
  const from = after ?? START;
  const stdout = stored.stdout.slice(from.out);
  const stderr = stored.stderr.slice(from.err);
  if (stdout) events.push({ type: "stdout", data: stdout });
  if (stderr) events.push({ type: "stderr", data: stderr });
  // The stored result as history shows it (GET /api/v1/executions/:id).
  events.push({ type: "end", result: stored });
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const event of events) controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`));
      controller.close();
    },
  });
}
