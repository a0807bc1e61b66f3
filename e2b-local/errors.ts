// The server's one error type: an HTTP status, a Connect code and a message. The control-plane API
// and envd's /files render it as E2B does (`{ code: <status>, message }`), Connect RPCs as
// `{ code: <connect code>, message }`; Node's fs errors (errno) are mapped onto it in one place.

/** Connect error code -> HTTP status for unary calls. */
export function codeToStatus(code: string): number {
  switch (code) {
    case "invalid_argument":
    case "failed_precondition":
    case "out_of_range":
      return 400;
    case "unauthenticated":
      return 401;
    case "permission_denied":
      return 403;
    case "not_found":
      return 404;
    case "already_exists":
    case "aborted":
      return 409;
    case "resource_exhausted":
      return 429;
    case "canceled":
      return 499;
    case "unimplemented":
      return 501;
    case "unavailable":
      return 503;
    case "deadline_exceeded":
      return 504;
    default:
      return 500;
  }
}

/** HTTP status -> the Connect code closest to it (for errors raised by the plain HTTP parts). */
function statusToCode(status: number): string {
  switch (status) {
    case 400:
    case 413:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 409:
      return "already_exists";
    case 429:
    case 507:
      return "resource_exhausted";
    case 501:
      return "unimplemented";
    case 502:
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

export class ServerError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** An error of the plain HTTP parts (control-plane API, /files), named by its status. */
export const httpError = (status: number, message: string) => new ServerError(status, statusToCode(status), message);

/** An error of the Connect RPCs, named by its Connect code. */
export const rpcError = (code: string, message: string) => new ServerError(codeToStatus(code), code, message);

const CONNECT_CODES = new Set(["invalid_argument", "not_found", "unauthenticated", "permission_denied"]);

/**
 * Any thrown value as a ServerError: itself, a Node fs error by its errno (a full disk is 507
 * resource_exhausted, as envd answers), an agent error carrying a Connect code, else 500 internal.
 */
export function toServerError(e: unknown): ServerError {
  if (e instanceof ServerError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const errno = (e as NodeJS.ErrnoException)?.code;
  switch (errno) {
    case "ENOENT":
      return new ServerError(404, "not_found", message);
    case "EEXIST":
      return new ServerError(409, "already_exists", message);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new ServerError(403, "permission_denied", message);
    case "ENOTDIR":
    case "EISDIR":
    case "EINVAL":
    case "ENOTEMPTY":
    case "ELOOP":
    case "ENXIO":
      return new ServerError(400, "invalid_argument", message);
    case "ENOSPC":
    case "EDQUOT":
    case "EFBIG":
      return new ServerError(507, "resource_exhausted", message);
  }
  if (errno && CONNECT_CODES.has(errno)) return rpcError(errno, message);
  return new ServerError(500, "internal", message);
}
