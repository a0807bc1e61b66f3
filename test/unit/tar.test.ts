// The tar reader against whatever a client may send: valid archives read back exactly, and arbitrary,
// mutated or hostile ones end in entries or a TarError within a bounded number of steps, never a hang.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { paxNumber, readNumber, readTar, TAR_END, TarError, tarHeader, tarPadding } from "../../src/volume/tar.ts";
import { BLOCK, concat, fixChecksum, headerBlock, type RawEntry, streamOf, writeTar } from "./tar-writer.ts";

/** Fixed seed and bounded runs: the same cases every time, a few seconds in all. */
const RUNS = { seed: 20261130, numRuns: 300 };

class Runaway extends Error {}

type Outcome = { entries: { name: string; type: string; size: number; data: Uint8Array }[] } | { error: unknown };

/**
 * Reads a whole archive, counting every step (an entry, a chunk of a body). A reader that makes no
 * progress runs past `budget` steps and fails as a Runaway: the hang shows up as a failure, not a stall.
 */
async function readAll(stream: ReadableStream<Uint8Array>, budget: number, skipBodies = false): Promise<Outcome> {
  let steps = 0;
  const step = () => {
    if (++steps > budget) throw new Runaway(`more than ${budget} steps`);
  };
  const entries: { name: string; type: string; size: number; data: Uint8Array }[] = [];
  try {
    for await (const entry of readTar(stream)) {
      step();
      if (skipBodies) {
        // The reader skips the body itself; the step count still bounds the loop above.
        entries.push({ name: entry.name, type: entry.type, size: entry.size, data: new Uint8Array() });
        continue;
      }
      const reader = entry.body.getReader();
      const chunks: Uint8Array[] = [];
      for (;;) {
        step();
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      entries.push({ name: entry.name, type: entry.type, size: entry.size, data: concat(chunks) });
    }
  } catch (error) {
    return { error };
  }
  return { entries };
}

/** Steps a correct reader can need for `bytes` cut into `cuts` extra chunks: each step takes a byte or ends a body. */
function budgetFor(bytes: Uint8Array, cuts: number[] = []): number {
  return 2 * (bytes.length + cuts.length) + 16;
}

/** Entries with sizes that agree with their data, or a TarError; anything else fails the property. */
function expectEntriesOrTarError(outcome: Outcome): void {
  if ("error" in outcome) {
    if (!(outcome.error instanceof TarError)) throw outcome.error;
    expect(outcome.error.message.length).toBeGreaterThan(0);
    return;
  }
  for (const e of outcome.entries) {
    expect(Number.isSafeInteger(e.size) && e.size >= 0).toBe(true);
    if (e.data.length) expect(e.data.length).toBe(e.size);
  }
}

const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\0"));
const entryArb = fc.record({
  name: fc.array(text, { minLength: 1, maxLength: 6 }).map((parts) => parts.join("/")),
  data: fc.uint8Array({ maxLength: 1500 }),
});
const cutsArb = fc.array(fc.nat({ max: 20_000 }), { maxLength: 8 });

/** The archive a correct writer makes: the module's own tarHeader, padding and end blocks. */
function archiveOf(entries: { name: string; data: Uint8Array }[]): Uint8Array {
  return concat([
    ...entries.flatMap((e) => [
      tarHeader({ name: e.name, size: e.data.length, mtime: new Date(0) }),
      e.data,
      tarPadding(e.data.length),
    ]),
    TAR_END,
  ]);
}

describe("tar reader: valid archives", () => {
  it("reads back every entry, names and bytes, however the stream is cut", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 5 }), cutsArb, async (entries, cuts) => {
        const bytes = archiveOf(entries);
        const outcome = await readAll(streamOf(bytes, cuts), budgetFor(bytes, cuts));
        if ("error" in outcome) throw outcome.error;
        expect(outcome.entries.map((e) => e.name)).toEqual(entries.map((e) => e.name));
        outcome.entries.forEach((e, i) => {
          expect(e.type).toBe("file");
          expect(e.data).toEqual(entries[i]!.data);
        });
      }),
      RUNS,
    );
  });

  it("skips bodies nobody reads and still finds the next entry", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { minLength: 1, maxLength: 5 }), cutsArb, async (entries, cuts) => {
        const bytes = archiveOf(entries);
        const outcome = await readAll(streamOf(bytes, cuts), budgetFor(bytes, cuts), true);
        if ("error" in outcome) throw outcome.error;
        expect(outcome.entries.map((e) => [e.name, e.size])).toEqual(entries.map((e) => [e.name, e.data.length]));
      }),
      RUNS,
    );
  });

  it("accepts the numeric forms real writers use", () => {
    const field = (s: string | number[]) => {
      const block = new Uint8Array(BLOCK);
      block.set(typeof s === "string" ? new TextEncoder().encode(s) : s, 124);
      return readNumber(block, 124, 12, "size");
    };
    expect(field("00000000644\0")).toBe(0o644);
    expect(field("    644 \0\0\0\0")).toBe(0o644);
    expect(field("644")).toBe(0o644);
    expect(field("")).toBe(0);
    expect(field([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00])).toBe(256);
    expect(paxNumber("0", "size")).toBe(0);
    expect(paxNumber("9007199254740991", "size")).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe("tar reader: malformed numbers", () => {
  const badPax = ["2.5", "-1", "NaN", "1e3", " 1", "1 ", "+1", "0x10", "Infinity", "", "9007199254740992", "١٢"];
  it.each(badPax)("refuses PAX size %j with a TarError naming the size", async (size) => {
    const bytes = writeTar([{ name: "a.txt", data: new Uint8Array(3), pax: { size } }]);
    const outcome = await readAll(streamOf(bytes), budgetFor(bytes));
    expect("error" in outcome && outcome.error).toBeInstanceOf(TarError);
    expect((outcome as { error: TarError }).error.message).toContain("size");
  });

  it.each([
    ["a fraction", "0000002.5\0"],
    ["a minus sign", "-0000001\0"],
    ["a non-octal digit", "00000000009\0"],
    ["text after the digits", "0000001x\0"],
  ])("refuses %s in the ustar size field", async (_what, sizeField) => {
    const bytes = writeTar([{ name: "a.txt", data: new Uint8Array(3), sizeField }]);
    const outcome = await readAll(streamOf(bytes), budgetFor(bytes));
    expect("error" in outcome && outcome.error).toBeInstanceOf(TarError);
    expect((outcome as { error: TarError }).error.message).toContain("size");
  });

  it("refuses negative and oversized base-256 sizes", () => {
    const block = new Uint8Array(BLOCK);
    block.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 124);
    expect(() => readNumber(block, 124, 12, "size")).toThrow(TarError);
    block.set([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 124);
    expect(() => readNumber(block, 124, 12, "size")).toThrow(/too large/);
  });

  it("ends in a TarError for any PAX size text, or reads it as the whole number it is", async () => {
    const sizeText = fc.oneof(
      fc.double().map(String),
      fc.integer().map(String),
      fc.string({ maxLength: 20 }),
      fc.stringMatching(/^[0-9.eE+ -]{1,12}$/),
    );
    await fc.assert(
      fc.asyncProperty(sizeText, fc.uint8Array({ maxLength: 600 }), cutsArb, async (size, data, cuts) => {
        const bytes = writeTar([{ name: "a.txt", data, pax: { size } }]);
        const outcome = await readAll(streamOf(bytes, cuts), budgetFor(bytes, cuts));
        expectEntriesOrTarError(outcome);
        if (!/^[0-9]{1,16}$/.test(size)) expect("error" in outcome).toBe(true);
      }),
      RUNS,
    );
  });
});

type Mutation =
  | { kind: "flip"; at: number; xor: number }
  | { kind: "truncate"; keep: number }
  | { kind: "field"; block: number; offset: number; bytes: Uint8Array; fix: boolean }
  | { kind: "splice"; at: number; bytes: Uint8Array };

/** Header fields a hostile writer would aim at: size, checksum, type flag, magic, prefix, name. */
const FIELDS: [number, number][] = [
  [124, 12],
  [148, 8],
  [156, 1],
  [257, 6],
  [345, 155],
  [0, 100],
];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), keep: fc.nat() }),
  fc
    .record({
      kind: fc.constant("field" as const),
      block: fc.nat(),
      field: fc.constantFrom(...FIELDS),
      fill: fc.oneof(
        fc.uint8Array({ maxLength: 155 }),
        fc
          .constantFrom("2.5", "-1", "NaN", "77777777777", "\u00ff\u00ff", "x", "5", "L", "g", "K")
          .map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0))),
      ),
      fix: fc.boolean(),
    })
    .map(({ kind, block, field: [offset, width], fill, fix }) => ({
      kind,
      block,
      offset,
      bytes: fill.subarray(0, width),
      fix,
    })),
  fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 1024 }) }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const out = bytes.slice();
  if (!out.length) return out;
  switch (m.kind) {
    case "flip":
      out[m.at % out.length]! ^= m.xor;
      return out;
    case "truncate":
      return out.subarray(0, m.keep % out.length);
    case "field": {
      const start = (m.block % Math.max(1, Math.floor(out.length / BLOCK))) * BLOCK;
      const block = out.subarray(start, start + BLOCK);
      if (block.length < BLOCK) return out;
      block.set(m.bytes, m.offset);
      // With the checksum fixed the change reaches the parser; without it, the checksum must catch it.
      if (m.fix) fixChecksum(block);
      return out;
    }
    case "splice": {
      const at = m.at % out.length;
      return concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    }
  }
}

