// A user's schedules in their Durable Object's SQLite: what to run and when (the spec), the next
// due time the alarm is set from, the last run, the failure streak and the recent events.
import type { LastRun, ScheduleEvent, ScheduleSpec } from "./types.ts";

/** A schedule as stored (times in ms). */
export interface ScheduleRecord {
  id: string;
  spec: ScheduleSpec;
  enabled: boolean;
  nextRunAt: number | null;
  lastRun: LastRun | null;
  consecutiveFailures: number;
  disabledReason: string | null;
  events: ScheduleEvent[];
  createdAt: number;
  updatedAt: number;
}

/** Events kept per schedule, newest first. */
const EVENTS_KEPT = 20;

type Row = {
  id: string;
  spec: string;
  enabled: number;
  next_run_at: number | null;
  last_run: string | null;
  failures: number;
  disabled_reason: string | null;
  events: string;
  created_at: number;
  updated_at: number;
};

export class ScheduleStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS schedules (
      id TEXT PRIMARY KEY,
      spec TEXT NOT NULL,
      enabled INTEGER NOT NULL,
      next_run_at INTEGER,
      last_run TEXT,
      failures INTEGER NOT NULL DEFAULT 0,
      disabled_reason TEXT,
      events TEXT NOT NULL DEFAULT '[]',
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
  }

  count(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM schedules`).one().n;
  }

  list(): ScheduleRecord[] {
    return this.sql.exec<Row>(`SELECT * FROM schedules ORDER BY created_at, id`).toArray().map(fromRow);
  }

  get(id: string): ScheduleRecord | null {
    const row = this.sql.exec<Row>(`SELECT * FROM schedules WHERE id = ?`, id).toArray()[0];
    return row ? fromRow(row) : null;
  }

  /** Enabled schedules due at `now`, the longest overdue first. */
  due(now: number): ScheduleRecord[] {
    return this.sql
      .exec<Row>(
        `SELECT * FROM schedules WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at`,
        now,
      )
      .toArray()
      .map(fromRow);
  }

  /** The earliest due time of an enabled schedule, or Infinity. */
  nextDueAt(): number {
    const row = this.sql
      .exec<{ t: number | null }>(`SELECT MIN(next_run_at) AS t FROM schedules WHERE enabled = 1`)
      .one();
    return row.t ?? Infinity;
  }

  /** Writes the whole record (insert or replace). */
  put(record: ScheduleRecord): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO schedules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      record.id,
      JSON.stringify(record.spec),
      record.enabled ? 1 : 0,
      record.nextRunAt,
      record.lastRun ? JSON.stringify(record.lastRun) : null,
      record.consecutiveFailures,
      record.disabledReason,
      JSON.stringify(record.events.slice(0, EVENTS_KEPT)),
      record.createdAt,
      record.updatedAt,
    );
  }

  setNextRunAt(id: string, nextRunAt: number | null): void {
    this.sql.exec(`UPDATE schedules SET next_run_at = ? WHERE id = ?`, nextRunAt, id);
  }

  delete(id: string): boolean {
    return this.sql.exec(`DELETE FROM schedules WHERE id = ?`, id).rowsWritten > 0;
  }
}

/** `event` prepended to a record's events, bounded. */
export function withEvent(record: ScheduleRecord, event: ScheduleEvent): ScheduleEvent[] {
  return [event, ...record.events].slice(0, EVENTS_KEPT);
}

function fromRow(row: Row): ScheduleRecord {
  return {
    id: row.id,
    spec: JSON.parse(row.spec) as ScheduleSpec,
    enabled: row.enabled === 1,
    nextRunAt: row.next_run_at,
    lastRun: row.last_run ? (JSON.parse(row.last_run) as LastRun) : null,
    consecutiveFailures: row.failures,
    disabledReason: row.disabled_reason,
    events: JSON.parse(row.events) as ScheduleEvent[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
