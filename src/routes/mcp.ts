// /mcp: the Model Context Protocol over Streamable HTTP (revision 2025-11-25), for assistants that
// run code through Phoenix. The caller is authenticated (a user's API key) before any message is read.
//
// Built on the official SDK's low-level Server and its Web-standard Streamable HTTP transport, not on
// `agents`' McpAgent or `@hono/mcp`: McpAgent keeps each session in a Durable Object class of its own
// (a second per-user home for state that UserSpace already serialises), and `@hono/mcp` only wraps
// the same transport. The transport keeps a session in memory, but consecutive requests of one
// session may reach different Worker isolates; so each request gets a fresh Server and transport, and
// a session is derivable instead: its id names its conversation, and the user's Durable Object only
// records which ids are live (mcp/sessions.ts). `initialize` uses the transport's session mode (it
// mints the Mcp-Session-Id); later requests are checked here, then served by a stateless transport.
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { unwrap } from "../durable/outcome.ts";
import { ApiError } from "../errors.ts";
import { mcpServer } from "../mcp/server.ts";
import { doc, empty, json, type ResponseSpec } from "../openapi/registry.ts";
import { jsonRpcBodySchema, jsonRpcErrorSchema } from "../openapi/schemas.ts";
import { newSessionId } from "../mcp/sessions.ts";
import { requireUser } from "../middleware/auth.ts";
import type { AppEnv } from "../types.ts";

const SESSION_HEADER = "Mcp-Session-Id";

/** requireUser, with the `WWW-Authenticate` challenge a 401 carries (RFC 6750), which MCP clients read. */
export const requireMcpUser = createMiddleware<AppEnv>(async (c, next) => {
  try {
    await requireUser(c, next);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "unauthorized")) throw err;
    throw new ApiError("unauthorized", err.message, {
      headers: { "WWW-Authenticate": 'Bearer realm="phoenix", error="invalid_token"' },
    });
  }
});

const meta = { tags: ["mcp"], auth: "user" as const };
const SESSION_DOC = "The session `initialize` answered with; required on every later request.";
const rpcFailure = (description: string): ResponseSpec => json(jsonRpcErrorSchema, description);

