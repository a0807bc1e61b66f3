// The MCP sessions a user has open, in their Durable Object's SQLite: only whether a session id is
// live. Everything else a session needs is derived from its id (its conversation *is* its id), so any
// Worker isolate can serve any request of a session: no transport state has to survive between them.
import { newId } from "../ids.ts";
/** A session unused this long is forgotten: its client gets 404 and starts a new one, as MCP prescribes. */
const SESSION_IDLE_MS = 30 * 24 * 60 * 60 * 1000;

/** A new session id: unguessable, and a valid conversation id (mcp_…). */
export function newSessionId(): string {
  return newId("mcp");
}

export class McpSessions {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS mcp_sessions (id TEXT PRIMARY KEY, last_used_at INTEGER NOT NULL)`);
  }

  /** Records a new session (its id is also the conversation its tools use by default). */
  open(id: string, now: number): void {
    this.sql.exec(`DELETE FROM mcp_sessions WHERE last_used_at < ?`, now - SESSION_IDLE_MS);
    this.sql.exec(`INSERT OR REPLACE INTO mcp_sessions (id, last_used_at) VALUES (?, ?)`, id, now);
  }

  /** Whether the session is live (and marks it used). */
  use(id: string, now: number): boolean {
    const cursor = this.sql.exec(
      `UPDATE mcp_sessions SET last_used_at = ? WHERE id = ? AND last_used_at >= ?`,
      now,
      id,
      now - SESSION_IDLE_MS,
    );
    return cursor.rowsWritten > 0;
  }

  /** Ends the session; false when it was not live. */
  close(id: string): boolean {
    return this.sql.exec(`DELETE FROM mcp_sessions WHERE id = ?`, id).rowsWritten > 0;
  }
}
