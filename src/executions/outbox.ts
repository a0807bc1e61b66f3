// History is written first to the user's Durable Object (synchronously, durably) and then copied to
// D1 off the response path; what D1 refused stays here and is retried, so no execution is lost.
import { getDb } from "../db/index.ts";
import { executions } from "../db/schema.ts";
import type { StoredResult } from "../interpreter/stored-results.ts";
import { toExecutionRow } from "./history.ts";
import type { ExecutionKind, ExecutionResult } from "./types.ts";

/** Rows copied to D1 per batch. */
const BATCH = 20;

export class HistoryOutbox {
  private readonly sql: SqlStorage;
  private readonly env: Env;
  private flushing: Promise<void> | undefined;

  constructor(sql: SqlStorage, env: Env) {
    this.sql = sql;
    this.env = env;
    sql.exec(`CREATE TABLE IF NOT EXISTS history_outbox (id TEXT PRIMARY KEY, row TEXT NOT NULL)`);
  }

  add(
    userId: string,
    kind: ExecutionKind,
    code: string,
    result: ExecutionResult,
    error: string | undefined,
    stored?: { stored: StoredResult[]; lost: boolean },
  ): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO history_outbox VALUES (?, ?)`,
      result.id,
      JSON.stringify(toExecutionRow(userId, kind, code, result, error, stored)),
    );
  }

  pending(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM history_outbox`).one().n;
  }

  /** Copies every pending row to D1; concurrent callers share one pass. Throws if D1 refused. */
  flush(): Promise<void> {
    this.flushing ??= this.copy().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async copy(): Promise<void> {
    const db = getDb(this.env);
    for (;;) {
      const rows = this.sql
        .exec<{ id: string; row: string }>(`SELECT id, row FROM history_outbox ORDER BY id LIMIT ?`, BATCH)
        .toArray();
      if (rows.length === 0) return;
      const values = rows.map((r) => JSON.parse(r.row) as typeof executions.$inferInsert);
      // One statement per row (D1 binds at most 100 parameters per statement), all in one batch:
      // one round trip, one transaction. Idempotent: a row copied before a crash, but not yet
      // removed here, is not duplicated.
      const [first, ...rest] = values.map((v) => db.insert(executions).values(v).onConflictDoNothing());
      await db.batch([first!, ...rest]);
      const ids = rows.map((r) => r.id);
      this.sql.exec(`DELETE FROM history_outbox WHERE id IN (${ids.map(() => "?").join(",")})`, ...ids);
    }
  }
}
