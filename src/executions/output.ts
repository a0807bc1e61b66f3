// Program output bounded in UTF-8 bytes, cut on a character boundary.
import { cutToBytes, utf8Length } from "../text.ts";

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
