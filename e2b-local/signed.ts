// Signed /files URLs (`sandbox.downloadUrl()` / `uploadUrl()`): usable without the envd access token,
// by anyone holding the URL, for one path, one operation and one user, until its expiration. The
// signature is `v1_` + base64(sha256("<path>:<read|write>:<username>:<envd token>[:<expiration>]"))
// without padding, as the SDK computes it. The URL names no sandbox (the SDK builds it on the sandbox
// URL alone): the sandbox is the one whose token makes the signature, and a wrong one matches none.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { httpError } from "./errors.ts";
import { keyEquals } from "./http.ts";
import type { Registry, SandboxRec } from "./registry.ts";

export function fileSignature(path: string, operation: string, user: string, token: string, expiration?: string) {
  const raw = `${path}:${operation}:${user}:${token}${expiration === undefined ? "" : `:${expiration}`}`;
  return `v1_${createHash("sha256").update(raw, "utf8").digest("base64").replace(/=+$/, "")}`;
}

/** What a signed request asks for, checked (400 for a malformed expiration, 405 for another method). */
function signedRequest(req: IncomingMessage, url: URL) {
  const operation = req.method === "GET" ? "read" : req.method === "POST" ? "write" : null;
  if (!operation) throw httpError(405, "method not allowed");
  const expiration = url.searchParams.get("signature_expiration") ?? undefined;
  if (expiration !== undefined && !/^-?\d+$/.test(expiration))
    throw httpError(400, "signature_expiration must be a Unix time in seconds");
  return {
    operation,
    signature: url.searchParams.get("signature") ?? "",
    path: url.searchParams.get("path") ?? "",
    user: url.searchParams.get("username") ?? "",
    expiration,
  };
}

/** Whether `sandbox`'s token made this request's signature. */
function signedBy(sandbox: SandboxRec, s: ReturnType<typeof signedRequest>): boolean {
  return keyEquals(s.signature, fileSignature(s.path, s.operation, s.user, sandbox.token, s.expiration));
}

/** 401, worded as envd words it, once the expiration has passed. */
function checkExpiry(s: ReturnType<typeof signedRequest>): void {
  if (s.expiration !== undefined && Number(s.expiration) < Math.floor(Date.now() / 1000))
    throw httpError(401, "signature is already expired");
}

/** The running sandbox a signed /files request (no sandbox header) is for; 401 when none signed it. */
export function signedSandbox(registry: Registry, req: IncomingMessage, url: URL): SandboxRec {
  const s = signedRequest(req, url);
  const sandbox = registry.all().find((candidate) => !candidate.paused && signedBy(candidate, s));
  if (!sandbox) throw httpError(401, "invalid signature");
  checkExpiry(s);
  return sandbox;
}

/** A signed /files request that names its sandbox (E2b-Sandbox-Id): 401 unless that sandbox signed it. */
export function checkSigned(sandbox: SandboxRec, req: IncomingMessage, url: URL): void {
  const s = signedRequest(req, url);
  if (!signedBy(sandbox, s)) throw httpError(401, "invalid signature");
  checkExpiry(s);
}