const rawEntryArb: fc.Arbitrary<RawEntry> = fc.record(
  {
    name: text,
    data: fc.uint8Array({ maxLength: 1200 }),
    pax: fc.dictionary(fc.constantFrom("path", "size", "mtime", "comment"), fc.string({ maxLength: 30 }), {
      maxKeys: 2,
    }),
    type: fc.constantFrom("0", "5", "2", "x", "L", "g", "7"),
  },
  { requiredKeys: ["name", "data"] },
);

describe("tar reader: arbitrary and mutated archives", () => {
  it("ends every mutated archive in entries or a TarError, within a bounded number of steps", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rawEntryArb, { maxLength: 4 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        cutsArb,
        fc.boolean(),
        async (entries, mutations, cuts, skipBodies) => {
          const bytes = mutations.reduce(mutate, writeTar(entries));
          expectEntriesOrTarError(await readAll(streamOf(bytes, cuts), budgetFor(bytes, cuts), skipBodies));
        },
      ),
      { ...RUNS, numRuns: 1000 },
    );
  });

  it("ends arbitrary bytes in entries or a TarError", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), cutsArb, async (bytes, cuts) => {
        expectEntriesOrTarError(await readAll(streamOf(bytes, cuts), budgetFor(bytes, cuts)));
      }),
      RUNS,
    );
  });

  it("ends arbitrary headers with valid checksums in entries or a TarError", async () => {
    const blockArb = fc.uint8Array({ minLength: BLOCK, maxLength: BLOCK }).map((b) => {
      fixChecksum(b);
      return b;
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(blockArb, fc.uint8Array({ maxLength: 700 })), { minLength: 1, maxLength: 5 }),
        cutsArb,
        async (parts, cuts) => {
          const bytes = concat(parts);
          expectEntriesOrTarError(await readAll(streamOf(bytes, cuts), budgetFor(bytes, cuts)));
        },
      ),
      RUNS,
    );
  });

  it("gives up on a source that sends only empty chunks", async () => {
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Bounded here too, so a broken reader fails the test instead of spinning forever.
        if (++sent > 100_000) return controller.close();
        controller.enqueue(new Uint8Array(0));
      },
    });
    const outcome = await readAll(endless, 10);
    expect("error" in outcome && outcome.error).toBeInstanceOf(TarError);
    expect(sent).toBeLessThan(100_000);
  });

  it("turns a header that names itself a 2.5-byte PAX file into a TarError, not a loop", async () => {
    // The archive that kept workerd busy: a PAX size of 2.5 over a real entry.
    const bytes = concat([
      writeTar([{ name: "a.txt", data: new Uint8Array([1, 2, 3]), pax: { size: "2.5" } }]).subarray(0, -2 * BLOCK),
      headerBlock("b.txt", "00000000000", "0"),
      new Uint8Array(2 * BLOCK),
    ]);
    const outcome = await readAll(streamOf(bytes), budgetFor(bytes));
    expect("error" in outcome && outcome.error).toBeInstanceOf(TarError);
  });
});
