// A user's schedules, run inside their Durable Object: create / change / delete them, fire the ones
// due when the object's alarm rings, run one now. Each run is an ordinary execution through the
// runner (history with trigger "schedule", stats, the concurrency cap); a run still going when the
// next is due makes that one skipped, and a failure streak disables the schedule.
import { admitRun } from "../executions/admission.ts";
import { limits } from "../config.ts";
import { ApiError } from "../errors.ts";
import type { ExecutionRequest, ExecutionResult } from "../executions/types.ts";
import { newId } from "../ids.ts";
import { nextCronRun, parseAt, parseCron, ScheduleFieldError } from "./next-run.ts";
import { type ScheduleRecord, type ScheduleStore, withEvent } from "./store.ts";
import type { LastRun, Schedule, ScheduleEvent, ScheduleEventType, ScheduleSpec } from "./types.ts";

export type { Schedule };

/** Runs of one schedule start at least this far apart (5 cron fields cannot ask for more often). */
export const MIN_RUN_INTERVAL_MS = 60_000;
/** A due run the user's concurrency cap refused is retried this much later. */
const BUSY_RETRY_MS = 5_000;

/** What a client sends: the spec's fields (cron or at), and whether it is enabled. */
export type ScheduleInput = Partial<Omit<ScheduleSpec, "name" | "cron" | "at" | "timeoutMs">> & {
  name?: string | null | undefined;
  cron?: string | undefined;
  at?: string | undefined;
  timeoutMs?: number | undefined;
  enabled?: boolean | undefined;
};

export interface SchedulerParts {
  env: Env;
  store: ScheduleStore;
  /** Runs an execution through the runner (throws the ApiError to show, like the runner). */
  execute: (req: ExecutionRequest) => Promise<ExecutionResult>;
  /** Due times changed: the object sets its alarm again. */
  changed: () => Promise<void>;
  /** Whether the runner would refuse a run now (the user's concurrency cap is full). */
  busy: () => boolean;
  /** Sends an event to the user's webhooks (it is already kept on the schedule). */
  emit: (type: ScheduleEventType, data: Record<string, unknown>) => Promise<void>;
  waitUntil: (promise: Promise<unknown>) => void;
}

export class Scheduler {
  private readonly parts: SchedulerParts;
  /** Runs in progress by schedule id. In memory: a run does not outlive the object that runs it. */
  private readonly running = new Map<string, { executionId: string; startedAt: number }>();

  constructor(parts: SchedulerParts) {
    this.parts = parts;
  }

  private get store(): ScheduleStore {
    return this.parts.store;
  }

  list(): Schedule[] {
    return this.store.list().map((record) => this.view(record));
  }

  get(id: string): Schedule {
    return this.view(this.find(id));
  }

  create(input: ScheduleInput, now = Date.now()): Schedule {
    const max = limits(this.parts.env).maxSchedulesPerUser;
    if (this.store.count() >= max) {
      throw new ApiError(
        "conflict",
        `At most ${max} schedules per user (MAX_SCHEDULES_PER_USER); delete one before creating another.`,
      );
    }
    if ((input.cron === undefined) === (input.at === undefined)) {
      throw new ApiError("invalid_request", "cron: give exactly one of cron (repeating) and at (one-shot)");
    }
    if (!input.language || !input.code) throw new ApiError("invalid_request", "language and code are required");
    const spec: ScheduleSpec = {
      name: input.name ?? null,
      cron: input.cron ?? null,
      timezone: input.timezone ?? "UTC",
      at: null,
      language: input.language,
      code: input.code,
      conversationId: input.conversationId ?? "default",
      stateful: input.stateful ?? false,
      timeoutMs: input.timeoutMs ?? null,
      envs: input.envs ?? {},
    };
    if (input.at !== undefined) spec.at = new Date(fieldCheck(() => parseAt(input.at!, now))).toISOString();
    this.check(spec);
    const enabled = input.enabled ?? true;
    const record: ScheduleRecord = {
      id: newId("sch"),
      spec,
      enabled,
      nextRunAt: plan(spec, enabled, now),
      lastRun: null,
      consecutiveFailures: 0,
      disabledReason: null,
      events: [],
      createdAt: now,
      updatedAt: now,
    };
    this.store.put(record);
    return this.view(record);
  }

