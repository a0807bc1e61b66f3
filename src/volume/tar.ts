// A streaming tar writer and reader (POSIX ustar, with PAX and GNU long names) for volume export/import.
// Neither holds more than a header and one chunk of file data in memory; every malformed input is a
// TarError (never a hang, never another exception), because archives come from clients.

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** PAX and GNU long-name payloads are small; anything bigger is not an archive we wrote or want. */
const MAX_META_BYTES = 64 * 1024;

export interface TarEntryHeader {
  name: string;
  size: number;
  mtime: Date;
}

/** Two zero blocks end an archive. */
export const TAR_END = new Uint8Array(2 * BLOCK);

/** Zeros that round a file's data up to whole blocks. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The header block(s) of a regular file; names over 100 bytes get a PAX `path` record first. */
export function tarHeader(entry: TarEntryHeader): Uint8Array {
  const nameBytes = encoder.encode(entry.name);
  const mtime = Math.floor(entry.mtime.getTime() / 1000);
  if (nameBytes.length <= 100) return ustarBlock(nameBytes, entry.size, mtime, "0");
  const record = paxRecord("path", entry.name);
  const pax = ustarBlock(
    encoder.encode(`PaxHeaders/${entry.name.slice(-80).replace(/^\/+/, "")}`).slice(0, 100),
    record.length,
    mtime,
    "x",
  );
  const out = new Uint8Array(pax.length + record.length + tarPadding(record.length).length + BLOCK);
  out.set(pax, 0);
  out.set(record, BLOCK);
  out.set(ustarBlock(nameBytes.slice(0, 100), entry.size, mtime, "0"), out.length - BLOCK);
  return out;
}

function paxRecord(key: string, value: string): Uint8Array {
  // "<len> key=value\n", where len counts its own digits too.
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length++;
  return encoder.encode(`${length}${body}`);
}

function ustarBlock(name: Uint8Array, size: number, mtime: number, type: string): Uint8Array {
  const block = new Uint8Array(BLOCK);
  block.set(name, 0);
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block.set(encoder.encode(type), 156);
  block.set(encoder.encode("ustar\u000000"), 257);
  block.fill(0x20, 148, 156);
  const sum = block.reduce((a, b) => a + b, 0);
  writeOctal(block, 148, 7, sum);
  return block;
}

function writeOctal(block: Uint8Array, offset: number, width: number, value: number): void {
  block.set(encoder.encode(value.toString(8).padStart(width - 1, "0")), offset);
}

export interface TarEntry {
  name: string;
  /** "file", "directory", or the raw type flag of anything else (links, devices, …). */
  type: "file" | "directory" | string;
  size: number;
  /** The entry's data, exactly `size` bytes; read it (or let the reader skip it) before the next entry. */
  body: ReadableStream<Uint8Array>;
}

/**
 * What is wrong with an archive, in words for the client who sent it. The reader throws nothing
 * else for bad input (an entry's body stream errors with it too); callers turn it into their 400.
 */
export class TarError extends Error {
  override readonly name = "TarError";
}

/** Empty chunks in a row that a source may send before the reader gives up on it. */
const MAX_EMPTY_CHUNKS = 1000;
/** Largest size the reader accepts: beyond this, numbers stop being exact in JavaScript. */
const MAX_SIZE = Number.MAX_SAFE_INTEGER;

/** Reads entries one at a time from a tar stream. PAX `path`/`size` and GNU long names are honoured. */
export async function* readTar(stream: ReadableStream<Uint8Array>): AsyncGenerator<TarEntry> {
  const input = new ByteReader(stream);
  let longName: string | undefined;
  let paxSize: number | undefined;
  try {
    for (;;) {
      const block = await input.read(BLOCK);
      if (!block) throw new TarError("it ends without the end-of-archive blocks");
      if (block.every((b) => b === 0)) return;
      verifyChecksum(block);
      const type = String.fromCharCode(block[156] ?? 0);
      const size = paxSize ?? readNumber(block, 124, 12, "size");
      let name = longName ?? ustarName(block);
      longName = undefined;
      paxSize = undefined;

      if (type === "x" || type === "L") {
        if (size > MAX_META_BYTES) throw new TarError(`an extended header is too large (${size} bytes)`);
        const data = await input.read(size);
        if (!data) throw new TarError("it is cut short inside an extended header");
        await input.skip(tarPadding(size).length);
        if (type === "L") {
          longName = decoder.decode(data).replace(/\0.*$/s, "");
        } else {
          const records = parsePax(data);
          if (records.path !== undefined) longName = records.path;
          if (records.size !== undefined) paxSize = paxNumber(records.size, "size");
        }
        continue;
      }
      if (type === "g" || type === "K") {
        if (size > MAX_META_BYTES) throw new TarError(`an extended header is too large (${size} bytes)`);
        await input.skip(size + tarPadding(size).length);
        continue;
      }
      const kind = type === "0" || type === "\0" || type === "7" ? "file" : type === "5" ? "directory" : type;
      const dataSize = kind === "directory" ? 0 : size;
      if (kind === "directory" && !name.endsWith("/")) name += "/";
      let consumed = false;
      const chunks = input.chunks(dataSize);
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await chunks.next();
          if (next.done) {
            consumed = true;
            controller.close();
          } else controller.enqueue(next.value);
        },
      });
      yield { name, type: kind, size: dataSize, body };
      if (!consumed) for await (const _ of chunks) void _;
      await input.skip(tarPadding(dataSize).length);
    }
  } finally {
    input.release();
  }
}

