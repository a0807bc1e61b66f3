// Errors lose their class over Durable Object RPC, so DO methods return an Outcome and the Worker
// unwraps it back into the ApiError the client sees.
import { ApiError, type ApiErrorData } from "../errors.ts";

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ApiErrorData };

function internalError(err: unknown): ApiError {
  console.error("unexpected error in a Durable Object", err);
  return new ApiError("internal_error", "Internal error; quote the request id when reporting it.");
}

/** Runs `fn` into an Outcome; an error that is not an ApiError becomes `otherwise(err)`. */
export async function capture<T>(
  fn: () => T | Promise<T>,
  otherwise: (err: unknown) => ApiError = internalError,
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: (err instanceof ApiError ? err : otherwise(err)).toJSON() };
  }
}

/** Unwraps an RPC outcome in the Worker, rethrowing the API error. */
export function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw ApiError.from(outcome.error);
  return outcome.value;
}
