// One-time tickets for the terminal's WebSocket (browsers cannot send `Authorization` on one): issued to
// a key holder, bound to a conversation, short-lived, stored hashed in the user's Durable Object.
import { hashApiKey, randomSecret } from "../auth/keys.ts";
import { ApiError } from "../errors.ts";

/** How long a ticket may wait before it is used. */
export const TICKET_LIFE_MS = 60_000;
/** Unused tickets one user may hold at once (issuing more is a 429 until some are used or expire). */
export const MAX_LIVE_TICKETS = 20;

/**
 * A ticket is `<userId>.<32 random bytes, base64url>`: naming its user lets the Worker send it straight
 * to that user's object to be checked (as API keys do); the random part is the secret.
 */
const TICKET = /^(usr_[0-9a-z]{1,40})\.[A-Za-z0-9_-]{43}$/;

/** The user a well-formed ticket names, or undefined. */
export function ticketOwner(ticket: string): string | undefined {
  return TICKET.exec(ticket)?.[1];
}

function newTicket(userId: string): string {
  return `${userId}.${randomSecret()}`;
}

export interface IssuedTicket {
  ticket: string;
  expiresAt: string;
}

export class TicketBook {
  private readonly sql: SqlStorage;
  private readonly userId: string;

  constructor(sql: SqlStorage, userId: string) {
    this.sql = sql;
    this.userId = userId;
    this.ensureTable();
  }

  /** (Again after the object's storage was erased.) */
  ensureTable(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS terminal_tickets (
      ticket_hash TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, expires_at INTEGER NOT NULL)`);
  }

  async issue(conversationId: string, now: number): Promise<IssuedTicket> {
    this.sql.exec(`DELETE FROM terminal_tickets WHERE expires_at <= ?`, now);
    const live = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM terminal_tickets`).one().n;
    if (live >= MAX_LIVE_TICKETS) {
      throw new ApiError(
        "rate_limited",
        `At most ${MAX_LIVE_TICKETS} unused terminal tickets at once; use one or wait for them to expire.`,
        { retryAfterSeconds: Math.ceil(TICKET_LIFE_MS / 1000) },
      );
    }
    const ticket = newTicket(this.userId);
    const expiresAt = now + TICKET_LIFE_MS;
    this.sql.exec(
      `INSERT INTO terminal_tickets (ticket_hash, conversation_id, expires_at) VALUES (?, ?, ?)`,
      await hashApiKey(ticket),
      conversationId,
      expiresAt,
    );
    return { ticket, expiresAt: new Date(expiresAt).toISOString() };
  }

  /**
   * Uses up a ticket for the conversation's terminal. Any presentation spends it, even one refused for the
   * wrong conversation, so a ticket seen by someone else is worth nothing after its first try.
   */
  async redeem(ticket: string, conversationId: string, now: number): Promise<void> {
    const hash = await hashApiKey(ticket);
    const row = this.sql
      .exec<{ conversation_id: string; expires_at: number }>(
        `DELETE FROM terminal_tickets WHERE ticket_hash = ? RETURNING conversation_id, expires_at`,
        hash,
      )
      .toArray()[0];
    if (!row) throw new ApiError("unauthorized", "Unknown or already used terminal ticket: ask for a new one.");
    if (row.expires_at <= now) throw new ApiError("unauthorized", "Expired terminal ticket: ask for a new one.");
    if (row.conversation_id !== conversationId) {
      throw new ApiError(
        "forbidden",
        `This ticket is for conversation '${row.conversation_id}', not '${conversationId}'.`,
      );
    }
  }
}
