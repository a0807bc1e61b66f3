// Queue at the cap: beyond MAX_CONCURRENT_EXECUTIONS (4 here) a run with `Prefer: wait=<s>` waits for a
// slot, first come first served; 429 with Retry-After when it cannot wait, waited too long, or the
// queue (MAX_QUEUED_EXECUTIONS, 3 here) is full. Slots are held by gated runs, released by the test.
import { describe, expect, it } from "vitest";
import { call, createUser, type ErrorBody, gatedRun, sseReader } from "./helpers.ts";

async function fillSlots(key: string) {
  const runs = await Promise.all(["s1", "s2", "s3", "s4"].map((c) => gatedRun(key, c)));
  return {
    release: () => Promise.all(runs.map((r) => r.release())),
    done: () => Promise.all(runs.map((r) => r.done)),
  };
}

const run = (key: string, headers: Record<string, string>, code = "echo queued-ran") =>
  call("/api/v1/executions", { key, headers, json: { language: "shell", code, conversationId: "s1" } });

describe("Prefer: wait", () => {
  it("queues runs beyond the cap in order, runs them when slots free, and refuses those that cannot wait", async () => {
    const u = await createUser("queue");
    const slots = await fillSlots(u.apiKey);

    const first = sseReader(await run(u.apiKey, { Accept: "text/event-stream", Prefer: "wait=60" }));
    expect(await first.next()).toMatchObject({ event: "queued", data: { position: 1 } });
    const second = sseReader(await run(u.apiKey, { Accept: "text/event-stream", Prefer: "wait=60" }));
    expect(await second.next()).toMatchObject({ event: "queued", data: { position: 2 } });

    // No wait asked: refused at once, as before.
    const now = await run(u.apiKey, {});
    expect(now.status).toBe(429);
    expect(now.headers.get("Retry-After")).toBe("1");
    // A wait that runs out before a slot frees: 429 then.
    const short = await run(u.apiKey, { Prefer: "wait=1" });
    expect(short.status).toBe(429);
    expect(short.headers.get("Retry-After")).not.toBeNull();
    expect((await short.json<ErrorBody>()).error.message).toContain("within the 1 s");
    // A JSON client waits too, and gets its result when its turn comes.
    const json = run(u.apiKey, { Prefer: "wait=60" });

    await slots.release();
    await slots.done();
    for (const [i, queued] of [first, second].entries()) {
      const events = [];
      for (let e = await queued.next(); e; e = await queued.next()) events.push(e);
      // The second moved up when the first got its slot.
      expect(events.map((e) => e.event)).toEqual([...(i === 1 ? ["queued"] : []), "start", "stdout", "end"]);
      expect(events.at(-1)!.data).toMatchObject({ status: "succeeded", stdout: "queued-ran\n" });
    }
    const answered = await json;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({ status: "succeeded", stdout: "queued-ran\n" });
  });

  it("takes a run whose client went away out of the queue, and refuses newcomers when the queue is full", async () => {
    const u = await createUser("queue-gone");
    const slots = await fillSlots(u.apiKey);
    const gone = sseReader(await run(u.apiKey, { Accept: "text/event-stream", Prefer: "wait=60" }));
    expect(await gone.next()).toMatchObject({ event: "queued", data: { position: 1 } });
    const stays = sseReader(await run(u.apiKey, { Accept: "text/event-stream", Prefer: "wait=60" }));
    expect(await stays.next()).toMatchObject({ event: "queued", data: { position: 2 } });
    await gone.cancel();
    // The one behind moves up.
    expect(await stays.next()).toMatchObject({ event: "queued", data: { position: 1 } });

    const more = [
      sseReader(await run(u.apiKey, { Accept: "text/event-stream", Prefer: "wait=60" })),
      sseReader(await run(u.apiKey, { Accept: "text/event-stream", Prefer: "wait=60" })),
    ];
    for (const [i, r] of more.entries()) expect(await r.next()).toMatchObject({ data: { position: i + 2 } });
    const full = await run(u.apiKey, { Prefer: "wait=60" });
    expect(full.status).toBe(429);
    expect((await full.json<ErrorBody>()).error.message).toContain("3 more are already waiting");

    const bad = await run(u.apiKey, { Prefer: "wait=soon" });
    expect(bad.status).toBe(400);

    await slots.release();
    await slots.done();
    for (const r of [stays, ...more]) {
      let last = null;
      for (let e = await r.next(); e; e = await r.next()) last = e;
      expect(last).toMatchObject({ event: "end", data: { status: "succeeded" } });
    }
    // The run that left never ran: three queued runs and four gated ones are all history has.
    const history = await (await call("/api/v1/executions?limit=100", { key: u.apiKey })).json<{
      items: { code: string; status: string }[];
    }>();
    expect(history.items).toHaveLength(7);
    expect(history.items.every((i) => i.status === "succeeded")).toBe(true);
  });
});