export const mcpRoutes = new Hono<AppEnv>()
  .post(
    "/",
    doc({
      ...meta,
      operationId: "mcpPost",
      summary: "Send MCP messages (Streamable HTTP)",
      description:
        "One JSON-RPC message or a batch. `initialize` starts a session (its id comes back in `Mcp-Session-Id`); every later message names it. Send `Accept: application/json, text/event-stream`: requests are answered as Server-Sent Events. Transport failures (4xx below) are JSON-RPC errors with `id: null`, as MCP clients expect; failures of a method are JSON-RPC errors inside a 200.",
      headers: {
        [SESSION_HEADER]: SESSION_DOC,
        "MCP-Protocol-Version": "The protocol revision negotiated by `initialize` (e.g. `2025-11-25`).",
      },
      jsonBody: { schema: jsonRpcBodySchema, description: "JSON-RPC 2.0 message(s)." },
      responses: {
        200: {
          description: "The JSON-RPC response(s), as an event stream (or JSON).",
          body: { kind: "json", schema: jsonRpcBodySchema },
          alternatives: { "text/event-stream": "Server-Sent Events: `message` events, each a JSON-RPC response." },
          headers: { [SESSION_HEADER]: "The session (minted by `initialize`)." },
        },
        202: empty("Notifications or responses only: accepted, nothing to answer."),
        400: rpcFailure(
          "Not JSON-RPC (-32700, -32600), no `Mcp-Session-Id` on a non-initialize message, or an unsupported protocol version.",
        ),
        404: rpcFailure("The session is unknown or ended (-32001): start a new one with `initialize`."),
        406: rpcFailure("`Accept` lacks application/json or text/event-stream."),
        415: rpcFailure("`Content-Type` is not application/json."),
      },
      errors: ["payload_too_large"],
    }),
    async (c) => {
      const body = await c.req.text();
      const request = new Request(c.req.url, { method: "POST", headers: c.req.raw.headers, body });
      const messages = parseMessages(body);
      if (messages?.some((message) => isInitializeRequest(message))) {
        const sessionId = newSessionId();
        const transport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: () => sessionId,
          onsessioninitialized: async (id) => unwrap(await c.var.userSpace.openMcpSession(id)),
        });
        return serve(c, sessionId, transport, request);
      }
      // Not JSON-RPC at all: the transport answers with its parse error, no session needed.
      const sessionId = messages ? await liveSession(c) : undefined;
      if (sessionId instanceof Response) return sessionId;
      return serve(c, sessionId, new WebStandardStreamableHTTPServerTransport({}), request);
    },
  )
  // Phoenix sends nothing unprompted (no server-initiated requests or notifications), so it offers no
  // standing SSE stream: 405, as the transport specification allows; clients then just POST.
  .get(
    "/",
    doc({
      ...meta,
      operationId: "mcpOpenStream",
      summary: "Open a standing SSE stream (not offered)",
      description: "Phoenix sends no server-initiated messages, so it offers no standing stream: always 405.",
      responses: { 405: { ...rpcFailure("Not offered: POST instead."), headers: { Allow: "POST, DELETE" } } },
      errors: [],
    }),
    (c) =>
      jsonRpcError(c, 405, -32000, "Method not allowed: this server sends no messages outside responses.", {
        Allow: "POST, DELETE",
      }),
  )
  // Ends the session and closes its sandbox (other conversations a session named are left alone).
  .delete(
    "/",
    doc({
      ...meta,
      operationId: "mcpEndSession",
      summary: "End an MCP session",
      description: "Ends the session and closes its sandbox (other conversations it named are left alone).",
      headers: { [SESSION_HEADER]: "The session to end (required)." },
      responses: {
        200: empty("Ended."),
        400: rpcFailure("No `Mcp-Session-Id` header."),
        404: rpcFailure("The session is unknown or already ended (-32001)."),
      },
      errors: [],
    }),
    async (c) => {
      const sessionId = c.req.header(SESSION_HEADER);
      if (!sessionId) return jsonRpcError(c, 400, -32000, `Bad Request: ${SESSION_HEADER} header is required`);
      if (!unwrap(await c.var.userSpace.closeMcpSession(sessionId))) return sessionNotFound(c);
      return c.body(null, 200);
    },
  );

/** The session a request names, if live; otherwise the answer to send (400 without one, 404 if unknown). */
async function liveSession(c: Context<AppEnv>): Promise<string | Response> {
  const sessionId = c.req.header(SESSION_HEADER);
  if (!sessionId) return jsonRpcError(c, 400, -32000, `Bad Request: ${SESSION_HEADER} header is required`);
  // Another user's session id is unknown here: each user's sessions live in their own object.
  if (!unwrap(await c.var.userSpace.useMcpSession(sessionId))) return sessionNotFound(c);
  return sessionId;
}

async function serve(
  c: Context<AppEnv>,
  sessionId: string | undefined,
  transport: WebStandardStreamableHTTPServerTransport,
  request: Request,
): Promise<Response> {
  const server = mcpServer({
    env: c.env,
    user: c.var.user,
    space: c.var.userSpace,
    // A session's conversation is its id; a request that could not name a session runs no tool.
    conversationId: sessionId ?? "default",
    requestId: c.var.requestId,
  });
  await server.connect(transport);
  const response = await transport.handleRequest(request);
  if (sessionId && !response.headers.has(SESSION_HEADER)) response.headers.set(SESSION_HEADER, sessionId);
  return response;
}

/** The JSON-RPC messages of a body, or undefined when it is not JSON. */
function parseMessages(body: string): unknown[] | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return undefined;
  }
}

/** Transport-level failures are answered as the MCP SDK answers them: a JSON-RPC error with no id. */
function jsonRpcError(
  c: Context<AppEnv>,
  status: 400 | 404 | 405,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return c.json({ jsonrpc: "2.0", error: { code, message }, id: null }, status, headers);
}

function sessionNotFound(c: Context<AppEnv>): Response {
  return jsonRpcError(c, 404, -32001, "Session not found: start a new one with initialize");
}
