// Volume names, checked without any server: the rules that keep a name inside `volumes/<userId>/`.
import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.ts";
import { checkName, checkPrefix, MAX_NAME_BYTES, nameProblem, volumeNameSchema } from "../../src/volume/names.ts";
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
    ["a\ud800b", "must be valid Unicode (no lone surrogates)"],
    ...[
      "\u202a",
      "\u202b",
      "\u202c",
      "\u202d",
      "\u202e",
      "\u2066",
      "\u2067",
      "\u2068",
      "\u2069",
      "\u200e",
      "\u200f",
    ].map((c): [string, string] => [`evil${c}txt.exe`, "must not contain bidirectional control characters"]),
  ])("refuses %j", (name, problem) => {
    expect(nameProblem(name)).toBe(problem);
  });

  it("keeps right-to-left text itself, only its invisible controls are refused", () => {
    expect(nameProblem("שלום/مرحبا.txt")).toBeUndefined();
  });
});

describe("name normalisation (NFC)", () => {
  const nfd = "re\u0301sume\u0301/cafe\u0301.txt";
  const nfc = "r\u00e9sum\u00e9/caf\u00e9.txt";

  it("stores NFD and NFC spellings under one name", () => {
    expect(nfd).not.toBe(nfc);
    expect(checkName(nfd)).toBe(nfc);
    expect(checkName(nfc)).toBe(nfc);
    expect(checkPrefix("re\u0301sume\u0301/")).toBe("r\u00e9sum\u00e9/");
    expect(volumeNameSchema.parse(nfd)).toBe(nfc);
  });

  it("measures the length after normalising", () => {
    // 256 × (e + U+0301) is 768 bytes in NFD but 512 in NFC: it fits.
    expect(checkName("e\u0301".repeat(256))).toBe("\u00e9".repeat(256));
  });

  it("names the field and the rule when refusing", () => {
    expect(() => checkName("a\u202eb", "tar entry 'x'")).toThrow(ApiError);
    expect(() => checkName("a\u202eb", "tar entry 'x'")).toThrow("tar entry 'x': must not contain bidirectional");
    expect(volumeNameSchema.safeParse("a\u2067b").success).toBe(false);
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
