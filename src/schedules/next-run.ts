// When a schedule runs next: 5-field cron expressions read in an IANA time zone (croner does the
// calendar and DST arithmetic), or one ISO instant. Pure, so the unit tests run it in Node.
import { Cron } from "croner";

/** A field the client got wrong, and why; the caller turns it into a 400 naming the field. */
export class ScheduleFieldError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** Checks an IANA time zone name ("Europe/Paris", "UTC"); returns it as given. */
export function checkTimezone(timezone: string): string {
  try {
    // Intl also takes bare offsets ("+02:00"), which know nothing of DST: only names are zones here.
    if (!/^[A-Za-z]/.test(timezone)) throw new RangeError("not a zone name");
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new ScheduleFieldError(
      "timezone",
      `unknown IANA time zone '${timezone.slice(0, 64)}' (e.g. 'Europe/Paris', 'UTC')`,
    );
  }
  return timezone;
}

/**
 * Parses a 5-field expression (minute hour day-of-month month day-of-week, the classic crontab: a
 * day-of-month and a day-of-week both restricted match either, as in Vixie cron). Seconds cannot be
 * named, so nothing runs more often than once a minute.
 */
export function parseCron(expression: string, timezone: string): Cron {
  checkTimezone(timezone);
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new ScheduleFieldError(
      "cron",
      `must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`,
    );
  }
  try {
    // `no-wildcard`: a job at fixed hours and minutes ("30 2 * * *", "0 9,17 * * 1-5") runs once on a
    // day when its time is repeated (autumn), and just after the gap when it is skipped (spring).
    return new Cron(fields.join(" "), { timezone, mode: "5-part", paused: true, fixedTimeRule: "no-wildcard" });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ScheduleFieldError("cron", `not a valid cron expression (${reason})`);
  }
}

/** The first time the expression matches strictly after `after` (ms), or null if it never will. */
export function nextCronRun(expression: string, timezone: string, after: number): number | null {
  const next = parseCron(expression, timezone).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/** An ISO instant with its offset; `now` bounds it from below (a one-shot in the past would never run). */
export function parseAt(at: string, now: number): number {
  const time = Date.parse(at);
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(at) || Number.isNaN(time)) {
    throw new ScheduleFieldError("at", "must be an ISO 8601 time with a Z or ±hh:mm offset, e.g. 2026-12-01T09:00:00Z");
  }
  if (time <= now) throw new ScheduleFieldError("at", `must be in the future (got ${new Date(time).toISOString()})`);
  return time;
}
