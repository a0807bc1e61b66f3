// A stateful run's results in history: small ones inline in the D1 row, large ones (images) in R2
// under `results/<userId>/<executionId>/<index>` — the user's, but outside their volume (its listing
// and quota) — deleted with the row by retention and user deletion, and served by an authenticated URL.
import type { InterpreterResult } from "../executions/types.ts";
import { utf8Length } from "../text.ts";
import { deletePrefix } from "../volume/keys.ts";

/** A result whose data (as the API carries it: text or base64) is larger than this many bytes is kept
 * in R2 and shown in history as a URL. */
export const INLINE_RESULT_BYTES = 64 * 1024;

/** A result as its history row keeps it: inline, or the R2 key of its payload. */
export type StoredResult = InterpreterResult | { type: string; isMainResult: boolean; size: number; key: string };

/** A result as history shows it: inline, or where to fetch its payload. */
export type HistoryResult = InterpreterResult | { type: string; isMainResult: boolean; size: number; url: string };

/** Types whose `data` is base64 (binary payloads); the rest is text. */
const BASE64_TYPES = new Set(["image/png", "image/jpeg", "application/pdf"]);

export function resultsPrefix(userId: string): string {
  return `results/${userId}/`;
}

function resultKey(userId: string, executionId: string, index: number): string {
  return `${resultsPrefix(userId)}${executionId}/${index}`;
}

/** The payload a result stands for: the bytes of an image, the UTF-8 of text. */
export function payloadOf(result: InterpreterResult): Uint8Array<ArrayBuffer> {
  if (!BASE64_TYPES.has(result.type)) return Uint8Array.from(new TextEncoder().encode(result.data));
  return Uint8Array.from(atob(result.data), (ch) => ch.charCodeAt(0));
}

/** The Content-Type a payload is served with. */
export function contentTypeOf(type: string): string {
  return BASE64_TYPES.has(type) || type.startsWith("image/") ? type : `${type}; charset=utf-8`;
}

/**
 * Puts the payloads of results over INLINE_RESULT_BYTES in R2 and returns what the history row keeps.
 * One R2 refused is dropped from history (the run's own response still carried it): `lost` says so.
 */
export async function storeResults(
  bucket: R2Bucket,
  userId: string,
  executionId: string,
  results: InterpreterResult[],
): Promise<{ stored: StoredResult[]; lost: boolean }> {
  let lost = false;
  const stored = await Promise.all(
    results.map(async (result, index): Promise<StoredResult | null> => {
      // Inline when its data as the API carries it (text, or base64) fits the limit.
      if (utf8Length(result.data) <= INLINE_RESULT_BYTES) return result;
      const payload = payloadOf(result);
      const key = resultKey(userId, executionId, index);
      try {
        await bucket.put(key, payload, { httpMetadata: { contentType: contentTypeOf(result.type) } });
      } catch (err) {
        console.error(`history: R2 refused result ${index} of ${executionId}`, err);
        lost = true;
        return null;
      }
      return { type: result.type, isMainResult: result.isMainResult, size: payload.length, key };
    }),
  );
  return { stored: stored.filter((r): r is StoredResult => r !== null), lost };
}

/**
 * The results a history row keeps, whole again: payloads kept in R2 read back (base64 for binary types),
 * up to `maxBytes` of data in all; a payload that is gone or does not fit is left out.
 */
export async function loadResults(
  bucket: R2Bucket,
  stored: StoredResult[],
  maxBytes: number,
): Promise<InterpreterResult[]> {
  const whole: InterpreterResult[] = [];
  let total = 0;
  for (const result of stored) {
    let data: string;
    if ("key" in result) {
      const object = await bucket.get(result.key);
      if (!object) continue;
      const bytes = new Uint8Array(await object.arrayBuffer());
      data = BASE64_TYPES.has(result.type) ? base64(bytes) : new TextDecoder().decode(bytes);
    } else data = result.data;
    total += data.length;
    if (total > maxBytes) break;
    whole.push({ type: result.type, data, isMainResult: result.isMainResult });
  }
  return whole;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** How history shows a stored result: as it was, or as the URL that serves its payload. */
export function toHistoryResult(executionId: string, result: StoredResult, index: number): HistoryResult {
  if (!("key" in result)) return result;
  const { type, isMainResult, size } = result;
  return { type, isMainResult, size, url: `/api/v1/executions/${executionId}/results/${index}` };
}

/** Deletes every stored payload of the user (they are being deleted). */
export function deleteUserResults(bucket: R2Bucket, userId: string): Promise<{ files: number; bytes: number }> {
  return deletePrefix(bucket, resultsPrefix(userId));
}

/** Deletes the stored payloads of history rows older than `cutoff` (before the rows go); how many. */
export async function deleteResultsBefore(env: Env, cutoff: number): Promise<number> {
  const { results } = await env.DB.prepare(
    `SELECT json_extract(r.value, '$.key') AS key FROM executions, json_each(executions.results) AS r
     WHERE executions.created_at < ? AND executions.results IS NOT NULL AND json_extract(r.value, '$.key') IS NOT NULL`,
  )
    .bind(cutoff)
    .all<{ key: string }>();
  const keys = results.map((r) => r.key);
  for (let i = 0; i < keys.length; i += 1000) await env.VOLUMES.delete(keys.slice(i, i + 1000));
  return keys.length;
}
