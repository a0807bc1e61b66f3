// Reads and throws away a request body the Worker refused without reading (507, 409, 400, 413 …), so
// the client that is still sending it gets the answer instead of a reset connection.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../types.ts";

/**
 * Why: cancelling an unread request body (`request.body.cancel()`, what the volume routes used to do
 * on a refusal) makes workerd abort the request pipe and drop the connection while the client is
 * still sending; the kernel resets it and the client's read of the answer fails: Node's fetch
 * (undici) reports ECONNRESET and never shows the 507. (curl escapes only because it sends
 * `Expect: 100-continue` for big bodies, which Node's fetch cannot.) A body left unread is discarded
 * by workerd after the answer, which works in `wrangler dev` but is the runtime's choice, not ours; so
 * the Worker reads a refused body to its end itself before answering, up to a bound: the bytes were on
 * their way anyway, and a client that learns "quota exceeded" does not retry blindly as it would after
 * a network error. Past the bound (a body far bigger than any volume takes, or one trickling in for
 * too long) the rest is left unread to the runtime — never cancelled, which is what resets.
 */
export const DRAIN_MAX_BYTES = 128 * 1024 * 1024;
const DRAIN_MAX_MS = 60_000;

export const drainRefusedBody = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if (c.res.status < 400) return;
  const body = c.req.raw.body;
  // A body someone holds a reader on is theirs to finish; one read to its end or cancelled drains at once.
  if (!body || body.locked) return;
  const announced = Number(c.req.header("Content-Length") ?? c.req.header("Upload-Length") ?? 0);
  if (announced > DRAIN_MAX_BYTES) return;
  await discard(body, DRAIN_MAX_BYTES, DRAIN_MAX_MS);
});

/** Reads `body` to its end, stopping (without cancelling) after `maxBytes` or `maxMs`. Never throws. */
export async function discard(body: ReadableStream<Uint8Array>, maxBytes: number, maxMs: number): Promise<void> {
  const reader = body.getReader();
  let read = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), maxMs);
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "late" || next.done) return;
      read += next.value.byteLength;
      if (read > maxBytes) return;
    }
  } catch {
    // The sender broke off: nothing left to drain.
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    // A read still pending after "late" keeps the lock's release from mattering; the runtime has the rest.
    try {
      reader.releaseLock();
    } catch {
      // releaseLock throws while a read is pending in some runtimes; the body is left as it is.
    }
  }
}