function verifyChecksum(block: Uint8Array): void {
  const stored = readNumber(block, 148, 8, "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  if (sum !== stored) throw new TarError("a header checksum does not match");
}

function ustarName(block: Uint8Array): string {
  const name = cString(block.subarray(0, 100));
  const isUstar = decoder.decode(block.subarray(257, 262)) === "ustar";
  const prefix = isUstar ? cString(block.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/**
 * A numeric header field: octal digits, optionally led by spaces and ended by spaces or NULs (what
 * every tar writes), or GNU base-256 (first byte 0x80) for big values. Anything else, a negative
 * base-256 value or a value past MAX_SIZE is a TarError naming the field.
 */
export function readNumber(block: Uint8Array, offset: number, width: number, field: string): number {
  const bytes = block.subarray(offset, offset + width);
  const first = bytes[0] ?? 0;
  if (first & 0x80) {
    if (first !== 0x80) throw new TarError(`the ${field} field is a negative or malformed base-256 number`);
    let value = 0;
    for (let i = 1; i < width; i++) {
      value = value * 256 + (bytes[i] ?? 0);
      if (value > MAX_SIZE) throw new TarError(`the ${field} field is too large`);
    }
    return value;
  }
  let i = 0;
  while (i < width && bytes[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < width; i++) {
    const b = bytes[i] ?? 0;
    if (b < 0x30 || b > 0x37) break;
    value = value * 8 + (b - 0x30);
    digits++;
  }
  for (; i < width; i++) {
    const b = bytes[i] ?? 0;
    if (b !== 0x20 && b !== 0) throw new TarError(`the ${field} field is not an octal number`);
  }
  // An 11-digit octal field tops out at 8 GiB, well inside MAX_SIZE; an empty one means 0.
  return digits ? value : 0;
}

/** A PAX decimal value: ASCII digits only (no sign, point, exponent or spaces), exact in a double. */
export function paxNumber(text: string, key: string): number {
  if (!/^[0-9]{1,16}$/.test(text)) throw new TarError(`the PAX ${key} '${text.slice(0, 40)}' is not a whole number`);
  const value = Number(text);
  if (value > MAX_SIZE) throw new TarError(`the PAX ${key} is too large`);
  return value;
}

/** PAX records, "<length> <key>=<value>\n" each, where length counts the whole record. */
function parsePax(data: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    // Some writers pad the extended header with NULs; nothing else may follow the records.
    if (data.subarray(at).every((b) => b === 0)) break;
    const space = data.indexOf(0x20, at);
    const digits = space === -1 ? "" : decoder.decode(data.subarray(at, space));
    if (!/^[0-9]{1,6}$/.test(digits)) throw new TarError("a PAX record's length is not a number");
    const length = Number(digits);
    if (length <= space - at + 1 || at + length > data.length || data[at + length - 1] !== 0x0a)
      throw new TarError("a PAX record's length does not match the record");
    const record = decoder.decode(data.subarray(space + 1, at + length - 1));
    const eq = record.indexOf("=");
    if (eq <= 0) throw new TarError("a PAX record has no key");
    records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

/** Exact reads over a byte stream, keeping only the unread tail of the current chunk. */
class ByteReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private pending: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** Exactly n bytes, or null when the stream ends first. */
  async read(n: number): Promise<Uint8Array | null> {
    checkCount(n);
    if (this.pending.length >= n) return this.take(n);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (!this.pending.length && !(await this.fill())) return null;
      const part = this.take(Math.min(n - filled, this.pending.length));
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  /** The next n bytes as they arrive, without gathering them. */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    checkCount(n);
    let left = n;
    while (left > 0) {
      if (!this.pending.length && !(await this.fill())) throw new TarError("it is cut short inside a file");
      const part = this.take(Math.min(left, this.pending.length));
      // Every turn consumes at least one byte, so a finite stream always ends the loop.
      if (!part.length) throw new TarError("a read made no progress");
      left -= part.length;
      yield part;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) void _;
  }

  release(): void {
    this.reader.releaseLock();
  }

  private take(n: number): Uint8Array {
    const part = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return part;
  }

  /** The next non-empty chunk; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    // A source that only ever sends empty chunks would otherwise keep this loop (and the CPU) busy.
    for (let empty = 0; empty < MAX_EMPTY_CHUNKS; empty++) {
      const { value, done } = await this.reader.read();
      if (done) return false;
      if (value.length) {
        this.pending = value;
        return true;
      }
    }
    throw new TarError("the stream sent only empty chunks");
  }
}

/** Sizes reach here already checked; this is the backstop that keeps a bad one from looping. */
function checkCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TarError(`a size of ${n} bytes is not a whole number`);
}
