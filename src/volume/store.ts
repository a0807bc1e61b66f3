// Writing into a volume: reserve room in the ledger, stream the bytes to R2, then settle or release.
// The same path serves uploads (Worker → DO over RPC) and persisting sandbox files (inside the DO).
import { ApiError } from "../errors.ts";
import type { Commit, Reservation } from "./quota.ts";
import { volumeKey } from "./usage.ts";

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
  httpMetadata?: R2HTTPMetadata,
): Promise<StoredFile> {
  let reservation: Reservation | undefined;
  try {
    [reservation] = await ledger.reserve([{ name, size }]);
    if (!reservation) throw new Error("the ledger returned no reservation");
  } catch (err) {
    // Refused before a byte was read: say so to the sender rather than leave its body hanging.
    await body.cancel().catch(() => {});
    throw err;
  }
  const key = volumeKey(userId, name);
  let object: R2Object;
  try {
    object = await bucket.put(key, exactly(body, size), httpMetadata ? { httpMetadata } : undefined);
  } catch (err) {
    await ledger.release([reservation.id]).catch(() => {});
    throw new ApiError("invalid_request", `body: the upload did not deliver exactly ${size} bytes, so nothing was stored`, { cause: err });
  }
  if (!(await ledger.commit([{ id: reservation.id, name, size: object.size }]))) {
    await bucket.delete(key);
    throw new ApiError("quota_exceeded", "Volume quota exceeded: the upload took so long that its reservation lapsed and it no longer fits.");
  }
  return {
    name,
    size: object.size,
    etag: object.httpEtag,
    modifiedAt: object.uploaded.toISOString(),
    replaced: reservation.existed,
  };
}

/** R2 needs a known length; this also refuses a body that is shorter or longer than announced. */
export function exactly(body: ReadableStream<Uint8Array>, size: number): ReadableStream<Uint8Array> {
  const sized = new FixedLengthStream(size);
  body.pipeTo(sized.writable).catch(() => {});
  return sized.readable;
}
