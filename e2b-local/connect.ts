// Connect-RPC (JSON codec): envelope framing and the server-streaming response (errors: errors.ts).
import type { IncomingMessage, ServerResponse } from "node:http";

/** One server-stream envelope: flag byte, 4-byte big-endian length, JSON. */
export function envelope(msg: unknown, flags = 0): Buffer {
  const json = Buffer.from(JSON.stringify(msg));
  const out = Buffer.allocUnsafe(5 + json.length);
  out[0] = flags;
  out.writeUInt32BE(json.length, 1);
  json.copy(out, 5);
  return out;
}

export const END_OK = envelope({}, 2);

export function endError(code: string, message: string): Buffer {
  return envelope({ error: { code, message } }, 2);
}

/** Parse the single request envelope of a server-streaming call. */
export function parseEnvelope(body: Buffer): unknown {
  if (body.length < 5) throw new Error("missing envelope");
  const len = body.readUInt32BE(1);
  if (body[0]! & 1) throw new Error("compressed envelopes are not supported");
  if (5 + len > body.length) throw new Error("truncated envelope");
  const json = body.subarray(5, 5 + len).toString("utf8");
  return json ? JSON.parse(json) : {};
}

export type Stream = {
  send: (message: unknown) => void;
  end: (err?: { code: string; message: string }, last?: unknown) => void;
};

/**
 * A server-streaming response, registered in `streams` while open. The headers are not flushed on
 * their own: they go out with the first message (each stream sends one at once: `start`, or the error
 * end), one write instead of two. `keepalive` is the message sent every Keepalive-Ping-Interval seconds.
 */
export function openStream(
  req: IncomingMessage,
  res: ServerResponse,
  streams: Set<ServerResponse>,
  keepalive: unknown,
  onClose: () => void,
): Stream {
  res.writeHead(200, { "content-type": "application/connect+json" });
  streams.add(res);
  let done = false;
  const intervalS = Number(req.headers["keepalive-ping-interval"]) || 0;
  const ka =
    intervalS > 0
      ? setInterval(() => {
          if (!done) res.write(envelope(keepalive));
        }, intervalS * 1000)
      : null;
  const finish = () => {
    if (done) return;
    done = true;
    if (ka) clearInterval(ka);
    streams.delete(res);
    onClose();
  };
  res.on("close", finish);
  return {
    send: (message) => {
      if (!done && !res.destroyed) res.write(envelope(message));
    },
    end: (err, last?: unknown) => {
      if (done || res.destroyed) return finish();
      const tail = err ? endError(err.code, err.message) : END_OK;
      // the last message and the end frame in one write
      res.end(last === undefined ? tail : Buffer.concat([envelope(last), tail]));
      finish();
    },
  };
}
