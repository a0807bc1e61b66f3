// Volume test helpers: bodies of any size generated on the fly, hashed as they stream, and R2 sums.
import { env } from "cloudflare:test";
import { call } from "./helpers.ts";

export const MiB = 1024 * 1024;

/** `size` deterministic bytes (a 64 KiB pattern shifted by `seed`), made as they are read. */
export function pattern(size: number, seed = 0): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).map((_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      const n = Math.min(chunk.length, size - sent);
      controller.enqueue(chunk.slice(0, n));
      sent += n;
    },
  });
}

/** A body with a known length, so fetch sends Content-Length. */
export function sized(size: number, seed = 0): ReadableStream<Uint8Array> {
  const fixed = new FixedLengthStream(size);
  // A refused upload (507) is answered before its body is read; the abandoned pipe is expected.
  pattern(size, seed)
    .pipeTo(fixed.writable)
    .catch(() => {});
  return fixed.readable;
}

export async function sha256(stream: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  await stream.pipeTo(digest);
  return [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function fileUrl(name: string): string {
  return `/api/v1/volume/files/${name.split("/").map(encodeURIComponent).join("/")}`;
}

export function put(
  key: string,
  name: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<Response> {
  return call(fileUrl(name), { key, method: "PUT", body, headers });
}

export async function usage(
  key: string,
): Promise<{ usedBytes: number; quotaBytes: number; usagePercent: number; fileCount: number; reservedBytes: number }> {
  const res = await call("/api/v1/volume", { key });
  if (res.status !== 200) throw new Error(`usage: ${res.status} ${await res.text()}`);
  return res.json();
}

/** What R2 really holds for a user: the truth usage must agree with. */
export async function r2Totals(userId: string): Promise<{ bytes: number; count: number }> {
  let bytes = 0;
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await env.VOLUMES.list({ prefix: `volumes/${userId}/`, cursor });
    for (const o of page.objects) {
      bytes += o.size;
      count++;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { bytes, count };
}
