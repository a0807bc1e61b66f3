// Next-run times of schedules: cron in a time zone across DST changes, bad expressions and zones, `at`.
import { describe, expect, it } from "vitest";
import { checkTimezone, nextCronRun, parseAt, parseCron, ScheduleFieldError } from "../../src/schedules/next-run.ts";

const PARIS = "Europe/Paris";
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The next `n` runs after `from`, each found from the one before. */
function runs(cron: string, timezone: string, from: string, n: number): (string | null)[] {
  const out: (string | null)[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextCronRun(cron, timezone, t);
    out.push(iso(next));
    if (next === null) break;
    t = next;
  }
  return out;
}

describe("cron next runs in Europe/Paris", () => {
  it("keeps 09:00 local across the spring change (UTC+1 → UTC+2 on 29 March 2026)", () => {
    expect(runs("0 9 * * *", PARIS, "2026-03-27T12:00:00Z", 3)).toEqual([
      "2026-03-28T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-03-30T07:00:00.000Z",
    ]);
  });

  it("keeps 09:00 local across the autumn change (UTC+2 → UTC+1 on 25 October 2026)", () => {
    expect(runs("0 9 * * *", PARIS, "2026-10-24T00:00:00Z", 3)).toEqual([
      "2026-10-24T07:00:00.000Z",
      "2026-10-25T08:00:00.000Z",
      "2026-10-26T08:00:00.000Z",
    ]);
  });

  it("runs a time skipped in spring (02:30 does not exist) once, just after the gap", () => {
    expect(runs("30 2 * * *", PARIS, "2026-03-28T12:00:00Z", 2)).toEqual([
      "2026-03-29T01:00:00.000Z", // 03:00 CEST
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
    ]);
  });

  it("runs a time repeated in autumn (02:30 happens twice) once", () => {
    expect(runs("30 2 * * *", PARIS, "2026-10-24T12:00:00Z", 2)).toEqual([
      "2026-10-25T00:30:00.000Z", // the first 02:30 (CEST)
      "2026-10-26T01:30:00.000Z", // 02:30 CET the next day
    ]);
  });

  it("keeps an hourly job hourly in real time through the autumn change", () => {
    expect(runs("30 * * * *", PARIS, "2026-10-24T23:50:00Z", 4)).toEqual([
      "2026-10-25T00:30:00.000Z",
      "2026-10-25T01:30:00.000Z",
      "2026-10-25T02:30:00.000Z",
      "2026-10-25T03:30:00.000Z",
    ]);
  });

  it("reads the same expression differently in another zone", () => {
    expect(iso(nextCronRun("0 9 * * *", "America/New_York", at("2026-03-07T00:00:00Z")))).toBe(
      "2026-03-07T14:00:00.000Z",
    );
    expect(iso(nextCronRun("0 9 * * *", "America/New_York", at("2026-03-08T00:00:00Z")))).toBe(
      "2026-03-08T13:00:00.000Z",
    );
  });

  it("is strictly after the given time, and once a minute at most", () => {
    expect(iso(nextCronRun("* * * * *", "UTC", at("2026-05-01T10:00:00Z")))).toBe("2026-05-01T10:01:00.000Z");
    expect(iso(nextCronRun("* * * * *", "UTC", at("2026-05-01T10:00:59.999Z")))).toBe("2026-05-01T10:01:00.000Z");
  });

  it("ORs a restricted day-of-month with a restricted day-of-week, as crontab does", () => {
    // The 13th, or any Friday: from Thursday 1 October 2026, Friday the 2nd comes first.
    expect(iso(nextCronRun("0 12 13 * 5", "UTC", at("2026-10-01T00:00:00Z")))).toBe("2026-10-02T12:00:00.000Z");
  });

  it("answers null for an expression that never matches", () => {
    expect(nextCronRun("0 0 30 2 *", "UTC", at("2026-01-01T00:00:00Z"))).toBeNull();
  });
});

describe("bad input names its field", () => {
  it.each(["* * * *", "* * * * * *", "61 * * * *", "* 25 * * *", "every minute", ""])("cron %j", (cron) => {
    const error = (() => {
      try {
        parseCron(cron, "UTC");
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ScheduleFieldError);
    expect((error as ScheduleFieldError).field).toBe("cron");
    expect((error as Error).message).toMatch(/^cron: /);
  });

  it.each(["Mars/Olympus", "Europe/Pari", "+02:00", ""])("timezone %j", (timezone) => {
    expect(() => checkTimezone(timezone)).toThrow(/^timezone: /);
    expect(() => parseCron("* * * * *", timezone)).toThrow(/^timezone: /);
  });

  it("accepts IANA names", () => {
    expect(checkTimezone("Asia/Kolkata")).toBe("Asia/Kolkata");
    expect(checkTimezone("UTC")).toBe("UTC");
  });
});

describe("at", () => {
  const now = at("2026-06-01T12:00:00Z");
  it("takes an ISO time with an offset", () => {
    expect(parseAt("2026-06-01T14:30:00+02:00", now)).toBe(at("2026-06-01T12:30:00Z"));
    expect(parseAt("2026-06-02T00:00:00Z", now)).toBe(at("2026-06-02T00:00:00Z"));
  });
  it("refuses the past, the present and a time without an offset", () => {
    expect(() => parseAt("2026-06-01T11:59:59Z", now)).toThrow(/^at: must be in the future/);
    expect(() => parseAt("2026-06-01T12:00:00Z", now)).toThrow(/^at: must be in the future/);
    expect(() => parseAt("2026-06-02T09:00:00", now)).toThrow(/^at: must be an ISO 8601 time/);
    expect(() => parseAt("tomorrow", now)).toThrow(/^at: /);
  });
});
