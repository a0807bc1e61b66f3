// Stream positions and the replay of a finished run from its stored result (executions/replay.ts).
import { describe, expect, it } from "vitest";
import { advance, eventsFromResult, parsePosition, START } from "../../src/executions/replay.ts";

const stored = {
  id: "exe_1",
  sandboxId: "sbx",
  conversationId: "c",
  language: "shell" as const,
  stdout: "héllo\nworld\n",
  stderr: "oops\n",
};

async function lines(stream: ReadableStream<Uint8Array>) {
  const text = await new Response(stream).text();
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

describe("replay", () => {
  it("parses only ids it issues", () => {
    expect(parsePosition("12.3")).toEqual({ out: 12, err: 3 });
    for (const bad of ["", "1", "1.2.3", "-1.0", "a.b", "1e3.0"]) expect(parsePosition(bad)).toBeUndefined();
  });

  it("advances by the characters each stream sent", () => {
    const p = advance(advance(START, { type: "stdout", data: "héllo" }), { type: "stderr", data: "x" });
    expect(p).toEqual({ out: 5, err: 1 });
    expect(advance(p, { type: "end", result: {} as never })).toEqual(p);
  });

  it("rebuilds what followed a position from the stored result, without the start", async () => {
    const rest = await lines(eventsFromResult(stored, { out: 6, err: 0 }));
    expect(rest).toEqual([
      { type: "stdout", data: "world\n" },
      { type: "stderr", data: "oops\n" },
      { type: "end", result: stored },
    ]);
    const all = await lines(eventsFromResult(stored, undefined));
    expect(all.map((e) => e.type)).toEqual(["start", "stdout", "stderr", "end"]);
    const done = await lines(eventsFromResult(stored, { out: 12, err: 5 }));
    expect(done.map((e) => e.type)).toEqual(["end"]);
  });
});
