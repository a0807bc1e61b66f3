// The API's error codes and their HTTP statuses; free of Worker types so Node tooling can import it.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  length_required: 411,
  precondition_failed: 412,
  payload_too_large: 413,
  range_not_satisfiable: 416,
  /** A WebSocket route asked for without `Upgrade: websocket`. */
  upgrade_required: 426,
  rate_limited: 429,
  internal_error: 500,
  sandbox_unavailable: 502,
  sandbox_busy: 503,
  sandbox_timeout: 504,
  /** R2 failed a read or write: nothing was stored; retrying is safe. */
  storage_unavailable: 503,
  quota_exceeded: 507,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An API error as plain data: what crosses Durable Object RPC and SSE. */
export interface ApiErrorData {
  code: ErrorCode;
  message: string;
  retryAfterSeconds?: number | undefined;
}
