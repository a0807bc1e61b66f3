// Text measured and cut in UTF-8 bytes, the unit of every size limit in the API.
const encoder = new TextEncoder();

/** The size of `s` in UTF-8 bytes. */
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
