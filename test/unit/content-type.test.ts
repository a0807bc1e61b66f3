// The stored type of a volume upload: the client's, unless it named none or curl's form default.
import { describe, expect, it } from "vitest";
import { typeFromName, uploadContentType } from "../../src/volume/content-type.ts";

describe("volume content types", () => {
  it("infers from the name's extension, case-insensitively", () => {
    expect(typeFromName("results/2026/run.json")).toBe("application/json");
    expect(typeFromName("PLOT.PNG")).toBe("image/png");
    expect(typeFromName("data.csv")).toBe("text/csv; charset=utf-8");
    expect(typeFromName("no-extension")).toBe("application/octet-stream");
    expect(typeFromName(".bashrc")).toBe("application/octet-stream");
    expect(typeFromName("dir.d/file")).toBe("application/octet-stream");
    expect(typeFromName("archive.unknownext")).toBe("application/octet-stream");
  });

  it("treats curl's form default and a missing type as not given", () => {
    expect(uploadContentType("application/x-www-form-urlencoded", "run.json")).toBe("application/json");
    expect(uploadContentType("application/x-www-form-urlencoded; charset=utf-8", "a.txt")).toBe(
      "text/plain; charset=utf-8",
    );
    expect(uploadContentType(undefined, "run.json")).toBe("application/json");
    expect(uploadContentType("", "blob")).toBe("application/octet-stream");
  });

  it("keeps a type the client chose", () => {
    expect(uploadContentType("text/csv", "run.json")).toBe("text/csv");
    expect(uploadContentType("application/octet-stream", "run.json")).toBe("application/octet-stream");
  });
});
