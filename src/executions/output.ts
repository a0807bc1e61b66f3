// Program output bounded in UTF-8 bytes, cut on a character boundary.
/** Output kept up to a byte limit; what goes past it is dropped and flagged. */
export class CappedOutput {
  private readonly chunks: string[] = [];
  private bytes = 0;
  private readonly limit: number;
  truncated = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Keeps what fits of `data` and returns it ("" once the limit is reached). */
  push(data: string): string {
    if (this.truncated) return "";
    const size = utf8Length(data);
    if (this.bytes + size <= this.limit) {
      this.chunks.push(data);
      this.bytes += size;
      return data;
    }
    const kept = cutToBytes(data, this.limit - this.bytes);
    this.chunks.push(kept);
    this.bytes = this.limit;
    this.truncated = true;
    return kept;
  }

  text(): string {
    return this.chunks.join("");
  }
}

const encoder = new TextEncoder();
export function utf8Length(s: string): number {
  return encoder.encode(s).byteLength;
}

/** The longest prefix of `s` within `maxBytes` UTF-8 bytes, never splitting a character. */
export function cutToBytes(s: string, maxBytes: number): string {
  const bytes = encoder.encode(s);
  if (bytes.length <= maxBytes) return s;
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