  /** Changes the given fields; `cron` replaces `at` and the other way round. Re-enabling clears the failure streak. */
  update(id: string, patch: ScheduleInput, now = Date.now()): Schedule {
    const record = this.find(id);
    if (patch.cron !== undefined && patch.at !== undefined) {
      throw new ApiError("invalid_request", "cron: give at most one of cron and at");
    }
    const spec: ScheduleSpec = { ...record.spec };
    for (const key of [
      "name",
      "timezone",
      "language",
      "code",
      "conversationId",
      "stateful",
      "timeoutMs",
      "envs",
    ] as const) {
      if (patch[key] !== undefined) Object.assign(spec, { [key]: patch[key] });
    }
    if (patch.cron !== undefined) Object.assign(spec, { cron: patch.cron, at: null });
    if (patch.at !== undefined) {
      spec.cron = null;
      spec.at = new Date(fieldCheck(() => parseAt(patch.at!, now))).toISOString();
    }
    this.check(spec);
    const enabled = patch.enabled ?? record.enabled;
    const reenabled = enabled && !record.enabled;
    const updated: ScheduleRecord = {
      ...record,
      spec,
      enabled,
      nextRunAt: plan(spec, enabled, now),
      consecutiveFailures: reenabled ? 0 : record.consecutiveFailures,
      disabledReason: enabled ? null : record.disabledReason,
      updatedAt: now,
    };
    this.store.put(updated);
    return this.view(updated);
  }

  /** Deletes it; a run in progress finishes (and is kept in history). */
  remove(id: string): void {
    if (!this.store.delete(id)) throw notFound(id);
  }

  /**
   * Runs it now, enabled or not, and answers with the execution; the same limits as a due run: 409
   * while its previous run goes on, 429 within a minute of the previous start.
   */
  async runNow(id: string, now = Date.now()): Promise<ExecutionResult> {
    const record = this.find(id);
    const current = this.running.get(id);
    if (current) {
      throw new ApiError("conflict", `Schedule ${id} is still running execution ${current.executionId}.`);
    }
    const last = record.lastRun ? Date.parse(record.lastRun.at) : null;
    if (last !== null && now < last + MIN_RUN_INTERVAL_MS) {
      throw new ApiError(
        "rate_limited",
        `A schedule runs at most once a minute; its last run started at ${record.lastRun!.at}.`,
        { retryAfterSeconds: Math.ceil((last + MIN_RUN_INTERVAL_MS - now) / 1000) },
      );
    }
    return this.run(record);
  }

  /** The earliest time a schedule is due (Infinity: none): the object's alarm rings then. */
  nextDueAt(): number {
    return this.store.nextDueAt();
  }

  /**
   * Starts every schedule due at `now` without waiting for the runs. A schedule missed for a while
   * (the object was down, a deploy) runs once, then goes on from its next slot after now.
   */
  fireDue(now = Date.now()): void {
    for (const record of this.store.due(now)) {
      const last = record.lastRun ? Date.parse(record.lastRun.at) : null;
      const current = this.running.get(record.id);
      if (current) {
        this.store.setNextRunAt(record.id, following(record.spec, now));
        this.record(record.id, "schedule.run_skipped", now, {
          reason: "previous_run_still_running",
          runningExecutionId: current.executionId,
          scheduledFor: new Date(record.nextRunAt!).toISOString(),
        });
      } else if (last !== null && now < last + MIN_RUN_INTERVAL_MS) {
        // Run now a moment ago: the slot waits out the minute rather than running twice in it.
        this.store.setNextRunAt(record.id, last + MIN_RUN_INTERVAL_MS);
      } else {
        this.store.setNextRunAt(record.id, following(record.spec, now));
        this.parts.waitUntil(this.runDue(record));
      }
    }
  }

  private async runDue(record: ScheduleRecord): Promise<void> {
    if (this.parts.busy()) {
      // The user's concurrency cap is full: try again shortly rather than lose the slot.
      const retry = Date.now() + BUSY_RETRY_MS;
      const now = this.store.get(record.id);
      if (now?.enabled) this.store.setNextRunAt(record.id, Math.min(now.nextRunAt ?? Infinity, retry));
      await this.parts.changed();
      return;
    }
    // A failure is recorded (history, last run, the streak) by run(); nobody waits for it here.
    await this.run(record).catch(() => {});
  }

  /** One run of the schedule through the runner; its outcome becomes the schedule's last run. */
  private async run(record: ScheduleRecord): Promise<ExecutionResult> {
    if (this.parts.busy()) {
      const max = limits(this.parts.env).maxConcurrentExecutions;
      throw new ApiError(
        "rate_limited",
        `At most ${max} executions and package installs may run at once per user; retry when one finishes.`,
        { retryAfterSeconds: 1 },
      );
    }
    const { spec } = record;
    const executionId = newId("exe");
    const startedAt = Date.now();
    const at = new Date(startedAt).toISOString();
    this.running.set(record.id, { executionId, startedAt });
    let lastRun: LastRun = { executionId, status: "error", at };
    try {
      const result = await this.parts.execute({
        id: executionId,
        trigger: "schedule",
        scheduleId: record.id,
        language: spec.language,
        code: spec.code,
        conversationId: spec.conversationId,
        timeoutMs: spec.timeoutMs ?? limits(this.parts.env).executionTimeoutMs,
        envs: spec.envs,
        ...(spec.stateful ? { stateful: true } : {}),
      });
      lastRun = { executionId, status: result.status, at };
      return result;
    } finally {
      // Past the cap check, the runner records every run, an error included, under this id.
      this.running.delete(record.id);
      this.finish(record.id, lastRun);
      await this.parts.changed();
    }
  }

