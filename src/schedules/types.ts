// The shapes of a schedule as the API shows it: shared by the Worker, its Durable Object and the page.
import type { ExecutionStatus, Language } from "../executions/types.ts";

/** What a schedule runs and when; exactly one of `cron` and `at` is set. */
export interface ScheduleSpec {
  name: string | null;
  /** 5 fields, read in `timezone`. */
  cron: string | null;
  /** IANA zone name the cron expression is read in (UTC unless given). */
  timezone: string;
  /** One-shot: an ISO instant. */
  at: string | null;
  language: Language;
  code: string;
  conversationId: string;
  stateful: boolean;
  /** Null: EXECUTION_TIMEOUT_MS at the time of each run. */
  timeoutMs: number | null;
  envs: Record<string, string>;
}

export type ScheduleEventType = "schedule.run_skipped" | "schedule.disabled";

/** Something the scheduler did on its own, kept on the schedule (and sent as a webhook event). */
export interface ScheduleEvent {
  type: ScheduleEventType;
  at: string;
  data: Record<string, unknown>;
}

export interface LastRun {
  executionId: string;
  status: ExecutionStatus;
  /** When it started. */
  at: string;
}

/** A schedule as the API shows it. */
export interface Schedule extends ScheduleSpec {
  id: string;
  enabled: boolean;
  /** When it runs next; null when disabled, or a one-shot that has run. */
  nextRunAt: string | null;
  lastRun: LastRun | null;
  /** The run in progress, if any. */
  running: { executionId: string; startedAt: string } | null;
  consecutiveFailures: number;
  /** Why the scheduler disabled it (a failure streak); null when it was not the scheduler. */
  disabledReason: string | null;
  /** What the scheduler did on its own (runs skipped, the schedule disabled), newest first. */
  events: ScheduleEvent[];
  createdAt: string;
  updatedAt: string;
}
