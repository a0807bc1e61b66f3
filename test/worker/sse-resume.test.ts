// Runs that survive a disconnect: SSE ids are positions in the output, and GET …/events resumes after
// one — exactly the remaining events, live while the run goes on and from its log after it ended.
import { describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, type SseEvent, sseReader, until } from "./helpers.ts";

const sse = { Accept: "text/event-stream" };

async function readAll(res: Response): Promise<SseEvent[]> {
  const reader = sseReader(res);
  const events: SseEvent[] = [];
  for (let e = await reader.next(); e; e = await reader.next()) events.push(e);
  return events;
}

const stdoutOf = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === "stdout")
    .map((e) => e.data.data)
    .join("");

describe("GET /api/v1/executions/:id/events", () => {
  it("resumes a stream cut after two events with exactly the remaining events, then end", async () => {
    const u = await createUser("resume");
    const conversationId = "resume";
    const fileOf = (path: string) => `/api/v1/sandboxes/${conversationId}/file?path=${encodeURIComponent(path)}`;
    // Prints one line, then waits for a file the test writes only after it has cut the stream.
    const res = await call("/api/v1/executions", {
      key: u.apiKey,
      headers: sse,
      json: {
        language: "shell",
        conversationId,
        code: "echo one; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo two; echo oops >&2; echo three",
        timeoutMs: 30_000,
      },
    });
    expect(res.status).toBe(200);
    const first = sseReader(res);
    const start = (await first.next())!;
    const one = (await first.next())!;
    expect(start).toMatchObject({ event: "start", id: "0.0" });
    expect(one).toMatchObject({ event: "stdout", id: "4.0", data: { data: "one\n" } });
    await first.cancel();

    const id = start.data.id as string;
    const resumed = await call(`/api/v1/executions/${id}/events`, {
      key: u.apiKey,
      headers: { ...sse, "Last-Event-ID": one.id! },
    });
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get("Content-Type")).toContain("text/event-stream");
    await until(async () => (await call(fileOf("/tmp/go"), { key: u.apiKey, method: "PUT", body: "go" })).ok, "gate");
    const rest = await readAll(resumed);
    expect(rest.map((e) => e.event)).not.toContain("start");
    expect(rest.at(-1)).toMatchObject({ event: "end", data: { id, status: "succeeded" } });
    expect(`one\n${stdoutOf(rest)}`).toBe("one\ntwo\nthree\n");
    expect(rest.at(-1)!.data.stdout).toBe("one\ntwo\nthree\n");
    // Ids are positions: each one names what the client has seen of stdout and stderr.
    const last = rest.at(-1)!.id!;
    expect(last).toBe(`${"one\ntwo\nthree\n".length}.${"oops\n".length}`);

    // After the end: the same question gets the same answer; from the start, everything.
    const again = await readAll(await call(`/api/v1/executions/${id}/events?after=${one.id}`, { key: u.apiKey }));
    expect(again.map((e) => [e.event, e.id])).toEqual(rest.map((e) => [e.event, e.id]));
    const whole = await readAll(await call(`/api/v1/executions/${id}/events`, { key: u.apiKey }));
    expect(whole[0]).toMatchObject({ event: "start", data: { id } });
    expect(stdoutOf(whole)).toBe("one\ntwo\nthree\n");
    expect(whole.at(-1)?.event).toBe("end");
  });

  it("replays a finished JSON run too, and refuses bad positions and other users' runs", async () => {
    const a = await createUser("a");
    const b = await createUser("b");
    const run = await call("/api/v1/executions", {
      key: a.apiKey,
      json: { language: "python", code: "print('x' * 3)\nimport sys; print('e', file=sys.stderr)" },
    });
    const { id } = await run.json<{ id: string }>();
    const whole = await readAll(await call(`/api/v1/executions/${id}/events`, { key: a.apiKey }));
    expect(whole.map((e) => e.event)).toContain("stderr");
    // Resuming after any event gives exactly the events that followed it.
    for (const [k, event] of whole.slice(0, -1).entries()) {
      const rest = await readAll(await call(`/api/v1/executions/${id}/events?after=${event.id}`, { key: a.apiKey }));
      expect(rest.map((e) => [e.event, e.id, e.data])).toEqual(whole.slice(k + 1).map((e) => [e.event, e.id, e.data]));
    }

    const bad = await call(`/api/v1/executions/${id}/events?after=nope`, { key: a.apiKey });
    expect(bad.status).toBe(400);
    expect((await bad.json<ErrorBody>()).error.message).toContain("after");
    const other = await call(`/api/v1/executions/${id}/events`, { key: b.apiKey });
    expect(other.status).toBe(404);
    const missing = await call("/api/v1/executions/exe_missing/events", { key: a.apiKey });
    expect(missing.status).toBe(404);
  });
});
