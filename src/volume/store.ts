// Writing into a volume: reserve room in the ledger, stream the bytes to R2, then settle or release.
// The same path serves uploads (Worker → DO over RPC) and persisting sandbox files (inside the DO).
import { ApiError } from "../errors.ts";
import type { Commit, Reservation } from "./ledger.ts";
import { checkPreconditions, r2Conditions, type WriteConditions } from "./conditions.ts";
import { ledgerKey } from "./keys.ts";

/** The ledger as the writer sees it: over RPC from the Worker, or directly inside the Durable Object. */
export interface LedgerPort {
  /** Throws the ApiError to show (409, 507). */
  reserve(entries: { name: string; size: number }[]): Promise<Reservation[]>;
  commit(commits: Commit[]): Promise<boolean>;
  release(ids: string[]): Promise<void>;
}

export interface StoredFile {
  name: string;
  size: number;
  etag: string;
  modifiedAt: string;
  /** True when the name held a file before (and only the difference counted). */
  replaced: boolean;
}

export interface StoreOptions {
  httpMetadata?: R2HTTPMetadata;
  /** Settles the unread body when the ledger or a condition says no; cancels it by default. */
  refused?: (body: ReadableStream<Uint8Array>) => Promise<void>;
  /** `If-Match` / `If-None-Match` of the request (volume/conditions.ts). */
  conditions?: WriteConditions | undefined;
}

/**
 * Streams `body` (exactly `size` bytes) to `volumes/<userId>/<name>` under a reservation. A body
 * that is shorter or longer than announced, or that breaks off, stores nothing and gives the bytes back.
 */
export async function storeFile(
  bucket: R2Bucket,
  ledger: LedgerPort,
  userId: string,
  name: string,
  size: number,
  body: ReadableStream<Uint8Array>,
  { httpMetadata, refused = (unread) => unread.cancel(), conditions }: StoreOptions = {},
): Promise<StoredFile> {
  const key = ledgerKey(userId, name);
  let reservation: Reservation | undefined;
  try {
    [reservation] = await ledger.reserve([{ name, size }]);
    if (!reservation) throw new Error("the ledger returned no reservation");
    // The reservation keeps other writers off the name from here on, so the version checked is the one
    // replaced; R2 checks the same condition again as it writes.
    if (conditions) checkPreconditions(conditions, (await bucket.head(key))?.httpEtag ?? null);
  } catch (err) {
    if (reservation) await ledger.release([reservation.id]).catch(() => {});
    // Refused before a byte was read: by default say so to the sender rather than leave its body
    // hanging; an HTTP upload leaves it to the drain middleware instead (see middleware/drain.ts).
    await refused(body).catch(() => {});
    throw err;
  }
  let object: R2Object;
  try {
    object = await putExactly(bucket, key, body, size, {
      ...(httpMetadata ? { httpMetadata } : {}),
      ...(conditions ? { onlyIf: r2Conditions(conditions) } : {}),
    });
  } catch (err) {
    await ledger.release([reservation.id]).catch(() => {});
    throw err;
  }
  // Written in place (no temporary key: R2 cannot rename, and copying every upload to save a file only
  // a >2 h upload into a since-filled volume can lose would double every upload's cost).
  if (!(await ledger.commit([{ id: reservation.id, name, size: object.size, inPlace: true }]))) {
    await bucket.delete(key);
    const lost = reservation.existed
      ? ` It had already replaced the previous '${name}', so that file is gone too.`
      : "";
    throw new ApiError(
      "quota_exceeded",
      `Volume quota exceeded: the upload took so long that its reservation lapsed, and the volume filled up meanwhile; it no longer fits, so it was deleted.${lost}`,
    );
  }
  return {
    name,
    size: object.size,
    etag: object.httpEtag,
    modifiedAt: object.uploaded.toISOString(),
    replaced: reservation.existed,
  };
}

/**
 * Puts exactly `size` bytes of `body` at `key` (an R2 put is all or nothing). A body that ends early,
 * runs long or breaks off is `400 invalid_request` (the sender's fault); R2 failing is
 * `503 storage_unavailable`. `what` names the body in the 400's message.
 */
