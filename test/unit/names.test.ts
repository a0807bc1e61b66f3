// Volume names, checked without any server: the rules that keep a name inside `volumes/<userId>/`.
import { describe, expect, it } from "vitest";
import { MAX_NAME_BYTES, nameProblem } from "../../src/volume/names.ts";
import { cutToBytes, utf8Length } from "../../src/text.ts";

describe("volume names", () => {
  it("accepts ordinary nested names", () => {
    expect(nameProblem("results/2026/run.json")).toBeUndefined();
    expect(nameProblem("é".repeat(MAX_NAME_BYTES / 2))).toBeUndefined();
  });

  it.each([
    ["", "must not be empty"],
    ["a/../b", "must not contain '..' segments"],
    ["./a", "must not contain '.' segments"],
    ["a//b", "must not contain empty segments ('//' or a trailing '/')"],
    ["/etc/passwd", "must be relative, not an absolute path"],
    ["a\\b", "must not contain backslashes"],
    ["a\u0000b", "must not contain control characters"],
    ["a\u0085b", "must not contain control characters"],
    ["é".repeat(MAX_NAME_BYTES / 2 + 1), `must be at most ${MAX_NAME_BYTES} bytes`],
  ])("refuses %j", (name, problem) => {
    expect(nameProblem(name)).toBe(problem);
  });
});

describe("UTF-8 sizes", () => {
  it("counts bytes, not code units, and never cuts a character in half", () => {
    expect(utf8Length("aé€😀")).toBe(1 + 2 + 3 + 4);
    expect(cutToBytes("aé€😀", 5)).toBe("aé");
    expect(cutToBytes("aé€😀", 6)).toBe("aé€");
    expect(cutToBytes("short", 100)).toBe("short");
  });
});
