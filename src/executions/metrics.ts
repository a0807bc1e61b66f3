// A user's execution counters, kept in their Durable Object's SQLite: totals and durations per
// language, and the last few failures.
import type { ExecutionResult, ExecutionStatus, Language } from "./types.ts";

export interface LanguageStats {
  total: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  cancelled: number;
  errors: number;
  averageDuration: number;
}

export interface UserStats {
  totalExecutions: number;
  successfulExecutions: number;
  failedExecutions: number;
  successRate: number;
  averageDuration: number;
  byLanguage: Partial<Record<Language, LanguageStats>>;
  recentErrors: { executionId: string; language: Language; status: ExecutionStatus; message: string; at: string }[];
}

const RECENT_ERRORS_KEPT = 10;

const COLUMN: Record<ExecutionStatus, string> = {
  succeeded: "succeeded",
  failed: "failed",
  timed_out: "timed_out",
  cancelled: "cancelled",
  error: "errors",
};

type CounterRow = {
  language: Language;
  total: number;
  succeeded: number;
  failed: number;
  timed_out: number;
  cancelled: number;
  errors: number;
  duration_total: number;
};

type ErrorRow = { execution_id: string; language: Language; status: ExecutionStatus; message: string; at: number };

export class ExecutionMetrics {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS counters (
        language TEXT PRIMARY KEY, total INTEGER NOT NULL DEFAULT 0, succeeded INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0, timed_out INTEGER NOT NULL DEFAULT 0, cancelled INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0, duration_total INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS recent_errors (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, language TEXT NOT NULL,
        status TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL);
    `);
  }

  /** Counts one finished execution; a failure also joins the recent errors with `message`. */
  count(result: ExecutionResult, message: string | undefined): void {
    const column = COLUMN[result.status];
    this.sql.exec(
      `INSERT INTO counters (language, total, ${column}, duration_total) VALUES (?, 1, 1, ?)
       ON CONFLICT (language) DO UPDATE SET total = total + 1, ${column} = ${column} + 1,
         duration_total = duration_total + excluded.duration_total`,
      result.language,
      result.durationMs,
    );
    if (result.status === "succeeded") return;
    this.sql.exec(
      `INSERT INTO recent_errors (execution_id, language, status, message, at) VALUES (?, ?, ?, ?, ?)`,
      result.id,
      result.language,
      result.status,
      (message || `exit code ${result.exitCode}`).slice(0, 500),
      Date.now(),
    );
    this.sql.exec(
      `DELETE FROM recent_errors WHERE seq <= (SELECT MAX(seq) FROM recent_errors) - ?`,
      RECENT_ERRORS_KEPT,
    );
  }

  snapshot(): UserStats {
    const byLanguage: UserStats["byLanguage"] = {};
    let total = 0;
    let succeeded = 0;
    let duration = 0;
    for (const row of this.sql.exec<CounterRow>(`SELECT * FROM counters`)) {
      total += row.total;
      succeeded += row.succeeded;
      duration += row.duration_total;
      byLanguage[row.language] = {
        total: row.total,
        succeeded: row.succeeded,
        failed: row.failed,
        timedOut: row.timed_out,
        cancelled: row.cancelled,
        errors: row.errors,
        averageDuration: row.total ? Math.round(row.duration_total / row.total) : 0,
      };
    }
    const recentErrors = this.sql
      .exec<ErrorRow>(`SELECT * FROM recent_errors ORDER BY seq DESC`)
      .toArray()
      .map((e) => ({
        executionId: e.execution_id,
        language: e.language,
        status: e.status,
        message: e.message,
        at: new Date(e.at).toISOString(),
      }));
    return {
      totalExecutions: total,
      successfulExecutions: succeeded,
      failedExecutions: total - succeeded,
      successRate: total ? Math.round((succeeded / total) * 1000) / 10 : 0,
      averageDuration: total ? Math.round(duration / total) : 0,
      byLanguage,
      recentErrors,
    };
  }
}
