// Sends a schedule's events (schedule.run_skipped, schedule.disabled) to the user's webhooks. Each is
// also kept on the schedule itself (its `events`), so it is visible with or without a webhook.
import type { ScheduleEventType } from "./types.ts";

/**
 * Hands the event to the webhooks' outbox. Until `emitEvent` from src/webhooks/events.ts is merged
 * (branch `webhooks`), this sends nothing: the schedule's own record is where the event shows.
 */
export async function emitScheduleEvent(
  _env: Env,
  _userId: string,
  _type: ScheduleEventType,
  _data: Record<string, unknown>,
): Promise<void> {}
