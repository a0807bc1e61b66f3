// A streaming tar writer and reader (POSIX ustar, with PAX and GNU long names) for volume export/import.
// Neither holds more than a header and one chunk of file data in memory.
import { ApiError } from "../errors.ts";

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

function notTar(why: string): ApiError {
  return new ApiError("invalid_request", `body: not a valid tar archive (${why})`);
}

/** Reads entries one at a time from a tar stream. PAX `path`/`size` and GNU long names are honoured. */
export async function* readTar(stream: ReadableStream<Uint8Array>): AsyncGenerator<TarEntry> {
  const input = new ByteReader(stream);
  let longName: string | undefined;
  let paxSize: number | undefined;
  try {
    for (;;) {
      const block = await input.read(BLOCK);
      if (!block) throw notTar("it ends without the end-of-archive blocks");
      if (block.every((b) => b === 0)) return;
      verifyChecksum(block);
      const type = String.fromCharCode(block[156] ?? 0);
      const size = paxSize ?? readNumber(block, 124, 12);
      let name = longName ?? ustarName(block);
      longName = undefined;
      paxSize = undefined;

      if (type === "x" || type === "L") {
        if (size > MAX_META_BYTES) throw notTar("an extended header is too large");
        const data = await input.read(size);
        if (!data) throw notTar("it is cut short");
        await input.skip(tarPadding(size).length);
        if (type === "L") {
          longName = decoder.decode(data).replace(/\0.*$/s, "");
        } else {
          const records = parsePax(data);
          if (records.path !== undefined) longName = records.path;
          if (records.size !== undefined) paxSize = Number(records.size);
        }
        continue;
      }
      if (type === "g" || type === "K") {
        await input.skip(size + tarPadding(size).length);
        continue;
      }
      const kind = type === "0" || type === "\0" || type === "7" ? "file" : type === "5" ? "directory" : type;
      const dataSize = kind === "file" ? size : kind === "directory" ? 0 : size;
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
  const stored = readNumber(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  if (sum !== stored) throw notTar("a header checksum does not match");
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

function readNumber(block: Uint8Array, offset: number, width: number): number {
  const field = block.subarray(offset, offset + width);
  if ((field[0] ?? 0) & 0x80) {
    // GNU base-256 for sizes beyond 8 GiB.
    let value = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < width; i++) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const text = cString(field).trim();
  if (!/^[0-7]*$/.test(text)) throw notTar("a numeric header field is malformed");
  return text ? parseInt(text, 8) : 0;
}

function parsePax(data: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(decoder.decode(data.subarray(at, space)));
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length)
      throw notTar("a PAX record is malformed");
    const record = decoder.decode(data.subarray(space + 1, at + length - 1));
    const eq = record.indexOf("=");
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
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

  /** Exactly n bytes, or null when the stream ends first (only at a clean boundary for n = 0 reads). */
  async read(n: number): Promise<Uint8Array | null> {
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
    let left = n;
    while (left > 0) {
      if (!this.pending.length && !(await this.fill())) throw notTar("it is cut short inside a file");
      const part = this.take(Math.min(left, this.pending.length));
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

  private async fill(): Promise<boolean> {
    const { value, done } = await this.reader.read();
    if (done) return false;
    this.pending = value;
    return true;
  }
}
