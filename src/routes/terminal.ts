// The web terminal of a conversation's sandbox: a one-time ticket (API key auth), then a WebSocket that
// the Worker hands to the ticket's own user's Durable Object, which bridges it to a shell in the sandbox.
import { Hono } from "hono";
import { z } from "zod";
import { unwrap } from "../durable/outcome.ts";
import { userSpace } from "../durable/stub.ts";
import { ApiError, type ApiErrorData } from "../errors.ts";
import { doc, empty, json } from "../openapi/registry.ts";
import { terminalTicketSchema } from "../openapi/schemas.ts";
import { ticketOwner } from "../terminal/tickets.ts";
import type { AppEnv } from "../types.ts";
import { conversationParam, validate } from "../validation.ts";

/** Optional to the validator so that a missing ticket is a 401 (no credentials), not a 400. */
const socketQuery = z.object({
  ticket: z
    .string()
    .max(200)
    .optional()
    .describe("The one-time ticket from `POST …/terminal/tickets` (the credential: without it, 401)."),
});

const WEBSOCKET_DESCRIPTION =
  "A WebSocket (`Upgrade: websocket`) to a shell in the conversation's sandbox, started if it has none. " +
  "Authenticated by a one-time `ticket` from `POST …/terminal/tickets`, checked by the ticket's own user. " +
  "Binary frames carry keystrokes in and terminal output out; text frames are JSON control messages " +
  '(`{"type":"resize","cols":N,"rows":N}` from the client; `{"type":"attached","pid":N,"resumed":bool}` first ' +
  "from the server). A shell outlives a dropped connection: the next one re-attaches and gets its recent " +
  "output. Close codes: 1000 the shell exited, 4408 idle (TERMINAL_IDLE_SECONDS), 4409 taken over by " +
  "another connection, 4410 the sandbox stopped.";

/** `POST /api/v1/sandboxes/:conversationId/terminal/tickets`, behind the API key like every user route. */
export const terminalTicketRoutes = new Hono<AppEnv>().post(
  "/:conversationId/terminal/tickets",
  doc({
    operationId: "createTerminalTicket",
    summary: "A one-time ticket for the conversation's terminal WebSocket",
    description:
      "Browsers cannot send `Authorization` on a WebSocket: this ticket stands in for the key, once, within a minute, for this conversation only.",
    tags: ["sandboxes"],
    auth: "user",
    responses: { 201: json(terminalTicketSchema, "Issued.") },
    errors: ["rate_limited"],
  }),
  validate("param", conversationParam),
  async (c) => {
    const { conversationId } = c.req.valid("param");
    const issued = unwrap(await c.var.userSpace.issueTerminalTicket(conversationId));
    const url = new URL(`/api/v1/sandboxes/${conversationId}/terminal`, c.req.url);
    url.protocol = url.protocol === "http:" ? "ws:" : "wss:";
    url.searchParams.set("ticket", issued.ticket);
    return c.json({ ...issued, url: url.href }, 201);
  },
);

/**
 * `GET /api/v1/sandboxes/:conversationId/terminal?ticket=…`: mounted before the API key middleware, since
 * the ticket is its credential. Nothing but the ticket's owner decides: its user's object spends it.
 */
export const terminalSocketRoutes = new Hono<AppEnv>().get(
  "/:conversationId/terminal",
  doc({
    operationId: "openTerminal",
    summary: "The conversation's terminal (WebSocket)",
    description: WEBSOCKET_DESCRIPTION,
    tags: ["sandboxes"],
    auth: "ticket",
    responses: { 101: empty("Switching Protocols: the WebSocket is open.") },
    errors: ["forbidden", "upgrade_required", "rate_limited", "sandbox_unavailable", "sandbox_busy", "sandbox_timeout"],
  }),
  validate("param", conversationParam),
  validate("query", socketQuery),
  async (c) => {
    const { conversationId } = c.req.valid("param");
    const { ticket } = c.req.valid("query");
    if (!ticket) {
      throw new ApiError("unauthorized", "Missing `ticket`: get one from POST …/terminal/tickets with your API key.");
    }
    const owner = ticketOwner(ticket);
    if (!owner) throw new ApiError("unauthorized", "Unknown or already used terminal ticket: ask for a new one.");
    // Checked before the ticket is spent, so a client that forgot the header can still use it.
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("upgrade_required", "The terminal is a WebSocket: send `Upgrade: websocket`.");
    }
    const forwarded = new URL("https://user-space/terminal");
    forwarded.searchParams.set("conversationId", conversationId);
    forwarded.searchParams.set("ticket", ticket);
    const res = await userSpace(c.env, owner).fetch(forwarded.href, { headers: { Upgrade: "websocket" } });
    if (res.status !== 101 || !res.webSocket) throw ApiError.from((await res.json()) as ApiErrorData);
    // Rebuilt so the app's middlewares may add their headers (a fetched response's are immutable).
    return new Response(null, { status: 101, webSocket: res.webSocket });
  },
);