  /** Records a finished run; the failure streak disables the schedule at SCHEDULE_FAILURE_LIMIT. */
  private finish(id: string, lastRun: LastRun): void {
    const record = this.store.get(id);
    if (!record) return; // deleted while it ran
    const failed = lastRun.status !== "succeeded" && lastRun.status !== "cancelled";
    const streak =
      lastRun.status === "succeeded" ? 0 : failed ? record.consecutiveFailures + 1 : record.consecutiveFailures;
    const limit = limits(this.parts.env).scheduleFailureLimit;
    const updated: ScheduleRecord = { ...record, lastRun, consecutiveFailures: streak };
    this.store.put(updated);
    if (failed && limit > 0 && streak >= limit && record.enabled) {
      const reason = `Disabled after ${streak} consecutive failed runs (the last: ${lastRun.executionId}, ${lastRun.status}).`;
      this.store.put({ ...updated, enabled: false, nextRunAt: null, disabledReason: reason });
      this.record(id, "schedule.disabled", Date.now(), {
        reason: "consecutive_failures",
        consecutiveFailures: streak,
        lastExecutionId: lastRun.executionId,
        lastStatus: lastRun.status,
      });
    }
  }

  /** Keeps an event on the schedule and sends it to the user's webhooks. */
  private record(id: string, type: ScheduleEventType, now: number, details: Record<string, unknown>): void {
    const record = this.store.get(id);
    if (!record) return;
    const data = { scheduleId: id, scheduleName: record.spec.name, ...details };
    const event: ScheduleEvent = { type, at: new Date(now).toISOString(), data };
    this.store.put({ ...record, events: withEvent(record, event) });
    this.parts.waitUntil(
      this.parts.emit(type, data).catch((err: unknown) => console.error(`schedules: sending ${type} failed`, err)),
    );
  }

  /** The checks a run request gets (routes/executions.ts), on the schedule's whole spec. */
  private check(spec: ScheduleSpec): void {
    if (spec.cron !== null) {
      const cron = spec.cron;
      const parsed = fieldCheck(() => parseCron(cron, spec.timezone));
      if (parsed.nextRun() === null) throw new ApiError("invalid_request", "cron: never matches a future time");
    } else {
      fieldCheck(() => parseCron("* * * * *", spec.timezone));
    }
    admitRun(this.parts.env, spec);
  }

  private find(id: string): ScheduleRecord {
    const record = this.store.get(id);
    if (!record) throw notFound(id);
    return record;
  }

  private view(record: ScheduleRecord): Schedule {
    const current = this.running.get(record.id);
    return {
      id: record.id,
      ...record.spec,
      enabled: record.enabled,
      nextRunAt: record.enabled && record.nextRunAt !== null ? new Date(record.nextRunAt).toISOString() : null,
      lastRun: record.lastRun,
      running: current
        ? { executionId: current.executionId, startedAt: new Date(current.startedAt).toISOString() }
        : null,
      consecutiveFailures: record.consecutiveFailures,
      disabledReason: record.disabledReason,
      events: record.events,
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
    };
  }
}

/** When an enabled schedule is next due, from `now`: a one-shot's time until it has passed. */
function plan(spec: ScheduleSpec, enabled: boolean, now: number): number | null {
  if (!enabled) return null;
  if (spec.cron !== null) return nextCronRun(spec.cron, spec.timezone, now);
  const at = Date.parse(spec.at!);
  return at > now ? at : null;
}

/** The due time after a slot taken (or skipped) at `now`: the cron's next, none for a one-shot. */
function following(spec: ScheduleSpec, now: number): number | null {
  return spec.cron !== null ? nextCronRun(spec.cron, spec.timezone, now) : null;
}

/** Runs a parse whose field errors become 400s naming the field. */
function fieldCheck<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ScheduleFieldError) throw new ApiError("invalid_request", err.message);
    throw err;
  }
}

function notFound(id: string): ApiError {
  return new ApiError("not_found", `No schedule ${id}.`);
}