export async function putExactly(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  size: number,
  options?: R2PutOptions,
  what = "the upload",
): Promise<R2Object> {
  const delivery = exactly(body, size);
  let object: R2Object | null;
  try {
    object = await bucket.put(key, delivery.stream, options);
  } catch (err) {
    // A fault of the body is recorded before the stream R2 reads is failed, so it is known by now.
    const fault = delivery.fault();
    delivery.stop(err);
    // A body whose source already failed with the API's words (an ApiError) keeps them.
    if (fault?.cause instanceof ApiError) throw fault.cause;
    if (fault) {
      // The cause travels along, so a caller that knows its source (the tar reader's TarError) can say more.
      const described = {
        short: `body: ${what} ended after ${fault.delivered} of the ${size} bytes announced, so nothing was stored`,
        long: `body: ${what} sent more than the ${size} bytes announced, so nothing was stored`,
        broken: `body: ${what} broke off after ${fault.delivered} of ${size} bytes, so nothing was stored`,
      }[fault.kind];
      throw new ApiError("invalid_request", described, { cause: fault.cause ?? err });
    }
    throw new ApiError(
      "storage_unavailable",
      "Storage failed while writing the file; nothing was stored. Retry shortly.",
      { cause: err },
    );
  }
  // Only a conditional put (`onlyIf`) answers null: R2 found the condition no longer held.
  if (!object)
    throw new ApiError(
      "precondition_failed",
      "If-Match / If-None-Match: the file changed while it was written; nothing was stored",
    );
  return object;
}

/** Why a body stopped delivering: it ended early, ran past its length, or its source failed. */
export interface BodyFault {
  kind: "short" | "long" | "broken";
  /** Bytes read from the body when the fault was seen. */
  delivered: number;
  cause?: unknown;
}

/**
 * R2 needs a known length: `stream` carries exactly `size` bytes of `body`, or fails. `fault()` tells
 * whether the body itself was to blame (set before `stream` fails); undefined means whatever failed
 * was downstream (R2).
 */
export function exactly(
  body: ReadableStream<Uint8Array>,
  size: number,
): { stream: ReadableStream<Uint8Array>; fault(): BodyFault | undefined; stop(reason: unknown): void } {
  const sized = new FixedLengthStream(size);
  const writer = sized.writable.getWriter();
  const reader = readerOf(body);
  let fault: BodyFault | undefined;
  let delivered = 0;
  const failWith = async (f: BodyFault, reason: unknown) => {
    fault = f;
    await writer.abort(reason).catch(() => {});
  };
  void (async () => {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        return failWith({ kind: "broken", delivered, cause: err }, err);
      }
      if (chunk.done) {
        if (delivered < size)
          return failWith({ kind: "short", delivered }, new Error(`body ended after ${delivered} of ${size} bytes`));
        return writer.close();
      }
      delivered += chunk.value.byteLength;
      if (delivered > size) {
        await reader.cancel().catch(() => {});
        return failWith({ kind: "long", delivered }, new Error(`body ran past ${size} bytes`));
      }
      // Backpressure from R2, with a chunk in flight meanwhile. A write fails only when R2 stops
      // reading: that failure is R2's, so no fault is recorded (the put reports it).
      await writer.ready;
      writer.write(chunk.value).catch(() => {});
    }
  })().catch(async (err) => {
    await reader.cancel(err).catch(() => {});
  });
  return {
    stream: sized.readable,
    fault: () => fault,
    // When R2 gave up without reading on, stop reading the body too.
    stop: (reason) => {
      void reader.cancel(reason).catch(() => {});
      void writer.abort(reason).catch(() => {});
    },
  };
}

/** Big reads where the body is a byte stream (a request body): far fewer trips through JS per MiB. */
const READ_CHUNK = 256 * 1024;

function readerOf(body: ReadableStream<Uint8Array>): {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(reason?: unknown): Promise<void>;
} {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream (e.g. the tar reader's entries): plain reads.
  }
  if (!byob) return body.getReader();
  const reader = byob;
  return {
    read: () => reader.read(new Uint8Array(READ_CHUNK)),
    cancel: (reason) => reader.cancel(reason),
  };
}
