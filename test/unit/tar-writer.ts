// A small tar writer for the reader's tests: it can write what a careful writer would, and also any
// field a hostile one might (a raw size text, a PAX record of any value, a wrong type flag).
const encoder = new TextEncoder();
export const BLOCK = 512;

export interface RawEntry {
  name: string;
  data: Uint8Array;
  /** Type flag; "0" by default. */
  type?: string;
  /** The size field's text, written as is (default: the data's length in octal). */
  sizeField?: string;
  /** PAX records (key → value, written verbatim) in an `x` header before this entry. */
  pax?: Record<string, string>;
}

/** One 512-byte header block with a correct checksum. */
export function headerBlock(name: string, sizeField: string, type: string): Uint8Array {
  const block = new Uint8Array(BLOCK);
  block.set(encoder.encode(name).subarray(0, 100), 0);
  block.set(encoder.encode("0000644\0"), 100);
  block.set(encoder.encode("0000000\0"), 108);
  block.set(encoder.encode("0000000\0"), 116);
  block.set(encoder.encode(sizeField).subarray(0, 12), 124);
  block.set(encoder.encode("00000000000\0"), 136);
  block[156] = type.charCodeAt(0);
  block.set(encoder.encode("ustar\u000000"), 257);
  fixChecksum(block);
  return block;
}

/** Rewrites a header's checksum after its fields were changed, so the change is what gets parsed. */
export function fixChecksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156);
  const sum = block.reduce((a, b) => a + b, 0);
  block.set(encoder.encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
}

/** "<len> key=value\n", where len counts its own digits too. */
export function paxRecord(key: string, value: string): Uint8Array {
  const body = encoder.encode(` ${key}=${value}\n`);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length++;
  return concat([encoder.encode(String(length)), body]);
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A whole archive, ended by two zero blocks. */
export function writeTar(entries: RawEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if (e.pax) {
      const records = concat(Object.entries(e.pax).map(([k, v]) => paxRecord(k, v)));
      parts.push(headerBlock("PaxHeaders/x", records.length.toString(8).padStart(11, "0"), "x"), padded(records));
    }
    parts.push(headerBlock(e.name, e.sizeField ?? e.data.length.toString(8).padStart(11, "0"), e.type ?? "0"));
    parts.push(padded(e.data));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  return concat(parts);
}

/** The bytes as a stream cut at the given offsets (empty chunks included where two cuts meet). */
export function streamOf(bytes: Uint8Array, cuts: number[] = []): ReadableStream<Uint8Array> {
  const points = [0, ...cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)).sort((a, b) => a - b), bytes.length];
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= points.length - 1) return controller.close();
      controller.enqueue(bytes.slice(points[i], points[i + 1]));
      i++;
    },
  });
}
