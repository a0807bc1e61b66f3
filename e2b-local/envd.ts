// envd's routing, for requests carrying `E2b-Sandbox-Id`: /health, plain /files, and the Connect-RPC
// services (access token, request decoding, errors as Connect errors), dispatched by method.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Limits } from "./sandbox.ts";
import { endError, parseEnvelope } from "./connect.ts";
import { codeToStatus, rpcError, toServerError } from "./errors.ts";
import { MAX_RPC_BODY, keyEquals, readBody, sendJson } from "./http.ts";
import type { Registry } from "./registry.ts";
import { uidOf, userFromAuth } from "./users.ts";
import { processUnary, rpcConnect, rpcStart } from "./envd-process.ts";
import { filesystemUnary, rpcWatch } from "./envd-filesystem.ts";
import { filesGet, filesPost } from "./envd-files.ts";
import { checkSigned, signedSandbox } from "./signed.ts";

export type EnvdOptions = { registry: Registry; limits: Limits };

/** `/files` by a signed URL that names no sandbox (the SDK's downloadUrl/uploadUrl on the sandbox URL). */
export function signedFilesHandler({ registry, limits }: EnvdOptions) {
  return async function handleSignedFiles(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const sandbox = signedSandbox(registry, req, url);
    if (req.method === "GET") return filesGet(req, res, url, sandbox);
    return filesPost(req, res, url, sandbox, limits.fileSizeBytes);
  };
}

export function envdHandler({ registry, limits }: EnvdOptions) {
  return async function handleEnvd(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    // a paused sandbox is not there (502), unless it resumes on traffic (autoResume)
    const sandbox = registry.get(id) ?? (await registry.getOrResume(id));
    if (!sandbox) {
      req.resume();
      sendJson(res, 502, { sandboxId: id, message: "The sandbox was not found", code: 502 });
      return;
    }
    const path = url.pathname;
    if (path === "/health" && req.method === "GET") {
      res.writeHead(204).end();
      return;
    }
    if (path === "/files") {
      // The SDK sends X-Access-Token on /files too (its envd REST client carries it on every call);
      // a signed URL (signed.ts) stands in for it
      if (!keyEquals(req.headers["x-access-token"], sandbox.token)) {
        if (!url.searchParams.has("signature")) {
          req.resume();
          sendJson(res, 401, { code: 401, message: "invalid or missing X-Access-Token" });
          return;
        }
        checkSigned(sandbox, req, url);
      }
      if (req.method === "GET") return filesGet(req, res, url, sandbox);
      if (req.method === "POST") return filesPost(req, res, url, sandbox, limits.fileSizeBytes);
      req.resume();
      sendJson(res, 405, { code: 405, message: "method not allowed" });
      return;
    }
    const rpc = /^\/(process\.Process|filesystem\.Filesystem)\/([A-Za-z]+)$/.exec(path);
    if (!rpc || req.method !== "POST") {
      req.resume();
      sendJson(res, 404, { code: 404, message: `no route for ${req.method} ${path}` });
      return;
    }
    const ctype = String(req.headers["content-type"] ?? "");
    const streaming = ctype.startsWith("application/connect+");
    const service = rpc[1]!;
    const method = rpc[2]!;
    let body: Buffer;
    try {
      body = await readBody(req, MAX_RPC_BODY);
    } catch {
      return;
    }
    const fail = (e: unknown) => {
      const { code, message } = toServerError(e);
      if (streaming) {
        if (!res.headersSent) res.writeHead(200, { "content-type": "application/connect+json" });
        res.end(endError(code, message));
      } else {
        sendJson(res, codeToStatus(code), { code, message });
      }
    };
    try {
      if (!keyEquals(req.headers["x-access-token"], sandbox.token))
        throw rpcError("unauthenticated", "invalid or missing X-Access-Token");
      let msg: Record<string, unknown>;
      try {
        msg = (streaming ? parseEnvelope(body) : body.length ? JSON.parse(body.toString("utf8")) : {}) as Record<
          string,
          unknown
        >;
      } catch (e) {
        throw rpcError("invalid_argument", `bad request body: ${(e as Error).message}`);
      }
      if (!msg || typeof msg !== "object") throw rpcError("invalid_argument", "request must be a JSON object");
      const uid = uidOf(userFromAuth(req));
      if (service === "process.Process") {
        if (streaming && method === "Start") return await rpcStart(req, res, sandbox, msg, uid);
        if (streaming && method === "Connect") return await rpcConnect(req, res, sandbox, msg);
        if (!streaming) {
          sendJson(res, 200, await processUnary(sandbox, method, msg));
          return;
        }
      } else {
        if (streaming && method === "WatchDir") return await rpcWatch(req, res, sandbox, msg, uid);
        if (!streaming) {
          sendJson(res, 200, await filesystemUnary(sandbox, method, msg, uid));
          return;
        }
      }
      throw rpcError("unimplemented", `${service}/${method} is not implemented by e2b-local`);
    } catch (e) {
      fail(e);
    }
  };
}
