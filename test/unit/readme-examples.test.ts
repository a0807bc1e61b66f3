// The README examples' checker: it must reject wrong answers, or the README test could never fail.
import { describe, expect, it } from "vitest";
import { examples, mismatch, outputs, script, shellBlocks } from "../../scripts/readme-examples.ts";

const README = [
  "# Title",
  "## API",
  "```sh",
  "X=1   # a setting",
  "# a plain comment",
  "curl -s $URL/a \\",
  "  -d '{\"a\":1}'",
  '# → {"id":"exe_…","status":"succeeded",',
  '#    "stdout":"42\\n","durationMs":38}',
  'curl -s $URL/b -d \'{"code":"line one',
  "line two\"}'",
  "echo done",
  "# → done",
  "```",
  "## Next",
  "```sh",
  "not included",
  "```",
].join("\n");

describe("README examples", () => {
  it("splits blocks into commands with their documented answers", () => {
    const list = examples(shellBlocks(README, "## API", "## Next"));
    expect(list.map((example) => example.command)).toEqual([
      "X=1   # a setting",
      "curl -s $URL/a \\\n  -d '{\"a\":1}'",
      'curl -s $URL/b -d \'{"code":"line one\nline two"}\'',
      "echo done",
    ]);
    expect(list[1]!.expected).toBe('{"id":"exe_…","status":"succeeded","stdout":"42\\n","durationMs":38}');
    expect(list[2]!.expected).toBeUndefined();
    expect(list[3]!.expected).toBe("done");
  });

  it("numbers a script's outputs by marker", () => {
    const list = examples(["echo a\necho b"]);
    expect(script(list, "@@EX")).toBe("printf '\\n@@EX%d\\n' 0\necho a\nprintf '\\n@@EX%d\\n' 1\necho b");
    expect(outputs("\n@@EX0\na\n\n@@EX1\nb\n", "@@EX", 2)).toEqual(["a\n", "b\n"]);
  });

  it("matches JSON patterns: shown keys, … in strings, any number, items anywhere in arrays", () => {
    const pattern = '{"id":"exe_…","status":"succeeded","durationMs":38,"items":[{"name":"b"}],"sandbox":{…}}';
    const ok =
      '{"id":"exe_123","status":"succeeded","durationMs":5,"extra":true,"items":[{"name":"a"},{"name":"b"}],"sandbox":{"x":1}}';
    expect(mismatch(pattern, ok)).toBeUndefined();
    expect(mismatch(pattern, ok.replace('"succeeded"', '"failed"'))).toBe(
      '$.status: expected "succeeded", got "failed"',
    );
    expect(mismatch(pattern, ok.replace('"exe_123"', '"run_123"'))).toContain("$.id");
    expect(mismatch(pattern, ok.replace('"durationMs":5', '"durationMs":"5"'))).toBe("$.durationMs: expected a number");
    expect(mismatch(pattern, ok.replace('{"name":"b"}', '{"name":"c"}'))).toContain("$.items[0]: no item matches");
    expect(mismatch(pattern, '{"error":{"code":"not_found"}}')).toBe("$.id: missing");
    expect(mismatch(pattern, "<html>")).toContain("not JSON");
  });

  it("matches text answers with … as anything in between", () => {
    expect(mismatch("event: start … event: end", "event: start\ndata: 1\n\nevent: end\n")).toBeUndefined();
    expect(mismatch("event: start … event: end", "event: start\nevent: error\n")).toContain("does not contain");
    expect(mismatch("204", "404\n")).toContain("does not contain");
  });
});
