// The one error type of the API and the one JSON shape it is rendered as.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ERROR_STATUS, type ApiErrorData, type ErrorCode } from "./error-codes.ts";
import type { AppEnv } from "./types.ts";

export { ERROR_STATUS, type ApiErrorData, type ErrorCode };

/** A failure the client should see, with a machine-readable code. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  /** Extra response headers the status calls for (e.g. `Content-Range` on a 416); not carried over RPC. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryAfterSeconds?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(ERROR_STATUS[code], { message, cause: opts.cause });
    this.code = code;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.headers = opts.headers;
  }

  /** The plain form that crosses Durable Object RPC (class identity does not survive it). */
  toJSON(): ApiErrorData {
    return { code: this.code, message: this.message, retryAfterSeconds: this.retryAfterSeconds };
  }

  static from(data: ApiErrorData): ApiError {
    return new ApiError(data.code, data.message, { retryAfterSeconds: data.retryAfterSeconds });
  }
}

/** Renders any error as `{error: {code, message, requestId}}`; never leaks a stack. */
export function errorResponse(err: unknown, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId") ?? "";
  let apiError: ApiError;
  if (err instanceof ApiError) {
    apiError = err;
  } else if (err instanceof HTTPException) {
    apiError = fromHttpException(err);
  } else {
    console.error(`[${requestId}] unhandled error`, err);
    apiError = new ApiError("internal_error", "Internal error; quote the request id when reporting it.");
  }
  const headers: Record<string, string> = { ...apiError.headers, "X-Request-Id": requestId };
  if (apiError.retryAfterSeconds !== undefined) headers["Retry-After"] = String(apiError.retryAfterSeconds);
  return c.json(
    { error: { code: apiError.code, message: apiError.message, requestId } },
    ERROR_STATUS[apiError.code],
    headers,
  );
}

function fromHttpException(err: HTTPException): ApiError {
  const byStatus = Object.entries(ERROR_STATUS).find(([, status]) => status === err.status);
  const code = (byStatus?.[0] ?? (err.status >= 500 ? "internal_error" : "invalid_request")) as ErrorCode;
  return new ApiError(code, err.message || "Request failed");
}
